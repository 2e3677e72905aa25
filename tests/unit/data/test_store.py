"""The Parquet store: documented schemas, exact round trips, zero-copy loads, atomic writes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

from makerkit.core import DataError  # noqa: E402
from makerkit.data import Bars, load_binance_capture, load_lobster, simulate  # noqa: E402
from makerkit.data._store import (  # noqa: E402
    binance_l2_columns,
    binance_trade_columns,
    load_parquet,
    lobster_l3_columns,
    save_bars,
    save_table,
    stream_l3_columns,
)

GOOG = "lobster/GOOG_2012-06-21_34200000_57600000_{}_1.csv.gz"


def test_lobster_day_round_trips_zero_copy(data_root: Path, tmp_path: Path) -> None:
    day = load_lobster(data_root / GOOG.format("message"), data_root / GOOG.format("orderbook"))
    cols, meta = lobster_l3_columns(day)
    kind, loaded, got_meta = load_parquet(save_table(tmp_path / "goog.parquet", "l3", cols, meta))
    tick = got_meta["tick"]
    assert kind == "l3" and tick in (1, 50, 100) and got_meta["source"] == "lobster"
    assert np.array_equal(loaded["order_id"], day.messages.order_id)
    assert np.array_equal(loaded["price"] * tick, day.messages.price)  # exact, hidden prints too
    assert set(np.unique(loaded["action"])) <= {0, 1, 4, 5}
    # integer columns come back as views on Arrow's buffers, not copies
    assert not loaded["ts_ns"].flags.owndata and loaded["ts_ns"].dtype == np.int64


def test_binance_capture_and_simulation_round_trip(data_root: Path, tmp_path: Path) -> None:
    capture = load_binance_capture(data_root / "crypto/binance_usdm_btcusdt_20240718_stream.gz")
    l2 = binance_l2_columns(capture)
    _, loaded, _ = load_parquet(save_table(tmp_path / "l2.parquet", "l2", l2, {}))
    assert loaded["price"].tolist() == l2["price"]
    trades = binance_trade_columns(capture)
    _, got, _ = load_parquet(save_table(tmp_path / "t.parquet", "trades", trades, {}))
    assert np.array_equal(got["qty"], capture.trade_qty) and set(got["aggressor"]) <= {-1, 1}
    run = simulate(events=5000, seed=3)
    _, sim, _ = load_parquet(
        save_table(tmp_path / "s.parquet", "l3", stream_l3_columns(run.stream))
    )
    assert np.array_equal(sim["price"], run.stream.price)


def test_bars_keep_their_metadata(tmp_path: Path) -> None:
    ts = np.array([1, 2, 3], dtype=np.int64) * 86_400_000_000_000
    px = np.array([10.0, 11.5, 12.25])
    bars = Bars(symbol="AAPL", interval="1d", source="yahoo", ts_ns=ts, open=px, high=px + 1,
                low=px - 1, close=px, volume=np.array([1e6, 2e6, 3e6]), currency="USD")  # fmt: skip
    kind, cols, meta = load_parquet(save_bars(tmp_path / "b.parquet", bars))
    assert kind == "bars" and meta == {"symbol": "AAPL", "interval": "1d", "source": "yahoo",
                                       "currency": "USD"}  # fmt: skip
    assert np.array_equal(cols["high"], px + 1) and np.isnan(cols["adj_close"]).all()


def test_a_failed_write_leaves_the_old_file_intact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "x.parquet"
    good = {"ts_ns": [1], "side": [1], "price": [5], "qty": [2]}
    save_table(target, "l2", good)
    before = target.read_bytes()

    def broken(table: object, where: object, **kw: object) -> None:
        Path(str(where)).write_bytes(b"PAR1 half a file")
        msg = "disk full"
        raise OSError(msg)

    monkeypatch.setattr(pq, "write_table", broken)
    with pytest.raises(OSError, match="disk full"):
        save_table(target, "l2", {**good, "qty": [3]})
    assert target.read_bytes() == before and list(tmp_path.iterdir()) == [target]


@pytest.mark.parametrize(
    ("kind", "cols", "message"),
    [
        ("quotes", {}, "invalid `kind`"),
        ("l2", {"ts_ns": [1], "side": [1], "price": [5]}, "missing \\['qty'\\]"),
        ("l2", {"ts_ns": [1], "side": [1], "price": [5], "qty": [1], "x": [0]}, "unexpected"),
        ("l2", {"ts_ns": [1, 2], "side": [1], "price": [5], "qty": [1]}, "lengths differ"),
    ],
)
def test_bad_tables_are_refused(
    tmp_path: Path, kind: str, cols: dict[str, list[int]], message: str
) -> None:
    with pytest.raises(DataError, match=message):
        save_table(tmp_path / "bad.parquet", kind, cols)
    assert not (tmp_path / "bad.parquet").exists()


def test_foreign_or_broken_files_are_refused(tmp_path: Path) -> None:
    foreign = tmp_path / "foreign.parquet"
    pq.write_table(pa.table({"a": [1, 2]}), foreign)
    with pytest.raises(DataError, match="not a makerkit dataset"):
        load_parquet(foreign)
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"not parquet at all")
    with pytest.raises(DataError, match="not a readable Parquet file"):
        load_parquet(broken)


def test_book_snapshots_round_trip(data_root: Path, tmp_path: Path) -> None:
    from makerkit.data._store import binance_snapshot_columns, lobster_book_columns

    day = load_lobster(data_root / GOOG.format("message"), data_root / GOOG.format("orderbook"))
    _, cols, _ = load_parquet(
        save_table(tmp_path / "b.parquet", "l2_snapshot", lobster_book_columns(day))
    )
    # the level-1 book after message 1000, rebuilt from the long table, is the file's row
    at = cols["ts_ns"] == day.messages.ts_ns[1000]
    first = np.flatnonzero(at)[:2]  # rows of the first message with that timestamp
    prices, sizes = (cols["price"][first] * 100).tolist(), cols["qty"][first].tolist()
    # rows come ask then bid per level, as the file's columns do
    assert [prices[0], sizes[0], prices[1], sizes[1]] == day.book[
        np.flatnonzero(day.messages.ts_ns == day.messages.ts_ns[1000])[0]
    ].tolist()
    capture = load_binance_capture(data_root / "crypto/binance_spot_btcusdt_20240808_stream.gz")
    _, snap, _ = load_parquet(
        save_table(tmp_path / "s.parquet", "l2_snapshot", binance_snapshot_columns(capture))
    )
    assert (snap["side"] == 1).sum() == len(capture.snapshot_bids) == 1000
    assert snap["price"][0] == capture.snapshot_bids[0][0] and snap["level"][0] == 1
