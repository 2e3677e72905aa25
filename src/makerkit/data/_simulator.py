"""Order-flow simulator: a zero-intelligence market with informed flow.

The model (Cont, Stoikov and Talreja 2010, plus self-exciting market orders
and an informed component) is described in ``cpp/include/makerkit/simulator.hpp``.
``MarketSimulator`` runs it in C++ against the native engine (millions of
events per second, for research) or, with the same random numbers, in Python
against any book (the reference, and the live market driver). Both emit the
same ``OrderStream``; replaying it through either engine gives the same fills.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from itertools import pairwise
from typing import Any, Protocol, cast

import msgspec
import numpy as np
import numpy.typing as npt

from makerkit.book import make_book, resolve_backend
from makerkit.core import OrderType, TimeInForce
from makerkit.core.errors import ConfigError
from makerkit.data._synthetic import OrderStream

__all__ = ["MarketSimulator", "SimParams", "SimRun", "simulate"]

I64 = npt.NDArray[np.int64]
_NEVER = (1 << 63) - 1  # no time / id limit
_MASK = (1 << 64) - 1


class SimParams(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Rates per second and size tables of the simulated market (prices in ticks).

    ``limit_rate[d]``: limit orders per side d ticks behind their own side's
    best quote (0 joins it); ``improve_rate[s - 1]``: per side at a spread of
    s ticks (the last entry for wider or one-sided books), inside the spread,
    improving the best by 1, 2, ... ticks with cumulative weights
    ``improve_cdf`` (never crossing). ``cancel_rate[d]``: cancellations per resting order at d ticks
    from its own side's best (the last entry for anything deeper).
    ``market_rate`` (both sides) plus a Hawkes excitation (``hawkes_alpha`` per
    market order, decaying at ``hawkes_beta``/s). ``value_rate``: one-tick moves
    of the fundamental value; ``informed``: how strongly market orders trade
    towards it. Size tables: lots with cumulative weights.

    Off by default (the original model): ``improve_ratio``, equally likely
    ratios new spread / old spread where an improving order lands (instead of
    ``improve_cdf`` ticks better); ``market_rate_by_spread`` and
    ``touch_cancel_by_spread``, the market orders' base rate and the
    cancellation rate at the touch by spread (entry s - 1 at s ticks, the last
    for wider or one-sided books) instead of ``market_rate`` and
    ``cancel_rate[0]``; ``market_within_touch``, the probability that a
    market order takes at most what rests at the opposite best (the others
    walk the book); ``activity_profile``, a multiplier of the business
    clock's speed for each ``profile_step`` seconds since ``start_ns`` (1
    beyond its end: the day's intraday shape); and ``activity_sigma`` > 0, a
    business clock
    for every rate whose log speed is autoregressive (``activity_tau`` seconds
    of mean reversion, a step every ``activity_step`` business seconds): busy
    and quiet spells, so returns cluster in volatility. ``price_profile``: the
    price scale for each ``profile_step`` seconds (1 beyond its end): at scale
    k every distance the flow chooses (behind the best, an improvement, a step
    of the value) is k times as many ticks and every table by distance or by
    spread is read at ticks / k, so a market at k = 3 is the same market on a
    grid three times as coarse (the wide, jumpy opening of a day).
    """

    limit_rate: tuple[float, ...]
    cancel_rate: tuple[float, ...]
    market_rate: float
    hawkes_alpha: float = 0.0
    hawkes_beta: float = 1.0
    value_rate: float = 0.0
    informed: float = 0.0
    limit_sizes: tuple[int, ...] = (1,)
    limit_size_cdf: tuple[float, ...] = (1.0,)
    market_sizes: tuple[int, ...] = (1,)
    market_size_cdf: tuple[float, ...] = (1.0,)
    improve_rate: tuple[float, ...] = (0.0,)
    improve_cdf: tuple[float, ...] = (1.0,)
    start_price: int = 10_000
    start_ns: int = 34_200_000_000_000
    improve_ratio: tuple[float, ...] = ()
    market_rate_by_spread: tuple[float, ...] = ()
    touch_cancel_by_spread: tuple[float, ...] = ()
    market_within_touch: float = 0.0
    activity_sigma: float = 0.0
    activity_tau: float = 600.0
    activity_step: float = 1.0
    profile_step: float = 300.0
    activity_profile: tuple[float, ...] = ()
    price_profile: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        def fail(what: str) -> None:
            msg = f"invalid {what}"
            raise ConfigError(msg)

        if not self.limit_rate or not self.cancel_rate:
            fail("`limit_rate` / `cancel_rate`, must list at least one distance")
        rates = ("limit_rate", "cancel_rate", "market_rate_by_spread", "touch_cancel_by_spread")
        for name in rates:
            if any(not (math.isfinite(r) and r >= 0) for r in getattr(self, name)):
                fail(f"`{name}`, rates must be finite and >= 0")
        if not self.improve_cdf or any(b < a for a, b in pairwise(self.improve_cdf)):
            fail("`improve_cdf`, must be non-empty and cumulative")
        if not self.improve_cdf[-1] > 0:
            fail("`improve_cdf`, total weight must be > 0")
        if not self.improve_rate or any(
            not (math.isfinite(r) and r >= 0) for r in self.improve_rate
        ):
            fail("`improve_rate`, must list finite rates >= 0 by spread")
        for name in ("market_rate", "hawkes_alpha", "value_rate", "informed"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                fail(f"`{name}`, must be finite and >= 0, was {value}")
        if not (math.isfinite(self.hawkes_beta) and self.hawkes_beta > 0):
            fail(f"`hawkes_beta`, must be > 0, was {self.hawkes_beta}")
        if self.hawkes_alpha >= self.hawkes_beta:
            fail("`hawkes_alpha`, must be below `hawkes_beta` (else market orders explode)")
        for sizes, cdf, name in (
            (self.limit_sizes, self.limit_size_cdf, "limit_sizes"),
            (self.market_sizes, self.market_size_cdf, "market_sizes"),
        ):
            if not sizes or len(sizes) != len(cdf):
                fail(f"`{name}`, must be non-empty with one cumulative weight per size")
            if any(s <= 0 for s in sizes) or any(b < a for a, b in pairwise(cdf)):
                fail(f"`{name}`, sizes must be > 0 and weights cumulative")
            if not cdf[-1] > 0:
                fail(f"`{name}`, total weight must be > 0")
        if self.start_price < 2:
            fail(f"`start_price`, must be >= 2 ticks, was {self.start_price}")
        if any(not 0.0 <= r <= 1.0 for r in self.improve_ratio):
            fail(f"`improve_ratio`, ratios must be in [0, 1], was {self.improve_ratio}")
        if not 0.0 <= self.market_within_touch <= 1.0:
            fail(f"`market_within_touch`, must be in [0, 1], was {self.market_within_touch}")
        if not (math.isfinite(self.activity_sigma) and self.activity_sigma >= 0):
            fail(f"`activity_sigma`, must be finite and >= 0, was {self.activity_sigma}")
        if any(not (math.isfinite(r) and r > 0) for r in self.activity_profile):
            fail(f"`activity_profile`, must be finite and > 0, was {self.activity_profile}")
        if any(not (math.isfinite(k) and k > 0) for k in self.price_profile):
            fail(f"`price_profile`, must be finite and > 0, was {self.price_profile}")
        for name in ("activity_tau", "activity_step", "profile_step"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                fail(f"`{name}`, must be finite and > 0, was {value}")

    @classmethod
    def default(cls, *, start_price: int = 10_000, informed: float = 1.0) -> SimParams:
        """A market shaped like a calibrated large-tick stock: a few ticks wide, mildly informed."""
        k = 20
        return cls(
            limit_rate=tuple(round(0.6 * 0.85**d, 6) for d in range(k)),
            cancel_rate=tuple(round(0.12 + 0.04 * min(d, 5) / 5, 6) for d in range(k)),
            market_rate=0.4,
            hawkes_alpha=0.8,
            hawkes_beta=2.0,
            value_rate=1.0,
            informed=informed,
            limit_sizes=(1, 2, 3, 5, 10),
            limit_size_cdf=(0.35, 0.6, 0.75, 0.92, 1.0),
            market_sizes=(1, 2, 3, 5, 8),
            market_size_cdf=(0.4, 0.65, 0.8, 0.93, 1.0),
            improve_rate=(0.0, 0.08, 0.15, 0.25, 0.35, 0.5),
            improve_cdf=(0.6, 0.85, 1.0),
            start_price=start_price,
        )


class SimRun(msgspec.Struct, frozen=True, kw_only=True):
    """What one run emitted: the commands, the L1 after each, and counters."""

    stream: OrderStream
    l1: I64  # n x 4: bid, bid size, ask, ask size (0 where a side is empty)
    fills: int
    volume: int
    rejected: int
    proposals: int
    seconds: float  # simulated time at the end of the run

    def __len__(self) -> int:
        return len(self.stream)


class _Book(Protocol):
    def submit(
        self, order_id: int, side: int, price: int, qty: int, *, order_type: Any = ...,
        tif: Any = ..., account: int = ..., stp: Any = ..., ts: int = ...,
    ) -> Any: ...  # fmt: skip
    def cancel(self, order_id: int, *, ts: int = 0) -> Any: ...
    def remaining(self, order_id: int) -> int: ...
    def best_bid(self) -> tuple[int, int] | None: ...
    def best_ask(self) -> tuple[int, int] | None: ...
    def order(self, order_id: int) -> Any: ...


class _PySim:
    """The C++ algorithm, draw for draw, over any book with the engine contract."""

    def __init__(self, book: _Book, p: SimParams, seed: int) -> None:
        self.book = book
        self.p = p
        self.state = seed & _MASK
        acc, cdf = 0.0, []
        for r in p.limit_rate:
            acc += r
            cdf.append(acc)
        self.limit_cdf = cdf
        self.limit_total = acc
        self.theta_max = max(p.cancel_rate + p.touch_cancel_by_spread)
        self.value = p.start_price
        self.excitation = 0.0
        self.t = 0.0
        self.next_id = 1
        self.seeded = False
        self.live: list[int] = []
        self.pos: dict[int, int] = {}
        self.rows: list[tuple[int, int, int, int, int, int]] = []
        self.l1: list[tuple[int, int, int, int]] = []
        self.counts = {"fills": 0, "volume": 0, "rejected": 0, "proposals": 0}
        self.record = True
        self.emitted = 0
        self.watch_from = _NEVER
        self.stop = False
        self.tau = 0.0  # business time (equal to t without activity)
        self.activity = 1.0
        self.act_x = self.act_phi = self.act_shock = self.next_act = 0.0
        if p.activity_sigma > 0.0:
            sigma = p.activity_sigma
            self.act_phi = math.exp(-p.activity_step / p.activity_tau)
            self.act_shock = sigma * math.sqrt(1.0 - self.act_phi * self.act_phi) * math.sqrt(12.0)
            self.act_x = sigma * math.sqrt(12.0) * (self.uniform() - 0.5)  # a stationary start
            self.activity = math.exp(self.act_x + 0.5 * sigma * sigma)
            self.next_act = p.activity_step

    def _profile_at(self, table: tuple[float, ...]) -> float:
        """``table``'s entry for the current time (1 when empty or past its end)."""
        if not table:
            return 1.0
        k = int(self.t / self.p.profile_step)
        return table[k] if k < len(table) else 1.0

    def profile_speed(self) -> float:
        return self._profile_at(self.p.activity_profile)

    def price_scale(self) -> float:
        return self._profile_at(self.p.price_profile)

    @staticmethod
    def scaled(ticks: int, scale: float) -> int:
        """``ticks`` read on a grid ``scale`` times as coarse (0 stays 0, else >= 1)."""
        return 0 if ticks <= 0 else max(math.floor(ticks / scale + 0.5), 1)

    def advance_clock(self, dt: float) -> None:
        p = self.p
        if not p.activity_sigma > 0.0 and not p.activity_profile:
            self.t += dt
            return
        self.tau += dt
        self.t += dt / (self.activity * self.profile_speed())
        while p.activity_sigma > 0.0 and self.tau >= self.next_act:
            # uniform shocks of the stationary variance; exp(x + sigma^2 / 2) keeps E[1 / A] = 1
            self.act_x = self.act_x * self.act_phi + self.act_shock * (self.uniform() - 0.5)
            self.activity = math.exp(self.act_x + 0.5 * p.activity_sigma * p.activity_sigma)
            self.next_act += p.activity_step

    def uniform(self) -> float:
        self.state = z = (self.state + 0x9E3779B97F4A7C15) & _MASK
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
        return ((z ^ (z >> 31)) >> 11) * 2.0**-53

    @staticmethod
    def pick(cdf: list[float] | tuple[float, ...], u: float) -> int:
        return min(bisect_right(cdf, u * cdf[-1]), len(cdf) - 1)

    def now_ns(self) -> int:
        return self.p.start_ns + int(self.t * 1e9)

    def run(
        self, events: int, record: bool, until_ns: int = _NEVER, watch_from: int = _NEVER
    ) -> None:
        p = self.p
        self.record, self.emitted = record, 0
        self.watch_from, self.stop = watch_from, False
        self.seed_book(events)
        k_levels = len(p.cancel_rate)
        uniform = self.uniform
        while self.emitted < events and not self.stop and self.now_ns() < until_ns:
            scale = self.price_scale()
            raw = self.spread_now()
            spread = self.scaled(raw, scale)
            base = (
                self.by_spread(p.market_rate_by_spread, spread)
                if p.market_rate_by_spread
                else p.market_rate
            )
            mu = base + self.excitation
            cancel_total = self.theta_max * len(self.live)
            improve = 0.0 if raw == 1 else self.by_spread(p.improve_rate, spread)
            side_rate = self.limit_total + improve
            total = 2.0 * side_rate + cancel_total + mu + p.value_rate
            if not total > 0.0:
                break
            dt = -math.log1p(-uniform()) / total
            self.advance_clock(dt)
            self.excitation *= math.exp(-p.hawkes_beta * dt)
            self.counts["proposals"] += 1
            x = uniform() * total
            if x < 2.0 * side_rate:
                self.add_limit(1 if x < side_rate else -1, improve, scale)
                continue
            x -= 2.0 * side_rate
            if x < cancel_total:
                k = min(int(uniform() * len(self.live)), len(self.live) - 1)
                oid = self.live[k]
                o = self.book.order(oid)
                if o is None:  # filled by someone else (a shared, live book)
                    self.forget(oid)
                    continue
                side, price = int(o.side), o.price
                best = (self.book.best_bid() if side == 1 else self.book.best_ask()) or (0, 0)
                d = best[0] - price if side == 1 else price - best[0]
                bucket = min(self.scaled(d, scale), k_levels - 1)
                rate = (
                    self.by_spread(p.touch_cancel_by_spread, spread)
                    if bucket == 0 and p.touch_cancel_by_spread
                    else p.cancel_rate[bucket]
                )
                if uniform() * self.theta_max < rate:
                    self.book.cancel(oid, ts=self.now_ns())
                    self.forget(oid)
                    self.emit(1, oid, side, 0, 0)
                continue
            x -= cancel_total
            if x < mu:
                if uniform() * mu < base + self.excitation:
                    self.market_order(scale)
                continue
            step = max(math.floor(scale + 0.5), 1)
            self.value = max(self.value + (step if uniform() < 0.5 else -step), 2)

    def draw(self, sizes: tuple[int, ...], cdf: tuple[float, ...]) -> int:
        return sizes[self.pick(cdf, self.uniform())]

    def seed_book(self, events: int) -> None:
        if self.seeded:
            return
        self.seeded = True
        p = self.p
        for j in range(len(p.cancel_rate)):
            if self.emitted >= events:
                break
            self.place(1, max(1, self.value - 1 - j), self.draw(p.limit_sizes, p.limit_size_cdf))
            self.place(-1, self.value + 1 + j, self.draw(p.limit_sizes, p.limit_size_cdf))

    def spread_now(self) -> int:
        """The spread in ticks, 0 when a side is empty."""
        bid, ask = self.book.best_bid(), self.book.best_ask()
        return 0 if bid is None or ask is None else ask[0] - bid[0]

    @staticmethod
    def by_spread(table: tuple[float, ...], spread: int) -> float:
        return table[-1] if spread <= 0 else table[min(spread - 1, len(table) - 1)]

    def add_limit(self, side: int, improve: float, scale: float = 1.0) -> None:
        bid, ask = self.book.best_bid(), self.book.best_ask()
        value = self.value
        if side == 1:
            own = bid[0] if bid else (min(ask[0] - 1, value - 1) if ask else value - 1)
        else:
            own = ask[0] if ask else (max(bid[0] + 1, value + 1) if bid else value + 1)
        if self.uniform() * (self.limit_total + improve) < improve:
            u = self.uniform()
            ratios = self.p.improve_ratio
            if ratios and bid and ask:
                # land where the new spread is r times the old one (>= 1 tick, >= 1 better)
                spread = ask[0] - bid[0]
                r = ratios[min(int(u * len(ratios)), len(ratios) - 1)]
                j = spread - min(max(math.floor(r * spread + 0.5), 1), spread - 1)
            else:
                j = max(math.floor((self.pick(self.p.improve_cdf, u) + 1) * scale + 0.5), 1)
            if side == 1 and ask:
                j = min(j, ask[0] - 1 - own)
            if side == -1 and bid:
                j = min(j, own - bid[0] - 1)
            price = own + side * max(j, 0)
        else:
            price = own - side * math.floor(self.pick(self.limit_cdf, self.uniform()) * scale + 0.5)
        price = max(price, 1)
        if (side == 1 and ask and price >= ask[0]) or (side == -1 and bid and price <= bid[0]):
            return
        self.place(side, price, self.draw(self.p.limit_sizes, self.p.limit_size_cdf))

    def place(self, side: int, price: int, qty: int) -> None:
        oid = self.next_id
        self.next_id += 1
        res = self.book.submit(oid, side, price, qty, ts=self.now_ns())
        if res.reason:
            self.counts["rejected"] += 1
        elif self.book.remaining(oid) > 0:
            self.remember(oid)
        self.collect(res.fills)
        self.emit(0, oid, side, price, qty)

    def market_order(self, scale: float = 1.0) -> None:
        p = self.p
        bid, ask = self.book.best_bid(), self.book.best_ask()
        gap = self.value - (bid[0] + ask[0]) / 2.0 if bid is not None and ask is not None else 0.0
        gap /= scale  # in ticks of the scaled grid
        arg = -p.informed * gap
        p_buy = 0.0 if arg > 700 else 1.0 / (1.0 + math.exp(arg))
        side = 1 if self.uniform() < p_buy else -1
        qty = self.draw(p.market_sizes, p.market_size_cdf)
        if p.market_within_touch > 0.0 and self.uniform() < p.market_within_touch:
            touch = ask if side == 1 else bid  # take at most what rests at the opposite best
            if touch is not None:
                qty = min(qty, touch[1])
        oid = self.next_id
        self.next_id += 1
        res = self.book.submit(
            oid, side, 0, qty, order_type=OrderType.MARKET, tif=TimeInForce.GTC, ts=self.now_ns()
        )
        if res.reason:
            self.counts["rejected"] += 1
        self.collect(res.fills)
        self.excitation += p.hawkes_alpha
        self.emit(3, oid, side, 0, qty)

    def collect(self, fills: Any) -> None:
        for f in fills:
            self.counts["fills"] += 1
            self.counts["volume"] += f.qty
            if f.maker_order_id >= self.watch_from:
                self.stop = True
            if self.book.remaining(f.maker_order_id) == 0:
                self.forget(f.maker_order_id)

    def remember(self, oid: int) -> None:
        self.pos[oid] = len(self.live)
        self.live.append(oid)

    def forget(self, oid: int) -> None:
        k = self.pos.pop(oid, None)
        if k is None:
            return
        last = self.live.pop()
        if last != oid:
            self.live[k] = last
            self.pos[last] = k

    def emit(self, action: int, oid: int, side: int, price: int, qty: int) -> None:
        self.emitted += 1
        if not self.record:
            return
        self.rows.append((action, oid, side, price, qty, self.now_ns()))
        bid, ask = self.book.best_bid() or (0, 0), self.book.best_ask() or (0, 0)
        self.l1.append((bid[0], bid[1], ask[0], ask[1]))


class MarketSimulator:
    """A simulated market on its own book; ``run`` emits more of it, chunk by chunk.

    ``backend``: ``native`` (C++ loop, the default when built) or ``python``
    (the same draws in Python); ``engine`` is its old name. ``value`` is the
    fundamental price in ticks: set it to anchor the flow on a real quote.
    """

    def __init__(
        self, params: SimParams, *, seed: int = 7, backend: str | None = None,
        engine: str | None = None,
    ) -> None:  # fmt: skip
        if engine is not None and backend is not None and engine != backend:
            msg = f"`engine` is the old name of `backend`: give one, not {engine!r} and {backend!r}"
            raise ConfigError(msg)
        engine = resolve_backend(backend or engine or "auto")
        if engine not in ("native", "python"):
            msg = f"invalid `backend`, must be native or python, was {engine!r}"
            raise ConfigError(msg)
        self.params = params
        self.engine = engine
        self.book = make_book(engine, fill_history=0)
        self._py: _PySim | None = None
        self._native: Any = None
        if engine == "native":
            from makerkit import _native

            p = params
            engine_handle = cast(Any, self.book).engine  # the C++ engine under the native book
            self._native = _native.Simulator(
                engine_handle, list(p.limit_rate), list(p.cancel_rate), p.market_rate,
                p.hawkes_alpha, p.hawkes_beta, p.value_rate, p.informed, list(p.limit_sizes),
                list(p.limit_size_cdf), list(p.market_sizes), list(p.market_size_cdf),
                list(p.improve_rate), list(p.improve_cdf), p.start_price, p.start_ns,
                list(p.improve_ratio), list(p.market_rate_by_spread),
                list(p.touch_cancel_by_spread), p.market_within_touch, p.activity_sigma,
                p.activity_tau, p.activity_step, p.profile_step, list(p.activity_profile),
                list(p.price_profile), seed & _MASK,
            )  # fmt: skip
        else:
            self._py = _PySim(self.book, params, seed)

    @classmethod
    def on_book(cls, book: Any, params: SimParams, *, seed: int = 7) -> MarketSimulator:
        """The Python algorithm driving ``book`` (a live venue's port, say).

        ``book`` needs the engine's contract: submit, cancel, remaining, order,
        best_bid and best_ask.
        """
        sim = cls.__new__(cls)
        sim.params, sim.engine, sim.book = params, "python", book
        sim._native = None
        sim._py = _PySim(book, params, seed)
        return sim

    @property
    def value(self) -> int:
        """The fundamental value in ticks."""
        return int(self._native.value) if self._native is not None else self._sim().value

    @value.setter
    def value(self, ticks: int) -> None:
        if self._native is not None:
            self._native.value = ticks
        else:
            self._sim().value = max(int(ticks), 2)

    @property
    def seconds(self) -> float:
        """Simulated seconds so far."""
        return float(self._native.seconds) if self._native is not None else self._sim().t

    def _sim(self) -> _PySim:
        assert self._py is not None  # noqa: S101 - python engine only
        return self._py

    def advance(self, events: int, *, until_ns: int | None = None,
                watch_from: int | None = None) -> int:  # fmt: skip
        """Emit up to ``events`` unrecorded commands; return how many were emitted.

        It stops early once the clock reaches ``until_ns`` or after a command
        fills an order with id >= ``watch_from``. This is how a backtester shares the book:
        it wakes at its decision times and when its own orders trade.
        """
        until = _NEVER if until_ns is None else until_ns
        watch = _NEVER if watch_from is None else watch_from
        if self._native is not None:
            return int(self._native.run(events, False, until, watch)["emitted"])
        sim = self._sim()
        sim.run(events, False, until, watch)
        return sim.emitted

    def run(self, events: int, *, record: bool = True, until_ns: int | None = None) -> SimRun:
        """Emit ``events`` more commands (``record=False``: counters only, fastest).

        With ``until_ns`` it stops early once the clock reaches that time.
        """
        if events < 0:
            msg = f"invalid `events`, must be >= 0, was {events}"
            raise ConfigError(msg)
        until = _NEVER if until_ns is None else until_ns
        cols = np.zeros((6, 0), dtype=np.int64)  # action, order_id, side, price, qty, ts
        l1 = np.zeros((0, 4), dtype=np.int64)
        if self._native is not None:
            out = self._native.run(events, record, until)
            if record and out["l1"].shape[0]:
                cols, l1 = out["columns"], out["l1"]
            counts = {k: int(out[k]) for k in ("fills", "volume", "rejected", "proposals")}
        else:
            sim = self._sim()
            sim.rows, sim.l1 = [], []
            sim.counts = dict.fromkeys(sim.counts, 0)
            sim.run(events, record, until)
            if sim.rows:
                cols = np.ascontiguousarray(np.asarray(sim.rows, dtype=np.int64).T)
                l1 = np.asarray(sim.l1, dtype=np.int64).reshape(-1, 4)
            counts = dict(sim.counts)
        stream = OrderStream(
            action=cols[0], order_id=cols[1], side=cols[2], price=cols[3], qty=cols[4],
            tif=np.zeros(cols.shape[1], dtype=np.int64), ts=cols[5],
        )  # fmt: skip
        return SimRun(stream=stream, l1=l1, seconds=self.seconds, **counts)


def simulate(
    params: SimParams | None = None,
    events: int = 100_000,
    *,
    seed: int = 7,
    backend: str | None = None,
    engine: str | None = None,
) -> SimRun:
    """Run a fresh simulated market for ``events`` commands (deterministic per seed)."""
    sim = MarketSimulator(params or SimParams.default(), seed=seed, backend=backend, engine=engine)
    return sim.run(events)
