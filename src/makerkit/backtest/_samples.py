"""Feature samples from a market, for fitting forecasts (``fit_linear_predictor``, the predictor).

A silent strategy rides the backtester and writes down, at every decision,
the time, the mid and every feature the strategies would see: the same
numbers a strategy gets, from the same code.
"""

from __future__ import annotations

from typing import Any

import msgspec
import numpy as np

from makerkit.backtest._events import MarketEvents
from makerkit.backtest._replay import run_replay_backtest
from makerkit.backtest._replay_config import ReplayConfig
from makerkit.backtest._synthetic import BacktestConfig, run_synthetic_backtest
from makerkit.core import QuoteIntent, StrategyContext

__all__ = ["FeatureSamples", "feature_samples"]


class FeatureSamples(msgspec.Struct, frozen=True, kw_only=True):
    """One row per decision with a two-sided book."""

    ts: np.ndarray[Any, Any]
    mid: np.ndarray[Any, Any]
    features: dict[str, np.ndarray[Any, Any]]

    def __len__(self) -> int:
        return int(self.ts.shape[0])


class _Recorder:
    name = "feature-recorder"
    wants_features = True

    def __init__(self) -> None:
        self.rows: list[tuple[int, float, dict[str, float]]] = []

    def quote(self, ctx: StrategyContext) -> QuoteIntent:
        if ctx.mid is not None and ctx.features:
            self.rows.append((ctx.ts_ns, ctx.mid, dict(ctx.features)))
        return QuoteIntent.none()

    def on_fill(self, side: int, price: int, qty: int, ctx: StrategyContext) -> None:
        return None


def feature_samples(
    events: MarketEvents | None = None,
    *,
    config: BacktestConfig | ReplayConfig | None = None,
) -> FeatureSamples:
    """Sample the simulator (``config`` a BacktestConfig) or recorded ``events``."""
    rec = _Recorder()
    if events is None:
        cfg = config if isinstance(config, BacktestConfig) else BacktestConfig()
        run_synthetic_backtest(rec, cfg)
    else:
        replay = config if isinstance(config, ReplayConfig) else ReplayConfig()
        run_replay_backtest(rec, events, replay)
    names = sorted({k for _, _, f in rec.rows for k in f})
    return FeatureSamples(
        ts=np.asarray([r[0] for r in rec.rows], dtype=np.int64),
        mid=np.asarray([r[1] for r in rec.rows], dtype=np.float64),
        features={n: np.asarray([r[2].get(n, np.nan) for r in rec.rows]) for n in names},
    )
