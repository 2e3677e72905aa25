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
from makerkit.backtest._events import CLEAR, data_quality, recorded_events
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
    """The real capture, then the same capture three minutes later, on the next date."""
    _two_days(data_root, tmp_path)
    one = catalog_events(tmp_path / "cat", "binance-futures", "BTCUSDT", "2024-07-18")
    two = catalog_events(tmp_path / "cat", "binance-futures", "BTCUSDT", "2024-07-18",
                         "2024-07-19")  # fmt: skip
    assert len(two) == 2 * len(one) + 2  # the second day's snapshot first empties the book
    assert np.array_equal(two.ts[len(one) + 2 :], one.ts + SHIFT_NS)
    assert two.kind[len(one) : len(one) + 2].tolist() == [CLEAR, CLEAR]
    assert two.start_ns == one.start_ns
    spec = parse_data_spec(
        f"catalog:binance-futures:BTCUSDT:2024-07-18..2024-07-19,catalog={tmp_path / 'cat'},"
        "start=23:58,end=00:01"
    )
    ev = load_market(spec)
    assert ev is not None
    assert ev.start_ns == day_start_ns("2024-07-18") + (23 * 60 + 58) * 60 * 10**9
    assert int(ev.ts[-1]) < day_start_ns("2024-07-19") + 60 * 10**9
    assert int(ev.ts[-1]) > day_start_ns("2024-07-19")


def test_overlapping_sources_are_refused_until_one_is_removed(
    data_root: Path, tmp_path: Path
) -> None:
    """The same capture compressed again: other bytes, so another source, over the same hours."""
    copy = tmp_path / "binance_usdm_btcusdt_20240718_stream_again.gz"
    copy.write_bytes(gzip.compress(gzip.decompress((data_root / FUTURES).read_bytes()), 1))
    ingest([data_root / FUTURES, copy], tmp_path / "cat")
    with pytest.raises(DataError, match="two sources overlap"):
        catalog_events(tmp_path / "cat", "binance-futures", "BTCUSDT", "2024-07-18")
    remove_source(tmp_path / "cat", copy.name)
    ev = catalog_events(tmp_path / "cat", "binance-futures", "BTCUSDT", "2024-07-18")
    assert len(ev) == len(recorded_events("binance", "BTCUSDT", "2024-07-18"))


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


SHIFT_NS = 180 * 10**9  # the capture ends at 23:59:58; three minutes on, it is the next day


def _two_days(data_root: Path, tmp_path: Path) -> Path:
    """A catalog of the real futures capture and the same capture again three minutes later.

    The copy falls on the next date, so the range spans two catalog days.
    """
    src = data_root / FUTURES
    later = tmp_path / "binance_usdm_btcusdt_20240719_stream.gz"
    with gzip.open(src, "rb") as a, gzip.open(later, "wb") as b:
        for line in a:
            stamp, _, body = line.partition(b" ")
            b.write(str(int(stamp) + SHIFT_NS).encode() + b" " + body)
    ingest([src, later], tmp_path / "cat")
    return tmp_path / "cat"


@pytest.mark.parametrize("backend", ["native", "python"])
def test_a_streamed_range_replays_as_the_range_in_memory(
    data_root: Path, tmp_path: Path, backend: str
) -> None:
    from makerkit.backtest import ReplayConfig, run_replay_backtest
    from makerkit.backtest._catalog_events import catalog_stream
    from makerkit.backtest._window import Window

    cat = _two_days(data_root, tmp_path)
    args = (cat, "binance-futures", "BTCUSDT", "2024-07-18", "2024-07-19")
    for window in (Window(), Window.parse("23:58", "00:01", same_day=False)):
        memory = catalog_events(*args, window=window)
        stream = catalog_stream(*args, window=window)
        assert stream.price_range() == memory.price_range()
        assert (stream.tick, stream.lot, stream.start_ns) == (
            memory.tick,
            memory.lot,
            memory.start_ns,
        )
        assert data_quality(stream) == data_quality(memory)
        for name in ("glft", "avellaneda_stoikov"):
            cfg = ReplayConfig(backend=backend)
            a = run_replay_backtest(make_strategy(name), memory, cfg)
            b = run_replay_backtest(make_strategy(name), stream, cfg)
            assert a.metrics.fills > 0
            assert msgspec.to_builtins(a.metrics) == msgspec.to_builtins(b.metrics)
            assert a.fills == b.fills


@pytest.mark.parametrize("backend", ["native", "python"])
def test_the_core_refuses_a_chunk_that_goes_back_in_time(backend: str) -> None:
    from makerkit.backtest import ReplayConfig
    from makerkit.backtest._events import DEPTH, TRADE, MarketEvents, StreamedMarket
    from makerkit.backtest._replay import make_replay_core

    def chunk(ts: list[int]) -> MarketEvents:
        n = len(ts)
        return MarketEvents(
            ts=np.asarray(ts, np.int64), kind=np.array([DEPTH, DEPTH, TRADE][:n], np.int64),
            side=np.array([1, -1, 1][:n], np.int64), price=np.array([99, 101, 101][:n], np.int64),
            qty=np.array([5, 5, 1][:n], np.int64), source="test", symbol="T",
        )  # fmt: skip

    later = chunk([10, 10, 20])
    market = StreamedMarket(chunk([30, 30, 40]), lambda: iter([later]), price_lo=99,
                            price_hi=101, total_hint=6)  # fmt: skip
    core = make_replay_core(market, ReplayConfig(backend=backend))
    with pytest.raises(ValueError, match="starts before the previous one ends"):  # noqa: PT012
        while core.run(1 << 20) != 0:  # decisions until the events run out
            pass


def test_backtest_cli_streams_a_catalog_range(data_root: Path, tmp_path: Path) -> None:
    cat = _two_days(data_root, tmp_path)
    spec = f"catalog:binance-futures:BTCUSDT:2024-07-18..2024-07-19,catalog={cat}"
    res = CliRunner().invoke(
        app,
        ["backtest", "--strategy", "glft", "--data", spec, "--out", str(tmp_path / "o"), "--json"],
    )
    assert res.exit_code == 0, res.output
    got = json.loads(res.stdout.strip().splitlines()[-1])
    memory = run_on_spec(
        make_strategy("glft"), parse_data_spec(spec), load_market(parse_data_spec(spec))
    )
    assert got["metrics"]["fills"] == memory.metrics.fills > 0
    assert got["metrics"]["pnl_total"] == memory.metrics.pnl_total
    assert got["data_quality"]["events"] == 2 * 78_487 + 2  # two days, the second cleared first


def test_a_range_window_may_end_earlier_in_the_day_than_it_starts() -> None:
    spec = parse_data_spec("catalog:binance:BTCUSDT:2024-08-01..2024-08-02,start=23:00,end=01:00")
    assert (spec.window.start, spec.window.end) == (23 * 3600 * 10**9, 3600 * 10**9)
    with pytest.raises(ConfigError, match="must be after"):
        parse_data_spec("catalog:binance:BTCUSDT:2024-08-01,start=23:00,end=01:00")


def test_simulated_order_level_days_replay_the_same_streamed_in_memory_and_in_python(
    tmp_path: Path,
) -> None:
    """Two simulated days (each its own book) with queue=l3: the new day clears the old book."""
    from makerkit.backtest import ReplayConfig, catalog_stream, run_replay_backtest
    from makerkit.cli._bench_catalog import write_simulated_days

    write_simulated_days(tmp_path, 2, 20_000)
    args = (tmp_path, "sim", "SIM", "2024-01-01", "2024-01-02")
    memory = catalog_events(*args, order_level=True)
    assert memory.order_level and int((memory.kind == CLEAR).sum()) == 2
    assert data_quality(memory)["crossed_events"] == 0
    results = []
    for backend in ("native", "python"):
        cfg = ReplayConfig(queue="l3", decision_ms=60_000, backend=backend)
        for market in (memory, catalog_stream(*args, order_level=True)):
            r = run_replay_backtest(make_strategy("glft"), market, cfg)
            results.append((msgspec.to_builtins(r.metrics), r.fills))
    assert results[0][0]["fills"] > 0
    assert all(r == results[0] for r in results[1:])
    # a day of order-level events reads back as the events it was written from
    from makerkit.backtest import stream_l3_events
    from makerkit.data import simulate

    written = stream_l3_events(simulate(events=20_000, seed=1000).stream)  # day 0's seed
    day = catalog_events(tmp_path, "sim", "SIM", "2024-01-01", order_level=True)
    _same(day, written, offset=day_start_ns("2024-01-01"))
    assert np.array_equal(day.ref, written.ref)  # type: ignore[arg-type]


@pytest.mark.parametrize("order_level", [False, True])
def test_databento_mbo_day_replays_the_same_from_the_catalog(
    data_root: Path, tmp_path: Path, order_level: bool
) -> None:
    from makerkit.backtest import databento_events

    path = data_root / "databento/nautilus_esh4-glbx-mdp3-20231225.mbo.dbn.zst"
    ingest([path], tmp_path)
    (entry,) = [e for e in catalog_entries(tmp_path) if e.schema == "l3"]
    direct = databento_events(path, order_level=order_level)
    days = sorted({e.date for e in catalog_entries(tmp_path)})
    assert len(days) == 1  # the whole session falls on one UTC date
    ours = catalog_events(tmp_path, entry.venue, entry.symbol, days[0], order_level=order_level)
    _same(ours, direct)
    if order_level:
        assert np.array_equal(ours.ref, direct.ref)  # type: ignore[arg-type]


def test_replay_catalog_checks_a_streamed_range(data_root: Path, tmp_path: Path) -> None:
    cat = _two_days(data_root, tmp_path)
    spec = f"catalog:binance-futures:BTCUSDT:2024-07-18..2024-07-19,catalog={cat}"
    res = CliRunner().invoke(app, ["replay", "catalog", spec, "--json"])
    assert res.exit_code == 0, res.output
    got = json.loads(res.stdout.strip().splitlines()[-1])
    memory = load_market(parse_data_spec(spec))
    assert memory is not None
    assert got["events"] == len(memory) and got["crossed_events"] == 0
    assert (got["tick"], got["lot"]) == (memory.tick, memory.lot)
    bad = CliRunner().invoke(app, ["replay", "catalog", "lobster:AMZN"])
    assert bad.exit_code == 2 and "replay catalog takes" in bad.output


def test_book_levels_equal_the_lobster_orderbook_file(data_root: Path) -> None:
    """The top five levels rebuilt from the L2 events, against LOBSTER's own book after each."""
    from makerkit.backtest import book_levels
    from makerkit.data import LOBSTER_DUMMY_ASK, LOBSTER_DUMMY_BID, load_lobster, lobster_tick

    message = data_root / AMZN
    day = load_lobster(message, message.with_name(message.name.replace("message", "orderbook")))
    got = book_levels(recorded_events("lobster", "AMZN", "2012-06-21"), 5)
    rows = np.searchsorted(day.messages.ts_ns, got["ts"], side="right") - 1
    book, tick = day.book[rows], lobster_tick(day)
    for col, name, dummy in ((0, "ask", LOBSTER_DUMMY_ASK), (2, "bid", LOBSTER_DUMMY_BID)):
        empty = book[:, col::4] == dummy
        assert np.array_equal(np.where(empty, 0, book[:, col::4] // tick), got[f"{name}_px"])
        assert np.array_equal(np.where(empty, 0, book[:, col + 1 :: 4]), got[f"{name}_sz"])
    assert len(got["ts"]) > 100_000


def test_predictor_trains_on_catalog_days(data_root: Path, tmp_path: Path) -> None:
    ingest([data_root / SPOT], tmp_path / "cat")
    spec = f"catalog:binance:BTCUSDT:2024-08-08,catalog={tmp_path / 'cat'}"
    res = CliRunner().invoke(app, [
        "predictor", "train", "--data", spec, "--horizon", "20", "-o", str(tmp_path / "m.mkp"),
        "--json",
    ])  # fmt: skip
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout.strip().splitlines()[-1])
    assert 0.0 < report["test"]["accuracy"] <= 1.0
    assert (tmp_path / "m.mkp").exists()


def test_a_sweep_task_streams_a_catalog_range_and_a_missing_day_is_refused_first(
    data_root: Path, tmp_path: Path
) -> None:
    from makerkit.backtest import check_market
    from makerkit.distributed import backtest_row
    from makerkit.distributed._config import BacktestTask

    cat = _two_days(data_root, tmp_path)
    spec = f"catalog:binance-futures:BTCUSDT:2024-07-18..2024-07-19,catalog={cat}"
    check_market(parse_data_spec(spec))
    with pytest.raises(DataError, match="no data on 2024-07-20"):
        check_market(parse_data_spec(spec.replace("2024-07-19", "2024-07-20")))
    row = backtest_row(BacktestTask(task_id=0, strategy="glft", params={}, data=spec, market=spec))
    memory = run_on_spec(
        make_strategy("glft"), parse_data_spec(spec), load_market(parse_data_spec(spec))
    )
    assert row["fills"] == memory.metrics.fills > 0
    assert row["pnl_total"] == memory.metrics.pnl_total


def test_train_and_test_windows_are_refused_on_a_range_of_days() -> None:
    from makerkit.distributed import tune

    spec = "catalog:binance:BTCUSDT:2024-08-01..2024-08-02"
    with pytest.raises(ConfigError, match="not times of one day"):
        tune("glft", spec, train=("09:30", "12:00"), test=("12:00", "16:00"))
    with pytest.raises(ConfigError, match="must end before the test days"):
        tune("glft", spec, train=("2024-08-01", "2024-08-02"), test=("2024-08-02", "2024-08-02"))
    with pytest.raises(ConfigError, match="both be times"):
        tune("glft", spec, train=("2024-08-01", "2024-08-01"), test=("12:00", "16:00"))
    with pytest.raises(ConfigError, match="need a catalog spec"):
        tune("glft", "lobster:AMZN", train=("2012-06-20", "2012-06-20"),
             test=("2012-06-21", "2012-06-21"))  # fmt: skip


def test_tune_chooses_on_train_days_and_judges_on_later_days(
    data_root: Path, tmp_path: Path
) -> None:
    from makerkit.distributed import tune
    from makerkit.distributed._tune import parse_window

    cat = _two_days(data_root, tmp_path)
    spec = f"catalog:binance-futures:BTCUSDT:2024-07-18..2024-07-19,catalog={cat}"
    train, test = parse_window("2024-07-18", name="train"), parse_window("2024-07-19", name="test")
    result = tune("glft", spec, train, test, search="grid", grid_points=2)
    assert (result.train, result.test) == ("2024-07-18..2024-07-18", "2024-07-19..2024-07-19")
    one = parse_data_spec(f"catalog:binance-futures:BTCUSDT:2024-07-19,catalog={cat}")
    judged = run_on_spec(make_strategy("glft", **result.best_params), one, load_market(one))
    assert result.out_of_sample["pnl"] == judged.metrics.pnl_total
    assert result.out_of_sample["fills"] == judged.metrics.fills


def test_two_lobster_days_stream_as_they_load(data_root: Path, tmp_path: Path) -> None:
    """AMZN's day and the same files dated a day later: each day starts from its own book."""
    from makerkit.backtest import ReplayConfig, catalog_stream, run_replay_backtest

    src = data_root / AMZN
    book = src.with_name(src.name.replace("message", "orderbook"))
    for f in (src, book):
        (tmp_path / f.name.replace("2012-06-21", "2012-06-22")).write_bytes(f.read_bytes())
    ingest([src, tmp_path / src.name.replace("2012-06-21", "2012-06-22")], tmp_path / "cat")
    args = (tmp_path / "cat", "nasdaq", "AMZN", "2012-06-21", "2012-06-22")
    for l3 in (False, True):
        memory = catalog_events(*args, order_level=l3)
        stream = catalog_stream(*args, order_level=l3)
        assert memory.tick == stream.tick == 100  # LOBSTER's cent grid, not the hidden prints'
        assert data_quality(memory)["crossed_events"] == 0
        cfg = ReplayConfig(queue="l3" if l3 else "probabilistic", decision_ms=1000)
        a = run_replay_backtest(make_strategy("glft"), memory, cfg)
        b = run_replay_backtest(make_strategy("glft"), stream, cfg)
        assert a.metrics.fills > 0
        assert msgspec.to_builtins(a.metrics) == msgspec.to_builtins(b.metrics)


def test_sweep_ranks_on_train_days_and_judges_on_test_days(data_root: Path, tmp_path: Path) -> None:
    cat = _two_days(data_root, tmp_path)
    config = tmp_path / "sweep.toml"
    config.write_text(
        "[backtest]\nstrategies = ['glft']\n"
        f"data = ['catalog:binance-futures:BTCUSDT:2024-07-18..2024-07-19,catalog={cat}']\n"
        "[backtest.params.glft]\ngamma = [0.1, 1.0]\n"
    )
    runner = CliRunner()
    args = ["sweep", str(config), "--out", str(tmp_path / "out"), "--workers", "1", "--json"]
    res = runner.invoke(app, [*args, "--train", "2024-07-18", "--test", "2024-07-19"])
    assert res.exit_code == 0, res.output
    got = json.loads(res.stdout.strip().splitlines()[-1])
    (judged,) = got["out_of_sample"]
    test_day = parse_data_spec(f"catalog:binance-futures:BTCUSDT:2024-07-19,catalog={cat}")
    best = make_strategy("glft", **json.loads(judged["params"]))
    alone = run_on_spec(best, test_day, load_market(test_day))
    assert judged["pnl_mean"] == alone.metrics.pnl_total  # judged on the test day alone
    assert judged["fills_mean"] == alone.metrics.fills > 0
    bad = runner.invoke(app, [*args, "--train", "2024-07-18", "--test", "2024-07-18"])
    assert bad.exit_code == 2 and "must start after" in bad.output
    bad = runner.invoke(app, [*args, "--train", "09:30-12:00", "--test", "12:00-16:00"])
    assert bad.exit_code == 2 and "range of days" in bad.output
