"""From quote intents to commands: when to leave a quote alone, when to replace it.

Requoting on every tick burns queue position and message budget; the manager
keeps a resting quote while it is within ``price_tolerance`` ticks and
``size_tolerance`` lots of the intent, and never replaces one younger than
``min_quote_life_ns`` (pulling a side is always immediate: that is risk).
"""

from __future__ import annotations

import msgspec

from makerkit.core import QuoteIntent
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
            if self.max_order_size is not None:
                size = min(size, self.max_order_size)
            current = live.get(side)
            wanted = price is not None and size > 0
            if current is None:
                if wanted:
                    assert price is not None  # noqa: S101 - narrowed by `wanted`
                    out.append(Place(side=side, price=price, size=size))
                continue
            if not wanted:
                out.append(Cancel(order_id=current.order_id))  # pulling is never delayed
                continue
            assert price is not None  # noqa: S101 - narrowed by `wanted`
            close = (
                abs(current.price - price) <= self.price_tolerance
                and abs(current.size - size) <= self.size_tolerance
            )
            young = now_ns - current.placed_ns < self.min_quote_life_ns
            if close or young:
                continue
            out.append(Cancel(order_id=current.order_id))
            out.append(Place(side=side, price=price, size=size))
        return out
