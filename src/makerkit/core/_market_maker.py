"""Strategy API v2: market makers that quote ladders on several instruments and hedge.

A ``MarketMaker`` reads a ``MarketContext`` (per instrument: the top ``depth``
levels of its book, its own resting orders, position, PnL and fees; the time;
features and an optional prediction) and answers ``Orders``: per instrument a
``Ladder`` of (price, size) levels a side that it wants resting, plus
``Immediate`` orders (IOC or market) for hedging. It never sends or cancels
an order itself: the execution layer's order manager turns targets into the
fewest commands its rules allow, so the same class runs in the simulated
market, on recorded days and live. ``on_timer`` runs every ``timer_ms`` of
market time when the strategy asks for it.

The one-level ``Strategy``/``QuoteIntent`` contract stays: ``as_market_maker``
wraps such a strategy as a ``MarketMaker`` on one instrument, so the built-in
strategies run unchanged. Prices are ticks, sizes lots, sides +1 bid/buy and
-1 ask/sell.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import msgspec

from makerkit.core._strategy import QuoteIntent, Strategy, StrategyContext
from makerkit.core.errors import ConfigError

__all__ = [
    "BookView",
    "FillReport",
    "Immediate",
    "InstrumentView",
    "Ladder",
    "Level",
    "MarketContext",
    "MarketMaker",
    "MarketMakerBase",
    "OneLevelMaker",
    "OpenOrder",
    "Orders",
    "as_market_maker",
]


class Level(msgspec.Struct, frozen=True, array_like=True):
    """One price level: a book's (price, size), or a ladder rung the strategy wants."""

    price: int
    size: int


class BookView(msgspec.Struct, frozen=True, kw_only=True):
    """The top levels of one book, best first (as many as the strategy's ``depth``)."""

    bids: tuple[Level, ...] = ()
    asks: tuple[Level, ...] = ()

    @classmethod
    def from_columns(
        cls,
        bid_prices: Sequence[int],
        bid_sizes: Sequence[int],
        ask_prices: Sequence[int],
        ask_sizes: Sequence[int],
    ) -> BookView:
        """A view from price and size columns (what the engines' ``top`` answers)."""
        return cls(
            bids=tuple(Level(int(p), int(q)) for p, q in zip(bid_prices, bid_sizes, strict=True)),
            asks=tuple(Level(int(p), int(q)) for p, q in zip(ask_prices, ask_sizes, strict=True)),
        )

    @property
    def best_bid(self) -> int | None:
        """The best bid in ticks, or None while the side is empty."""
        return self.bids[0].price if self.bids else None

    @property
    def best_ask(self) -> int | None:
        """The best ask in ticks, or None while the side is empty."""
        return self.asks[0].price if self.asks else None

    @property
    def mid(self) -> float | None:
        """Mid price in ticks, or None while a side is empty."""
        if not self.bids or not self.asks:
            return None
        return (self.bids[0].price + self.asks[0].price) / 2


class OpenOrder(msgspec.Struct, frozen=True, kw_only=True):
    """One of the strategy's resting orders as the execution layer knows it.

    ``size`` is what rested when the venue took it (the order manager keeps a
    partly filled order that still matches a ladder rung: it is not topped
    up, so it keeps its place); ``left`` is what is still open.
    """

    order_id: int
    side: int
    price: int
    size: int
    left: int
    placed_ns: int


class InstrumentView(msgspec.Struct, frozen=True, kw_only=True):
    """Everything about one instrument the strategy trades."""

    book: BookView
    orders: tuple[OpenOrder, ...] = ()
    position: int = 0  # lots, + long, as the strategy's fill reports have told it
    pnl: float = 0.0  # ticks x lots, marked to mid, after fees
    fees: float = 0.0  # paid (negative: rebates earned)

    def resting(self, side: int) -> tuple[OpenOrder, ...]:
        """The resting orders of one side (+1 bids, -1 asks), best price first."""
        return tuple(sorted((o for o in self.orders if o.side == side),
                            key=lambda o: -side * o.price))  # fmt: skip


class MarketContext(msgspec.Struct, frozen=True, kw_only=True):
    """What a market maker may look at when it decides."""

    ts_ns: int
    instruments: Mapping[str, InstrumentView]
    features: Mapping[str, float] = msgspec.field(default_factory=dict)
    prediction: float | None = None  # e.g. expected mid change of the first instrument, ticks

    def __getitem__(self, symbol: str) -> InstrumentView:
        try:
            return self.instruments[symbol]
        except KeyError:
            msg = f"unknown symbol {symbol!r}: this market has {sorted(self.instruments)}"
            raise ConfigError(msg) from None


class Ladder(msgspec.Struct, frozen=True, kw_only=True):
    """The orders wanted resting on one instrument: rungs a side, any order of prices.

    An empty side is pulled. Two rungs at one price are one order of their summed size.
    """

    bids: tuple[Level, ...] = ()
    asks: tuple[Level, ...] = ()

    @classmethod
    def from_intent(cls, intent: QuoteIntent) -> Ladder:
        """The one-level ladder of a ``QuoteIntent``."""
        bids = (Level(intent.bid_price, intent.bid_size),) if intent.bid_price is not None else ()
        asks = (Level(intent.ask_price, intent.ask_size),) if intent.ask_price is not None else ()
        return cls(bids=bids, asks=asks)

    def side(self, side: int) -> tuple[Level, ...]:
        """The rungs of one side (+1 bids, -1 asks)."""
        return self.bids if side > 0 else self.asks


class Immediate(msgspec.Struct, frozen=True, kw_only=True):
    """An order that takes liquidity now and never rests: IOC at ``price``, or market.

    What does not fill at once is cancelled; a hedge never becomes a quote.
    """

    symbol: str
    side: int  # +1 buy, -1 sell
    size: int
    price: int | None = None  # None: market (takes whatever the book has)

    def __post_init__(self) -> None:
        if self.side not in (1, -1) or self.size <= 0:
            msg = f"invalid immediate order, side must be +1/-1 and size > 0, was {self!r}"
            raise ConfigError(msg)


class Orders(msgspec.Struct, frozen=True, kw_only=True):
    """A market maker's answer: target ladders per instrument, and immediate orders.

    An instrument missing from ``quotes`` keeps its resting orders as they
    are (a timer that only hedges says nothing about the quotes); pull an
    instrument with an empty ``Ladder()``.
    """

    quotes: Mapping[str, Ladder] = msgspec.field(default_factory=dict)
    immediate: tuple[Immediate, ...] = ()

    @classmethod
    def none(cls, symbols: Sequence[str]) -> Orders:
        """Pull every quote on ``symbols``."""
        return cls(quotes={s: Ladder() for s in symbols})


class FillReport(msgspec.Struct, frozen=True, kw_only=True):
    """One fill of the strategy's orders, as the report reached it."""

    symbol: str
    order_id: int
    side: int  # +1 bought, -1 sold
    price: int
    qty: int
    maker: bool  # a resting order was hit (False: an immediate or crossing order took)
    ts_ns: int


@runtime_checkable
class MarketMaker(Protocol):
    """A market maker on one or more instruments (v2 of ``Strategy``).

    ``symbols`` names the instruments it trades (the first is the one a
    single-instrument market binds to); ``depth`` how many levels of each book
    it reads; ``timer_ms`` how often ``on_timer`` runs (None: never).
    """

    name: str
    symbols: tuple[str, ...]
    depth: int
    timer_ms: float | None

    def decide(self, ctx: MarketContext) -> Orders:
        """The orders wanted now (called at every decision time)."""
        ...

    def on_fill(self, fill: FillReport, ctx: MarketContext) -> None:
        """One of its orders traded."""
        ...

    def on_timer(self, ctx: MarketContext) -> Orders | None:
        """Called every ``timer_ms``; None changes nothing."""
        ...


class MarketMakerBase:
    """A base class with the defaults: one instrument, the touch only, no timer.

    Subclass it and write ``decide``; set ``symbols``, ``depth`` and
    ``timer_ms`` as class attributes (or in ``__init__``) when the defaults
    do not fit.
    """

    name: str = ""
    symbols: tuple[str, ...] = ("SIM",)
    depth: int = 1
    timer_ms: float | None = None
    wants_features: bool = False  # the backtesters compute features only when asked

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not cls.__dict__.get("name"):
            cls.name = cls.__name__

    def decide(self, ctx: MarketContext) -> Orders:
        """The orders wanted now; the default pulls everything."""
        return Orders.none(self.symbols)

    def on_fill(self, fill: FillReport, ctx: MarketContext) -> None:
        """One of its orders traded; the default keeps nothing (the context has the position)."""

    def on_timer(self, ctx: MarketContext) -> Orders | None:
        """Called every ``timer_ms``; the default changes nothing."""
        return None


class OneLevelMaker:
    """A ``Strategy`` (one bid, one ask, one instrument) seen as a ``MarketMaker``."""

    depth = 1
    timer_ms: float | None = None

    def __init__(self, strategy: Strategy, symbol: str) -> None:
        self.inner = strategy
        self.name = getattr(strategy, "name", type(strategy).__name__)
        self.symbols: tuple[str, ...] = (symbol,)
        self.wants_features = getattr(strategy, "wants_features", True)

    def context(self, ctx: MarketContext) -> StrategyContext:
        """The one-level context of the instrument."""
        view = ctx.instruments[self.symbols[0]]
        bids, asks = view.book.bids, view.book.asks
        return StrategyContext(
            ts_ns=ctx.ts_ns,
            best_bid=bids[0].price if bids else None,
            best_ask=asks[0].price if asks else None,
            bid_size=bids[0].size if bids else 0,
            ask_size=asks[0].size if asks else 0,
            position=view.position,
            pnl=view.pnl,
            features=ctx.features,
            prediction=ctx.prediction,
        )

    def decide(self, ctx: MarketContext) -> Orders:
        intent = self.inner.quote(self.context(ctx))
        return Orders(quotes={self.symbols[0]: Ladder.from_intent(intent)})

    def on_fill(self, fill: FillReport, ctx: MarketContext) -> None:
        self.inner.on_fill(fill.side, fill.price, fill.qty, self.context(ctx))

    def on_timer(self, ctx: MarketContext) -> Orders | None:
        return None


def as_market_maker(strategy: Any, symbol: str) -> MarketMaker:
    """``strategy`` as a ``MarketMaker``: itself if it is one, else its one-level wrapper.

    ``symbol`` names the instrument a one-level strategy trades.
    """
    if callable(getattr(strategy, "decide", None)) and hasattr(strategy, "symbols"):
        symbols = tuple(strategy.symbols)
        if not symbols or not all(isinstance(s, str) and s for s in symbols):
            msg = f"invalid `symbols` of {type(strategy).__name__}, was {strategy.symbols!r}"
            raise ConfigError(msg)
        depth = getattr(strategy, "depth", 1)
        if not isinstance(depth, int) or depth < 1:
            name = type(strategy).__name__
            msg = f"invalid `depth` of {name}, must be an int >= 1, was {depth!r}"
            raise ConfigError(msg)
        timer = getattr(strategy, "timer_ms", None)
        if timer is not None and not timer > 0:
            msg = f"invalid `timer_ms` of {type(strategy).__name__}, must be > 0, was {timer!r}"
            raise ConfigError(msg)
        return strategy  # type: ignore[no-any-return]
    if callable(getattr(strategy, "quote", None)) and callable(getattr(strategy, "on_fill", None)):
        return OneLevelMaker(strategy, symbol)
    msg = (
        f"{type(strategy).__name__} is not a strategy: it needs quote(ctx) and on_fill(...) "
        "(makerkit.core.Strategy) or symbols, decide(ctx), on_fill(fill, ctx) and "
        "on_timer(ctx) (makerkit.core.MarketMaker)"
    )
    raise ConfigError(msg)
