"""Every source format behind one call: ``read_source(path) -> [SourceTable]``.

The format is recognised from the name and, for CSVs, the header:

* ``*.dbn`` / ``*.dbn.zst`` — Databento DBN (``read_dbn``);
* ``SYMBOL-{trades,aggTrades,bookTicker,bookDepth}-DATE.{zip,csv}`` — Binance
  public archives (``read_binance_archive``);
* ``SYMBOL_DATE_start_end_message_N.csv[.gz]`` — a LOBSTER day with its
  orderbook file beside it (``read_lobster_source``);
* ``binance_*_SYMBOL_YYYYMMDD_stream*`` — a Binance websocket capture
  (``read_capture``);
* a CSV whose header is a tardis type — tardis.dev (``read_tardis``).

LOBSTER (Nasdaq TotalView-ITCH, via lobsterdata.com) -> ``l3`` and
``l2_snapshot``. Its clock is the exchange's local wall clock (New York),
seconds after midnight: ``ts_ns`` = the file's date at 00:00 as if UTC plus
that time, so ``start=09:30`` still means 09:30 in New York; ``exch_ns`` is
the same. ``l3``: submit -> add, partial cancel and delete -> cancel, visible
execution -> fill, hidden execution and cross -> trade, halt -> none; the
exact LOBSTER event type is kept in ``flags``. ``l2_snapshot``: the orderbook
file's row after every message, all N levels of both sides, an empty level
as its dummy price with size 0 (so a day round-trips exactly).

A Binance capture -> ``l2`` (the book the replay sees: the REST snapshot's
levels, then every diff applied with Binance's sync rules, stamped when it
takes effect), ``trades`` and ``bbo`` (its bookTicker stream); the sync's
outcome (snapshot time, gaps, dropped diffs, where trust ends) is in the meta.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import numpy as np

from makerkit.core.errors import DataError
from makerkit.data._binance import capture_depth, load_binance_capture
from makerkit.data._lobster import load_lobster, load_lobster_messages
from makerkit.data._tables import L2_RESET, SourceTable, make_table
from makerkit.data._tardis import is_tardis_csv, read_tardis

__all__ = ["day_start_ns", "read_capture", "read_lobster_source", "read_source", "source_kind"]

_LOBSTER = re.compile(
    r"^(?P<sym>[A-Za-z.]+)_(?P<day>\d{4}-\d{2}-\d{2})_\d+_\d+_message_(?P<n>\d+)(_\w+)?\.csv(\.gz)?$"
)
_CAPTURE = re.compile(r"^binance_(?P<market>[a-z]+)_(?P<sym>[a-z0-9]+)_(?P<day>\d{8})_stream")
_ARCHIVE = re.compile(
    r"^[A-Z0-9_]+-(trades|aggTrades|bookTicker|bookDepth)-\d{4}-\d{2}(-\d{2})?\.(zip|csv)$"
)
# LOBSTER event type -> l3 action (see the module notes)
_LOBSTER_ACTION = np.array([9, 0, 1, 1, 4, 3, 3, 9], dtype=np.int8)


def day_start_ns(day: str) -> int:
    """00:00 of YYYY-MM-DD as nanoseconds since the epoch (UTC)."""
    try:
        date = dt.date.fromisoformat(day)
    except ValueError:
        msg = f"invalid date {day!r}, must be YYYY-MM-DD"
        raise DataError(msg) from None
    return (date - dt.date(1970, 1, 1)).days * 86_400 * 10**9


def source_kind(path: str | Path) -> str:
    """The format of a source file: dbn, binance-archive, lobster, capture or tardis."""
    p = Path(path)
    name = p.name
    if name.endswith((".dbn", ".dbn.zst")):
        return "dbn"
    if _ARCHIVE.match(name):
        return "binance-archive"
    if _LOBSTER.match(name):
        return "lobster"
    if _CAPTURE.match(name):
        return "capture"
    if p.is_file() and is_tardis_csv(p):
        return "tardis"
    if name.endswith(".zip"):
        return "binance-archive"
    msg = (
        "not a format read here: Databento DBN (.dbn, .dbn.zst), a Binance public archive "
        "(SYMBOL-trades-DATE.zip, aggTrades, bookTicker, bookDepth), a LOBSTER message file, "
        "a Binance capture (binance_*_stream.gz) or a tardis.dev CSV"
    )
    raise DataError(msg, path=str(p))


def read_source(path: str | Path, *, sort: bool = False) -> list[SourceTable]:
    """Every table in one source file; ``sort`` lets tardis rows out of time order be sorted."""
    p = Path(path)
    if not p.is_file():
        msg = "no such file"
        raise DataError(msg, path=str(p))
    kind = source_kind(p)
    if kind == "dbn":
        from makerkit.data._databento import read_dbn

        return read_dbn(p)
    if kind == "binance-archive":
        from makerkit.data._binance_archive import read_binance_archive

        return read_binance_archive(p)
    if kind == "lobster":
        return read_lobster_source(p)
    if kind == "capture":
        return read_capture(p)
    return read_tardis(p, sort=sort)


def read_lobster_source(message: str | Path) -> list[SourceTable]:
    """A LOBSTER message file and its orderbook twin as ``l3`` and ``l2_snapshot``."""
    path = Path(message)
    m = _LOBSTER.match(path.name)
    if m is None:
        msg = "not a LOBSTER message file name (SYMBOL_DATE_start_end_message_N.csv)"
        raise DataError(msg, path=str(path))
    book_path = path.with_name(path.name.replace("message", "orderbook"))
    if not book_path.exists():  # order-level messages alone: kept, but not replayable
        return [_lobster_messages_only(path, m["sym"].upper(), m["day"])]
    day = load_lobster(path, book_path)
    msgs, n = day.messages, day.levels
    base = day_start_ns(m["day"])
    ts = base + msgs.ts_ns
    symbol = m["sym"].upper()
    meta = {
        "source": "lobster", "file": str(path), "orderbook_file": str(book_path), "levels": n,
        "price_unit": "1e-4", "qty_unit": "1", "clock": "exchange-local",
        "tz": "America/New_York", "symbol": symbol,
    }  # fmt: skip
    l3 = make_table("nasdaq", symbol, "l3", {
        "ts_ns": ts, "exch_ns": ts, "action": _LOBSTER_ACTION[msgs.type],
        "order_id": msgs.order_id, "side": msgs.direction, "price": msgs.price,
        "qty": msgs.size, "flags": msgs.type,
    }, meta)  # fmt: skip
    rows = day.book.shape[0]
    # columns: ask price, ask size, bid price, bid size per level -> level 1 ask, bid, ...
    b = day.book.reshape(rows, n, 2, 2)  # [row, level, (ask, bid), (price, size)]
    snap = make_table("nasdaq", symbol, "l2_snapshot", {
        "ts_ns": np.repeat(ts, 2 * n), "exch_ns": np.repeat(ts, 2 * n),
        "level": np.tile(np.repeat(np.arange(1, n + 1), 2), rows),
        "side": np.tile(np.array([-1, 1]), rows * n),
        "price": b[:, :, :, 0].reshape(-1), "qty": b[:, :, :, 1].reshape(-1),
    }, meta)  # fmt: skip
    return [l3, snap]


def _lobster_messages_only(path: Path, symbol: str, day: str) -> SourceTable:
    msgs = load_lobster_messages(path)
    ts = day_start_ns(day) + msgs.ts_ns
    meta = {
        "source": "lobster", "file": str(path), "orderbook_file": None, "levels": 0,
        "price_unit": "1e-4", "qty_unit": "1", "clock": "exchange-local",
        "tz": "America/New_York", "symbol": symbol,
        "notes": ["no orderbook file: the book before the first message is unknown"],
    }  # fmt: skip
    return make_table("nasdaq", symbol, "l3", {
        "ts_ns": ts, "exch_ns": ts, "action": _LOBSTER_ACTION[msgs.type],
        "order_id": msgs.order_id, "side": msgs.direction, "price": msgs.price,
        "qty": msgs.size, "flags": msgs.type,
    }, meta)  # fmt: skip


def read_capture(path: str | Path) -> list[SourceTable]:
    """A Binance capture as the replay's ``l2``, its ``trades`` and its ``bbo``."""
    p = Path(path)
    capture = load_binance_capture(p)
    sync, depth = capture_depth(capture)
    venue = "binance" if sync.market == "spot" else "binance-futures"
    symbol = capture.symbol.upper()
    trusted = int(sync.ts[-1]) if sync.gap is not None and sync.ts else None
    meta: dict[str, Any] = {
        "source": "binance-capture", "file": str(p), "price_unit": "1e-8", "qty_unit": "1e-8",
        "clock": "local", "market": sync.market, "start_ns": capture.snapshot_ns,
        "trusted_until_ns": trusted, "gaps": sync.gaps, "dropped": sync.dropped,
        "notes": [str(sync.gap)] if sync.gap is not None else [], "symbol": symbol,
    }  # fmt: skip
    flags = np.zeros(depth["ts_ns"].shape[0], np.int8)
    flags[:1] = L2_RESET  # the REST snapshot replaces whatever book there was
    tables = [make_table(venue, symbol, "l2", depth | {"flags": flags}, meta)]
    exch = capture.trade_exch_ns if capture.trade_exch_ns is not None else capture.trade_ns
    tables.append(make_table(venue, symbol, "trades", {
        "ts_ns": capture.trade_ns, "exch_ns": exch, "price": capture.trade_price,
        "qty": capture.trade_qty, "aggressor": np.where(capture.trade_buyer_maker, -1, 1),
        "trade_id": np.zeros(capture.trade_ns.shape[0], np.int64),
    }, meta))  # fmt: skip
    if capture.tickers:
        t = np.asarray(
            [(k.local_ns, k.bid, k.bid_qty, k.ask, k.ask_qty) for k in capture.tickers], np.int64
        )
        tables.append(make_table(venue, symbol, "bbo", {
            "ts_ns": t[:, 0], "exch_ns": t[:, 0], "bid_price": t[:, 1], "bid_qty": t[:, 2],
            "ask_price": t[:, 3], "ask_qty": t[:, 4],
        }, meta | {"exch_clock": "local (bookTicker carries no event time)"}))  # fmt: skip
    return tables
