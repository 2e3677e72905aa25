"""Fees in the decision: AS and GLFT price the maker fee (or rebate) into their quotes.

The closed forms with a fee term are written out here independently of the
strategies, and the myopic limit is checked by maximising the expected gain of
one quote, A exp(-k d) (d - f), numerically.
"""

from __future__ import annotations

import math
from pathlib import Path

import msgspec
import numpy as np
import pytest

from makerkit.backtest import (
    BacktestConfig,
    ReplayConfig,
    Window,
    recorded_events,
    run_replay_backtest,
    run_synthetic_backtest,
    window_events,
)
from makerkit.core import ConfigError, StrategyContext
from makerkit.strategies import GLFT, AdverseGuard, AvellanedaStoikov, Symmetric, with_venue_fees


def ctx(position: int = 0, bid: int = 99_999, ask: int = 100_001) -> StrategyContext:
    return StrategyContext(ts_ns=0, best_bid=bid, best_ask=ask, position=position)


def glft_with_fee(gamma: float, a: float, k: float, sigma: float, fee: float, q: int,
                  mid: float) -> tuple[float, float]:  # fmt: skip
    """Gueant-Lehalle-Fernandez-Tapia's bid and ask with a fee f per lot: d - f is the gain of
    a fill, so the problem is the fee-free one with A exp(-k f), each quote f further out."""
    a_f = a * math.exp(-k * fee)
    c1 = math.log(1 + gamma / k) / gamma
    c2 = math.sqrt(sigma**2 * gamma / (2 * a_f * k) * (1 + gamma / k) ** (1 + k / gamma))
    return mid - fee - c1 - (2 * q + 1) / 2 * c2, mid + fee + c1 - (2 * q - 1) / 2 * c2


@pytest.mark.parametrize("fee", [-0.7, 0.0, 0.4, 3.0])
@pytest.mark.parametrize("q", [-3, 0, 2])
def test_glft_quotes_the_closed_form_with_a_fee_term(fee: float, q: int) -> None:
    s = GLFT(gamma=0.05, A=3.0, k=0.8, sigma=2.0, maker_fee_ticks=fee)
    bid, ask = glft_with_fee(0.05, 3.0, 0.8, 2.0, fee, q, 100_000.0)
    got = s.quote(ctx(position=q))
    assert (got.bid_price, got.ask_price) == (math.floor(bid), math.ceil(ask))


def test_a_fee_on_notional_is_taken_at_the_mid() -> None:
    rate = 2e-5  # 0.2 bp: 2 ticks per lot at a mid of 100,000 ticks
    on_notional = GLFT(gamma=0.05, A=3.0, k=0.8, sigma=2.0, maker_fee=rate).quote(ctx())
    per_lot = GLFT(gamma=0.05, A=3.0, k=0.8, sigma=2.0, maker_fee_ticks=2.0).quote(ctx())
    assert on_notional == per_lot


def test_the_myopic_glft_quote_maximises_the_gain_of_one_fill() -> None:
    # gamma -> 0 at q = 0: the depth maximises A exp(-k d) (d - f), i.e. d* = 1/k + f
    k, fee = 0.02, 25.0
    grid = np.linspace(0.0, 500.0, 500_001)
    best = float(grid[np.argmax(np.exp(-k * grid) * (grid - fee))])
    s = GLFT(gamma=1e-7, A=5.0, k=k, sigma=1e-3, maker_fee_ticks=fee)
    got = s.quote(ctx(bid=100_000, ask=100_000 + 2))  # mid 100,001
    assert best == pytest.approx(1 / k + fee, abs=1e-3)
    assert 100_001 - got.bid_price == pytest.approx(best, abs=1.0)  # rounded to a whole tick
    assert got.ask_price - 100_001 == pytest.approx(best, abs=1.0)


def test_avellaneda_stoikov_moves_each_quote_by_the_fee() -> None:
    base = AvellanedaStoikov(gamma=0.1, k=0.05, sigma=1.0, horizon_s=10)
    d = 0.1 * 10 + 20 * math.log(1 + 0.1 / 0.05)
    for fee in (-3.0, 0.0, 5.0):
        s = AvellanedaStoikov(gamma=0.1, k=0.05, sigma=1.0, horizon_s=10, maker_fee_ticks=fee)
        got = s.quote(ctx(position=1))
        r = 100_000 - 1 * 0.1 * 10
        assert (got.bid_price, got.ask_price) == (math.floor(r - d / 2 - fee),
                                                  math.ceil(r + d / 2 + fee))  # fmt: skip
    assert base.quote(ctx()) == AvellanedaStoikov(
        gamma=0.1, k=0.05, sigma=1.0, horizon_s=10, maker_fee_ticks=0.0
    ).quote(ctx())


def test_a_rebate_tightens_and_a_fee_widens() -> None:
    def width(fee: float) -> int:
        got = GLFT(gamma=0.1, A=1.0, k=0.1, sigma=1.0, maker_fee_ticks=fee).quote(ctx())
        assert got.bid_price is not None and got.ask_price is not None
        return got.ask_price - got.bid_price

    assert width(-2.0) < width(0.0) < width(2.0)


def test_the_venue_fee_fills_only_what_the_strategy_left_unset() -> None:
    unset = GLFT()
    bound = with_venue_fees(unset, rate=1e-4, per_lot=0.5)
    assert (bound.maker_fee, bound.maker_fee_ticks) == (1e-4, 0.5)
    own = GLFT(maker_fee=0.0)
    assert with_venue_fees(own, rate=1e-4).maker_fee == 0.0  # the user's choice stands
    sym = Symmetric()
    assert with_venue_fees(sym, rate=1e-4) is sym  # does not price fees
    guard = AdverseGuard(GLFT())
    wrapped = with_venue_fees(guard, per_lot=1.0)
    assert wrapped.inner.maker_fee_ticks == 1.0 and guard.inner.maker_fee_ticks is None


def test_fees_may_be_negative_but_must_be_finite() -> None:
    assert GLFT(maker_fee=-1e-4).maker_fee == -1e-4
    with pytest.raises(ConfigError, match="maker_fee_ticks"):
        GLFT(maker_fee_ticks=math.nan)


def test_the_simulated_market_hands_its_fee_to_the_strategy() -> None:
    cfg = BacktestConfig(events=20_000, seed=3, maker_fee=-1.0)  # a rebate of a tick per lot
    aware = run_synthetic_backtest(GLFT(gamma=0.05, A=1.0, k=0.5), cfg)
    blind = run_synthetic_backtest(GLFT(gamma=0.05, A=1.0, k=0.5, maker_fee_ticks=0.0), cfg)
    spread = [a - b for a, b in zip(aware.path["ask"], aware.path["bid"], strict=True)
              if a == a and b == b]  # fmt: skip
    blind_spread = [a - b for a, b in zip(blind.path["ask"], blind.path["bid"], strict=True)
                    if a == a and b == b]  # fmt: skip
    assert np.mean(spread) < np.mean(blind_spread)  # the rebate tightens the quotes
    assert aware.metrics.fills > blind.metrics.fills


def test_a_fee_aware_strategy_decides_the_same_on_the_fast_path_and_through_the_session(
    data_root: Path,
) -> None:
    events = window_events(recorded_events("lobster", "GOOG", root=data_root / "lobster"),
                           Window.parse("10:00", "10:30"))  # fmt: skip
    cfg = ReplayConfig(maker_fee=-2e-6, taker_fee=3e-6, decision_ms=500)
    strategy = GLFT(gamma=0.05, A=0.5, k=0.3, sigma=5.0)
    fast = run_replay_backtest(strategy, events, cfg)
    session = run_replay_backtest(
        strategy, events, msgspec.structs.replace(cfg, native_strategy=False)
    )
    assert fast.fills and fast.fills == session.fills and fast.metrics == session.metrics
    free = run_replay_backtest(
        GLFT(gamma=0.05, A=0.5, k=0.3, sigma=5.0, maker_fee=0.0), events, cfg
    )
    assert free.fills != fast.fills  # the rebate moved the quotes
