"""Databento DBN: the reader, the checked MBO replay, the replay events and the CLI.

Every test runs on the real files under ``databento/`` in the shared data
(SOURCES.md section 6); the corrupted copies are those files with one field
rewritten through databento_dbn's own record layout.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import databento_dbn as dbn
import numpy as np
import pytest
from typer.testing import CliRunner

from makerkit.backtest import data_quality, databento_events, replay_databento
from makerkit.backtest._events import ADD, CANCEL, EXECUTE, TRADE
from makerkit.cli._app import app
from makerkit.core.errors import DataError
from makerkit.data import DBN_ACTIONS, SourceTable, read_dbn

ES_DAY = "nautilus_esh4-glbx-mdp3-20231225.mbo.dbn.zst"
ESM4 = "nautilus_orderbooks_mbo_2024-05-08T00-00-00_2024-05-08T00-00-02.dbn.zst"
ES_TICK = 250_000_000  # 0.25 in 1e-9 units


def _dir(root: Path) -> Path:
    return root / "databento"


def _decode(path: Path) -> tuple[Any, list[Any]]:
    zst = path.name.endswith(".zst")
    decoder = dbn.DBNDecoder(
        upgrade_policy=dbn.VersionUpgradePolicy.AS_IS,
        compression=dbn.Compression.ZSTD if zst else dbn.Compression.NONE,
    )
    decoder.write(path.read_bytes())
    items = decoder.decode()
    return items[0], items[1:]


_RAW: dict[Path, tuple[bytes, bytes, np.dtype[Any]]] = {}


def _rewrite(src: Path, dst: Path, change: Callable[[np.ndarray[Any, Any]], None]) -> Path:
    """``src`` with its records changed as ``change`` says, written uncompressed to ``dst``."""
    if src not in _RAW:
        metadata, records = _decode(src)
        layout = np.dtype(type(records[0])._dtypes)
        _RAW[src] = (metadata.encode(), b"".join(bytes(r) for r in records), layout)
    head, body, layout = _RAW[src]
    rows = np.frombuffer(body, dtype=layout).copy()
    change(rows)
    dst.write_bytes(head + rows.tobytes())
    return dst


def _one(tables: list[SourceTable], schema: str) -> SourceTable:
    found = [t for t in tables if t.schema == schema]
    assert len(found) == 1, [t.schema for t in tables]
    return found[0]


@pytest.fixture(scope="module")
def es_day(data_root: Path) -> list[SourceTable]:
    return read_dbn(_dir(data_root) / ES_DAY)


# -- the reader -------------------------------------------------------------------


def test_mbo_v3_is_an_l3_table_with_the_records_fields(data_root: Path) -> None:
    path = _dir(data_root) / "dbn-tests_test_data.mbo.v3.dbn.zst"
    (table,) = read_dbn(path)
    _, records = _decode(path)
    assert (table.venue, table.symbol, table.schema, len(table)) == ("glbx.mdp3", "ESH1", "l3", 2)
    meta = table.meta
    assert meta["source"] == "databento" and meta["file"] == str(path)
    assert (meta["dataset"], meta["schema"], meta["dbn_version"]) == ("GLBX.MDP3", "mbo", 3)
    assert (meta["price_unit"], meta["qty_unit"], meta["clock"]) == ("1e-9", "1", "local")
    c = table.columns
    assert c["price"].tolist() == [3_722_750_000_000, 3_723_000_000_000]
    assert c["price"].tolist() == [r.price for r in records]
    assert c["order_id"].tolist() == [r.order_id for r in records]
    assert c["ts_ns"].tolist() == [r.ts_recv for r in records]
    assert c["exch_ns"].tolist() == [r.ts_event for r in records]
    assert c["qty"].tolist() == [1, 1] and c["side"].tolist() == [-1, -1]
    assert c["action"].tolist() == [DBN_ACTIONS["C"]] * 2 and c["flags"].tolist() == [128, 128]


def test_mbp1_v3_is_bbo_after_each_record(data_root: Path) -> None:
    path = _dir(data_root) / "dbn-tests_test_data.mbp-1.v3.dbn.zst"
    tables = read_dbn(path)
    assert [t.schema for t in tables] == ["bbo"]  # two adds: no trades
    _, records = _decode(path)
    c = tables[0].columns
    assert c["bid_price"].tolist() == [3_720_250_000_000] * 2
    assert c["ask_price"].tolist() == [3_720_500_000_000] * 2
    assert c["bid_qty"].tolist() == [r.levels[0].bid_sz for r in records] == [24, 24]
    assert c["ask_qty"].tolist() == [r.levels[0].ask_sz for r in records] == [11, 12]


def test_mbp10_v3_is_ten_levels_per_record(data_root: Path) -> None:
    path = _dir(data_root) / "dbn-tests_test_data.mbp-10.v3.dbn.zst"
    table = _one(read_dbn(path), "l2_snapshot")
    _, records = _decode(path)
    assert len(table) == 40
    c = table.columns
    for k, record in enumerate(records):
        rows = slice(20 * k, 20 * (k + 1))
        assert set(c["ts_ns"][rows].tolist()) == {record.ts_recv}
        for level, pair in enumerate(record.levels, start=1):
            at = (c["level"][rows] == level) & (c["side"][rows] == 1)
            assert c["price"][rows][at].tolist() == [pair.bid_px]
            assert c["qty"][rows][at].tolist() == [pair.bid_sz]
            at = (c["level"][rows] == level) & (c["side"][rows] == -1)
            assert c["price"][rows][at].tolist() == [pair.ask_px]
            assert c["qty"][rows][at].tolist() == [pair.ask_sz]
    assert c["price"][:2].tolist() == [3_720_250_000_000, 3_720_500_000_000]


def test_trades_and_tbbo_v3_share_their_two_trades(data_root: Path) -> None:
    root = _dir(data_root)
    trades = _one(read_dbn(root / "dbn-tests_test_data.trades.v3.dbn.zst"), "trades")
    tbbo = read_dbn(root / "dbn-tests_test_data.tbbo.v3.dbn.zst")
    c = trades.columns
    assert c["price"].tolist() == [3_720_250_000_000] * 2 and c["qty"].tolist() == [5, 21]
    assert c["aggressor"].tolist() == [-1, -1]  # side A: a seller hit the bid
    for name, col in _one(tbbo, "trades").columns.items():
        assert col.tolist() == c[name].tolist(), name
    bbo = _one(tbbo, "bbo").columns  # the book just before each trade
    assert bbo["bid_price"].tolist() == [3_720_250_000_000] * 2
    assert bbo["ask_price"].tolist() == [3_720_500_000_000] * 2


@pytest.mark.parametrize("schema", ["mbo", "mbp-1", "mbp-10", "trades"])
def test_dbn_v1_and_v3_files_read_to_equal_tables(data_root: Path, schema: str) -> None:
    v1 = read_dbn(_dir(data_root) / f"nautilus_{schema}.dbn.zst")
    v3 = read_dbn(_dir(data_root) / f"dbn-tests_test_data.{schema}.v3.dbn.zst")
    assert [t.meta["dbn_version"] for t in v1 + v3] == [1] * len(v1) + [3] * len(v3)
    assert [(t.venue, t.symbol, t.schema) for t in v1] == [
        (t.venue, t.symbol, t.schema) for t in v3
    ]
    for a, b in zip(v1, v3, strict=True):
        assert a.columns.keys() == b.columns.keys()
        for name in a.columns:
            assert np.array_equal(a.columns[name], b.columns[name]), (schema, name)


def test_the_uncompressed_v2_mbo_file_equals_v3(data_root: Path) -> None:
    (v2,) = read_dbn(_dir(data_root) / "dbn-tests_test_data.mbo.dbn")
    (v3,) = read_dbn(_dir(data_root) / "dbn-tests_test_data.mbo.v3.dbn.zst")
    assert v2.meta["dbn_version"] == 2
    for name in v3.columns:
        assert np.array_equal(v2.columns[name], v3.columns[name]), name


@pytest.mark.parametrize(
    "name",
    [
        "dbn-tests_test_data.definition.v3.dbn.zst",
        "nautilus_definition-glbx-es-fut.dbn.zst",
        "nautilus_orderbooks_definition.dbn.zst",
    ],
)
def test_an_unsupported_schema_is_a_data_error_naming_file_and_schema(
    data_root: Path, name: str
) -> None:
    with pytest.raises(DataError, match="definition") as caught:
        read_dbn(_dir(data_root) / name)
    assert name in str(caught.value)


def test_the_es_day_reads_with_its_snapshot_and_sequence_measurements(
    es_day: list[SourceTable],
) -> None:
    (table,) = es_day
    c = table.columns
    assert (table.symbol, len(table)) == ("ESH4", 68_792)
    meta = table.meta
    assert meta["snapshot_records"] == 8_725 and meta["bad_ts_recv"] == 8_725
    assert meta["ts_adjusted"] == 0  # the snapshot keeps its own (generation) time
    assert (meta["sequence_jumps"], meta["sequence_skipped"], meta["sequence_max_jump"]) == (
        3_666,
        7_686,
        37,
    )
    assert meta["sequence_back"] == 0
    assert np.all(np.diff(c["ts_ns"]) >= 0)
    counts = {k: int((c["action"] == v).sum()) for k, v in DBN_ACTIONS.items()}
    assert counts == {"A": 29_216, "C": 17_999, "M": 12_233, "R": 0, "T": 2_973, "F": 6_371,
                      "N": 0}  # fmt: skip
    assert np.gcd.reduce(c["price"][c["price"] > 0]) == ES_TICK


def test_a_sequence_going_back_is_a_data_error_naming_file_and_record(
    data_root: Path, tmp_path: Path
) -> None:
    def swap(rows: np.ndarray[Any, Any]) -> None:
        k = 20_000  # two incremental records with different sequence numbers
        assert rows["sequence"][k] < rows["sequence"][k + 1]
        rows["sequence"][[k, k + 1]] = rows["sequence"][[k + 1, k]]

    bad = _rewrite(_dir(data_root) / ES_DAY, tmp_path / "back.dbn", swap)
    with pytest.raises(DataError, match=r"record 20001: sequence \d+ goes back") as caught:
        read_dbn(bad)
    assert "back.dbn" in str(caught.value)
    (table,) = read_dbn(bad, check_sequence=False)
    assert table.meta["sequence_back"] == 1


def test_a_bad_ts_recv_takes_the_time_of_the_record_before_it(
    data_root: Path, tmp_path: Path
) -> None:
    k = 30_000

    def flag(rows: np.ndarray[Any, Any]) -> None:
        rows["flags"][k] |= dbn.F_BAD_TS_RECV
        rows["ts_recv"][k] = rows["ts_recv"][k] + 10**12  # 1000 s late: not to be trusted

    (table,) = read_dbn(_rewrite(_dir(data_root) / ES_DAY, tmp_path / "bad_ts.dbn", flag))
    ts = table.columns["ts_ns"]
    assert ts[k] == ts[k - 1] and np.all(np.diff(ts) >= 0)
    assert table.meta["ts_adjusted"] == 1


# -- the checked MBO replay -------------------------------------------------------


def test_the_es_day_replays_exactly_on_both_engines(
    es_day: list[SourceTable], backend: str
) -> None:
    report = replay_databento(es_day, backend=backend)
    assert report.engine == backend and report.ok, report.first_mismatch
    assert (report.messages, report.snapshot_records, report.clears) == (68_792, 8_725, 0)
    assert report.mismatches == 0 and report.book_checks == 68_756
    assert (report.trade_checks, report.order_checks) == (2_972, 65_784)
    assert (report.auction_trades, report.auction_fills, report.crossed_events) == (1, 35, 891)
    assert report.final_bid == [4_810_000_000_000, 22]
    assert report.final_ask == [4_810_250_000_000, 28]
    assert report.tick == ES_TICK and report.msgs_per_sec > 0
    assert "trades" in report.truth


def test_the_two_second_capture_replays_from_its_snapshot(data_root: Path, backend: str) -> None:
    report = replay_databento(_dir(data_root) / ESM4, backend=backend)
    assert report.ok, report.first_mismatch
    assert (report.messages, report.snapshot_records, report.clears) == (13_796, 13_601, 1)
    assert report.trade_checks == 5 and report.book_checks == 13_795
    assert report.final_bid == [5_214_000_000_000, 28]
    assert report.final_ask == [5_214_250_000_000, 17]


@pytest.mark.parametrize("corruption", ["add size", "trade price"])
def test_a_corrupted_copy_is_a_mismatch(data_root: Path, tmp_path: Path, corruption: str) -> None:
    def change(rows: np.ndarray[Any, Any]) -> None:
        if corruption == "trade price":
            k = 20_014
            assert rows["action"][k] == b"T"
            rows["price"][k] += ES_TICK  # a tick through the touch
            return
        k = 9_837  # an add whose order is cancelled whole at record 10,827
        assert rows["action"][k] == b"A" and rows["size"][k] == 12
        rows["size"][k] -= 1

    bad = _rewrite(_dir(data_root) / ES_DAY, tmp_path / "bad.dbn", change)
    report = replay_databento(bad)
    assert report.mismatches == 1 and not report.ok
    where = "record 20014 (T" if corruption == "trade price" else "record 10827 (C"
    assert report.first_mismatch is not None and report.first_mismatch.startswith(where)


def test_mbo_and_mbp10_agree_on_their_shared_record(data_root: Path) -> None:
    root = _dir(data_root)
    mbo_path = root / "dbn-tests_test_data.mbo.v3.dbn.zst"
    mbp_path = root / "dbn-tests_test_data.mbp-10.v3.dbn.zst"
    _, mbo = _decode(mbo_path)
    _, mbp = _decode(mbp_path)
    for field in ("ts_recv", "ts_event", "sequence", "price", "size", "flags"):
        assert getattr(mbo[0], field) == getattr(mbp[0], field), field
    assert (str(mbo[0].action), str(mbo[0].side)) == (str(mbp[0].action), str(mbp[0].side))
    # the MBO file has no snapshot: the book is seeded from the MBP-10 record it shares
    report = replay_databento(mbo_path, truth=mbp_path)
    assert report.ok and report.seeded and report.levels == 10
    assert (report.mbp_checks, report.truth_rows, report.truth_unmatched) == (1, 2, 1)
    assert report.final_ask == [3_720_500_000_000, 10]
    alone = replay_databento(mbo_path)
    assert alone.book_checks == 0 and alone.unknown_refs == 2 and alone.truth == "none"


def test_a_file_without_mbo_cannot_be_replayed(data_root: Path) -> None:
    with pytest.raises(DataError, match=r"needs MBO records.*mbp-10"):
        replay_databento(_dir(data_root) / "dbn-tests_test_data.mbp-10.v3.dbn.zst")


# -- events for the backtester ----------------------------------------------------


@pytest.mark.parametrize("order_level", [False, True])
def test_es_day_events_never_show_a_crossed_book(
    es_day: list[SourceTable], order_level: bool
) -> None:
    ev = databento_events(es_day, order_level=order_level)
    quality = data_quality(ev)
    assert quality["crossed_events"] == 0 and quality["events"] == len(ev)
    assert (ev.tick, ev.price_unit, ev.source, ev.symbol) == (ES_TICK, "1e-9", "databento", "ESH4")
    assert ev.start_ns == int(es_day[0].columns["ts_ns"][8_725])  # the first record after it
    assert np.all(np.diff(ev.ts) >= 0)
    assert ev.price_range() == (19_201, 19_247)  # trades 4800.25 .. 4811.75
    assert any("crossed" in note for note in ev.notes)  # the pre-open, held to the open
    assert ev.order_level is order_level
    if order_level:
        assert ev.ref is not None
        kinds = set(ev.kind.tolist())
        assert kinds == {ADD, CANCEL, EXECUTE}
        touched = ev.kind != ADD
        assert np.all(ev.kind[ev.ref[touched]] == ADD)
        assert np.all(ev.price[ev.ref[touched]] == ev.price[touched])
    else:
        assert int((ev.kind == TRADE).sum()) == 2_972  # every trade with an aggressor


def test_both_views_of_the_capture_end_on_the_replayed_book(data_root: Path) -> None:
    path = _dir(data_root) / ESM4
    report = replay_databento(path)
    for order_level in (False, True):
        ev = databento_events(path, order_level=order_level)
        assert data_quality(ev)["crossed_events"] == 0
        book: dict[tuple[int, int], int] = {}
        for kind, side, price, qty in zip(ev.kind.tolist(), ev.side.tolist(), ev.price.tolist(),
                                          ev.qty.tolist(), strict=True):  # fmt: skip
            if kind == TRADE:
                continue
            now = (
                qty
                if kind not in (ADD, CANCEL, EXECUTE)
                else book.get((side, price), 0) + (qty if kind == ADD else -qty)
            )
            book[(side, price)] = now
        best_bid = max(p for (s, p), q in book.items() if s > 0 and q > 0)
        best_ask = min(p for (s, p), q in book.items() if s < 0 and q > 0)
        assert report.final_bid == [best_bid * ES_TICK, book[(1, best_bid)]]
        assert report.final_ask == [best_ask * ES_TICK, book[(-1, best_ask)]]


# -- the CLI ----------------------------------------------------------------------


def test_the_cli_json_contract(data_root: Path, tmp_path: Path) -> None:
    root = _dir(data_root)
    runner = CliRunner()
    result = runner.invoke(app, ["replay", "databento", str(root / ESM4), "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output.strip().splitlines()[-1])
    assert payload["messages"] == 13_796 and payload["mismatches"] == 0
    assert payload["book_checks"] == 13_795 and payload["msgs_per_sec"] > 0
    assert {"seconds", "engine", "first_mismatch", "snapshot_records", "clears", "truth"} <= set(
        payload
    )
    mbo, mbp = (
        root / "dbn-tests_test_data.mbo.v3.dbn.zst",
        root / "dbn-tests_test_data.mbp-10.v3.dbn.zst",
    )
    args = ["replay", "databento", str(mbo), "--mbp", str(mbp), "--backend", "python", "--json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output.strip().splitlines()[-1])
    assert payload["engine"] == "python" and payload["mbp_checks"] == 1
    result = runner.invoke(app, ["replay", "databento", str(mbp), "--json"])
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit)
    assert "needs MBO records" in result.output and "Traceback" not in result.output

    def corrupt(rows: np.ndarray[Any, Any]) -> None:
        trade = int(np.flatnonzero(rows["action"] == b"T")[0])
        rows["price"][trade] += ES_TICK  # a tick through the touch

    bad = _rewrite(root / ESM4, tmp_path / "bad.dbn", corrupt)
    result = runner.invoke(app, ["replay", "databento", str(bad), "--json"])
    assert result.exit_code == 1
    assert json.loads(result.output.strip().splitlines()[-1])["mismatches"] == 1
