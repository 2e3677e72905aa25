"""A linear forecast of the mid: the simplest ``Predictor`` worth having.

Least squares of the mid change ``horizon_s`` ahead on a few features, fitted
on one sample (another seed, an earlier day) and applied to another. The
research predictor (more models, honest evaluation) builds on the same
protocol; this one is what the strategies' alpha term is tested with.

It stays the default alpha on purpose: ``makerkit predictor cross`` (train on
one ticker or half-day, test on every other; GOOG and AMZN 2012-06-21, 12
pairs) found no model that beats logistic regression out of sample, 10 or 50
events ahead (at 10: LightGBM -0.026 macro-F1, the MLP -0.015, DeepLOB-style
-0.177 on average, each worse on most pairs), so a linear model of the
book's pressure and flow is the best honest forecast we have.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec
import numpy as np

from makerkit.core.errors import ConfigError, DataError

__all__ = ["DEFAULT_ALPHA_FEATURES", "LinearPredictor", "fit_linear_predictor"]

# book pressure and momentum: what predicts the mid's next seconds in a lagging market
DEFAULT_ALPHA_FEATURES = ("imbalance_n", "ofi_window", "ret_1s", "ret_5s")


class LinearPredictor(msgspec.Struct, frozen=True, kw_only=True):
    """prediction = intercept + sum(coef[i] * features[name[i]]), in ticks."""

    features: tuple[str, ...]
    coef: tuple[float, ...]
    intercept: float = 0.0
    horizon_s: float = 5.0
    r2: float = 0.0  # in-sample, for the record

    def __post_init__(self) -> None:
        if len(self.features) != len(self.coef):
            msg = f"invalid predictor: {len(self.features)} features, {len(self.coef)} coefficients"
            raise ConfigError(msg)

    def predict(self, features: Mapping[str, float]) -> float:
        """Expected mid change in ticks; NaN when a feature is missing or not finite."""
        total = self.intercept
        for name, c in zip(self.features, self.coef, strict=True):
            x = features.get(name)
            if x is None or not math.isfinite(x):
                return math.nan
            total += c * x
        return total


def fit_linear_predictor(
    ts: Sequence[int] | np.ndarray[Any, Any],
    mid: Sequence[float] | np.ndarray[Any, Any],
    features: Mapping[str, Sequence[float] | np.ndarray[Any, Any]],
    *,
    horizon_s: float = 5.0,
    names: Sequence[str] = DEFAULT_ALPHA_FEATURES,
) -> LinearPredictor:
    """Fit on samples (times in ns, mids in ticks, one column per feature)."""
    t = np.asarray(ts, dtype=np.int64)
    m = np.asarray(mid, dtype=np.float64)
    missing = [n for n in names if n not in features]
    if missing:
        msg = f"cannot fit: no column for {missing}; have {sorted(features)}"
        raise DataError(msg)
    x = np.column_stack([np.asarray(features[n], dtype=np.float64) for n in names])
    ahead = np.searchsorted(t, t + int(horizon_s * 1e9))
    valid = ahead < t.size
    target = np.full(t.size, np.nan)
    target[valid] = m[ahead[valid]] - m[valid]
    ok = np.isfinite(x).all(axis=1) & np.isfinite(target)
    if ok.sum() < 10 * (len(names) + 1):
        msg = f"cannot fit: {int(ok.sum())} usable samples for {len(names)} features"
        raise DataError(msg)
    design = np.column_stack([x[ok], np.ones(int(ok.sum()))])
    beta, *_ = np.linalg.lstsq(design, target[ok], rcond=None)
    resid = target[ok] - design @ beta
    var = float(target[ok].var())
    r2 = 1.0 - float(resid.var()) / var if var > 0 else 0.0
    return LinearPredictor(
        features=tuple(names), coef=tuple(float(b) for b in beta[:-1]),
        intercept=float(beta[-1]), horizon_s=horizon_s, r2=r2,
    )  # fmt: skip
