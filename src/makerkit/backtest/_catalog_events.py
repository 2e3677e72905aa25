"""Catalog days as one replay stream (``catalog:VENUE:SYMBOL:FROM..TO`` specs).

Each day's book comes from the richest schema the catalog holds for it:

* ``l3`` — LOBSTER days rebuild the day exactly as its files would
  (``lobster_events``, or the order-level view with ``queue=l3``); Databento
  MBO goes through ``databento_events``; order-level replay events written
  by ``events_table`` (the simulator's) read back as they were.
* ``l2`` — level updates as they are; a row flagged ``L2_RESET`` (a snapshot
  after a reconnection) first clears both sides.
* ``l2_snapshot`` — consecutive snapshots as differences: a level that left
  the top N is set to 0 (what lies beyond the snapshot is unknown).
* ``bbo`` — the best bid and ask as a one-level book, the same way.

Trades come from ``trades`` (an unknown aggressor is left out and counted in
the notes); at equal times trades come before depth, as in the capture
replay. Days are joined into one stream on a common tick and lot grid; a
day whose book a snapshot replaces (a LOBSTER file, a tardis snapshot, a
capture's REST snapshot, a Databento snapshot, a simulated day) starts by
emptying both sides, and an l2 day that does not (a stream split at midnight)
goes on from the book before it. The first decision is at the first day's
``start=`` and the run ends at the last day's ``end=``. ``catalog_stream``
gives the same events a day at a time.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import numpy.typing as npt

from makerkit.backtest._events import (
    ADD,
    CANCEL,
    CLEAR,
    DEPTH,
    EXECUTE,
    HIDDEN,
    TRADE,
    MarketEvents,
    StreamedMarket,
    lobster_events,
)
from makerkit.backtest._window import DAY_NS, Window, events_before, window_events
from makerkit.core.errors import DataError
from makerkit.data import (
    L2_RESET,
    L3_ADD,
    L3_CANCEL,
    L3_CLEAR,
    L3_FILL,
    L3_TRADE,
    LobsterDay,
    LobsterMessages,
    SourceTable,
    catalog_days,
    catalog_parts,
    date_range,
    day_start_ns,
    read_partition,
)

__all__ = [
    "BOOK_SCHEMAS",
    "catalog_events",
    "catalog_plan",
    "catalog_stream",
    "day_events",
    "events_table",
]

I64 = npt.NDArray[np.int64]
BOOK_SCHEMAS = ("l3", "l2", "l2_snapshot", "bbo")  # richest first
_DBN_F_SNAPSHOT = 1 << 5  # Databento's flag on the records of a book snapshot
_WIDE = 1 << 40  # a CLEAR's far bound: beyond any book (clamped to the replay's range)


def _lobster_day(l3: dict[str, Any], snap: dict[str, Any], meta: dict[str, Any]) -> LobsterDay:
    n = int(meta["levels"])
    base = int(l3["ts_ns"][0]) - int(l3["ts_ns"][0]) % DAY_NS
    rows = l3["ts_ns"].shape[0]
    if snap["price"].shape[0] != rows * 2 * n:
        msg = f"the catalog's LOBSTER snapshots do not match its messages ({rows} x {2 * n})"
        raise DataError(msg, path=str(meta.get("file", "")))
    b = np.empty((rows, n, 2, 2), np.int64)
    b[:, :, :, 0] = snap["price"].reshape(rows, n, 2)
    b[:, :, :, 1] = snap["qty"].reshape(rows, n, 2)
    messages = LobsterMessages(
        ts_ns=l3["ts_ns"] - base, type=l3["flags"].astype(np.int64),
        order_id=l3["order_id"], size=l3["qty"], price=l3["price"],
        direction=l3["side"].astype(np.int64), path=str(meta.get("file", "")),
    )  # fmt: skip
    return LobsterDay(
        messages=messages, book=b.reshape(rows, 4 * n), levels=n,
        orderbook_path=str(meta.get("orderbook_file", "")),
    )  # fmt: skip


def _rows(ts: Any, kind: int, side: Any, price: Any, qty: Any) -> list[I64]:
    n = np.asarray(ts).shape[0]
    return [np.asarray(ts, np.int64), np.full(n, kind, np.int64),
            np.broadcast_to(np.asarray(side, np.int64), (n,)).copy(),
            np.asarray(price, np.int64), np.asarray(qty, np.int64)]  # fmt: skip


def _clears(ts: Any) -> list[I64]:
    """Both sides emptied at each of ``ts``."""
    t = np.repeat(np.asarray(ts, np.int64), 2)
    side = np.tile(np.array([1, -1], np.int64), t.shape[0] // 2)
    return _rows(t, CLEAR, side, np.full(t.shape[0], -1), np.full(t.shape[0], _WIDE))


def _l2_rows(c: dict[str, Any]) -> list[list[I64]]:
    out: list[list[I64]] = []
    resets = np.flatnonzero(c["flags"] & L2_RESET)
    resets = resets[resets > 0]  # a reset on the first row is the day's start (see _join)
    if resets.size:
        out.append(_clears(c["ts_ns"][resets]))
    out.append(_rows(c["ts_ns"], DEPTH, c["side"], c["price"], c["qty"]))
    return out


def _snapshot_rows(c: dict[str, Any]) -> list[list[I64]]:
    """Snapshots as differences from the one before (a Python pass: one dict per side)."""
    ts, side, price, qty = (c[k].tolist() for k in ("ts_ns", "side", "price", "qty"))
    rows: list[tuple[int, int, int, int]] = []
    book: dict[int, dict[int, int]] = {1: {}, -1: {}}
    i, n = 0, len(ts)
    while i < n:
        j = i
        new: dict[int, dict[int, int]] = {1: {}, -1: {}}
        while j < n and ts[j] == ts[i]:
            if qty[j] > 0:
                new[side[j]][price[j]] = qty[j]
            j += 1
        for s in (1, -1):
            rows.extend((ts[i], s, p, 0) for p in book[s] if p not in new[s])
        for s in (1, -1):
            rows.extend((ts[i], s, p, q) for p, q in new[s].items() if book[s].get(p) != q)
        book = new
        i = j
    arr = np.asarray(rows, np.int64).reshape(-1, 4)
    return [_rows(arr[:, 0], DEPTH, arr[:, 1], arr[:, 2], arr[:, 3])]


def _bbo_rows(c: dict[str, Any]) -> list[list[I64]]:
    """The touch as a one-level book: the old best removed, the new one set (vectorised)."""
    ts = c["ts_ns"]
    n = ts.shape[0]
    keys: list[I64] = []
    parts: list[list[I64]] = []
    for slot, (side, pk, qk) in enumerate(
        ((1, "bid_price", "bid_qty"), (-1, "ask_price", "ask_qty"))
    ):
        p, q = c[pk].astype(np.int64), c[qk].astype(np.int64)
        p = np.where(q > 0, p, 0)
        prev_p, prev_q = np.r_[0, p[:-1]], np.r_[0, q[:-1]]
        moved = p != prev_p
        gone = moved & (prev_p != 0)
        setq = (moved | (q != prev_q)) & (p != 0)
        rows = np.arange(n, dtype=np.int64)
        keys.append(rows[gone] * 4 + slot)
        parts.append(_rows(ts[gone], DEPTH, side, prev_p[gone], np.zeros(int(gone.sum()))))
        keys.append(rows[setq] * 4 + 2 + slot)
        parts.append(_rows(ts[setq], DEPTH, side, p[setq], q[setq]))
    key = np.concatenate(keys)
    order = np.argsort(key, kind="stable")
    return [[np.concatenate([part[i] for part in parts])[order] for i in range(5)]]


def _trade_rows(c: dict[str, Any]) -> tuple[list[I64], int]:
    known = c["aggressor"] != 0
    rows = _rows(c["ts_ns"][known], TRADE, c["aggressor"][known], c["price"][known],
                 c["qty"][known])  # fmt: skip
    return rows, int((~known).sum())


def _gcd(values: I64) -> int:
    v = np.abs(values[values != 0])
    return int(np.gcd.reduce(v)) if v.size else 1


def _assemble(
    trades: list[I64] | None, book: list[list[I64]], *, source: str, symbol: str,
    price_unit: str, start_ns: int | None, notes: list[str], gaps: int = 0, dropped: int = 0,
    until_ns: int | None = None,
) -> MarketEvents:  # fmt: skip
    parts = ([trades] if trades is not None else []) + book
    if not parts or sum(p[0].shape[0] for p in parts) == 0:
        msg = f"no events for {source} {symbol}"
        raise DataError(msg)
    ts, kind, side, price, qty = (np.concatenate([p[i] for p in parts]) for i in range(5))
    order = np.argsort(ts, kind="stable")  # trades first at equal times (concatenated first)
    ts, kind, side, price, qty = ts[order], kind[order], side[order], price[order], qty[order]
    keep = np.ones(ts.shape[0], bool)
    if until_ns is not None:  # after a sequence gap the book is not trusted
        keep &= ts <= until_ns
    if start_ns is not None:  # trades before the book exists say nothing a replay can use
        keep &= (kind != TRADE) | (ts >= start_ns)
    ts, kind, side, price, qty = ts[keep], kind[keep], side[keep], price[keep], qty[keep]
    real = kind != CLEAR
    tick = _gcd(price[real])
    lot = _gcd(qty[real])
    price = np.where(real, price // tick, price)
    qty = np.where(real, qty // lot, qty)
    start = int(ts[kind != TRADE][0]) if np.any(kind != TRADE) else int(ts[0])
    return MarketEvents(
        ts=ts, kind=kind, side=side, price=price, qty=qty, source=source, symbol=symbol,
        tick=tick, lot=lot, price_unit=price_unit,
        start_ns=max(start, start_ns) if start_ns is not None else start,
        gaps=gaps, dropped=dropped, notes=tuple(notes),
    )  # fmt: skip


def day_events(
    catalog: str | Path, venue: str, symbol: str, date: str, schemas: set[str], *,
    order_level: bool = False,
) -> MarketEvents:  # fmt: skip
    """One catalog day as replay events, from its richest book schema (module notes)."""
    return _day(catalog, venue, symbol, date, schemas, order_level=order_level)[0]


def _day(
    catalog: str | Path, venue: str, symbol: str, date: str, schemas: set[str], *,
    order_level: bool = False,
) -> tuple[MarketEvents, bool]:  # fmt: skip
    """The day's events, and whether its book starts anew (a snapshot replaces what was)."""
    book_schema = next((s for s in BOOK_SCHEMAS if s in schemas), None)
    if book_schema is None:
        msg = (
            f"catalog {catalog}: {venue} {symbol} on {date} has no book "
            f"({', '.join(sorted(schemas))}); a replay needs one of {', '.join(BOOK_SCHEMAS)}"
        )
        raise DataError(msg)
    cols, metas = read_partition(catalog, venue, symbol, date, book_schema)
    meta = metas[0]
    fmt = str(meta.get("source", ""))
    if order_level and book_schema != "l3":
        msg = f"queue=l3 needs order-level data: {venue} {symbol} on {date} has {book_schema}"
        raise DataError(msg)
    if book_schema == "l3":
        if fmt == "lobster":
            snap, _ = read_partition(catalog, venue, symbol, date, "l2_snapshot")
            day = _lobster_day(cols, snap, meta)
            if order_level:
                # _l3 imports _events, which this module imports: import it when asked
                from makerkit.backtest._l3 import lobster_l3_events

                ev = lobster_l3_events(day, symbol=symbol)
            else:
                ev = lobster_events(day, symbol=symbol)
            base = day_start_ns(date)
            return msgspec.structs.replace(ev, ts=ev.ts + base, start_ns=ev.start_ns + base), True
        if fmt == _ORDER_EVENTS:
            if not order_level:
                msg = f"{venue} {symbol} on {date} holds order-level events: replay with queue=l3"
                raise DataError(msg)
            return _order_events(cols, meta, symbol), True
        if fmt == "databento":
            from makerkit.backtest._databento_replay import databento_events

            tables = [SourceTable(venue=venue, symbol=symbol, schema="l3", columns=cols,
                                  meta=meta)]  # fmt: skip
            first = int(cols["flags"][0]) if len(cols["flags"]) else 0
            fresh = bool(first & _DBN_F_SNAPSHOT) or int(cols["action"][0]) == L3_CLEAR
            return databento_events(tables, order_level=order_level), fresh
        msg = f"catalog: no replay for order-level data from {fmt!r}"
        raise DataError(msg)
    notes: list[str] = [str(n) for m in metas for n in m.get("notes", [])]
    trades = None
    if "trades" in schemas:
        tcols, _ = read_partition(catalog, venue, symbol, date, "trades")
        trades, unknown = _trade_rows(tcols)
        if unknown:
            notes.append(f"{unknown} trades without an aggressor side left out")
    book = {"l2": _l2_rows, "l2_snapshot": _snapshot_rows, "bbo": _bbo_rows}[book_schema](cols)
    # a snapshot replaces the book; an l2 day that does not start with one continues it
    fresh = book_schema != "l2" or bool(len(cols["flags"]) and cols["flags"][0] & L2_RESET)
    starts = [int(m["start_ns"]) for m in metas if m.get("start_ns") is not None]
    untils = [int(m["trusted_until_ns"]) for m in metas if m.get("trusted_until_ns")]
    events = _assemble(
        trades, book, source=f"catalog:{venue}", symbol=symbol,
        price_unit=str(meta.get("price_unit", "")), start_ns=min(starts) if starts else None,
        notes=notes, gaps=sum(int(m.get("gaps", 0)) for m in metas),
        dropped=sum(int(m.get("dropped", 0)) for m in metas),
        until_ns=min(untils) if untils else None,
    )  # fmt: skip
    return events, fresh


_ORDER_EVENTS = "makerkit-l3"  # order-level replay events, stored as they are
_TO_L3 = {ADD: L3_ADD, CANCEL: L3_CANCEL, EXECUTE: L3_FILL, HIDDEN: L3_TRADE}


def events_table(ev: MarketEvents, venue: str, symbol: str) -> SourceTable:
    """Order-level replay events (the simulator's, say) as a catalog ``l3`` table.

    Each row names its order by the index of the order's add within the table
    (``order_id``), and keeps the replay's event kind in ``flags``, so a day reads
    back exactly; prices stay in ticks (``price_unit`` "tick").
    """
    if ev.ref is None:
        msg = "events_table needs order-level events (with `ref`)"
        raise DataError(msg)
    action = np.zeros(len(ev), np.int8)
    for kind, code in _TO_L3.items():
        action[ev.kind == kind] = code
    meta = {
        "source": _ORDER_EVENTS, "price_unit": "tick", "qty_unit": "lot", "clock": "local",
        "tick": ev.tick, "lot": ev.lot, "start_ns": ev.start_ns, "from": ev.source,
    }  # fmt: skip
    return SourceTable(
        venue=venue, symbol=symbol, schema="l3",
        columns={
            "ts_ns": ev.ts, "exch_ns": ev.ts, "action": action, "order_id": ev.ref,
            "side": ev.side.astype(np.int8), "price": ev.price, "qty": ev.qty,
            "flags": ev.kind.astype(np.int16),
        },
        meta=meta,
    )  # fmt: skip


def _order_events(cols: dict[str, Any], meta: dict[str, Any], symbol: str) -> MarketEvents:
    return MarketEvents(
        ts=cols["ts_ns"], kind=cols["flags"].astype(np.int64), side=cols["side"].astype(np.int64),
        price=cols["price"], qty=cols["qty"], source=_ORDER_EVENTS, symbol=symbol,
        tick=int(meta.get("tick", 1)), lot=int(meta.get("lot", 1)), price_unit="tick",
        start_ns=int(meta.get("start_ns", int(cols["ts_ns"][0]))), ref=cols["order_id"],
    )  # fmt: skip


def _join(days: list[tuple[MarketEvents, bool]]) -> MarketEvents:
    """Days on one tick/lot grid; a day that starts anew first empties the book."""
    if len(days) == 1:
        return days[0][0]
    tick = int(np.gcd.reduce([d.tick for d, _ in days]))
    lot = int(np.gcd.reduce([d.lot for d, _ in days]))
    cols: list[list[I64]] = [[], [], [], [], [], []]
    offset = 0
    for k, (day, fresh) in enumerate(days):
        d = _regrid(day, tick, lot)
        parts = [d.ts, d.kind, d.side, d.price, d.qty]
        prefix = 2 if fresh and k > 0 else 0
        ref = d.ref + offset + prefix if d.ref is not None else np.zeros(len(d), np.int64)
        if prefix:
            c = _clears([d.ts[0]])
            parts = [np.r_[c[i], parts[i]] for i in range(5)]
            ref = np.r_[np.zeros(prefix, np.int64), ref]
        for i in range(5):
            cols[i].append(parts[i])
        cols[5].append(ref)
        offset += prefix + len(d)
    ts = np.concatenate(cols[0])
    if np.any(np.diff(ts) < 0):
        msg = "catalog days overlap in time: a day's events start before the previous day's end"
        raise DataError(msg)
    first = days[0][0]
    return MarketEvents(
        ts=ts, kind=np.concatenate(cols[1]), side=np.concatenate(cols[2]),
        price=np.concatenate(cols[3]), qty=np.concatenate(cols[4]), source=first.source,
        symbol=first.symbol, tick=tick, lot=lot,
        price_unit=first.price_unit, start_ns=first.start_ns,
        gaps=sum(d.gaps for d, _ in days), dropped=sum(d.dropped for d, _ in days),
        notes=tuple(n for d, _ in days for n in d.notes),
        ref=np.concatenate(cols[5]) if first.ref is not None else None,
    )  # fmt: skip


def catalog_plan(
    catalog: str | Path, venue: str, symbol: str, first: str, last: str, missing: str
) -> tuple[list[str], dict[str, set[str]]]:
    """The days of the range that have data (refusing absent ones unless skipped)."""
    held = catalog_days(catalog, venue, symbol)
    if not held:
        msg = f"catalog {catalog} has no data for {venue} {symbol} (see `makerkit data ls`)"
        raise DataError(msg)
    wanted = date_range(first, last)
    absent = [d for d in wanted if d not in held]
    if absent and missing != "skip":
        msg = (
            f"catalog {catalog}: {venue} {symbol} has no data on {', '.join(absent)} "
            f"(it has {', '.join(sorted(held))}); add `,missing=skip` to pass over such days"
        )
        raise DataError(msg)
    present = [d for d in wanted if d in held]
    if not present:
        msg = f"catalog {catalog}: {venue} {symbol} has no day in {first}..{last}"
        raise DataError(msg)
    return present, held


def catalog_events(
    catalog: str | Path, venue: str, symbol: str, first: str, last: str | None = None, *,
    window: Window | None = None, order_level: bool = False, missing: str = "error",
) -> MarketEvents:  # fmt: skip
    """Days ``first``..``last`` of (venue, symbol) as one stream, windowed in market time.

    A day of the range with no data is refused, naming it (``missing="skip"``
    passes over such days: weekends, holidays).
    """
    last = last or first
    present, held = catalog_plan(catalog, venue, symbol, first, last, missing)
    days = [_day(catalog, venue, symbol, d, held[d], order_level=order_level)
            for d in present]  # fmt: skip
    events = _join(days)
    return window_events(
        events, window or Window(), first_day_ns=day_start_ns(present[0]),
        last_day_ns=day_start_ns(present[-1]),
    )  # fmt: skip


def _grid(
    catalog: str | Path, venue: str, symbol: str, days: list[str], held: dict[str, set[str]]
) -> tuple[int, int, int, int, int]:
    """(tick, lot, lowest, highest price in source units, rows) from the parts' statistics."""
    use = {d: {next(s for s in BOOK_SCHEMAS if s in held[d]), "trades"} for d in days}
    parts = [
        p for p in catalog_parts(catalog)
        if p.venue == venue.lower() and p.symbol == symbol and p.date in use
        and p.schema in use[p.date] and p.price_gcd > 0
    ]  # fmt: skip
    if not parts:
        msg = f"catalog {catalog}: no price statistics for {venue} {symbol} (ingest it again)"
        raise DataError(msg)
    tick = int(np.gcd.reduce([p.price_gcd for p in parts]))
    lots = [p.qty_gcd for p in parts if p.qty_gcd > 0]
    lot = int(np.gcd.reduce(lots)) if lots else 1
    # the range trades reached, as MarketEvents.price_range: deep book levels far from
    # the price would only widen the replay's book (its padding covers the rest)
    ranged = [p for p in parts if p.schema == "trades"] or parts
    lo, hi = min(p.price_min for p in ranged), max(p.price_max for p in ranged)
    return tick, lot, lo, hi, sum(p.rows for p in parts)


def _regrid(ev: MarketEvents, tick: int, lot: int) -> MarketEvents:
    """A day's events on the stream's grid (its own must be a multiple of it)."""
    if ev.tick % tick or ev.lot % lot:
        msg = (
            f"a day's grid (tick {ev.tick}, lot {ev.lot}) is not a multiple of the catalog's "
            f"(tick {tick}, lot {lot})"
        )
        raise DataError(msg)
    pf, qf = ev.tick // tick, ev.lot // lot
    if pf == 1 and qf == 1:
        return ev
    clear = ev.kind == CLEAR
    return msgspec.structs.replace(
        ev, price=ev.price * pf, qty=np.where(clear, ev.qty * pf, ev.qty * qf), tick=tick, lot=lot
    )


def catalog_stream(
    catalog: str | Path, venue: str, symbol: str, first: str, last: str | None = None, *,
    window: Window | None = None, order_level: bool = False, missing: str = "error",
) -> StreamedMarket:  # fmt: skip
    """Days ``first``..``last`` replayed one day at a time: memory holds one day, not the range.

    The grid and price range come from the catalog's statistics, so the book is
    sized before the first row; the window is as in ``catalog_events``.
    """
    last = last or first
    present, held = catalog_plan(catalog, venue, symbol, first, last, missing)
    tick, lot, lo, hi, rows = _grid(catalog, venue, symbol, present, held)
    w = window or Window()
    start = day_start_ns(present[0]) + w.start if w.start is not None else None
    end = day_start_ns(present[-1]) + w.end if w.end is not None else None

    def days(first_day: int, offset: int) -> Iterator[MarketEvents]:
        for k in range(first_day, len(present)):
            date = present[k]
            day, fresh = _day(catalog, venue, symbol, date, held[date], order_level=order_level)
            ev = _regrid(day, tick, lot)
            if fresh and k > 0:
                ev = _prefixed(ev, _clears([ev.ts[0]]), order_level=ev.ref is not None)
            reached = False
            if end is not None:
                stop = int(np.searchsorted(ev.ts, end, side="left"))
                reached = stop < len(ev)
                ev = events_before(ev, stop)
            if ev.ref is not None:
                ev = msgspec.structs.replace(ev, ref=ev.ref + offset)
            offset += len(ev)
            yield ev
            if reached:
                return

    head = next(days(0, 0))
    after_head = len(head)  # order-level indices go on from the head's

    def rest() -> Iterator[MarketEvents]:
        return days(1, after_head)

    if start is not None:
        head = msgspec.structs.replace(head, start_ns=max(head.start_ns, start))
    return StreamedMarket(head, rest, price_lo=lo // tick, price_hi=-(-hi // tick), total_hint=rows)


def _prefixed(ev: MarketEvents, rows: list[I64], *, order_level: bool = False) -> MarketEvents:
    """``rows`` (clears) before the day's events; order-level refs move past them."""
    n = rows[0].shape[0]
    ref = np.r_[np.zeros(n, np.int64), ev.ref + n] if order_level and ev.ref is not None else None
    return msgspec.structs.replace(
        ev, ts=np.r_[rows[0], ev.ts], kind=np.r_[rows[1], ev.kind], side=np.r_[rows[2], ev.side],
        price=np.r_[rows[3], ev.price], qty=np.r_[rows[4], ev.qty], ref=ref,
    )  # fmt: skip
