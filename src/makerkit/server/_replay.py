"""Replay a recorded market into the live venue, at real or accelerated speed.

The recorded flow becomes orders of one ``market-replay`` account, so
strategies on the venue trade against history and their orders take their
place in its queues:

* LOBSTER: adds are limit orders (ids mapped), cancels and partial cancels
  cancel or reduce them, a visible execution becomes a market order of that
  size from the other side (it hits the best price, possibly a strategy's
  order ahead in the queue, as it would have). Orders resting before the
  file starts are seeded from its first orderbook row, one per level.
* Binance depth captures: one order per price level; a diff sets its size
  (a smaller size keeps priority, a larger one re-queues, 0 cancels). The
  diffs are those ``sync_binance`` applies (update-id order, Binance's rules).

Prices are converted to the instrument's ticks; a price off its grid is
counted and skipped, never rounded silently.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from makerkit.core import LoopTimer, OrderType, SelfTradePrevention, Side, Timer
from makerkit.data import SCALE, BinanceCapture, LobsterDay, sync_binance
from makerkit.risk import RiskLimits
from makerkit.server._service import VenueService
from makerkit.venue import CancelAll, CancelOrder, ModifyOrder, NewOrder, Outcome

__all__ = ["ReplayDriver"]

log = logging.getLogger("makerkit.server.replay")

REPLAY_ACCOUNT = "market-replay"
# (ts_ns, kind, side, price in source units, qty in source units, source order id)
Event = tuple[int, str, int, int, int, int]


def _lobster_events(day: LobsterDay) -> Iterator[Event]:
    b = day.book[0]
    for k in range(day.levels):  # the book as the file opens: one order per level
        for side, price, qty in ((-1, b[4 * k], b[4 * k + 1]), (1, b[4 * k + 2], b[4 * k + 3])):
            if qty > 0 and abs(price) < 9_999_999_999:
                yield 0, "level", side, int(price), int(qty), 0
    m = day.messages
    kinds = {1: "add", 2: "reduce", 3: "cancel", 4: "execute"}
    for ts, t, oid, size, price, side in zip(
        m.ts_ns.tolist(), m.type.tolist(), m.order_id.tolist(), m.size.tolist(),
        m.price.tolist(), m.direction.tolist(), strict=True,
    ):  # fmt: skip
        kind = kinds.get(t)
        if kind is not None:
            yield ts, kind, side, price, size, oid


def _binance_events(capture: BinanceCapture) -> Iterator[Event]:
    for price, qty in capture.snapshot_bids:
        yield 0, "level", 1, price, qty, 0
    for price, qty in capture.snapshot_asks:
        yield 0, "level", -1, price, qty, 0
    sync = sync_binance(capture)  # update-id order, Binance's rules; stops at a gap
    if sync.gap is not None:
        log.warning("replay stops at the capture's gap: %s", sync.gap)
    for diff, ts in zip(sync.applied, sync.ts, strict=True):
        # removals first: a level that moves in must never meet a stale one and trade
        updates = [(s, p, q) for s, lv in ((1, diff.bids), (-1, diff.asks)) for p, q in lv]
        for side, price, qty in sorted(updates, key=lambda u: u[2] != 0):
            yield ts, "level", side, price, qty, 0


class ReplayDriver:
    """Feed ``source`` (a LobsterDay or a BinanceCapture) into ``symbol`` at ``speed``x."""

    def __init__(
        self, service: VenueService, symbol: str, source: LobsterDay | BinanceCapture,
        *, speed: float = 1.0, tick_s: float = 0.01, timer: Timer | None = None,
    ) -> None:  # fmt: skip
        if speed <= 0:
            msg = f"invalid `speed`, must be > 0, was {speed}"
            raise ValueError(msg)
        self.service = service
        self.symbol = symbol
        self.speed = speed
        self.tick_s = tick_s
        self.timer: Timer = timer or LoopTimer()  # a test passes a ManualTimer and steps it
        inst = service.instruments[symbol]
        if isinstance(source, LobsterDay):
            self._events = list(_lobster_events(source))
            units = Decimal(10_000)  # LOBSTER prices: 1e-4 of the currency
            self._lot_units = Decimal(1)  # shares
        else:
            self._events = list(_binance_events(source))
            units = Decimal(SCALE)
            self._lot_units = Decimal(SCALE)
        self._price_step = inst.tick * units  # source units per tick
        self._lot_step = Decimal(inst.lot_size) * self._lot_units
        self.applied = 0
        self.skipped = 0
        self._next = 0
        self._ids: dict[int, int] = {}  # source order id -> venue order id
        self._levels: dict[tuple[int, int], int] = {}  # (side, ticks) -> venue order id
        self._account = 0
        self._task: asyncio.Task[None] | None = None

    def __len__(self) -> int:
        return len(self._events)

    @property
    def replayed(self) -> int:
        """Events taken from the source so far (applied, skipped or ignored)."""
        return self._next

    @property
    def first_ns(self) -> int:
        """The first stamped event's time: where pacing starts."""
        return next((e[0] for e in self._events if e[0] > 0), 0)

    def events_until(self, ts_ns: int) -> int:
        """How many events are stamped at or before ``ts_ns``."""
        return sum(1 for e in self._events if e[0] <= ts_ns)

    @property
    def done(self) -> bool:
        """Has every event been replayed?"""
        return self._next >= len(self._events)

    async def start(self, *, pace: bool = True) -> None:
        """Create (or reuse) the replay account, clear its old orders, and start."""
        jv = self.service.jv
        acct = next((a for a in jv.venue.accounts() if a.name == REPLAY_ACCOUNT), None)
        self._account = acct.account_id if acct else jv.add_account(REPLAY_ACCOUNT)[0].account_id
        account = self._account
        await self.service.execute(
            lambda: jv.set_limits(RiskLimits(), account=account, symbol=None)
        )
        await self.service.execute(lambda: jv.cancel_all(account, CancelAll(symbol=self.symbol)))
        if pace:
            self._task = asyncio.create_task(self._pace(), name="makerkit-replay")

    async def stop(self) -> None:
        """Stop replaying (orders stay until the next start)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _pace(self) -> None:
        first = self.first_ns
        timer = self.timer
        started = timer.elapsed_s()
        while not self.done:
            await timer.sleep(self.tick_s)
            if self.service.failure is not None:  # the journal cannot write: catch up later
                continue
            horizon = first + int((timer.elapsed_s() - started) * self.speed * 1e9)
            self.step_until(horizon)

    def step(self, events: int) -> int:
        """Replay the next ``events`` events now; return how many were applied."""
        stop = min(len(self._events), self._next + events)
        return self._apply_until(lambda i: i < stop)

    def step_until(self, ts_ns: int) -> int:
        """Replay every event stamped at or before ``ts_ns``."""
        return self._apply_until(lambda i: self._events[i][0] <= ts_ns)

    def _apply_until(self, more: Any) -> int:
        applied = 0
        while self._next < len(self._events) and more(self._next):
            if self._apply(self._events[self._next]):
                applied += 1
            self._next += 1
        self.applied += applied
        return applied

    def _ticks(self, price: int) -> int | None:
        ticks, rest = divmod(Decimal(price), self._price_step)
        return int(ticks) if rest == 0 and ticks > 0 else None

    def _lots(self, qty: int) -> int:
        return int(Decimal(qty) // self._lot_step)

    def _run(self, command: Any) -> Outcome:
        out: Outcome = self.service.execute_then(command, _ignore)
        return out

    def _new(self, side: int, ticks: int, lots: int) -> int | None:
        cmd = NewOrder(
            symbol=self.symbol, side=Side(side), price=ticks, qty=lots,
            stp=SelfTradePrevention.NONE,
        )  # fmt: skip
        out = self._run(lambda: self.service.jv.submit(self._account, cmd))
        return out.update.order_id if out.accepted and out.update.remaining else None

    def _apply(self, event: Event) -> bool:
        _, kind, side, price, qty, oid = event
        jv, account, symbol = self.service.jv, self._account, self.symbol
        if kind == "execute":
            lots = self._lots(qty)
            if lots <= 0:
                self.skipped += 1
                return False
            cmd = NewOrder(symbol=symbol, side=Side(-side), qty=lots, order_type=OrderType.MARKET,
                           stp=SelfTradePrevention.NONE)  # fmt: skip
            self._run(lambda: jv.submit(account, cmd))
            return True
        ticks = self._ticks(price)
        if ticks is None:
            self.skipped += 1
            return False
        if kind == "add":
            venue_id = self._new(side, ticks, self._lots(qty)) if self._lots(qty) > 0 else None
            if venue_id is not None:
                self._ids[oid] = venue_id
            return venue_id is not None
        if kind in ("cancel", "reduce"):
            venue_id = self._ids.get(oid) or self._levels.get((side, ticks))
            if venue_id is None:
                self.skipped += 1
                return False
            left = int(self.service.venue.book(symbol).remaining(venue_id))
            new = left - self._lots(qty) if kind == "reduce" else 0
            if new <= 0:
                self._ids.pop(oid, None)
                cancel = CancelOrder(symbol=symbol, order_id=venue_id)
                self._run(lambda: jv.cancel(account, cancel))
            else:
                modify = ModifyOrder(symbol=symbol, order_id=venue_id, qty=new)
                self._run(lambda: jv.modify(account, modify))
            return True
        # a level's new size (Binance diffs, and LOBSTER's opening book)
        lots = self._lots(qty)
        key = (side, ticks)
        current = self._levels.get(key)
        if current is not None and not self.service.venue.book(symbol).remaining(current):
            current = None  # traded away
        if lots <= 0:
            if current is not None:
                cancel = CancelOrder(symbol=symbol, order_id=current)
                self._run(lambda: jv.cancel(account, cancel))
                del self._levels[key]
            return True
        if current is None:
            venue_id = self._new(side, ticks, lots)
            if venue_id is not None:
                self._levels[key] = venue_id
            return venue_id is not None
        modify = ModifyOrder(symbol=symbol, order_id=current, qty=lots)
        out = self._run(lambda: jv.modify(account, modify))
        if out.accepted:
            self._levels[key] = out.update.order_id
        return out.accepted


def _ignore(_: object) -> None:
    return None
