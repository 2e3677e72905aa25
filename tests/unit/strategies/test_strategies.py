"""Strategies against their formulas, the order manager's rules, the intensity fit."""

from __future__ import annotations

import math

import msgspec
import numpy as np
import pytest

from makerkit.core import ConfigError, DataError, QuoteIntent, Strategy, StrategyContext
from makerkit.strategies import (
    GLFT,
    STRATEGIES,
    AdaptiveSpread,
    AvellanedaStoikov,
    Cancel,
    InventorySkew,
    LiveQuote,
    OrderManager,
    Place,
    Symmetric,
    fit_intensity,
    make_strategy,
)


def ctx(
    position: int = 0, bid: int | None = 999, ask: int | None = 1001, **features: float
) -> StrategyContext:
    return StrategyContext(
        ts_ns=0, best_bid=bid, best_ask=ask, position=position, features=features
    )


def test_every_strategy_meets_the_protocol_and_pulls_without_a_mid() -> None:
    for name, cls in STRATEGIES.items():
        strategy = cls()
        assert isinstance(strategy, Strategy) and strategy.name == name
        assert strategy.quote(ctx(ask=None)) == QuoteIntent.none()


def test_symmetric_and_skew() -> None:
    assert Symmetric(half_spread=2.5, size=3).quote(ctx()) == QuoteIntent(
        bid_price=997, bid_size=3, ask_price=1003, ask_size=3
    )  # 1000 -/+ 2.5, rounded away from the mid
    skew = InventorySkew(half_spread=2, phi=0.5)
    assert skew.quote(ctx(position=0)).bid_price == 998
    long = skew.quote(ctx(position=3))  # centre 1000 - 2 * 0.5 * 3 = 997
    assert (long.bid_price, long.ask_price) == (995, 999)
    capped = InventorySkew(half_spread=2, max_position=3).quote(ctx(position=3))
    assert capped.bid_price is None and capped.ask_price is not None  # no room to buy


def test_adaptive_spread_widens_with_volatility() -> None:
    s = AdaptiveSpread(base_half_spread=1, vol_mult=2)
    calm, busy = s.quote(ctx(ewma_vol=0.0)), s.quote(ctx(ewma_vol=0.002))  # 2 ticks of vol at 1000
    assert (calm.bid_price, calm.ask_price) == (999, 1001)
    assert (busy.bid_price, busy.ask_price) == (995, 1005)  # 1 + 2 x 2 = 5


def test_avellaneda_stoikov_formula() -> None:
    s = AvellanedaStoikov(gamma=0.1, k=1.5, sigma=1.0, horizon_s=10)
    d = 0.1 * 10 + 20 * math.log(1 + 0.1 / 1.5)  # total spread
    flat = s.quote(ctx())
    assert (flat.bid_price, flat.ask_price) == (math.floor(1000 - d / 2), math.ceil(1000 + d / 2))
    long = s.quote(ctx(position=2))  # reservation 1000 - 2 x 0.1 x 10 = 998
    assert (long.bid_price, long.ask_price) == (math.floor(998 - d / 2), math.ceil(998 + d / 2))


def test_glft_closed_form() -> None:
    s = GLFT(gamma=0.1, A=2.0, k=1.5, sigma=1.0)
    c1, c2 = s.coefficients()
    assert c1 == pytest.approx(math.log(1 + 0.1 / 1.5) / 0.1)
    assert c2 == pytest.approx(math.sqrt(0.1 / (2 * 2 * 1.5) * (1 + 0.1 / 1.5) ** (1 + 15)))
    flat = s.quote(ctx())
    assert (flat.bid_price, flat.ask_price) == (
        math.floor(1000 - c1 - c2 / 2),
        math.ceil(1000 + c1 + c2 / 2),
    )
    long = s.quote(ctx(position=4))  # bid deeper, ask closer: it wants to sell
    assert long.bid_price == math.floor(1000 - c1 - 4.5 * c2)
    assert long.ask_price == math.ceil(1000 + c1 - 3.5 * c2)


def test_make_strategy_lists_what_is_valid() -> None:
    assert make_strategy("glft", gamma=0.2, size=2).gamma == 0.2
    with pytest.raises(ConfigError, match=r"must be one of \['adaptive_spread'"):
        make_strategy("martingale")
    with pytest.raises(ConfigError, match=r"valid:.*half_spread"):
        make_strategy("symmetric", spread=3)
    with pytest.raises(ConfigError, match="must be >= 0"):
        make_strategy("symmetric", half_spread=-1)


def test_order_manager_rules() -> None:
    om = OrderManager(min_quote_life_ns=100, price_tolerance=1, size_tolerance=0)
    intent = QuoteIntent(bid_price=99, bid_size=2, ask_price=101, ask_size=2)
    assert om.plan(intent, {}, 0) == [
        Place(side=1, price=99, size=2),
        Place(side=-1, price=101, size=2),
    ]
    live = {1: LiveQuote(order_id=1, side=1, price=99, size=2, placed_ns=0),
            -1: LiveQuote(order_id=2, side=-1, price=103, size=2, placed_ns=0)}  # fmt: skip
    assert om.plan(intent, live, 50) == []  # the ask is off, but too young to replace
    assert om.plan(intent, live, 100) == [Cancel(order_id=2), Place(side=-1, price=101, size=2)]
    nudge = QuoteIntent(bid_price=100, bid_size=2, ask_price=103, ask_size=2)
    assert om.plan(nudge, live, 500) == []  # within one tick: keep the queue position
    assert om.plan(QuoteIntent.none(), live, 1) == [Cancel(order_id=1), Cancel(order_id=2)]
    capped = OrderManager(max_order_size=1).plan(intent, {}, 0)
    assert all(isinstance(c, Place) and c.size == 1 for c in capped)
    with pytest.raises(ConfigError, match="min_quote_life_ns"):
        OrderManager(min_quote_life_ns=-1)


def test_intensity_fit_recovers_a_and_k() -> None:
    rng = np.random.default_rng(3)
    a_true, k_true, seconds = 3.0, 0.8, 20_000.0
    # depths reached, P(depth >= d) = exp(-k d): exponential with rate k, floored to ticks
    n = rng.poisson(2 * a_true * seconds)
    depths = np.floor(rng.exponential(1 / k_true, size=n))
    a, k = fit_intensity(depths, seconds)
    # flooring to whole ticks keeps the slope and rescales A by exp(k) at most
    assert k == pytest.approx(k_true, rel=0.05)
    assert a_true * 0.9 <= a <= a_true * math.exp(k_true) * 1.1
    with pytest.raises(DataError, match="cannot fit"):
        fit_intensity([1.0, 2.0], 10.0)


@pytest.mark.parametrize("name", ["glft", "avellaneda_stoikov"])
def test_a_prediction_moves_the_quotes_by_alpha_times_it(name: str) -> None:
    base = StrategyContext(ts_ns=0, best_bid=100, best_ask=102, position=0)
    flat = make_strategy(name).quote(base)
    up = make_strategy(name).quote(msgspec.structs.replace(base, prediction=3.0))
    assert (up.bid_price, up.ask_price) == (flat.bid_price + 3, flat.ask_price + 3)
    half = make_strategy(name, alpha=0.0).quote(msgspec.structs.replace(base, prediction=3.0))
    assert half == flat  # alpha 0: the prediction is ignored
