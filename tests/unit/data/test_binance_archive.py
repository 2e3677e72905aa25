"""Binance public-data archives, written from the real captures' records and read back.

Every archive here is built from the shared captures (trades, bookTicker, the
REST snapshot and the diffs), in the layouts Binance documents, zipped as
data.binance.vision ships them (one ``NAME.csv`` inside ``NAME.zip``), with and
without the header row. Reading them back must give the capture's numbers
exactly.
"""

from __future__ import annotations

import gzip
import zipfile
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import pytest

from makerkit.core.errors import DataError
from makerkit.data import (
    SCALE,
    BinanceCapture,
    L2Book,
    archive_day,
    load_binance_capture,
    read_binance_archive,
    sync_binance,
)

SPOT = "crypto/binance_spot_btcusdt_20240808_stream.gz"
USDM = "crypto/binance_usdm_btcusdt_20240718_stream.gz"

SPOT_TRADES_HEADER = "id,price,qty,quote_qty,time,is_buyer_maker,is_best_match"
SPOT_AGG_HEADER = "a,p,q,f,l,T,m,M"
UM_TRADES_HEADER = "id,price,qty,quote_qty,time,is_buyer_maker"
UM_AGG_HEADER = (
    "agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker"
)
TICKER_HEADER = (
    "update_id,best_bid_price,best_bid_qty,best_ask_price,best_ask_qty,transaction_time,event_time"
)
DEPTH_HEADER = "timestamp,percentage,depth,notional"
BANDS_BP = (-500, -400, -300, -200, -100, -20, 20, 100, 200, 300, 400, 500)  # 0.01 %


class Source:
    """A capture, and what only its raw JSON has: trade ids and the exchange times."""

    def __init__(self, path: Path) -> None:
        self.capture: BinanceCapture = load_binance_capture(path)
        self.trade_id: list[int] = []
        self.trade_ms: list[int] = []
        self.ticker_times: dict[int, tuple[int, int]] = {}  # line -> (T, E)
        self.snapshot_ms = 0
        raw = gzip.decompress(path.read_bytes()).splitlines()
        for n, line in enumerate(raw, start=1):
            msg = msgspec.json.decode(line.partition(b" ")[2])
            data, stream = msg.get("data", {}), msg.get("stream", "")
            if stream.endswith("@trade"):
                self.trade_id.append(int(data["t"]))
                self.trade_ms.append(int(data["T"]))
            elif stream.endswith("@bookTicker") and "T" in data:
                self.ticker_times[n] = (int(data["T"]), int(data["E"]))
            elif n == self.capture.snapshot_line:
                self.snapshot_ms = int(msg.get("E", 0))
        assert len(self.trade_id) == len(self.capture.trade_price) > 0

    @property
    def aggressor(self) -> np.ndarray[Any, Any]:
        return np.where(self.capture.trade_buyer_maker, -1, 1)

    def day(self) -> str:
        return _utc(self.trade_ms[0] // 1000)[:10]


@pytest.fixture(scope="module")
def spot(data_root: Path) -> Source:
    return Source(data_root / SPOT)


@pytest.fixture(scope="module")
def usdm(data_root: Path) -> Source:
    return Source(data_root / USDM)


def _utc(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _dec(units: int) -> str:
    """1e-8 units as spot archives write them: 8 places."""
    return f"{units // SCALE}.{units % SCALE:08d}"


def _trim(units: int) -> str:
    """1e-8 units as futures archives write them: no trailing zeros, one place at least."""
    whole, frac = divmod(units, SCALE)
    return f"{whole}.{(f'{frac:08d}'.rstrip('0') or '0')}"


def _flag(value: bool, spot: bool) -> str:
    return ("True" if value else "False") if spot else ("true" if value else "false")


def _write(path: Path, rows: Iterable[str], header: str | None = None) -> Path:
    """A CSV, or a zip holding ``NAME.csv`` when ``path`` ends in .zip, as Binance ships."""
    text = "".join(f"{r}\n" for r in ([header] if header else []) + list(rows))
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".zip":
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(path.stem + ".csv", text)
    else:
        path.write_text(text)
    return path


def _spot_trade_rows(src: Source, unit: str) -> list[str]:
    cap, scale = src.capture, 1000 if unit == "us" else 1
    rows = []
    for i, (price, qty, maker) in enumerate(
        zip(cap.trade_price, cap.trade_qty, cap.trade_buyer_maker, strict=True)
    ):
        quote = int(price) * int(qty) // SCALE  # the quote column is not read back
        rows.append(
            f"{src.trade_id[i]},{_dec(int(price))},{_dec(int(qty))},{_dec(quote)},"
            f"{src.trade_ms[i] * scale},{_flag(bool(maker), True)},True"
        )
    return rows


def _aggregates(src: Source) -> list[tuple[int, int, int, int, int, bool]]:
    """Consecutive trades of one side at one price in one ms, merged as aggTrades merge fills.

    (first id, last id, price, summed qty, ms, buyer-was-maker); the first trade
    id serves as the aggregate id (increasing, like Binance's).
    """
    cap = src.capture
    out: list[list[Any]] = []
    for i in range(len(cap.trade_price)):
        key = (int(cap.trade_price[i]), src.trade_ms[i], bool(cap.trade_buyer_maker[i]))
        if out and (out[-1][2], out[-1][4], out[-1][5]) == key:
            out[-1][1] = src.trade_id[i]
            out[-1][3] += int(cap.trade_qty[i])
        else:
            out.append([src.trade_id[i], src.trade_id[i], key[0], int(cap.trade_qty[i]), *key[1:]])
    return [tuple(a) for a in out]  # type: ignore[misc]


@pytest.mark.parametrize("header", [False, True])
@pytest.mark.parametrize("unit", ["ms", "us"])
def test_spot_trades_read_back_exactly(tmp_path: Path, spot: Source, header: bool, unit: str):
    path = _write(
        tmp_path / f"BTCUSDT-trades-{spot.day()}.zip",
        _spot_trade_rows(spot, unit),
        SPOT_TRADES_HEADER if header else None,
    )
    [table] = read_binance_archive(path)
    cap = spot.capture
    assert (table.venue, table.symbol, table.schema) == ("binance", "BTCUSDT", "trades")
    assert len(table) == len(cap.trade_price) == 9757
    c = table.columns
    np.testing.assert_array_equal(c["price"], cap.trade_price)
    np.testing.assert_array_equal(c["qty"], cap.trade_qty)
    np.testing.assert_array_equal(c["aggressor"], spot.aggressor)
    np.testing.assert_array_equal(c["trade_id"], spot.trade_id)
    np.testing.assert_array_equal(c["exch_ns"], np.asarray(spot.trade_ms) * 1_000_000)
    np.testing.assert_array_equal(c["ts_ns"], c["exch_ns"])
    meta = table.meta
    assert meta["clock"] == "exchange" and meta["time_unit"] == unit
    assert meta["price_unit"] == meta["qty_unit"] == "1e-8"
    assert meta["market"] == "spot" and meta["day"] == spot.day() and meta["kind"] == "trades"
    assert meta["header"] == (SPOT_TRADES_HEADER.split(",") if header else None)
    assert meta["member"] == f"BTCUSDT-trades-{spot.day()}.csv"


@pytest.mark.parametrize(("header", "unit"), [(False, "ms"), (True, "ms"), (False, "us")])
def test_spot_agg_trades_read_back_exactly(tmp_path: Path, spot: Source, header: bool, unit: str):
    aggs = _aggregates(spot)
    scale = 1000 if unit == "us" else 1
    rows = [
        f"{f},{_dec(p)},{_dec(q)},{f},{last},{ms * scale},{_flag(m, True)},True"
        for f, last, p, q, ms, m in aggs
    ]
    month = spot.day()[:7]  # a monthly file
    path = _write(
        tmp_path / f"BTCUSDT-aggTrades-{month}.zip", rows, SPOT_AGG_HEADER if header else None
    )
    [table] = read_binance_archive(path)
    c = table.columns
    assert 0 < len(table) == len(aggs) < len(spot.trade_id)  # some fills did merge
    assert table.meta["day"] == month and table.meta["time_unit"] == unit
    np.testing.assert_array_equal(c["trade_id"], [a[0] for a in aggs])
    np.testing.assert_array_equal(c["price"], [a[2] for a in aggs])
    np.testing.assert_array_equal(c["qty"], [a[3] for a in aggs])
    np.testing.assert_array_equal(c["exch_ns"], [a[4] * 1_000_000 for a in aggs])
    np.testing.assert_array_equal(c["aggressor"], [-1 if a[5] else 1 for a in aggs])
    assert int(c["qty"].sum()) == int(spot.capture.trade_qty.sum())


def test_futures_trades_with_header_in_the_vision_layout(tmp_path: Path, usdm: Source):
    cap = usdm.capture
    rows = [
        f"{usdm.trade_id[i]},{_trim(int(p))},{_trim(int(q))},{_trim(int(p) * int(q) // SCALE)},"
        f"{usdm.trade_ms[i]},{_flag(bool(m), False)}"
        for i, (p, q, m) in enumerate(
            zip(cap.trade_price, cap.trade_qty, cap.trade_buyer_maker, strict=True)
        )
    ]
    folder = tmp_path / "data" / "futures" / "um" / "daily" / "trades" / "BTCUSDT"
    for suffix in ("zip", "csv"):
        path = _write(folder / f"BTCUSDT-trades-{usdm.day()}.{suffix}", rows, UM_TRADES_HEADER)
        [table] = read_binance_archive(path)  # the folders say USD-M
        assert (table.venue, table.meta["market"]) == ("binance-futures", "um")
        assert len(table) == len(cap.trade_price) == 974
        c = table.columns
        np.testing.assert_array_equal(c["price"], cap.trade_price)
        np.testing.assert_array_equal(c["qty"], cap.trade_qty)
        np.testing.assert_array_equal(c["aggressor"], usdm.aggressor)
        np.testing.assert_array_equal(c["trade_id"], usdm.trade_id)
        np.testing.assert_array_equal(c["ts_ns"], np.asarray(usdm.trade_ms) * 1_000_000)
        assert table.meta["time_unit"] == "ms" and table.meta["qty_kind"] == "base"


def test_futures_agg_trades_with_header(tmp_path: Path, usdm: Source):
    aggs = _aggregates(usdm)
    rows = [
        f"{f},{_trim(p)},{_trim(q)},{f},{last},{ms},{_flag(m, False)}"
        for f, last, p, q, ms, m in aggs
    ]
    path = _write(tmp_path / f"BTCUSDT-aggTrades-{usdm.day()}.zip", rows, UM_AGG_HEADER)
    [table] = read_binance_archive(path, market="um")
    assert table.venue == "binance-futures" and len(table) == len(aggs)
    np.testing.assert_array_equal(table.columns["trade_id"], [a[0] for a in aggs])
    np.testing.assert_array_equal(table.columns["qty"], [a[3] for a in aggs])
    np.testing.assert_array_equal(table.columns["exch_ns"], [a[4] * 1_000_000 for a in aggs])


def _ticker_rows(src: Source) -> list[str]:
    return [
        f"{t.update_id},{_trim(t.bid)},{_trim(t.bid_qty)},{_trim(t.ask)},{_trim(t.ask_qty)},"
        f"{src.ticker_times[t.line][0]},{src.ticker_times[t.line][1]}"
        for t in src.capture.tickers
    ]


@pytest.mark.parametrize("header", [False, True])
def test_futures_book_ticker_read_back_exactly(tmp_path: Path, usdm: Source, header: bool):
    tickers = usdm.capture.tickers
    path = _write(
        tmp_path / f"BTCUSDT-bookTicker-{usdm.day()}.zip",
        _ticker_rows(usdm),
        TICKER_HEADER if header else None,
    )
    [table] = read_binance_archive(path, market="um")
    assert (table.venue, table.schema) == ("binance-futures", "bbo")
    assert len(table) == len(tickers) == 7113
    c = table.columns
    np.testing.assert_array_equal(c["bid_price"], [t.bid for t in tickers])
    np.testing.assert_array_equal(c["bid_qty"], [t.bid_qty for t in tickers])
    np.testing.assert_array_equal(c["ask_price"], [t.ask for t in tickers])
    np.testing.assert_array_equal(c["ask_qty"], [t.ask_qty for t in tickers])
    times = [usdm.ticker_times[t.line] for t in tickers]
    np.testing.assert_array_equal(c["exch_ns"], [tt * 1_000_000 for tt, _ in times])
    np.testing.assert_array_equal(c["ts_ns"], [e * 1_000_000 for _, e in times])
    assert (c["ts_ns"] >= c["exch_ns"]).all()  # published no earlier than matched
    meta = table.meta
    assert (meta["ts"], meta["exch"]) == ("event_time", "transaction_time")
    assert (meta["first_update_id"], meta["last_update_id"]) == (
        tickers[0].update_id,
        tickers[-1].update_id,
    )


def _bands(book: L2Book, at_s: int) -> list[tuple[int, float, int, int]]:
    """Cumulative depth within each band of the mid: (s, percentage, depth, notional)."""
    bid, ask = book.best(1), book.best(-1)
    assert bid is not None and ask is not None
    mid2 = bid[0] + ask[0]  # twice the mid, kept an integer
    out = []
    for bp in BANDS_BP:
        if bp < 0:
            levels = [(p, q) for p, q in book.bids.items() if p * 20_000 >= mid2 * (10_000 + bp)]
        else:
            levels = [(p, q) for p, q in book.asks.items() if p * 20_000 <= mid2 * (10_000 + bp)]
        assert all(p * q % SCALE == 0 for p, q in levels)  # the notional is exact in 1e-8
        notional = sum(p * q for p, q in levels) // SCALE
        out.append((at_s, bp / 100, sum(q for _, q in levels), notional))
    return out


def test_futures_book_depth_from_the_capture(tmp_path: Path, usdm: Source):
    cap = usdm.capture
    start = L2Book()
    for price, qty in cap.snapshot_bids:
        start.set(1, price, qty)
    for price, qty in cap.snapshot_asks:
        start.set(-1, price, qty)
    final: list[Any] = []
    sync = sync_binance(cap, lambda book, diff: final.__setitem__(slice(None), [book, diff]))
    assert sync.gap is None and final
    expected = _bands(start, usdm.snapshot_ms // 1000) + _bands(final[0], final[1].event_ms // 1000)
    assert expected[0][0] < expected[-1][0]
    rows = [
        f"{_utc(s)},{pct:.2f},{_dec(depth)},{_dec(notional)}"
        for s, pct, depth, notional in expected
    ]
    path = _write(tmp_path / f"BTCUSDT-bookDepth-{usdm.day()}.zip", rows, DEPTH_HEADER)
    [table] = read_binance_archive(path, market="um")
    assert (table.venue, table.schema, len(table)) == ("binance-futures", "depth_bands", 24)
    c = table.columns
    np.testing.assert_array_equal(c["ts_ns"], [e[0] * 1_000_000_000 for e in expected])
    np.testing.assert_array_equal(c["exch_ns"], c["ts_ns"])
    np.testing.assert_array_equal(c["percentage"], [e[1] for e in expected])
    np.testing.assert_array_equal(c["depth"], [e[2] for e in expected])
    np.testing.assert_array_equal(c["notional"], [e[3] for e in expected])
    assert table.meta["time_unit"] == "s" and table.meta["clock"] == "exchange"


def test_archive_day_reads_the_name():
    assert archive_day("x/BTCUSDT-trades-2024-08-08.zip") == "2024-08-08"
    assert archive_day("BTCUSDT-aggTrades-2024-08.zip") == "2024-08"
    assert archive_day("BTCUSD_PERP-bookTicker-2024-07-18.csv") == "2024-07-18"
    assert archive_day("BTCUSDT-bookDepth-2024-07-18.zip") == "2024-07-18"
    assert archive_day("BTCUSDT-trades-2024-02-30.zip") is None  # no such day
    assert archive_day("BTCUSDT-1m-2024-08-08.zip") is None  # klines: not read here
    assert archive_day("BTCUSDT-trades-2024-08-08.zip.CHECKSUM") is None


# ---- refusals: each names the file, the line and the field -----------------------------


def _spot_file(tmp_path: Path, spot: Source, rows: list[str], header: bool = False) -> Path:
    return _write(
        tmp_path / f"BTCUSDT-trades-{spot.day()}.zip", rows, SPOT_TRADES_HEADER if header else None
    )


@pytest.mark.parametrize("header", [False, True])
def test_a_bad_price_names_file_line_and_field(tmp_path: Path, spot: Source, header: bool):
    rows = _spot_trade_rows(spot, "ms")
    fields = rows[4].split(",")
    rows[4] = ",".join([fields[0], fields[1].replace(".", ".x", 1), *fields[2:]])
    path = _spot_file(tmp_path, spot, rows, header)
    with pytest.raises(DataError, match="not a decimal") as info:
        read_binance_archive(path)
    err = info.value
    assert (err.path, err.line, err.field) == (str(path), 5 + header, "price")
    assert str(path) in str(err) and f"line {5 + header}" in str(err)


@pytest.mark.parametrize("bad", ["6e4", "61837.630000001", "-61837.63", " 61837.63", "1_000.5", ""])
def test_prices_are_exact_decimals_or_refused(tmp_path: Path, spot: Source, bad: str):
    rows = _spot_trade_rows(spot, "ms")
    fields = rows[0].split(",")
    rows[0] = ",".join([fields[0], bad, *fields[2:]])
    with pytest.raises(DataError) as info:
        read_binance_archive(_spot_file(tmp_path, spot, rows))
    assert (info.value.line, info.value.field) == (1, "price")


def test_an_empty_line_inside_and_a_bad_aggregate_are_refused(tmp_path: Path, spot: Source):
    rows = _spot_trade_rows(spot, "ms")
    with_gap = [*rows[:3], "", *rows[3:6], "", ""]  # empty lines at the end are fine
    with pytest.raises(DataError, match="empty line") as info:
        read_binance_archive(_spot_file(tmp_path, spot, with_gap))
    assert info.value.line == 4
    [table] = read_binance_archive(_spot_file(tmp_path, spot, [*rows[:6], "", ""]))
    assert len(table) == 6
    aggs = _aggregates(spot)
    k = next(i for i, a in enumerate(aggs) if a[0] != a[1])  # an aggregate of several fills
    out = []
    for i, (f, last, p, q, ms, m) in enumerate(aggs[: k + 1]):
        first, final = (last, f) if i == k else (f, last)
        out.append(f"{f},{_dec(p)},{_dec(q)},{first},{final},{ms},{_flag(m, True)},True")
    path = _write(tmp_path / f"BTCUSDT-aggTrades-{spot.day()}.zip", out)
    with pytest.raises(DataError, match="before the first") as info:
        read_binance_archive(path)
    assert (info.value.line, info.value.field) == (k + 1, "l")


def test_a_bad_flag_and_a_bad_time_are_named(tmp_path: Path, spot: Source):
    rows = _spot_trade_rows(spot, "ms")
    rows[2] = rows[2].replace(",True,True", ",yes,True").replace(",False,True", ",yes,True")
    with pytest.raises(DataError) as info:
        read_binance_archive(_spot_file(tmp_path, spot, rows))
    assert (info.value.line, info.value.field) == (3, "isBuyerMaker")
    rows = _spot_trade_rows(spot, "ms")
    rows[6] = rows[6].replace(f",{spot.trade_ms[6]},", f",{spot.trade_ms[6] * 1000},")
    with pytest.raises(DataError, match="in us in a file whose times are in ms") as info:
        read_binance_archive(_spot_file(tmp_path, spot, rows))
    assert (info.value.line, info.value.field) == (7, "time")


def test_a_header_only_file_is_refused(tmp_path: Path, usdm: Source):
    path = _write(tmp_path / f"BTCUSDT-bookTicker-{usdm.day()}.zip", [], TICKER_HEADER)
    with pytest.raises(DataError, match="no data rows") as info:
        read_binance_archive(path, market="um")
    assert info.value.path == str(path)


def test_a_wrong_column_count_is_refused(tmp_path: Path, spot: Source, usdm: Source):
    rows = _spot_trade_rows(spot, "ms")
    rows[9] = rows[9].rsplit(",", 1)[0]
    with pytest.raises(DataError, match="6 columns, trades has 7") as info:
        read_binance_archive(_spot_file(tmp_path, spot, rows))
    assert info.value.line == 10
    # bookTicker rows under a trades name: the first row already has the wrong width
    path = _write(tmp_path / f"BTCUSDT-trades-{usdm.day()}.csv", _ticker_rows(usdm)[:3])
    with pytest.raises(DataError, match="7 columns, trades has 6") as info:
        read_binance_archive(path, market="um")
    assert info.value.line == 1
    bad_header = _write(
        tmp_path / "h" / f"BTCUSDT-trades-{spot.day()}.csv",
        _spot_trade_rows(spot, "ms")[:3],
        UM_TRADES_HEADER,
    )
    with pytest.raises(DataError, match="the header has 6 columns") as info:
        read_binance_archive(bad_header)
    assert info.value.line == 1


def test_times_going_backwards_are_refused(tmp_path: Path, spot: Source, usdm: Source):
    rows = _spot_trade_rows(spot, "ms")
    k = next(i for i in range(1, len(rows)) if spot.trade_ms[i] > spot.trade_ms[i - 1])
    a, b = rows[k - 1].split(","), rows[k].split(",")
    a[4], b[4] = b[4], a[4]  # ids stay in order, the times swap
    rows[k - 1], rows[k] = ",".join(a), ",".join(b)
    with pytest.raises(DataError, match="time goes backwards") as info:
        read_binance_archive(_spot_file(tmp_path, spot, rows))
    assert (info.value.line, info.value.field) == (k + 1, "time")
    # ids out of order (an interleaved archive): refused at the row, not sorted
    rows = _spot_trade_rows(spot, "ms")
    rows[10], rows[11] = rows[11], rows[10]
    with pytest.raises(DataError, match="increasing id order") as info:
        read_binance_archive(_spot_file(tmp_path, spot, rows))
    assert (info.value.line, info.value.field) == (12, "id")
    # bookTicker rows out of event-time order
    rows = _ticker_rows(usdm)
    times = [usdm.ticker_times[t.line][1] for t in usdm.capture.tickers]
    k = next(i for i in range(1, len(rows)) if times[i] > times[i - 1])
    rows[k - 1], rows[k] = rows[k], rows[k - 1]
    path = _write(tmp_path / f"BTCUSDT-bookTicker-{usdm.day()}.zip", rows, TICKER_HEADER)
    with pytest.raises(DataError, match="time goes backwards") as info:
        read_binance_archive(path, market="um")
    assert (info.value.line, info.value.field) == (k + 2, "event_time")


def test_names_and_markets_are_checked(tmp_path: Path, spot: Source, usdm: Source):
    rows = _spot_trade_rows(spot, "ms")[:5]
    with pytest.raises(DataError, match="not a Binance archive name"):
        read_binance_archive(_write(tmp_path / "trades.zip", rows))
    with pytest.raises(DataError, match="not a Binance archive name"):
        read_binance_archive(_write(tmp_path / "BTCUSDT-klines-2024-08-08.zip", rows))
    ticker = _write(tmp_path / f"BTCUSDT-bookTicker-{usdm.day()}.zip", _ticker_rows(usdm)[:5])
    with pytest.raises(DataError, match="only for futures"):
        read_binance_archive(ticker)
    [cm] = read_binance_archive(ticker, market="cm")
    assert cm.venue == "binance-delivery" and cm.meta["qty_kind"] == "contracts"
    vision = _write(
        tmp_path
        / "data"
        / "spot"
        / "daily"
        / "trades"
        / "BTCUSDT"
        / f"BTCUSDT-trades-{spot.day()}.zip",
        rows,
    )
    assert read_binance_archive(vision)[0].meta["market"] == "spot"
    with pytest.raises(DataError, match="the folders say 'spot'"):
        read_binance_archive(vision, market="um")
    with pytest.raises(DataError, match="invalid market"):
        read_binance_archive(vision, market="usdm")


def test_a_zip_must_hold_one_csv(tmp_path: Path, spot: Source):
    path = tmp_path / f"BTCUSDT-trades-{spot.day()}.zip"
    text = "".join(f"{r}\n" for r in _spot_trade_rows(spot, "ms")[:3])
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("a.csv", text)
        zf.writestr("b.csv", text)
    with pytest.raises(DataError, match="one CSV"):
        read_binance_archive(path)
    path.write_bytes(b"not a zip")
    with pytest.raises(DataError, match="cannot read"):
        read_binance_archive(path)
