"""Microstructure features, streaming (O(1) per event) and vectorised, with the same numbers.

``FeatureStream`` is fed book states and trades as they happen (a strategy,
live or in a backtest); ``compute_features`` takes whole arrays (research,
datasets for the predictor). Both evaluate every feature at each book state,
counting the trades stamped at or before it, and a test holds them equal.

Book states are the best ``levels`` of each side, in ticks and lots, best
first; an empty level has size 0. Times are nanoseconds.
"""

from __future__ import annotations

from makerkit.features._features import (
    FEATURES,
    FeatureConfig,
    FeatureStream,
    MicropriceTable,
    compute_features,
    fit_microprice,
)
from makerkit.features._linear import (
    DEFAULT_ALPHA_FEATURES,
    LinearPredictor,
    fit_linear_predictor,
)

__all__ = [
    "DEFAULT_ALPHA_FEATURES",
    "FEATURES",
    "FeatureConfig",
    "FeatureStream",
    "LinearPredictor",
    "MicropriceTable",
    "compute_features",
    "fit_linear_predictor",
    "fit_microprice",
]
