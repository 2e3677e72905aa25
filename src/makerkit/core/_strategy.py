"""The strategy contract shared by the backtester, the RL environment and live trading.

A strategy never sends orders. It sees a ``StrategyContext`` (the book's
touch, features, its position and PnL, the time, an optional prediction) and
answers with a ``QuoteIntent``: the bid and ask it wants resting now. An order
manager turns intents into place/cancel commands with its own rules (minimum
quote life, tolerances), so the same class runs unchanged everywhere.
Prices are ticks, sizes lots.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol, runtime_checkable

import msgspec

__all__ = ["Predictor", "QuoteIntent", "Strategy", "StrategyContext"]


class QuoteIntent(msgspec.Struct, frozen=True, kw_only=True):
    """The quotes a strategy wants resting; a side with no price (or size 0) is not quoted."""

    bid_price: int | None = None
    bid_size: int = 0
    ask_price: int | None = None
    ask_size: int = 0

    @classmethod
    def none(cls) -> QuoteIntent:
        """Quote nothing (pull both sides)."""
        return cls()


class StrategyContext(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """What a strategy may look at when it decides."""

    # gc=False: not tracked by the cycle collector, cheaper to make at every decision. A
    # context holds numbers and the features mapping: it is in no cycle unless something
    # puts the context into its own ``features``.

    ts_ns: int
    best_bid: int | None  # ticks
    best_ask: int | None
    bid_size: int = 0
    ask_size: int = 0
    position: int = 0  # lots, + long
    pnl: float = 0.0  # ticks x lots, marked to mid
    features: Mapping[str, float] = msgspec.field(default_factory=dict)
    prediction: float | None = None  # e.g. expected mid change in ticks

    @property
    def mid(self) -> float | None:
        """Mid price in ticks, or None while a side is empty."""
        bid, ask = self.best_bid, self.best_ask
        if bid is None or ask is None:
            return None
        return (bid + ask) / 2


@runtime_checkable
class Strategy(Protocol):
    """A market maker: decides quotes from a context; told about its fills."""

    name: str

    def quote(self, ctx: StrategyContext) -> QuoteIntent:
        """The quotes wanted now."""
        ...

    def on_fill(self, side: int, price: int, qty: int, ctx: StrategyContext) -> None:
        """One of its orders traded (``side`` +1 bought, -1 sold)."""
        ...


@runtime_checkable
class Predictor(Protocol):
    """A short-term forecast the runners put in ``StrategyContext.prediction``.

    ``predict`` maps the current features to the expected mid change in ticks
    over ``horizon_s``; NaN means no opinion now (the context gets None).
    """

    @property
    def horizon_s(self) -> float:
        """How far ahead it looks, in seconds."""
        ...

    @property
    def features(self) -> Sequence[str]:
        """The feature names it reads."""
        ...

    def predict(self, features: Mapping[str, float]) -> float:
        """Expected mid change over the horizon, in ticks."""
        ...
