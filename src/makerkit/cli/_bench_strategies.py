"""Strategies side by side on the simulated market with informed flow, over several seeds.

What is fitted and on what (never on the seeds the strategies are scored on):

* A, k and sigma for GLFT and Avellaneda-Stoikov: ``fit_synthetic`` on seed
  ``fit_seed`` (sigma from mid changes every 60 s: shorter samples see the
  book's stickiness, not the price's risk);
* the linear alpha predictor (book imbalance, order-flow imbalance, 1 s and
  5 s returns -> the mid change ``horizon_s`` ahead): on seed ``fit_seed + 1``;
* the horizon, from ``HORIZONS``: the one under which GLFT with alpha has the
  best PnL on the validation seed ``fit_seed + 2``.

Then every strategy runs on seeds 1..``seeds``. Risk-adjusted, here, means
both sides of the trade-off: a strategy beats another when its mean PnL is
higher *and* its risk is lower (the spread of its PnL over the seeds and its
mean max drawdown). The Sharpe ratio (equity changes per minute of market
time, x sqrt(252 x 390)) is reported too, but it misleads between losing
strategies: a small steady loss has a far worse Sharpe than a large random
one.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from typing import Any

import msgspec

from makerkit.backtest import BacktestConfig, feature_samples, fit_synthetic, run_synthetic_backtest
from makerkit.core import Predictor
from makerkit.features import LinearPredictor, fit_linear_predictor
from makerkit.strategies import make_strategy

__all__ = ["run_strategy_bench"]

GAMMA = 0.1  # risk aversion: chosen, not fitted
HORIZONS = (15.0, 30.0, 60.0, 120.0, 240.0)


def _lineup(fit: dict[str, Any]) -> list[tuple[str, str, dict[str, Any], bool]]:
    """(label, strategy, params, with the predictor)."""
    glft = {"gamma": GAMMA, **fit["glft"]}
    av = {"gamma": GAMMA, **fit["avellaneda_stoikov"]}
    return [
        ("symmetric", "symmetric", {}, False),
        ("inventory_skew", "inventory_skew", {}, False),
        ("adaptive_spread", "adaptive_spread", {}, False),
        ("avellaneda_stoikov (fitted)", "avellaneda_stoikov", av, False),
        ("glft (fitted)", "glft", glft, False),
        ("avellaneda_stoikov (fitted + alpha)", "avellaneda_stoikov", av, True),
        ("glft (fitted + alpha)", "glft", glft, True),
    ]


def run_strategy_bench(
    seeds: int, events: int, say: Callable[[str], None], *, fit_seed: int = 99
) -> dict[str, Any]:
    """Fit, then score every strategy on seeds 1..seeds; the report as a dict."""
    say(f"fitting A, k, sigma on seed {fit_seed}")
    market = fit_synthetic(seed=fit_seed, events=min(events, 300_000), sample_s=60.0)
    say(f"fitting the alpha predictor on seed {fit_seed + 1}")
    samples = feature_samples(config=BacktestConfig(events=min(events, 500_000), seed=fit_seed + 1))
    fit = {name: market.params(name) for name in ("glft", "avellaneda_stoikov")}
    validation: dict[float, float] = {}
    fitted: dict[float, LinearPredictor] = {}
    for horizon in HORIZONS:
        say(f"validating the {horizon:g} s horizon on seed {fit_seed + 2}")
        fitted[horizon] = fit_linear_predictor(
            samples.ts, samples.mid, samples.features, horizon_s=horizon
        )
        glft = make_strategy("glft", gamma=GAMMA, **fit["glft"])
        cfg = BacktestConfig(events=events, seed=fit_seed + 2)
        trial = run_synthetic_backtest(glft, cfg, predictor=fitted[horizon])
        validation[horizon] = trial.metrics.pnl_total
    predictor = fitted[max(validation, key=lambda h: validation[h])]
    rows: dict[str, Any] = {}
    for label, name, params, alpha in _lineup(fit):
        say(label)
        runs = []
        for seed in range(1, seeds + 1):
            cfg = BacktestConfig(events=events, seed=seed)
            forecast: Predictor | None = predictor if alpha else None
            result = run_synthetic_backtest(make_strategy(name, **params), cfg, predictor=forecast)
            runs.append(result.metrics)
        sharpe = [math.nan if m.sharpe is None else m.sharpe for m in runs]  # None: < 30 buckets
        rows[label] = {
            "strategy": name, "params": params, "alpha": alpha,
            "sharpe_mean": statistics.fmean(sharpe), "sharpe_min": min(sharpe),
            "sharpe_max": max(sharpe), "sharpe": sharpe,
            "pnl_mean": statistics.fmean(m.pnl_total for m in runs),
            "pnl_std": statistics.pstdev(m.pnl_total for m in runs),
            "pnl": [m.pnl_total for m in runs],
            "fills_mean": statistics.fmean(m.fills for m in runs),
            "avg_abs_inventory": statistics.fmean(m.avg_abs_inventory for m in runs),
            "max_drawdown_mean": statistics.fmean(m.max_drawdown for m in runs),
            "markout_1s_mean": statistics.fmean(m.markouts.get("1s", float("nan")) for m in runs),
        }  # fmt: skip

    def beats(label: str, other: str = "symmetric") -> bool:
        a, b = rows[label], rows[other]
        return bool(
            a["pnl_mean"] > b["pnl_mean"] and a["pnl_std"] < b["pnl_std"]
            and a["max_drawdown_mean"] < b["max_drawdown_mean"]
        )  # fmt: skip

    for r in rows.values():
        r["beats_symmetric"] = False
    for label in rows:
        rows[label]["beats_symmetric"] = label != "symmetric" and beats(label)
    return {
        "market": "SimParams.default() (informed=1.0)", "seeds": list(range(1, seeds + 1)),
        "events": events, "fit": msgspec.to_builtins(market),
        "predictor": msgspec.to_builtins(predictor),
        "horizon_validation_pnl": {str(h): v for h, v in validation.items()},
        "strategies": rows,
        "glft_beats_symmetric": beats("glft (fitted)"),
        "avellaneda_stoikov_beats_symmetric": beats("avellaneda_stoikov (fitted)"),
    }  # fmt: skip
