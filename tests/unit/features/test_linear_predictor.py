"""The linear alpha predictor: it finds a planted signal, refuses what it cannot use."""

from __future__ import annotations

import math

import numpy as np
import pytest

from makerkit.core import Predictor
from makerkit.core.errors import ConfigError, DataError
from makerkit.features import LinearPredictor, fit_linear_predictor


def planted(n: int = 4000, seed: int = 1) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Mid steps of 1 s whose change 5 s ahead is 2 x imbalance - 3 x ofi + noise."""
    rng = np.random.default_rng(seed)
    ts = np.arange(n, dtype=np.int64) * 1_000_000_000
    imb, ofi = rng.normal(size=n), rng.normal(size=n)
    drift = 2.0 * imb - 3.0 * ofi + rng.normal(scale=0.1, size=n)
    mid = np.zeros(n)
    for i in range(n - 5):
        mid[i + 5] = mid[i] + drift[i]  # mid[i + 5] - mid[i] is the planted change
    return ts, mid, {"imbalance_n": imb, "ofi_window": ofi, "noise": rng.normal(size=n)}


def test_fit_recovers_the_planted_coefficients() -> None:
    ts, mid, feats = planted()
    p = fit_linear_predictor(ts, mid, feats, horizon_s=5.0, names=("imbalance_n", "ofi_window"))
    assert isinstance(p, Predictor)
    assert p.coef == pytest.approx((2.0, -3.0), abs=0.05)
    assert p.r2 > 0.95
    assert p.predict({"imbalance_n": 1.0, "ofi_window": 1.0}) == pytest.approx(-1.0, abs=0.1)


def test_missing_or_bad_features_give_no_opinion_not_a_number() -> None:
    p = LinearPredictor(features=("a", "b"), coef=(1.0, 2.0), intercept=0.5)
    assert p.predict({"a": 1.0, "b": 1.0}) == 3.5
    assert math.isnan(p.predict({"a": 1.0}))
    assert math.isnan(p.predict({"a": 1.0, "b": float("inf")}))


def test_bad_input_is_refused_with_what_is_wrong() -> None:
    ts, mid, feats = planted(200)
    with pytest.raises(DataError, match="no column for \\['spread'\\]"):
        fit_linear_predictor(ts, mid, feats, names=("spread",))
    with pytest.raises(DataError, match="usable samples"):
        fit_linear_predictor(ts[:20], mid[:20], {k: v[:20] for k, v in feats.items()},
                             names=("imbalance_n",))  # fmt: skip
    with pytest.raises(ConfigError, match="2 features, 1 coefficients"):
        LinearPredictor(features=("a", "b"), coef=(1.0,))
