"""A, k, sigma measured on markets; predictions reach the strategy in every runner."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from makerkit.backtest import (
    BacktestConfig,
    ReplayConfig,
    feature_samples,
    fit_recorded,
    fit_synthetic,
    run_replay_backtest,
    run_synthetic_backtest,
)
from makerkit.backtest._events import recorded_events
from makerkit.core import QuoteIntent, StrategyContext
from makerkit.data import SimParams
from makerkit.features import LinearPredictor, fit_linear_predictor


def test_fit_synthetic_sees_a_faster_market_as_more_intense() -> None:
    calm = fit_synthetic(seed=5, events=40_000)
    base = SimParams.default()
    busy_params = SimParams(
        **{f: getattr(base, f) for f in SimParams.__struct_fields__ if f != "market_rate"},
        market_rate=base.market_rate * 3,
    )
    busy = fit_synthetic(busy_params, seed=5, events=40_000)
    assert calm.A > 0 and calm.k > 0 and calm.sigma > 0 and calm.market_orders > 500
    assert busy.A > 1.5 * calm.A  # three times the market orders: a higher intensity
    assert calm.params("glft") == {"A": calm.A, "k": calm.k, "sigma": calm.sigma}
    assert calm.params("avellaneda_stoikov") == {"k": calm.k, "sigma": calm.sigma}


def test_fit_recorded_on_lobster_sees_every_execution(data_root: Path) -> None:
    ev = recorded_events("lobster", "AMZN", root=data_root / "lobster")
    fit = fit_recorded(ev)
    trades = int((ev.kind == 2).sum())
    assert fit.market_orders >= 0.95 * trades  # the book is two-sided before nearly all
    assert 0.05 < fit.k < 5 and 0 < fit.sigma < 50


class Seen:
    name = "seen"
    wants_features = False

    def __init__(self) -> None:
        self.predictions: list[float | None] = []

    def quote(self, ctx: StrategyContext) -> QuoteIntent:
        self.predictions.append(ctx.prediction)
        return QuoteIntent.none()

    def on_fill(self, *args: Any) -> None:
        return None


def test_predictions_reach_the_strategy_in_both_backtesters(data_root: Path) -> None:
    constant = LinearPredictor(features=("spread_ticks",), coef=(0.0,), intercept=1.5)
    synthetic = Seen()
    run_synthetic_backtest(synthetic, BacktestConfig(events=20_000, seed=1), predictor=constant)
    replayed = Seen()
    ev = recorded_events("binance", "btcusdt", "2024-08-08", root=data_root / "crypto")
    run_replay_backtest(replayed, ev, ReplayConfig(), predictor=constant)
    for seen in (synthetic, replayed):
        assert seen.predictions and seen.predictions.count(1.5) >= 0.9 * len(seen.predictions)
    plain = Seen()
    run_synthetic_backtest(plain, BacktestConfig(events=20_000, seed=1))
    assert set(plain.predictions) == {None}


def test_feature_samples_fit_a_predictor_on_the_simulator() -> None:
    s = feature_samples(config=BacktestConfig(events=60_000, seed=2))
    assert len(s) > 500 and {"imbalance_n", "ret_5s"} <= set(s.features)
    p = fit_linear_predictor(s.ts, s.mid, s.features, horizon_s=30.0)
    assert p.horizon_s == 30.0 and 0 < p.r2 < 1
    assert p.coef[0] > 0  # more bids than asks: the mid goes up (the informed flow's trace)
