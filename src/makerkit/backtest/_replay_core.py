"""The replay backtest core in Python: the reference for (and fallback of) the C++ one.

It mirrors ``cpp/src/replay_backtest.cpp`` step for step (see the header
there for the model); ``make_replay_core`` picks the native one when built.
The differential tests run both on the same events and commands and compare
every notice, fill and number.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from makerkit.backtest._events import ADD, CANCEL, CLEAR, DEPTH, HIDDEN

__all__ = [
    "NOTICE_CANCELED",
    "NOTICE_FILL",
    "NOTICE_REJECTED",
    "QUEUE_L3",
    "RUN_BUDGET",
    "RUN_DECISION",
    "RUN_END",
    "RUN_NOTICE",
    "RUN_STOPPED",
    "PyReplayCore",
]

RUN_END, RUN_DECISION, RUN_NOTICE, RUN_BUDGET = 0, 1, 2, 3
RUN_STOPPED = 4  # the C++ core only: a compiled strategy failed, its quotes pulled
QUEUE_L3 = 2  # order-level events: the real FIFO queue, no model
NOTICE_FILL, NOTICE_CANCELED, NOTICE_REJECTED = 1, 2, 3
_INF = 1 << 63


class _Order:
    __slots__ = ("ahead", "id", "left", "price", "side", "since", "traded")

    def __init__(self, oid: int, price: int, qty: int, side: int, since: int) -> None:
        self.id, self.price, self.left = oid, price, qty
        self.ahead = 0.0
        self.traded = 0
        self.side = side
        self.since = since  # events applied when it arrived (l3: adds before it are ahead)


class PyReplayCore:
    """Same constructor, methods and properties as ``makerkit._native.ReplayBacktest``."""

    def __init__(
        self, ts: Any, kind: Any, side: Any, price: Any, qty: Any, *, roi_lo: int, roi_hi: int,
        queue_model: int, queue_power: float, feed_latency_ns: int, order_latency_ns: int,
        decision_ns: int, start_ns: int, wake_on_fill: bool, post_only: bool,
        maker_fee: float, taker_fee: float, ref: Any = None, clear_on_trade: bool = True,
    ) -> None:  # fmt: skip
        if roi_hi < roi_lo:
            msg = "invalid `roi`, must have lo <= hi"
            raise ValueError(msg)
        if queue_model == QUEUE_L3 and ref is None:
            msg = "invalid `ref`, queue model 2 (l3) needs the ref column"
            raise ValueError(msg)
        refs = ref.tolist() if ref is not None else [0] * len(ts)
        self._ev = list(zip(ts.tolist(), kind.tolist(), side.tolist(), price.tolist(),
                            qty.tolist(), refs, strict=True))  # fmt: skip
        self._lo, self._hi = roi_lo, roi_hi
        self._model, self._power = queue_model, queue_power
        self._feed, self._lat = feed_latency_ns, order_latency_ns
        self._step, self._next = decision_ns, start_ns
        self._wake, self._post_only = wake_on_fill, post_only
        self._mf, self._tf = maker_fee, taker_fee
        self._clear = clear_on_trade
        width = roi_hi - roi_lo + 1
        self._bids = [0] * width
        self._asks = [0] * width
        self._best_bid, self._best_ask = roi_lo - 1, roi_hi + 1
        self._orders: list[_Order] = []
        # arrive, id, price, qty, side (0: cancel), immediate
        self._cmds: list[tuple[int, int, int, int, int, bool]] = []
        self._notes: list[tuple[int, ...]] = []
        self._i = 0
        self._base = 0  # events in the chunks before this one (a stream)
        self._refill: Callable[[], Any] | None = None
        self.now = -_INF
        self.position = self.cash = self.ignored = self.rejected = self.fifo_exceptions = 0
        self.fees = 0.0
        self._fills: list[tuple[int, int, int, int, int, int]] = []
        self._refused: list[tuple[int, int]] = []  # arrival ts, side

    # ------------------------------------------------------------------ views
    @property
    def events_done(self) -> int:
        return self._base + self._i

    @property
    def events_total(self) -> int:
        return self._base + len(self._ev)

    def stream(self, next: Callable[[], Any]) -> None:
        """When the events run out, ``next()`` gives the next chunk, or None at the end."""
        self._refill = next

    def _next_chunk(self) -> bool:
        assert self._refill is not None  # noqa: S101 - called only when set
        chunk = self._refill()
        if chunk is None:
            self._refill = None
            return False
        ts, kind, side, price, qty, ref = chunk
        if self._model == QUEUE_L3 and ref is None:
            msg = "invalid chunk: queue model 2 (l3) needs the ref column"
            raise ValueError(msg)
        if len(ts) and self._ev and ts[0] < self._ev[-1][0]:
            msg = "invalid chunk: it starts before the previous one ends"
            raise ValueError(msg)
        refs = ref.tolist() if ref is not None else [0] * len(ts)
        self._base += len(self._ev)
        self._ev = list(zip(ts.tolist(), kind.tolist(), side.tolist(), price.tolist(),
                            qty.tolist(), refs, strict=True))  # fmt: skip
        self._i = 0
        return True

    @property
    def open_orders(self) -> int:
        return len(self._orders)

    def queue_ahead(self, order_id: int) -> float:
        """The volume ahead of a resting order of ours in its queue; -1 when not resting."""
        for o in self._orders:
            if o.id == order_id and o.left > 0:
                return o.ahead
        return -1.0

    def _level(self, side: int, price: int) -> int:
        return (self._bids if side > 0 else self._asks)[price - self._lo]

    def depth_at(self, side: int, price: int) -> int:
        return self._level(side, price) if self._lo <= price <= self._hi else 0

    def touch(self) -> tuple[int | None, int, int | None, int]:
        bid = self._best_bid if self._best_bid >= self._lo else None
        ask = self._best_ask if self._best_ask <= self._hi else None
        return (bid, self._level(1, bid) if bid is not None else 0,
                ask, self._level(-1, ask) if ask is not None else 0)  # fmt: skip

    def top(self, side: int, n: int) -> tuple[list[int], list[int]]:
        prices: list[int] = []
        qtys: list[int] = []
        if side > 0:
            rng = range(self._best_bid, self._lo - 1, -1)
        else:
            rng = range(self._best_ask, self._hi + 1)
        for p in rng:
            if len(prices) >= n:
                break
            q = self._level(side, p)
            if q > 0:
                prices.append(p)
                qtys.append(q)
        return prices, qtys

    def fills(self) -> np.ndarray[Any, Any]:
        if not self._fills:
            return np.zeros((6, 0), dtype=np.int64)
        return np.asarray(self._fills, dtype=np.int64).T.copy()

    def rejections(self) -> np.ndarray[Any, Any]:
        if not self._refused:
            return np.zeros((2, 0), dtype=np.int64)
        return np.asarray(self._refused, dtype=np.int64).T.copy()

    # --------------------------------------------------------------- internals
    def _set_level(self, side: int, price: int, qty: int) -> None:
        lo, hi = self._lo, self._hi
        if side > 0:
            self._bids[price - lo] = qty
            if qty > 0 and price > self._best_bid:
                self._best_bid = price
            elif qty == 0 and price == self._best_bid:
                b = self._best_bid
                while b >= lo and self._bids[b - lo] == 0:
                    b -= 1
                self._best_bid = b
        else:
            self._asks[price - lo] = qty
            if qty > 0 and price < self._best_ask:
                self._best_ask = price
            elif qty == 0 and price == self._best_ask:
                a = self._best_ask
                while a <= hi and self._asks[a - lo] == 0:
                    a += 1
                self._best_ask = a

    def _notify(self, kind: int, o: _Order, price: int, qty: int, ts: int, maker: bool) -> None:
        lag = max(0, self._lat - self._feed)
        self._notes.append((ts + lag, kind, ts, o.id, o.side, price, qty, o.left, int(maker)))

    def _fill(self, o: _Order, price: int, qty: int, maker: bool, ts: int) -> None:
        o.left -= qty
        self.position += o.side * qty
        self.cash -= o.side * qty * price
        self.fees += (self._mf if maker else self._tf) * float(price) * float(qty)
        self._fills.append((ts, o.id, o.side, price, qty, int(maker)))
        self._notify(NOTICE_FILL, o, price, qty, ts, maker)

    def _apply_l3(self, ts: int, kind: int, side: int, price: int, qty: int, ref: int) -> None:
        """An order-level event: the real FIFO queue decides (see replay_backtest.hpp)."""
        if kind != HIDDEN:
            if not self._lo <= price <= self._hi:
                self.ignored += 1
                return
            old = self._level(side, price)
            self._set_level(side, price, old + qty if kind == ADD else max(old - qty, 0))
        avail = qty
        if kind == ADD:  # arriving through our quote on the other side: it trades with us first
            for o in self._orders:
                if avail <= 0:
                    break
                if o.side == side or o.left <= 0:
                    continue
                if price > o.price if o.side > 0 else price < o.price:
                    continue
                x = min(o.left, avail)
                avail -= x
                self._fill(o, o.price, x, True, ts)
            return
        for o in self._orders:
            if o.side != side or o.left <= 0:
                continue
            if price == o.price:
                if kind != HIDDEN and ref < o.since:  # an order ahead of ours left
                    o.ahead = max(o.ahead - qty, 0.0)
                    continue
                if kind == CANCEL:  # behind us: changes nothing for us
                    continue
                if o.ahead > 0.0:
                    self.fifo_exceptions += 1
                    continue
            elif kind == CANCEL or (price > o.price if side > 0 else price < o.price):
                continue  # another level, or a better price the aggressor took before ours
            if avail <= 0:
                break
            x = min(o.left, avail)
            avail -= x
            self._fill(o, o.price, x, True, ts)

    def _apply_event(
        self, ts: int, kind: int, side: int, price: int, qty: int, ref: int = 0
    ) -> None:
        if kind >= ADD:
            self._apply_l3(ts, kind, side, price, qty, ref)
            return
        orders = self._orders
        if kind == DEPTH:
            if not self._lo <= price <= self._hi:
                self.ignored += 1
                return
            old = self._level(side, price)
            self._set_level(side, price, qty)
            for o in orders:
                if o.side != side or o.price != price:
                    continue
                net = old - qty - o.traded
                if net > 0 and self._model == 1:
                    front = o.ahead
                    back = max(float(old - o.traded) - front, 0.0)
                    ff, fb = front, back
                    if self._power != 1.0:
                        ff = math.pow(front, self._power)
                        fb = math.pow(back, self._power)
                    if ff + fb > 0.0:
                        o.ahead = front - float(net) * (ff / (ff + fb))
                o.traded = 0
                o.ahead = max(min(o.ahead, float(qty)), 0.0)
            for o in orders:
                if o.side == side or o.left <= 0:
                    continue
                if o.side > 0:
                    crossed = self._best_ask <= self._hi and self._best_ask <= o.price
                else:
                    crossed = self._best_bid >= self._lo and self._best_bid >= o.price
                if crossed:
                    self._fill(o, o.price, o.left, True, ts)
            return
        if kind == CLEAR:
            a, b = max(min(price, qty) + 1, self._lo), min(max(price, qty) - 1, self._hi)
            book = self._bids if side > 0 else self._asks
            for p in range(a, b + 1):
                if book[p - self._lo] != 0:
                    self._set_level(side, p, 0)
            for o in orders:
                if o.side == side and a <= o.price <= b:
                    o.ahead = 0.0
            return
        if self._clear and side < 0:  # the levels a trade went through are gone
            while self._best_bid >= self._lo and self._best_bid > price:
                self._set_level(1, self._best_bid, 0)
        elif self._clear:
            while self._best_ask <= self._hi and self._best_ask < price:
                self._set_level(-1, self._best_ask, 0)
        for o in orders:
            if o.side != -side or o.left <= 0:
                continue
            through = price > o.price if side > 0 else price < o.price
            if through:
                self._fill(o, o.price, o.left, True, ts)
            elif price == o.price:
                o.traded += qty
                avail = float(qty) - o.ahead
                if avail > 0.0:
                    o.ahead = 0.0
                    x = min(o.left, math.floor(avail))
                    if x > 0:
                        self._fill(o, o.price, x, True, ts)
                else:
                    o.ahead = -avail

    def _apply_command(
        self, arrive: int, oid: int, price: int, qty: int, side: int, immediate: bool
    ) -> None:
        if side == 0:
            for o in self._orders:
                if o.id == oid:
                    left, o.left = o.left, 0
                    self._notify(NOTICE_CANCELED, o, o.price, left, arrive, False)
                    break
            return
        o = _Order(oid, price, qty, side, self._base + self._i)
        self._orders.append(o)
        lo, hi = self._lo, self._hi
        if side > 0:
            cross = self._best_ask <= hi and price >= self._best_ask
        else:
            cross = self._best_bid >= lo and price <= self._best_bid
        if cross:
            if self._post_only and not immediate:
                self.rejected += 1
                self._refused.append((arrive, side))
                left, o.left = o.left, 0
                self._notify(NOTICE_REJECTED, o, o.price, left, arrive, False)
                return
            if side > 0:
                p = self._best_ask
                while p <= min(price, hi) and o.left > 0:
                    q = self._asks[p - lo]
                    if q > 0:
                        self._fill(o, p, min(o.left, q), False, arrive)
                    p += 1
            else:
                p = self._best_bid
                while p >= max(price, lo) and o.left > 0:
                    q = self._bids[p - lo]
                    if q > 0:
                        self._fill(o, p, min(o.left, q), False, arrive)
                    p -= 1
        if immediate:  # it never rests: the rest is canceled where it arrived
            if o.left > 0:
                left, o.left = o.left, 0
                self._notify(NOTICE_CANCELED, o, o.price, left, arrive, False)
            return
        o.ahead = float(self.depth_at(side, price))

    def _remove_done(self) -> None:
        self._orders = [o for o in self._orders if o.left > 0]

    # --------------------------------------------------------------- commands
    def submit(self, order_id: int, side: int, price: int, qty: int) -> None:
        self._cmds.append((self.now + self._feed + self._lat, order_id, price, qty, side, False))

    def cancel(self, order_id: int) -> None:
        self._cmds.append((self.now + self._feed + self._lat, order_id, 0, 0, 0, False))

    def take(self, order_id: int, side: int, price: int, qty: int) -> None:
        """An immediate (IOC) order: takes the book up to ``price`` on arrival, never rests."""
        self._cmds.append((self.now + self._feed + self._lat, order_id, price, qty, side, True))

    def notices(self) -> list[tuple[int, ...]]:
        out: list[tuple[int, ...]] = []
        notes = self._notes
        k = 0
        while k < len(notes) and notes[k][0] <= self.now:
            out.append(notes[k][1:])
            k += 1
        del notes[:k]
        return out

    def seen(self) -> tuple[int, int, float]:
        """Position, cash and fees as the strategy knows them: reported fills only."""
        position, cash, fees = self.position, self.cash, self.fees
        for note in reversed(self._notes):  # made in time order with one lag
            if note[0] <= self.now:
                break
            if note[1] != NOTICE_FILL:
                continue
            _v, _k, _ts, _oid, side, price, qty, _left, maker = note
            position -= side * qty
            cash += side * qty * price
            fees -= (self._mf if maker else self._tf) * float(price) * float(qty)
        return position, cash, fees

    def step(self, budget: int) -> tuple[Any, ...]:
        reason = self.run(budget)
        now = self.now
        visible = sum(1 for x in self._notes if x[0] <= now)
        return (reason, now, *self.touch(), self.position, self.cash, self.fees, visible,
                *self.seen())  # fmt: skip

    def run(self, budget: int) -> int:
        ev, n = self._ev, len(self._ev)
        while True:
            if self._i >= n and self._refill is not None:  # a stream: the next chunk first
                self._next_chunk()
                ev, n = self._ev, len(self._ev)
                continue
            t_ev = ev[self._i][0] if self._i < n else _INF
            t_cmd = self._cmds[0][0] if self._cmds else _INF
            if self._wake and self._notes:  # only fills wake the strategy
                t_note = next((x[0] for x in self._notes if x[1] == NOTICE_FILL), _INF)
                if t_note <= t_ev and t_note <= t_cmd and t_note <= self._next:
                    self.now = max(self.now, t_note)
                    return RUN_NOTICE
            if t_cmd <= t_ev and t_cmd <= self._next:
                self._apply_command(*self._cmds.pop(0))
                self._remove_done()
                continue
            if self._i >= n:
                if n:
                    self.now = max(self.now, ev[-1][0])
                return RUN_END
            if self._next < t_ev:
                self.now = self._next
                self._next += self._step
                return RUN_DECISION
            if budget <= 0:
                return RUN_BUDGET
            budget -= 1
            self._apply_event(*ev[self._i])
            self._i += 1
            if self._orders:
                self._remove_done()
