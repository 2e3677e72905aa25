"""Order-level (L3) event streams: the real FIFO queue our simulated orders join.

A LOBSTER day becomes the exact sequence of changes its checked L3 replay
makes to the book (``replay_lobster``): every order that rests (an add),
every cancel and every execution of a named order, and hidden executions.
Each cancel or execution carries ``ref``, the index of the touched order's
add event, so the replay core knows whether that order was ahead of ours.
Orders resting before the file starts, and levels that enter a depth-limited
window from beyond it, are placeholder orders of the replay: they queue where
the replay puts them (at the back of the level when they appear), exactly
like the book that matches the orderbook file row by row.

The simulator's own order stream (``stream_l3_events``) is replayed through
a fresh book the same way: resting remainders are adds, every maker fill an
execution of the named order, cancels (and self-trade removals) cancels; a
modify that keeps priority (size down at the same price) is a cancel of the
difference, any other one a cancel and a new add at the back.

Prices are ticks of the day's grid. A hidden execution between two ticks
(a midpoint cross) is put on the tick that does not reach a resting order it
could not have reached: up for bids, down for asks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from makerkit.backtest._events import ADD, CANCEL, EXECUTE, HIDDEN, MarketEvents
from makerkit.backtest._lobster_replay import replay_lobster
from makerkit.backtest._replay_config import backend_of
from makerkit.book import make_book
from makerkit.core import OrderStatus, OrderType
from makerkit.core.errors import DataError
from makerkit.data import (
    ACTION_ADD,
    ACTION_CANCEL,
    ACTION_MARKET,
    ACTION_MODIFY,
    LobsterDay,
    OrderStream,
    lobster_tick,
)

__all__ = ["lobster_l3_events", "stream_l3_events"]


class _Recorder:
    """A book that records every change the replay makes to it as an L3 event."""

    def __init__(self, book: Any, day: LobsterDay, tick: int) -> None:
        self.book = book
        self.backend: str = book.backend
        self.day = day
        self.tick = tick
        self.first = int(day.messages.ts_ns[0])
        self.rows: list[tuple[int, int, int, int, int, int]] = []  # ts, kind, side, px, qty, ref
        self.added: dict[int, tuple[int, int, int]] = {}  # order id -> (add index, side, price)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.book, name)

    def _touch(self, kind: int, oid: int, qty: int, ts: int) -> None:
        ref, side, price = self.added[oid]
        self.rows.append((max(ts, self.first), kind, side, price, qty, ref))

    def submit(self, oid: int, side: int, price: int, qty: int, *, ts: int = 0) -> Any:
        out = self.book.submit(oid, side, price, qty, ts=ts)
        if self.book.remaining(oid) != qty:
            msg = (
                f"order {oid} ({'buy' if side > 0 else 'sell'} {qty} @ {price} ticks) crosses "
                "the book: the file is not an order-level record a FIFO queue can be built from"
            )
            raise DataError(msg, path=self.day.messages.path)
        index = len(self.rows)
        self.added[oid] = (index, side, price)
        self.rows.append((max(ts, self.first), ADD, side, price, qty, index))
        return out

    def cancel(self, oid: int, *, ts: int = 0) -> Any:
        left = self.book.remaining(oid)
        out = self.book.cancel(oid, ts=ts)
        if left:
            self._touch(CANCEL, oid, left, ts)
        return out

    def reduce(self, oid: int, qty: int, *, ts: int = 0) -> Any:
        out = self.book.reduce(oid, qty, ts=ts)
        self._touch(CANCEL, oid, qty, ts)
        return out

    def execute(self, oid: int, qty: int, *, ts: int = 0) -> Any:
        out = self.book.execute(oid, qty, ts=ts)
        self._touch(EXECUTE, oid, qty, ts)
        return out

    def hidden(self, row: int) -> None:
        m = self.day.messages
        side, raw = int(m.direction[row]), int(m.price[row])
        price = -(-raw // self.tick) if side > 0 else raw // self.tick
        self.rows.append((int(m.ts_ns[row]), HIDDEN, side, price, int(m.size[row]), len(self.rows)))


def lobster_l3_events(
    day: LobsterDay, *, symbol: str = "", progress: Callable[[int], None] | None = None
) -> MarketEvents:
    """A LOBSTER day as order-level events (see the module notes), checked against its book."""
    tick = lobster_tick(day)
    holder: list[_Recorder] = []

    def wrap(book: Any) -> Any:
        holder.append(_Recorder(book, day, tick))
        return holder[0]

    report, _ = replay_lobster(day, check=True, progress=progress, batch=False, wrap=wrap)
    rec = holder[0]
    notes: tuple[str, ...] = ()
    if not report.ok:
        notes = (
            f"{report.mismatched_rows} orderbook rows differ from the replayed book; "
            f"first: {report.first_mismatch}",
        )
    if not rec.rows:
        msg = "no order-level events in the day"
        raise DataError(msg, path=day.messages.path)
    cols = np.asarray(rec.rows, dtype=np.int64).T
    name = day.messages.path.rsplit("/", 1)[-1]
    return MarketEvents(
        ts=np.ascontiguousarray(cols[0]), kind=np.ascontiguousarray(cols[1]),
        side=np.ascontiguousarray(cols[2]), price=np.ascontiguousarray(cols[3]),
        qty=np.ascontiguousarray(cols[4]), ref=np.ascontiguousarray(cols[5]),
        source="lobster", symbol=symbol or name.split("_", 1)[0], tick=tick, lot=1,
        price_unit="1e-4 USD", start_ns=rec.first, notes=notes,
    )  # fmt: skip


def stream_l3_events(
    stream: OrderStream, *, backend: str | None = None, engine: str | None = None,
    symbol: str = "synthetic",
) -> MarketEvents:  # fmt: skip
    """The order-level events of a command stream (the simulator's), replayed through a book."""
    book = make_book(backend_of(backend, engine))
    rows: list[tuple[int, int, int, int, int, int]] = []
    added: dict[int, tuple[int, int, int]] = {}  # resting order -> (add index, side, price)
    left: dict[int, int] = {}

    def take(kind: int, oid: int, qty: int, ts: int) -> None:
        index, side, price = added[oid]
        rows.append((ts, kind, side, price, qty, index))
        left[oid] -= qty
        if left[oid] <= 0:
            del added[oid], left[oid]

    def rest(oid: int, ts: int) -> None:
        qty = book.remaining(oid)
        order = book.order(oid) if qty > 0 else None
        if order is not None:
            added[oid] = (len(rows), int(order.side), int(order.price))
            left[oid] = qty
            rows.append((ts, ADD, int(order.side), int(order.price), qty, len(rows)))

    cols = zip(stream.action.tolist(), stream.order_id.tolist(), stream.side.tolist(),
               stream.price.tolist(), stream.qty.tolist(), stream.tif.tolist(),
               stream.ts.tolist(), strict=True)  # fmt: skip
    for action, oid, side, price, qty, tif, ts in cols:
        if action == ACTION_CANCEL:
            res = book.cancel(oid, ts=ts)
            if res.status != OrderStatus.REJECTED and oid in added:
                take(CANCEL, oid, left[oid], ts)
            continue
        if action == ACTION_MODIFY:
            before = added.get(oid)
            res = book.modify(oid, price=price or None, qty=qty, ts=ts)
            if res.status == OrderStatus.REJECTED or before is None:
                continue
            now = book.remaining(oid)
            if (price in (0, before[2])) and not res.fills and 0 < now < left[oid]:
                take(CANCEL, oid, left[oid] - now, ts)  # size down in place: priority kept
                continue
            take(CANCEL, oid, left[oid], ts)  # anything else re-enters at the back
        elif action == ACTION_MARKET:
            res = book.submit(oid, side, 0, qty, order_type=OrderType.MARKET, ts=ts)
        elif action == ACTION_ADD:
            res = book.submit(oid, side, price, qty, tif=tif, ts=ts)
        else:
            msg = f"invalid stream: action {action} at ts {ts}"
            raise DataError(msg)
        for fill in res.fills:
            if fill.maker_order_id in added:
                take(EXECUTE, fill.maker_order_id, fill.qty, ts)
        for gone in res.canceled:
            if gone in added:
                take(CANCEL, gone, left[gone], ts)
        if action != ACTION_MARKET and oid not in added:
            rest(oid, ts)
    if not rows:
        msg = "no order-level events in the stream"
        raise DataError(msg)
    cols_out = np.asarray(rows, dtype=np.int64).T
    return MarketEvents(
        ts=np.ascontiguousarray(cols_out[0]), kind=np.ascontiguousarray(cols_out[1]),
        side=np.ascontiguousarray(cols_out[2]), price=np.ascontiguousarray(cols_out[3]),
        qty=np.ascontiguousarray(cols_out[4]), ref=np.ascontiguousarray(cols_out[5]),
        source="synthetic", symbol=symbol, start_ns=int(cols_out[0][0]),
    )  # fmt: skip
