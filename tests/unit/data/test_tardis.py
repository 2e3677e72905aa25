"""tardis.dev CSV readers on the real fixtures (and files written from a real capture)."""

from __future__ import annotations

import csv
import gzip
import shutil
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from makerkit.core.errors import DataError
from makerkit.data import load_binance_capture, read_source, read_tardis
from makerkit.data._tables import L2_RESET

INCREMENTAL = "crypto/tardis_deribit_incremental_book_L2_BTC-PERPETUAL.csv"
SNAPSHOT = "crypto/tardis_binance-futures_book_snapshot_5_BTCUSDT.csv"


def _units(text: str) -> int:
    return int(Decimal(text) * 10**8)


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def test_incremental_l2_matches_the_file_row_by_row(data_root: Path) -> None:
    path = data_root / INCREMENTAL
    (table,) = read_tardis(path)
    rows = _rows(path)
    assert (table.venue, table.symbol, table.schema) == ("deribit", "BTC-PERPETUAL", "l2")
    assert len(table) == len(rows) == 15
    c = table.columns
    assert c["price"].tolist() == [_units(r["price"]) for r in rows]
    assert c["qty"].tolist() == [_units(r["amount"]) for r in rows]
    assert c["side"].tolist() == [1 if r["side"] == "bid" else -1 for r in rows]
    assert c["ts_ns"].tolist() == [int(r["local_timestamp"]) * 1000 for r in rows]
    assert c["exch_ns"].tolist() == [int(r["timestamp"]) * 1000 for r in rows]
    # one snapshot block: its first row resets the book, no other row does
    assert c["flags"].tolist() == [L2_RESET] + [0] * 14
    assert table.meta["price_unit"] == "1e-8"


def test_book_snapshot_levels_match_the_file(data_root: Path) -> None:
    path = data_root / SNAPSHOT
    (table,) = read_tardis(path)
    rows = _rows(path)
    assert table.schema == "l2_snapshot"
    c = table.columns
    filled = sum(1 for r in rows for k, v in r.items() if k.endswith(".price") and v)
    assert len(table) == filled
    for r in rows:
        at = c["ts_ns"] == int(r["local_timestamp"]) * 1000
        for side, name in ((1, "bids"), (-1, "asks")):
            for k in range(5):
                hit = at & (c["side"] == side) & (c["level"] == k + 1)
                price = r[f"{name}[{k}].price"]
                if not price:
                    assert not hit.any()
                    continue
                assert c["price"][hit].tolist() == [_units(price)]
                assert c["qty"][hit].tolist() == [_units(r[f"{name}[{k}].amount"])]


def test_gzipped_file_reads_the_same(data_root: Path, tmp_path: Path) -> None:
    src = data_root / INCREMENTAL
    gz = tmp_path / (src.name + ".gz")
    with src.open("rb") as a, gzip.open(gz, "wb") as b:
        shutil.copyfileobj(a, b)
    (plain,) = read_tardis(src)
    (zipped,) = read_source(gz)
    for name, values in plain.columns.items():
        assert np.array_equal(values, zipped.columns[name]), name


def _swap(src: Path, dst: Path, i: int, j: int) -> None:
    lines = src.read_text().splitlines(keepends=True)
    lines[i], lines[j] = lines[j], lines[i]
    dst.write_text("".join(lines))


def test_backwards_local_time_is_refused_with_its_line_or_sorted(
    data_root: Path, tmp_path: Path
) -> None:
    path = tmp_path / "tardis_snapshot_swapped.csv"
    _swap(data_root / SNAPSHOT, path, 2, 5)  # two real rows out of order
    with pytest.raises(DataError, match=r"line 4.*local_timestamp goes backwards") as info:
        read_tardis(path)
    assert str(path) in str(info.value)
    with pytest.warns(UserWarning, match="sorted stably"):
        (table,) = read_tardis(path, sort=True)
    (original,) = read_tardis(data_root / SNAPSHOT)
    assert np.all(np.diff(table.columns["ts_ns"]) >= 0)
    for name, values in original.columns.items():
        assert np.array_equal(values, table.columns[name]), name


def test_a_bad_price_names_file_line_and_field(data_root: Path, tmp_path: Path) -> None:
    lines = (data_root / INCREMENTAL).read_text().splitlines(keepends=True)
    assert ",6422.5," in lines[3]
    lines[3] = lines[3].replace(",6422.5,", ",6422.5x,")
    path = tmp_path / "bad.csv"
    path.write_text("".join(lines))
    with pytest.raises(DataError, match=r"line 4, field `price`.*6422.5x"):
        read_tardis(path)


def test_trades_and_quotes_written_from_a_real_capture(data_root: Path, tmp_path: Path) -> None:
    """tardis's trades and quotes layouts, filled with a real Binance capture's records."""
    cap = load_binance_capture(data_root / "crypto/binance_usdm_btcusdt_20240718_stream.gz")

    def dec(units: int) -> str:
        return str(Decimal(units) / 10**8)

    trades = tmp_path / "binance-futures_trades_2024-07-18_BTCUSDT.csv.gz"
    with gzip.open(trades, "wt") as fh:
        fh.write("exchange,symbol,timestamp,local_timestamp,id,side,price,amount\n")
        assert cap.trade_exch_ns is not None
        for k in range(cap.trade_ns.shape[0]):
            side = "sell" if cap.trade_buyer_maker[k] else "buy"
            fh.write(
                f"binance-futures,BTCUSDT,{cap.trade_exch_ns[k] // 1000},"
                f"{cap.trade_ns[k] // 1000},{k + 1},{side},{dec(int(cap.trade_price[k]))},"
                f"{dec(int(cap.trade_qty[k]))}\n"
            )
    (t,) = read_source(trades)
    assert t.schema == "trades" and len(t) == cap.trade_ns.shape[0]
    assert np.array_equal(t.columns["price"], cap.trade_price)
    assert np.array_equal(t.columns["qty"], cap.trade_qty)
    assert np.array_equal(t.columns["aggressor"], np.where(cap.trade_buyer_maker, -1, 1))
    assert np.array_equal(t.columns["ts_ns"], cap.trade_ns // 1000 * 1000)
    quotes = tmp_path / "binance-futures_quotes_2024-07-18_BTCUSDT.csv"
    with quotes.open("w") as fh:
        fh.write("exchange,symbol,timestamp,local_timestamp,ask_amount,ask_price,bid_price,"
                 "bid_amount\n")  # fmt: skip
        for q in cap.tickers:
            fh.write(f"binance-futures,BTCUSDT,{q.local_ns // 1000},{q.local_ns // 1000},"
                     f"{dec(q.ask_qty)},{dec(q.ask)},{dec(q.bid)},{dec(q.bid_qty)}\n")  # fmt: skip
    (b,) = read_source(quotes)
    assert b.schema == "bbo" and len(b) == len(cap.tickers)
    assert b.columns["bid_price"].tolist() == [q.bid for q in cap.tickers]
    assert b.columns["ask_qty"].tolist() == [q.ask_qty for q in cap.tickers]


def test_not_a_tardis_file_is_refused(data_root: Path) -> None:
    with pytest.raises(DataError, match="not a format read here"):
        read_source(data_root / "ohlcv/NVDA_1999-2014_daily_yahoo.csv")
