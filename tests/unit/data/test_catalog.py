"""The catalog: ingest (idempotent, atomic), ls, and replays that equal the original files."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import msgspec
import numpy as np
import pytest
from typer.testing import CliRunner

from makerkit.backtest import load_market, parse_data_spec, run_on_spec
from makerkit.backtest._catalog_events import catalog_events
from makerkit.backtest._events import data_quality, recorded_events
from makerkit.cli._app import app
from makerkit.core.errors import ConfigError, DataError
from makerkit.data import catalog_entries, ingest, load_binance_capture, remove_source
from makerkit.data._readers import day_start_ns
from makerkit.strategies import make_strategy

FUTURES = "crypto/binance_usdm_btcusdt_20240718_stream.gz"
SPOT = "crypto/binance_spot_btcusdt_20240808_stream.gz"
AMZN = "lobster/AMZN_2012-06-21_34200000_57600000_message_5.csv.gz"


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def _same(a: object, b: object, offset: int = 0) -> None:
    for name in ("kind", "side", "price", "qty"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert np.array_equal(a.ts - offset, b.ts)  # type: ignore[attr-defined]
    for name in ("tick", "lot", "gaps", "dropped"):
        assert getattr(a, name) == getattr(b, name), name
    assert a.start_ns - offset == b.start_ns  # type: ignore[attr-defined]


def test_ingest_twice_changes_nothing(data_root: Path, tmp_path: Path) -> None:
    files = [
        data_root / FUTURES,
        data_root / "crypto/tardis_deribit_incremental_book_L2_BTC-PERPETUAL.csv",
    ]
    first = ingest(files, tmp_path / "cat")
    assert first.files == 2 and first.skipped == 0
    assert first.rows["l2"] > 0 and first.rows["trades"] > 0
    before = _tree(tmp_path / "cat")
    again = ingest(files, tmp_path / "cat")
    assert (again.files, again.skipped, again.rows) == (0, 2, {})
    assert _tree(tmp_path / "cat") == before


def test_an_interrupted_ingest_leaves_nothing_visible(
    data_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pyarrow.parquet as pq

    real = pq.write_table
    calls = {"n": 0}

    def failing(*args: object, **kwargs: object) -> None:
        calls["n"] += 1
        if calls["n"] == 2:  # the second part of the capture
            msg = "disk full"
            raise OSError(msg)
        real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(pq, "write_table", failing)
    with pytest.raises(OSError, match="disk full"):
        ingest([data_root / FUTURES], tmp_path / "cat")
    assert catalog_entries(tmp_path / "cat") == []  # the first part is written but not visible
    assert not list((tmp_path / "cat").rglob("*.tmp"))
    monkeypatch.setattr(pq, "write_table", real)
    done = ingest([data_root / FUTURES], tmp_path / "cat")
    assert done.files == 1
    assert {e.schema for e in catalog_entries(tmp_path / "cat")} == {"l2", "trades", "bbo"}


def test_ls_json_contract(data_root: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    cat = str(tmp_path / "cat")
    res = runner.invoke(app, ["data", "ingest", str(data_root / SPOT), "--catalog", cat, "--json"])
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout.strip().splitlines()[-1])
    assert report["files"] == 1 and set(report["rows"]) == {"l2", "trades", "bbo"}
    assert isinstance(report["seconds"], float)
    res = runner.invoke(app, ["data", "ls", "--catalog", cat, "--json"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.stdout)
    assert [r["schema"] for r in rows] == ["bbo", "l2", "trades"]
    for r in rows:
        assert {"venue", "symbol", "date", "schema", "rows", "start", "end"} <= set(r)
        assert (r["venue"], r["symbol"], r["date"]) == ("binance", "BTCUSDT", "2024-08-08")
    assert sum(r["rows"] for r in rows) == sum(report["rows"].values())
    bad = runner.invoke(app, ["data", "ingest", str(data_root / "SOURCES.md"), "--catalog", cat])
    assert bad.exit_code == 2 and "not a format read here" in bad.output


@pytest.mark.parametrize("name", [FUTURES, SPOT])
def test_capture_replays_the_same_from_the_catalog(
    data_root: Path, tmp_path: Path, name: str
) -> None:
    ingest([data_root / name], tmp_path)
    cap = load_binance_capture(data_root / name)
    venue = "binance-futures" if "usdm" in name else "binance"
    day = (data_root / name).name.split("_")[3]
    day = f"{day[:4]}-{day[4:6]}-{day[6:]}"
    from_catalog = catalog_events(tmp_path, venue, cap.symbol, day)
    _same(from_catalog, recorded_events("binance", cap.symbol, day))
    assert data_quality(from_catalog)["crossed_events"] == 0


def test_lobster_day_round_trips_in_both_views_and_backtests_the_same(
    data_root: Path, tmp_path: Path
) -> None:
    ingest([data_root / AMZN], tmp_path)
    base = day_start_ns("2012-06-21")
    for l3 in (False, True):
        a = catalog_events(tmp_path, "nasdaq", "AMZN", "2012-06-21", order_level=l3)
        b = recorded_events("lobster", "AMZN", "2012-06-21", order_level=l3)
        _same(a, b, base)
        if l3:
            assert np.array_equal(a.ref, b.ref)  # type: ignore[arg-type]
    window = ",start=10:00,end=10:30"
    ours = parse_data_spec(f"catalog:nasdaq:AMZN:2012-06-21,catalog={tmp_path}{window}")
    theirs = parse_data_spec(f"lobster:AMZN:2012-06-21{window}")
    r1 = run_on_spec(make_strategy("glft"), ours, load_market(ours))
    r2 = run_on_spec(make_strategy("glft"), theirs, load_market(theirs))
    m1, m2 = msgspec.to_builtins(r1.metrics), msgspec.to_builtins(r2.metrics)
    assert m1["fills"] > 0
    assert m1 == m2


def test_a_missing_day_is_named_and_skip_passes_over_it(data_root: Path, tmp_path: Path) -> None:
    ingest([data_root / FUTURES], tmp_path)
    with pytest.raises(DataError, match=r"no data on 2024-07-16, 2024-07-17 \(it has 2024-07-18\)"):
        catalog_events(tmp_path, "binance-futures", "BTCUSDT", "2024-07-16", "2024-07-18")
    ev = catalog_events(tmp_path, "binance-futures", "BTCUSDT", "2024-07-16", "2024-07-18",
                        missing="skip")  # fmt: skip
    assert len(ev) == len(catalog_events(tmp_path, "binance-futures", "BTCUSDT", "2024-07-18"))
    with pytest.raises(DataError, match="has no data for binance-futures ETHUSDT"):
        catalog_events(tmp_path, "binance-futures", "ETHUSDT", "2024-07-18")


def test_two_days_join_into_one_stream(data_root: Path, tmp_path: Path) -> None:
    """The real capture, and the same capture a day later (every receive time + 24 h)."""
    src = data_root / FUTURES
    later = tmp_path / "binance_usdm_btcusdt_20240719_stream.gz"
    day_ns = 86_400 * 10**9
    with gzip.open(src, "rb") as a, gzip.open(later, "wb") as b:
        for line in a:
            stamp, _, body = line.partition(b" ")
            b.write(str(int(stamp) + day_ns).encode() + b" " + body)
    ingest([src, later], tmp_path / "cat")
    one = catalog_events(tmp_path / "cat", "binance-futures", "BTCUSDT", "2024-07-18")
    two = catalog_events(tmp_path / "cat", "binance-futures", "BTCUSDT", "2024-07-18",
                         "2024-07-19")  # fmt: skip
    assert len(two) == 2 * len(one)
    assert np.array_equal(two.ts[len(one) :], one.ts + day_ns)
    assert two.start_ns == one.start_ns
    spec = parse_data_spec(
        f"catalog:binance-futures:BTCUSDT:2024-07-18..2024-07-19,catalog={tmp_path / 'cat'},"
        "start=23:58,end=23:59"
    )
    ev = load_market(spec)
    assert ev is not None
    assert ev.start_ns == day_start_ns("2024-07-18") + (23 * 60 + 58) * 60 * 10**9
    assert int(ev.ts[-1]) < day_start_ns("2024-07-19") + (23 * 60 + 59) * 60 * 10**9
    assert int(ev.ts[-1]) > day_start_ns("2024-07-19")


def test_overlapping_sources_are_refused_until_one_is_removed(
    data_root: Path, tmp_path: Path
) -> None:
    goog = sorted((data_root / "lobster").glob("GOOG_2012-06-21_*_message_*.csv.gz"))
    assert len(goog) == 2  # levels 1 and 10 of the same day
    ingest(goog, tmp_path)
    with pytest.raises(DataError, match="two sources overlap"):
        catalog_events(tmp_path, "nasdaq", "GOOG", "2012-06-21")
    remove_source(tmp_path, goog[0].name)
    ev = catalog_events(tmp_path, "nasdaq", "GOOG", "2012-06-21")
    assert data_quality(ev)["crossed_events"] == 0


def test_catalog_specs_are_checked() -> None:
    spec = parse_data_spec("catalog:binance:BTCUSDT:2024-08-01..2024-08-03,missing=skip,queue=l3")
    assert (spec.kind, spec.venue, spec.symbol, spec.day, spec.until) == (
        "catalog", "binance", "BTCUSDT", "2024-08-01", "2024-08-03",
    )  # fmt: skip
    for bad in (
        "catalog:binance:BTCUSDT",
        "catalog:binance:BTCUSDT:2024-08-03..2024-08-01",
        "catalog:binance:BTCUSDT:yesterday",
        "catalog:binance:BTCUSDT:2024-08-01,missing=maybe",
    ):
        with pytest.raises(ConfigError):
            parse_data_spec(bad)
