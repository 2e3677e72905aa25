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
from makerkit.core.errors import DataError
from makerkit.data import LobsterDay, lobster_tick

__all__ = ["lobster_l3_events"]


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
