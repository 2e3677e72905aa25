"""Binance public-data archives (data.binance.vision) read into ``SourceTable``s.

Binance publishes daily and monthly files, each a zip holding one CSV named
like the zip (``BTCUSDT-trades-2024-08-08.zip`` holds
``BTCUSDT-trades-2024-08-08.csv``); plain CSVs are read too. The file name
says the symbol, the kind and the day (``YYYY-MM-DD``, or ``YYYY-MM`` for a
monthly file); the folders, where they follow data.binance.vision's layout
(``.../spot/daily/trades/BTCUSDT/``, ``.../futures/um/monthly/aggTrades/...``,
``.../futures/cm/...``), say the market. Venues are named as tardis names them:
``binance`` (spot), ``binance-futures`` (USD-M, ``um``), ``binance-delivery``
(COIN-M, ``cm``).

Layouts (Binance's README in github.com/binance/binance-public-data, and the
headers the futures files carry) and where each column goes:

* ``trades`` -> ``trades``. Spot: ``id,price,qty,quoteQty,time,isBuyerMaker,
  isBestMatch``; futures: ``id,price,qty,quote_qty,time,is_buyer_maker``
  (COIN-M: ``base_qty`` in place of ``quote_qty``). ``trade_id`` = id;
  ``aggressor`` = -1 when the buyer was the maker (a seller hit the bid), else
  +1. The quote (base) quantity and isBestMatch are not kept: they follow from
  the rest or carry nothing.
* ``aggTrades`` -> ``trades``. Spot: ``a,p,q,f,l,T,m,M`` (aggregate id, price,
  quantity, first and last trade id, time, buyer-was-maker, best match);
  futures: ``agg_trade_id,price,quantity,first_trade_id,last_trade_id,
  transact_time,is_buyer_maker``. ``trade_id`` = the aggregate id; one row per
  aggregate (several fills of one taker order at one price).
* ``bookTicker`` (futures only) -> ``bbo``: ``update_id,best_bid_price,
  best_bid_qty,best_ask_price,best_ask_qty,transaction_time,event_time``.
  ``exch_ns`` = transaction_time (when the matching engine changed the top of
  the book); ``ts_ns`` = event_time (when Binance published the update: no
  subscriber could have seen it earlier, so a replay on it never looks ahead;
  in the shared USD-M capture event_time - transaction_time is 0 to 11 ms).
  The update ids go to the meta (first and last), the schema has no column.
* ``bookDepth`` (futures only) -> ``depth_bands``: ``timestamp,percentage,
  depth,notional``; timestamp is ``YYYY-MM-DD HH:MM:SS`` UTC (second
  resolution), percentage the band around the mid (negative: bids), depth the
  cumulative quantity in the band, notional its value in the quote asset
  (both kept in 1e-8 units).

Binance archives have no local receive clock, so ``ts_ns`` holds an exchange
time and the meta says ``"clock": "exchange"``. Prices and quantities are
parsed from the decimal text exactly into integers of 1e-8 (never through a
float). COIN-M quantities are contracts (meta ``qty_kind``), not coins.

Times are milliseconds in every archive except spot from 2025-01-01, which
switched to MICROseconds (binance-public-data issues #386, #387). The unit is
detected per file from the first row's magnitude (below 1e14: ms, else µs: a
ms time of 1e14 would be the year 5138, a µs one 1973); every time in the file
must be in that unit and fit int64 nanoseconds (before 2262). Meta
``time_unit`` records the unit.

Header rows: the archives have shipped with and without one; a first line
made only of names is taken as the header (kept in the meta) and must have the
layout's number of columns. Columns are read by position, whatever the header
calls them. Empty lines at the end are ignored, inside the file refused.

Refused with a ``DataError`` naming the file, the 1-based line of the CSV
(a header is line 1) and the field: a malformed value, a wrong column count,
an unknown file name, a file with no data rows, and rows out of order. Trades
and aggregates must come in strictly increasing id order with times never
going backwards; bookTicker event times and bookDepth timestamps must not go
backwards. Some archives were shipped interleaved (binance-public-data issues
#305, #339): they are refused, not silently sorted, since a reordered file
may also be a damaged one; sort such a file by id (time) and read it again.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from makerkit.core.errors import DataError
from makerkit.data._tables import SourceTable, make_table

__all__ = ["BINANCE_ARCHIVE_KINDS", "archive_day", "read_binance_archive"]

BINANCE_ARCHIVE_KINDS = ("trades", "aggTrades", "bookTicker", "bookDepth")
_FUTURES_ONLY = ("bookTicker", "bookDepth")
_VENUES = {"spot": "binance", "um": "binance-futures", "cm": "binance-delivery"}
_NAME = re.compile(
    r"^(?P<symbol>[^-/\\]+)-(?P<kind>trades|aggTrades|bookTicker|bookDepth)-"
    r"(?P<day>[0-9]{4}-[0-9]{2}(?:-[0-9]{2})?)\.(?:zip|csv)$"
)
_HEADER_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_ ]*$")
_PERCENT = re.compile(r"^[+-]?[0-9]{1,3}(?:\.[0-9]{1,8})?$")
_STAMP = re.compile(r"^([0-9]{4})-([0-9]{2})-([0-9]{2}) ([0-9]{2}):([0-9]{2}):([0-9]{2})$")
_SCALE = 10**8  # prices and quantities in units of 1e-8
_US_FROM = 10**14  # a time at or above is in µs, below in ms (see the module notes)
_UNITS = {  # unit: (lowest, highest raw value, ns per unit); the highest keeps ns in int64
    "ms": (0, (2**63 - 1) // 1_000_000, 1_000_000),
    "us": (_US_FROM, (2**63 - 1) // 1_000, 1_000),
}
_FLAGS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}

# the columns of each layout, by (kind, market); names as Binance writes them
_LAYOUTS: dict[tuple[str, str], tuple[str, ...]] = {
    ("trades", "spot"): ("id", "price", "qty", "quoteQty", "time", "isBuyerMaker", "isBestMatch"),
    ("trades", "um"): ("id", "price", "qty", "quote_qty", "time", "is_buyer_maker"),
    ("trades", "cm"): ("id", "price", "qty", "base_qty", "time", "is_buyer_maker"),
    ("aggTrades", "spot"): ("a", "p", "q", "f", "l", "T", "m", "M"),
    ("aggTrades", "um"): (
        "agg_trade_id", "price", "quantity", "first_trade_id", "last_trade_id",
        "transact_time", "is_buyer_maker",
    ),
    ("bookTicker", "um"): (
        "update_id", "best_bid_price", "best_bid_qty", "best_ask_price", "best_ask_qty",
        "transaction_time", "event_time",
    ),
    ("bookDepth", "um"): ("timestamp", "percentage", "depth", "notional"),
}  # fmt: skip
_LAYOUTS |= {(k, "cm"): _LAYOUTS[(k, "um")] for k in ("aggTrades", "bookTicker", "bookDepth")}

_I64 = npt.NDArray[np.int64]


def archive_day(path: str | Path) -> str | None:
    """The day (``YYYY-MM-DD``) or month (``YYYY-MM``) an archive's name covers, else None.

    Lets a catalog list the days a set of files covers and name the missing ones.
    """
    match = _NAME.match(Path(path).name)
    if match is None or not _valid_day(match["day"]):
        return None
    return match["day"]


def _valid_day(day: str) -> bool:
    try:
        datetime.strptime(day + ("-01" if len(day) == 7 else "") + "+0000", "%Y-%m-%d%z")
    except ValueError:
        return False
    return True


def _market_from_path(p: Path, kind: str, symbol: str) -> str | None:
    """The market (spot, um, cm) when the folders are data.binance.vision's, else None."""
    parts = p.parts
    if len(parts) < 5 or parts[-2] != symbol or parts[-3] != kind:
        return None
    if parts[-4] not in ("daily", "monthly"):
        return None
    if parts[-5] == "spot":
        return "spot"
    if parts[-5] in ("um", "cm") and len(parts) >= 6 and parts[-6] == "futures":
        return parts[-5]
    return None


# ---- values: each parser is exact and strict, and says what is wrong -----------------------


def _int(text: str) -> int:
    """A non-negative integer of plain ASCII digits (``int`` alone takes ' 5' and '1_0')."""
    if not (text.isdigit() and text.isascii() and len(text) <= 18):
        msg = f"not a non-negative integer of at most 18 digits: {text!r}"
        raise ValueError(msg)
    return int(text)


def _dec(text: str) -> int:
    """'61837.63000000' -> 6183763000000: a non-negative decimal in 1e-8 units, exactly."""
    whole, dot, frac = text.partition(".")
    digits = whole + frac
    if not (
        digits.isdigit()
        and digits.isascii()
        and 0 < len(whole) <= 10  # 10 digits keep the units inside int64
        and len(frac) <= 8
        and (frac or not dot)
    ):
        msg = f"not a decimal with at most 10 digits before the point and 8 after: {text!r}"
        raise ValueError(msg)
    return int(whole + frac.ljust(8, "0")) if frac else int(whole) * _SCALE


def _flag(text: str) -> bool:
    if text not in _FLAGS:
        msg = f"not true/false: {text!r}"
        raise ValueError(msg)
    return _FLAGS[text]


def _percent(text: str) -> float:
    """'-5.00', '+0.20', '1' -> the band in percent (a float: the schema's, never a price)."""
    if not _PERCENT.match(text):
        msg = f"not a percentage: {text!r}"
        raise ValueError(msg)
    return float(text)


def _stamp_ns(text: str) -> int:
    """'2024-07-18 00:00:08' (UTC) -> ns since the epoch."""
    match = _STAMP.match(text)
    if match is None:
        msg = f"not 'YYYY-MM-DD HH:MM:SS': {text!r}"
        raise ValueError(msg)
    year, month, day, hour, minute, second = (int(g) for g in match.groups())
    moment = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    return int(moment.timestamp()) * 1_000_000_000


# the parsers of each kind's columns, in the order the reading loops call them
_CHECKS: dict[str, tuple[tuple[int, Callable[[str], Any]], ...]] = {
    "trades": ((0, _int), (1, _dec), (2, _dec), (4, _int), (5, _flag)),
    "aggTrades": ((0, _int), (1, _dec), (2, _dec), (3, _int), (4, _int), (5, _int), (6, _flag)),
    "bookTicker": ((0, _int), (1, _dec), (2, _dec), (3, _dec), (4, _dec), (5, _int), (6, _int)),
    "bookDepth": ((0, _stamp_ns), (1, _percent), (2, _dec), (3, _dec)),
}


# ---- the file ---------------------------------------------------------------------------------


def _open_csv(p: Path, name: str, stack: ExitStack) -> tuple[str, Iterator[str]]:
    """The CSV's name and its lines (closed with ``stack``); a zip must hold exactly one CSV."""
    if p.suffix != ".zip":
        try:
            text = p.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            why = f"cannot read the archive: {exc}"
            raise DataError(why, path=name) from exc
        return p.name, iter(text.splitlines())
    try:
        zf = stack.enter_context(zipfile.ZipFile(p))
    except (OSError, zipfile.BadZipFile) as exc:
        why = f"cannot read the archive: {exc}"
        raise DataError(why, path=name) from exc
    members = [i for i in zf.infolist() if not i.is_dir()]
    if len(members) != 1 or not members[0].filename.lower().endswith(".csv"):
        why = f"a Binance archive holds one CSV; this zip holds {[m.filename for m in members]}"
        raise DataError(why, path=name)
    raw = stack.enter_context(zf.open(members[0]))
    stream = stack.enter_context(io.TextIOWrapper(raw, encoding="utf-8-sig", newline=""))
    return members[0].filename, (line.rstrip("\r\n") for line in stream)


class _Rows:
    """The data rows of a CSV as field lists: the header taken off, widths and gaps checked."""

    def __init__(self, lines: Iterator[str], kind: str, layout: tuple[str, ...], name: str):
        self.lines, self.kind, self.layout, self.name = lines, kind, layout, name
        self.header: list[str] | None = None
        self.first = 1  # the line of the first data row

    def __iter__(self) -> Iterator[tuple[int, list[str]]]:
        width, layout, name = len(self.layout), self.layout, self.name
        blank = 0  # the first empty line: an error once a row follows it
        n = 0
        try:
            for n, line in enumerate(self.lines, start=1):
                if not line:
                    blank = blank or n
                    continue
                if blank:
                    why = "an empty line inside the file"
                    raise DataError(why, path=name, line=blank)
                fields = line.split(",")
                if len(fields) != width:
                    if n == 1 and all(_HEADER_FIELD.match(f) for f in fields):
                        why = (
                            f"the header has {len(fields)} columns, {self.kind} has {width} "
                            f"({','.join(layout)})"
                        )
                        raise DataError(why, path=name, line=n)
                    why = (
                        f"{len(fields)} columns, {self.kind} has {width} ({','.join(layout)}); "
                        "is the market (spot/um/cm) right?"
                    )
                    raise DataError(why, path=name, line=n)
                if n == 1 and all(_HEADER_FIELD.match(f) for f in fields):
                    self.header, self.first = fields, 2
                    continue
                yield n, fields
        except UnicodeDecodeError as exc:  # decoded in blocks: the line is not exact
            why = f"not UTF-8 text, at or after line {n + 1}: {exc}"
            raise DataError(why, path=name) from exc
        except (OSError, zipfile.BadZipFile, EOFError) as exc:
            why = f"cannot read the archive, at or after line {n + 1}: {exc}"
            raise DataError(why, path=name) from exc

    def explain(self, n: int, fields: list[str]) -> DataError:
        """The error for a row that did not parse: its first bad field, and why."""
        for column, parse in _CHECKS[self.kind]:
            try:
                parse(fields[column])
            except ValueError as exc:
                return DataError(str(exc), path=self.name, line=n, field=self.layout[column])
        return DataError("malformed row", path=self.name, line=n)  # pragma: no cover

    def error(self, index: int, column: int, why: str) -> DataError:
        """The error for the ``index``-th data row (no empty lines come between rows)."""
        return DataError(why, path=self.name, line=self.first + index, field=self.layout[column])


def _first(bad: npt.NDArray[np.bool_]) -> int:
    """The index of the first True, or -1."""
    hits = np.flatnonzero(bad)
    return int(hits[0]) if hits.size else -1


def _to_ns(rows: _Rows, raw: list[_I64], columns: tuple[int, ...]) -> tuple[list[_I64], str]:
    """Times in ns, the unit (ms or µs) set by the file's first time; every time must share it."""
    first = int(raw[0][0])
    unit = "ms" if first < _US_FROM else "us"
    low, high, scale = _UNITS[unit]
    worst: tuple[int, int, int] | None = None  # (row, column, value) of the first misfit
    for values, column in zip(raw, columns, strict=True):
        i = _first((values < low) | (values > high))
        if i >= 0 and (worst is None or i < worst[0]):
            worst = (i, column, int(values[i]))
    if worst is not None:
        i, column, value = worst
        other = "us" if value >= _US_FROM else "ms"
        why = (
            f"a time in {other} in a file whose times are in {unit}: {value}"
            if other != unit
            else f"a time in {unit} after the year 2262: {value}"
        )
        raise rows.error(i, column, why)
    return [values * scale for values in raw], unit


def _in_order(rows: _Rows, checks: list[tuple[_I64, int, bool]]) -> None:
    """Each (values, column, strict) must rise (strictly) down the file; the first misfit fails."""
    worst: tuple[int, int, str] | None = None
    for values, column, strict in checks:
        step = np.diff(values)
        i = _first(step <= 0 if strict else step < 0)
        if i >= 0 and (worst is None or i + 1 < worst[0]):
            before, after = int(values[i]), int(values[i + 1])
            if strict:
                why = f"id {after} after {before}: rows must be in increasing id order"
            else:
                why = f"time goes backwards: {after} ns after {before} ns"
            worst = (i + 1, column, why)
    if worst is not None:
        raise rows.error(*worst)


def _read_trades(rows: _Rows) -> tuple[dict[str, Any], dict[str, Any]]:
    ids: list[int] = []
    price: list[int] = []
    qty: list[int] = []
    time: list[int] = []
    maker: list[bool] = []
    agg = rows.kind == "aggTrades"
    at = 5 if agg else 4  # the time's column; buyer-was-maker follows it
    firsts: list[int] = []
    lasts: list[int] = []
    for n, f in rows:
        try:
            ids.append(_int(f[0]))
            price.append(_dec(f[1]))
            qty.append(_dec(f[2]))
            if agg:
                firsts.append(_int(f[3]))
                lasts.append(_int(f[4]))
            time.append(_int(f[at]))
            maker.append(_FLAGS[f[at + 1]])
        except (ValueError, KeyError):
            raise rows.explain(n, f) from None
    if not ids:
        return {}, {}
    id_arr = np.asarray(ids, dtype=np.int64)
    [ns], unit = _to_ns(rows, [np.asarray(time, dtype=np.int64)], (at,))
    if agg:
        i = _first(np.asarray(firsts, dtype=np.int64) > np.asarray(lasts, dtype=np.int64))
        if i >= 0:
            raise rows.error(i, 4, f"last trade id {lasts[i]} before the first, {firsts[i]}")
    _in_order(rows, [(id_arr, 0, True), (ns, at, False)])
    cols = {
        "ts_ns": ns,
        "exch_ns": ns,
        "price": price,
        "qty": qty,
        "aggressor": np.where(np.asarray(maker, dtype=bool), -1, 1),
        "trade_id": id_arr,
    }
    return cols, {"time_unit": unit}


def _read_ticker(rows: _Rows) -> tuple[dict[str, Any], dict[str, Any]]:
    ids: list[int] = []
    bid: list[int] = []
    bid_qty: list[int] = []
    ask: list[int] = []
    ask_qty: list[int] = []
    tx: list[int] = []
    ev: list[int] = []
    for n, f in rows:
        try:
            ids.append(_int(f[0]))
            bid.append(_dec(f[1]))
            bid_qty.append(_dec(f[2]))
            ask.append(_dec(f[3]))
            ask_qty.append(_dec(f[4]))
            tx.append(_int(f[5]))
            ev.append(_int(f[6]))
        except ValueError:
            raise rows.explain(n, f) from None
    if not ids:
        return {}, {}
    raw = [np.asarray(tx, dtype=np.int64), np.asarray(ev, dtype=np.int64)]
    (exch, ts), unit = _to_ns(rows, raw, (5, 6))
    _in_order(rows, [(ts, 6, False)])
    cols = {
        "ts_ns": ts, "exch_ns": exch, "bid_price": bid, "bid_qty": bid_qty,
        "ask_price": ask, "ask_qty": ask_qty,
    }  # fmt: skip
    meta = {
        "time_unit": unit,
        "ts": "event_time",
        "exch": "transaction_time",
        "first_update_id": ids[0],
        "last_update_id": ids[-1],
    }
    return cols, meta


def _read_depth(rows: _Rows) -> tuple[dict[str, Any], dict[str, Any]]:
    stamps: dict[str, int] = {}  # one timestamp per snapshot, shared by its bands
    ts: list[int] = []
    pct: list[float] = []
    depth: list[int] = []
    notional: list[int] = []
    for n, f in rows:
        try:
            stamp = stamps.get(f[0])
            if stamp is None:
                stamp = stamps[f[0]] = _stamp_ns(f[0])
            ts.append(stamp)
            pct.append(_percent(f[1]))
            depth.append(_dec(f[2]))
            notional.append(_dec(f[3]))
        except ValueError:
            raise rows.explain(n, f) from None
    if not ts:
        return {}, {}
    ts_arr = np.asarray(ts, dtype=np.int64)
    _in_order(rows, [(ts_arr, 0, False)])
    cols = {"ts_ns": ts_arr, "exch_ns": ts_arr, "percentage": pct, "depth": depth}
    cols["notional"] = notional
    return cols, {"time_unit": "s", "depth_unit": "1e-8", "notional_unit": "1e-8"}


_READERS = {
    "trades": _read_trades,
    "aggTrades": _read_trades,
    "bookTicker": _read_ticker,
    "bookDepth": _read_depth,
}


def read_binance_archive(path: str | Path, *, market: str | None = None) -> list[SourceTable]:
    """Read one data.binance.vision archive (zip or CSV) into its table (see the module notes).

    ``market`` (``"spot"``, ``"um"``, ``"cm"``) is needed only when the folders
    are not data.binance.vision's; it defaults to spot, and must agree with the
    folders when both say. bookTicker and bookDepth exist only for futures, so
    they need one of the two to say ``um`` or ``cm``.
    """
    p = Path(path)
    name = str(p)
    match = _NAME.match(p.name)
    if match is None or not _valid_day(match["day"]):
        why = (
            "not a Binance archive name: expected SYMBOL-KIND-YYYY-MM-DD.zip or "
            f"SYMBOL-KIND-YYYY-MM.zip (.csv too), KIND one of {list(BINANCE_ARCHIVE_KINDS)}"
        )
        raise DataError(why, path=name)
    symbol, kind, day = match["symbol"], match["kind"], match["day"]
    if market is not None and market not in _VENUES:
        why = f"invalid market {market!r}, must be one of {sorted(_VENUES)}"
        raise DataError(why, path=name)
    from_path = _market_from_path(p, kind, symbol)
    if from_path is not None and market is not None and market != from_path:
        why = f"market={market!r} but the folders say {from_path!r}"
        raise DataError(why, path=name)
    mkt = from_path or market or "spot"
    if kind in _FUTURES_ONLY and mkt == "spot":
        why = f"{kind} archives exist only for futures: pass market='um' or 'cm'"
        raise DataError(why, path=name)
    layout = _LAYOUTS[(kind, mkt)]
    with ExitStack() as stack:
        member, lines = _open_csv(p, name, stack)
        rows = _Rows(lines, kind, layout, name)
        cols, extra = _READERS[kind](rows)
    if not cols:
        why = "no data rows" + (" (a header only)" if rows.header is not None else "")
        raise DataError(why, path=name)
    meta: dict[str, Any] = {
        "source": "binance-archive",
        "file": name,
        "member": member,
        "kind": kind,
        "market": mkt,
        "day": day,
        "clock": "exchange",
        "price_unit": "1e-8",
        "qty_unit": "1e-8",
        "qty_kind": "contracts" if mkt == "cm" else "base",
        "layout": list(layout),
        "header": rows.header,
        **extra,
    }
    schema = {"bookTicker": "bbo", "bookDepth": "depth_bands"}.get(kind, "trades")
    return [make_table(_VENUES[mkt], symbol, schema, cols, meta)]
