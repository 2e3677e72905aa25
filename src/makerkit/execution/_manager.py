"""From target ladders to commands: when to leave an order alone, when to replace it.

Requoting on every tick burns queue position and message budget; the manager
keeps a resting order while it is within ``price_tolerance`` ticks and
``size_tolerance`` lots of a wanted rung, and never replaces one younger than
``min_quote_life_ns`` (pulling a side is always immediate: that is risk).

One side is planned at a time, rungs best price first:
1. each rung keeps the first resting order close to it;
2. a rung still unmatched keeps the first resting order too young to move;
3. the other resting orders are cancelled, then the unmatched rungs placed.
With one rung a side this is exactly the one-quote rule of ``plan``.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from makerkit.core import Level, OpenOrder, QuoteIntent
from makerkit.core.errors import ConfigError

__all__ = ["Cancel", "LiveQuote", "OrderManager", "Place"]


class LiveQuote(msgspec.Struct, frozen=True, kw_only=True):
    """One of our resting quotes as the manager tracks it."""

    order_id: int
    side: int
    price: int
    size: int
    placed_ns: int


class Place(msgspec.Struct, frozen=True, kw_only=True):
    """Place a limit order."""

    side: int
    price: int
    size: int


class Cancel(msgspec.Struct, frozen=True, kw_only=True):
    """Cancel a resting order."""

    order_id: int


class OrderManager(msgspec.Struct, kw_only=True):
    """Turns the intent into the fewest commands its rules allow."""

    min_quote_life_ns: int = 0
    price_tolerance: int = 0
    size_tolerance: int = 0
    max_order_size: int | None = None

    def __post_init__(self) -> None:
        for field in ("min_quote_life_ns", "price_tolerance", "size_tolerance"):
            if getattr(self, field) < 0:
                msg = f"invalid `{field}`, must be >= 0, was {getattr(self, field)}"
                raise ConfigError(msg)

    def plan(
        self, intent: QuoteIntent, live: dict[int, LiveQuote | None], now_ns: int
    ) -> list[Place | Cancel]:
        """Commands that move ``live`` (our quote per side, +1 bid / -1 ask) towards ``intent``."""
        out: list[Place | Cancel] = []
        for side, price, size in ((1, intent.bid_price, intent.bid_size),
                                  (-1, intent.ask_price, intent.ask_size)):  # fmt: skip
            out.extend(self.plan_one(side, price, size, live.get(side), now_ns))
        return out

    def plan_one(
        self,
        side: int,
        price: int | None,
        size: int,
        current: LiveQuote | OpenOrder | None,
        now_ns: int,
    ) -> list[Place | Cancel]:
        """``plan_side`` for at most one rung and one resting order (no sorting)."""
        cancel, place, size = self.step_one(price, size, current, now_ns)
        out: list[Place | Cancel] = [] if cancel is None else [Cancel(order_id=cancel)]
        if place is not None:
            out.append(Place(side=side, price=place, size=size))
        return out

    def step_one(
        self, price: int | None, size: int, current: LiveQuote | OpenOrder | None, now_ns: int
    ) -> tuple[int | None, int | None, int]:
        """``plan_one`` as plain values, for the backtesters' hot path.

        Returns (order id to cancel or None, price to place at or None, size to place).
        """
        if self.max_order_size is not None:
            size = min(size, self.max_order_size)
        if price is None or size <= 0:  # not wanted: pulling is never delayed
            return (None if current is None else current.order_id), None, 0
        if current is None:
            return None, price, size
        if (
            abs(current.price - price) <= self.price_tolerance
            and abs(current.size - size) <= self.size_tolerance
        ) or now_ns - current.placed_ns < self.min_quote_life_ns:
            return None, None, 0
        return current.order_id, price, size

    def plan_side(
        self,
        side: int,
        rungs: Sequence[Level],
        resting: Sequence[LiveQuote | OpenOrder],
        now_ns: int,
    ) -> list[Place | Cancel]:
        """Commands that move one side's ``resting`` orders towards the wanted ``rungs``."""
        wanted: dict[int, int] = {}
        for rung in rungs:  # one order per price
            if rung.size > 0:
                wanted[rung.price] = wanted.get(rung.price, 0) + rung.size
        cap = self.max_order_size
        targets = sorted(  # best first; a size capped to 0 is no rung
            ((p, s if cap is None else min(s, cap)) for p, s in wanted.items()
             if cap is None or cap > 0),
            key=lambda ps: -side * ps[0],
        )  # fmt: skip
        if len(resting) > 1:
            resting = sorted(resting, key=lambda o: -side * o.price)
        kept: set[int] = set()
        unmatched: list[tuple[int, int]] = []
        for price, size in targets:
            for order in resting:
                if order.order_id not in kept and (
                    abs(order.price - price) <= self.price_tolerance
                    and abs(order.size - size) <= self.size_tolerance
                ):
                    kept.add(order.order_id)
                    break
            else:
                unmatched.append((price, size))
        placing: list[tuple[int, int]] = []
        for price, size in unmatched:
            for order in resting:
                if order.order_id not in kept and now_ns - order.placed_ns < self.min_quote_life_ns:
                    kept.add(order.order_id)  # too young to move: it stands for this rung
                    break
            else:
                placing.append((price, size))
        out: list[Place | Cancel] = [
            Cancel(order_id=o.order_id) for o in resting if o.order_id not in kept
        ]
        out.extend(Place(side=side, price=p, size=s) for p, s in placing)
        return out
