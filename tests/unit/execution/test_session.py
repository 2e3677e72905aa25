"""The trading session: targets to commands, fills to positions, a broken strategy pulled."""

from __future__ import annotations

from typing import Any

import pytest

from makerkit.core import (
    BookView,
    ConfigError,
    FillReport,
    Immediate,
    Ladder,
    Level,
    MarketContext,
    MarketMakerBase,
    Orders,
    QuoteIntent,
    StrategyContext,
    as_market_maker,
)
from makerkit.execution import OrderManager, TradingSession

BOOK = BookView(bids=(Level(99, 5), Level(98, 7)), asks=(Level(101, 4), Level(102, 9)))


class Gateway:
    """Takes every limit order (resting all of it) and fills every immediate order in full."""

    def __init__(self) -> None:
        self.sent: list[tuple[Any, ...]] = []
        self.session: TradingSession | None = None

    def place(self, symbol: str, oid: int, side: int, price: int, size: int, ts: int) -> None:
        self.sent.append(("place", symbol, oid, side, price, size))
        assert self.session is not None
        self.session.accepted(symbol, oid, side, price, size, ts)

    def cancel(self, symbol: str, oid: int, ts: int) -> None:
        self.sent.append(("cancel", symbol, oid))

    def take(self, symbol: str, oid: int, side: int, size: int, price: int | None, ts: int) -> None:
        self.sent.append(("take", symbol, oid, side, size, price))
        assert self.session is not None
        self.session.filled(symbol, oid, side, price or 100, size, False, ts)


class Ladder3(MarketMakerBase):
    symbols = ("X", "Y")
    depth = 2

    def __init__(self) -> None:
        self.seen: list[MarketContext] = []
        self.fills: list[FillReport] = []

    def decide(self, ctx: MarketContext) -> Orders:
        self.seen.append(ctx)
        bids = tuple(Level(99 - i, 1) for i in range(3))
        hedge = ()
        if ctx["X"].position > 0:
            hedge = (Immediate(symbol="Y", side=-1, size=ctx["X"].position),)
        return Orders(quotes={"X": Ladder(bids=bids)}, immediate=hedge)

    def on_fill(self, fill: FillReport, ctx: MarketContext) -> None:
        self.fills.append(fill)


def session_for(strategy: Any) -> tuple[TradingSession, Gateway]:
    gateway = Gateway()
    session = TradingSession(
        as_market_maker(strategy, "X"), gateway, manager=OrderManager(),
        book=lambda _s, depth: BookView(bids=BOOK.bids[:depth], asks=BOOK.asks[:depth]),
        fee=lambda _s, _p, qty, maker: (-0.1 if maker else 0.3) * qty,
    )  # fmt: skip
    gateway.session = session
    return session, gateway


def test_a_ladder_rests_its_rungs_and_a_fill_is_hedged_on_the_other_symbol() -> None:
    strategy = Ladder3()
    session, gateway = session_for(strategy)
    session.decide(1)
    assert [c[4] for c in gateway.sent] == [99, 98, 97]
    assert session.max_live_orders == {"bid": 3, "ask": 0} and session.orders_sent == 3
    ctx = strategy.seen[0]
    assert ctx["X"].book.bids == (Level(99, 5), Level(98, 7))  # depth 2
    # the best rung fills 1 lot passively: the position, the fee and the order's left move
    session.filled("X", 1, 1, 99, 1, True, 2)
    assert strategy.fills[0].maker and session.accounts["X"].position == 1
    assert session.accounts["X"].fees == pytest.approx(-0.1)
    session.closed("X", 1)
    gateway.sent.clear()
    session.decide(3)
    # the filled rung is placed again, and the position hedged with an immediate sell on Y
    assert gateway.sent == [("place", "X", 4, 1, 99, 1), ("take", "Y", 5, -1, 1, None)]
    assert session.accounts["Y"].position == -1
    view = strategy.seen[-1]["X"]
    assert view.position == 1 and {o.price for o in view.orders} == {98, 97}
    assert view.pnl == pytest.approx(-99 + 0.1 + 100)  # cash after the fee, marked to mid 100


class Raises(MarketMakerBase):
    symbols = ("X",)

    def __init__(self) -> None:
        self.calls = 0

    def decide(self, ctx: MarketContext) -> Orders:
        self.calls += 1
        if self.calls > 1:
            msg = "model lost"
            raise RuntimeError(msg)
        return Orders(quotes={"X": Ladder(bids=(Level(99, 1),), asks=(Level(101, 1),))})


def test_a_strategy_that_raises_is_stopped_and_its_quotes_pulled() -> None:
    session, gateway = session_for(Raises())
    session.decide(1)
    session.decide(2)
    assert session.stopped == "RuntimeError in Raises.decide: model lost"
    assert [c[0] for c in gateway.sent[-2:]] == ["cancel", "cancel"]
    assert session.live_orders("X") == []


class Wrong(MarketMakerBase):
    symbols = ("X",)

    def decide(self, ctx: MarketContext) -> Any:
        return Orders(quotes={"Z": Ladder(bids=(Level(1, 1),))})


def test_orders_for_a_symbol_it_does_not_trade_stop_it_with_the_reason() -> None:
    session, gateway = session_for(Wrong())
    session.decide(1)
    assert session.stopped is not None and "'Z'" in session.stopped and gateway.sent == []


class OneLevel:
    name = "one"

    def __init__(self) -> None:
        self.ctx: list[StrategyContext] = []

    def quote(self, ctx: StrategyContext) -> QuoteIntent:
        self.ctx.append(ctx)
        return QuoteIntent(bid_price=98, bid_size=2, ask_price=102, ask_size=2)

    def on_fill(self, side: int, price: int, qty: int, ctx: StrategyContext) -> None:
        msg = "bad fill"
        raise ValueError(msg)


def test_a_one_level_strategy_runs_unchanged_and_its_errors_name_its_method() -> None:
    strategy = OneLevel()
    session, gateway = session_for(strategy)
    session.decide(1)
    assert strategy.ctx[0].best_bid == 99 and strategy.ctx[0].ask_size == 4
    assert [c[4] for c in gateway.sent] == [98, 102]
    session.filled("X", 1, 1, 98, 2, True, 2)
    assert session.stopped == "ValueError in OneLevel.on_fill: bad fill"


def test_things_that_are_not_strategies_are_refused_clearly() -> None:
    with pytest.raises(ConfigError, match="is not a strategy"):
        as_market_maker(object(), "X")

    class NoSymbols(MarketMakerBase):
        symbols = ()

    with pytest.raises(ConfigError, match="invalid `symbols`"):
        as_market_maker(NoSymbols(), "X")
    with pytest.raises(ConfigError, match="invalid immediate order"):
        Immediate(symbol="X", side=2, size=1)
