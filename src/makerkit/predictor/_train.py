"""Train, evaluate, save and load direction models on datasets, honestly.

``evaluate`` labels each dataset, splits in time with gaps, fits the scaler
and the threshold on the training part only, trains every model (early
stopping on the validation part) and scores it on the test part.
A ``TrainedModel`` carries its schema (feature names, levels, horizon,
threshold, scaler); loading it against data of another schema is refused
with what differs.
"""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import numpy.typing as npt

from makerkit.core.clock import monotonic_ns
from makerkit.core.errors import ConfigError, DataError
from makerkit.predictor._dataset import (
    Dataset,
    check_finite,
    direction_labels,
    relative_change,
    time_split,
)
from makerkit.predictor._models import Inputs, Model, make_model

__all__ = ["CLASS_NAMES", "ModelSchema", "TrainedModel", "classification_report", "evaluate"]

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
CLASS_NAMES = ("down", "stationary", "up")
FORMAT = 1


class ModelSchema(msgspec.Struct, frozen=True, kw_only=True):
    """What a model was trained on; data must match it to be scored."""

    features: tuple[str, ...]
    levels: int
    horizon_events: int
    alpha: float
    window: int = 20

    def differences(self, other: ModelSchema) -> list[str]:
        """Human-readable differences (empty: compatible)."""
        out = []
        for field in ("features", "levels", "horizon_events"):
            a, b = getattr(self, field), getattr(other, field)
            if a != b:
                out.append(f"{field}: model {a!r}, data {b!r}")
        return out


class TrainedModel(msgspec.Struct, kw_only=True):
    """A fitted model with its schema and scaler."""

    name: str
    schema: ModelSchema
    mean: tuple[float, ...]
    std: tuple[float, ...]
    model: Any

    def inputs(self, ds: Dataset, rows: I64) -> tuple[Inputs, F64]:
        """Scaled inputs for ``rows`` of ``ds`` and the scaled raw levels of all of it."""
        got = ModelSchema(
            features=ds.names,
            levels=ds.levels,
            horizon_events=self.schema.horizon_events,
            alpha=self.schema.alpha,
        )
        diff = self.schema.differences(got)
        if diff:
            msg = f"the {self.name} model does not fit this data: {'; '.join(diff)}"
            raise DataError(msg)
        check_finite(ds.features, ds.names)
        both = np.hstack([ds.features, ds.raw])
        scaled = (both - np.asarray(self.mean)) / np.asarray(self.std)
        nf = len(ds.names)
        raw_all = scaled[:, nf:]
        last = ds.features[:, ds.names.index("last_move")]
        return Inputs(
            x=scaled[rows, :nf], raw=raw_all[rows], last_move=last[rows], rows=rows
        ), raw_all

    def predict_proba(self, ds: Dataset, rows: I64 | None = None) -> F64:
        """(down, stationary, up) probabilities for ``rows`` (default: all) of ``ds``."""
        idx = np.arange(len(ds)) if rows is None else rows
        data, raw_all = self.inputs(ds, idx)
        proba: F64 = self.model.predict_proba(data, raw_all)
        return proba

    def save(self, path: str | Path) -> Path:
        """One file: a format number, the schema as JSON, the fitted model."""
        p = Path(path)
        blob = {"format": FORMAT, "name": self.name,
                "schema": msgspec.json.encode(self.schema).decode(), "mean": self.mean,
                "std": self.std, "model": self.model}  # fmt: skip
        tmp = p.with_suffix(p.suffix + ".tmp")
        tmp.write_bytes(pickle.dumps(blob, protocol=5))
        tmp.replace(p)
        return p

    @classmethod
    def load(cls, path: str | Path) -> TrainedModel:
        """Read a file written by ``save`` (our own files: pickle is trusted here)."""
        try:
            blob = pickle.loads(Path(path).read_bytes())  # noqa: S301 - files we wrote
        except (OSError, pickle.UnpicklingError, EOFError) as exc:
            msg = f"cannot read the model: {exc}"
            raise DataError(msg, path=str(path)) from exc
        if not isinstance(blob, dict) or blob.get("format") != FORMAT:
            msg = f"not a makerkit model file of format {FORMAT}"
            raise DataError(msg, path=str(path))
        return cls(
            name=blob["name"], schema=msgspec.json.decode(blob["schema"], type=ModelSchema),
            mean=tuple(blob["mean"]), std=tuple(blob["std"]), model=blob["model"],
        )  # fmt: skip


def classification_report(y: I64, proba: F64) -> dict[str, Any]:
    """Accuracy, macro-F1, per-class precision/recall, confusion, calibration."""
    pred = proba.argmax(axis=1)
    k = len(CLASS_NAMES)
    confusion = np.zeros((k, k), dtype=np.int64)
    np.add.at(confusion, (y, pred), 1)
    per: dict[str, dict[str, float]] = {}
    f1s = []
    for c, name in enumerate(CLASS_NAMES):
        tp = confusion[c, c]
        precision = tp / confusion[:, c].sum() if confusion[:, c].sum() else 0.0
        recall = tp / confusion[c, :].sum() if confusion[c, :].sum() else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per[name] = {"precision": float(precision), "recall": float(recall), "f1": float(f1),
                     "support": int(confusion[c, :].sum())}  # fmt: skip
        f1s.append(f1)
    onehot = np.zeros_like(proba)
    onehot[np.arange(y.size), y] = 1.0
    conf = proba.max(axis=1)
    bins = np.minimum((conf * 10).astype(np.int64), 9)
    calib = []
    ece = 0.0
    for b in range(10):
        sel = bins == b
        if sel.any():
            acc, mean_conf = float((pred[sel] == y[sel]).mean()), float(conf[sel].mean())
            calib.append({"confidence": mean_conf, "accuracy": acc, "count": int(sel.sum())})
            ece += sel.mean() * abs(acc - mean_conf)
    return {
        "accuracy": float((pred == y).mean()), "macro_f1": float(np.mean(f1s)),
        "per_class": per, "confusion": confusion.tolist(),
        "brier": float(((proba - onehot) ** 2).sum(axis=1).mean()), "ece": float(ece),
        "calibration": calib,
    }  # fmt: skip


def _concat(parts: Sequence[Dataset]) -> Dataset:
    first = parts[0]
    return msgspec.structs.replace(
        first, ts=np.concatenate([p.ts for p in parts]), mid=np.concatenate([p.mid for p in parts]),
        bid=np.concatenate([p.bid for p in parts]), ask=np.concatenate([p.ask for p in parts]),
        features=np.vstack([p.features for p in parts]), raw=np.vstack([p.raw for p in parts]),
        source="+".join(p.source for p in parts),
    )  # fmt: skip


def evaluate(
    train: Sequence[Dataset],
    horizon: int,
    *,
    test: Sequence[Dataset] = (),
    models: Sequence[str] = ("majority", "persistence", "logistic", "lightgbm", "mlp", "deeplob"),
    alpha: float | None = None,
    seed: int = 0,
) -> tuple[dict[str, Any], dict[str, TrainedModel]]:
    """Train every model on ``train`` (time-split) and score it on ``test`` (or the last part)."""
    if not train:
        msg = "no training data"
        raise ConfigError(msg)
    levels = {d.levels for d in (*train, *test)}
    if len(levels) != 1:
        msg = f"every dataset must have the same number of levels, got {sorted(levels)}"
        raise DataError(msg)
    full = _concat(list(train))
    n = len(full)
    if test:
        cut = int(n * 0.8)
        tr, va = np.arange(0, cut - horizon), np.arange(cut, n - horizon)
        held = _concat(list(test))
        te = np.arange(0, len(held) - horizon)
    else:
        split = time_split(n, horizon)
        tr, va = np.arange(*split.train), np.arange(*split.val)
        held, te = full, np.arange(*split.test)
    if min(tr.size, va.size, te.size) < 50:
        msg = (
            f"too few samples for horizon {horizon}: train {tr.size}, val {va.size}, test {te.size}"
        )
        raise DataError(msg)
    rel_train = relative_change(full.mid, horizon)[tr]
    a = float(np.quantile(np.abs(rel_train), 1 / 3)) if alpha is None else alpha
    a = max(a, 1e-12)
    y_full = direction_labels(full.mid, horizon, a)
    y_held = y_full if held is full else direction_labels(held.mid, horizon, a)
    check_finite(full.features, full.names)
    both = np.hstack([full.features[tr], full.raw[tr]])
    mean, std = both.mean(axis=0), both.std(axis=0)
    std[std < 1e-9] = 1.0
    schema = ModelSchema(features=full.names, levels=full.levels, horizon_events=horizon, alpha=a)
    report: dict[str, Any] = {
        "horizon_events": horizon, "alpha": a,
        "label": "FI-2010: (mean of the next k mids - mid) / mid vs +-alpha; alpha: 1/3 of "
                 "training samples stationary",
        "samples": {"train": int(tr.size), "val": int(va.size), "test": int(te.size)},
        "class_balance_test": np.bincount(y_held[te], minlength=3).tolist(), "models": {},
    }  # fmt: skip
    fitted: dict[str, TrainedModel] = {}
    for name in models:
        model: Model = make_model(name, seed)
        tm = TrainedModel(name=name, schema=schema, mean=tuple(mean.tolist()),
                          std=tuple(std.tolist()), model=model)  # fmt: skip
        train_in, raw_train = tm.inputs(full, tr)
        val_in, _ = tm.inputs(full, va)
        started = monotonic_ns()
        model.fit(train_in, y_full[tr], val_in, y_full[va], raw_train)
        seconds = (monotonic_ns() - started) / 1e9
        proba = tm.predict_proba(held, te)
        scores = classification_report(y_held[te], proba)
        scores["train_seconds"] = round(seconds, 3)
        report["models"][name] = scores
        fitted[name] = tm
    ranked = sorted(report["models"].items(), key=lambda kv: -kv[1]["macro_f1"])
    report["best_model"] = ranked[0][0]
    return report, fitted
