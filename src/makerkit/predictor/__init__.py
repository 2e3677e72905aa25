"""Short-term prediction from microstructure: datasets, models, honest evaluation.

``lobster_dataset`` / ``book_dataset`` turn book states into features, raw
levels and look-ahead labels; ``evaluate`` trains the baselines (majority,
persistence), logistic regression, LightGBM, an MLP and a DeepLOB-style
network on time-ordered splits and scores them; ``cross_evaluate`` trains on
each source and tests on every other, with a verdict against logistic
regression; a ``TrainedModel`` saves and
loads with its schema. The models need ``pip install makerkit[ml]``.
"""

from __future__ import annotations

from makerkit.predictor._adverse import (
    ADVERSE_FEATURES,
    AdverseModel,
    adverse_targets,
    fit_adverse,
)
from makerkit.predictor._cross import cross_evaluate, split_windows, verdict
from makerkit.predictor._dataset import (
    FEATURE_COLUMNS,
    Dataset,
    adverse_labels,
    binance_dataset,
    book_dataset,
    check_finite,
    direction_labels,
    lobster_dataset,
    return_labels,
    time_split,
)
from makerkit.predictor._models import MODELS, make_model
from makerkit.predictor._train import (
    CLASS_NAMES,
    ModelSchema,
    TrainedModel,
    classification_report,
    evaluate,
)

__all__ = [
    "ADVERSE_FEATURES",
    "CLASS_NAMES",
    "FEATURE_COLUMNS",
    "MODELS",
    "AdverseModel",
    "Dataset",
    "ModelSchema",
    "TrainedModel",
    "adverse_labels",
    "adverse_targets",
    "binance_dataset",
    "book_dataset",
    "check_finite",
    "classification_report",
    "cross_evaluate",
    "direction_labels",
    "evaluate",
    "fit_adverse",
    "lobster_dataset",
    "make_model",
    "return_labels",
    "split_windows",
    "time_split",
    "verdict",
]
