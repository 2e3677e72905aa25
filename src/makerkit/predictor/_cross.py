"""Cross evaluation: train on one source, test on every other, and say who generalises.

A source is a day of one ticker, or a time window of one (``split_windows``).
For every source, ``cross_evaluate`` trains each model exactly as ``evaluate``
does (its first 80% to fit, the rest to stop early, alpha and the scaler from
the training part) and scores it on every other source with the same metrics
(``classification_report``). Against the reference model (logistic regression)
each pair gets the macro-F1 difference with a moving-block bootstrap interval
on the test rows; each model gets its mean over pairs with a bootstrap interval
over the pairs. The verdict names the model with the best mean out of sample,
and a challenger only counts as beating the reference when it wins on every
pair and its mean difference has an interval above zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from makerkit.core.errors import ConfigError, DataError
from makerkit.predictor._dataset import Dataset, direction_labels
from makerkit.predictor._models import MODELS
from makerkit.predictor._train import CLASS_NAMES, classification_report, evaluate

__all__ = ["cross_evaluate", "split_windows", "verdict"]

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
DEFAULT_MODELS = ("majority", "persistence", "logistic", "lightgbm", "mlp", "deeplob")


def split_windows(ds: Dataset, n: int) -> list[Dataset]:
    """``n`` consecutive windows of equal sample count, in time order, named ``source[i/n]``."""
    if n < 1:
        msg = f"invalid `windows`, must be >= 1, was {n}"
        raise ConfigError(msg)
    if n == 1:
        return [ds]
    edges = np.linspace(0, len(ds), n + 1).astype(np.int64)
    return [
        _renamed(ds.take(np.arange(edges[i], edges[i + 1])), f"{ds.source}[{i + 1}/{n}]")
        for i in range(n)
    ]


def _renamed(ds: Dataset, source: str) -> Dataset:
    import msgspec

    return msgspec.structs.replace(ds, source=source)


def _macro_f1(y: I64, pred: I64, idx: I64) -> F64:
    """Macro-F1 of each row of resampled positions ``idx`` (b, n); the definition of the report."""
    k = len(CLASS_NAMES)
    codes = y[idx] * k + pred[idx]
    b = idx.shape[0]
    flat = codes + (np.arange(b) * k * k)[:, None]
    conf = np.bincount(flat.ravel(), minlength=b * k * k).reshape(b, k, k).astype(np.float64)
    tp = np.diagonal(conf, axis1=1, axis2=2)
    pred_n, true_n = conf.sum(axis=1), conf.sum(axis=2)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(pred_n > 0, tp / pred_n, 0.0)
        recall = np.where(true_n > 0, tp / true_n, 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    out: F64 = f1.mean(axis=1)
    return out


def _block_resamples(n: int, block: int, boot: int, rng: np.random.Generator) -> I64:
    """``boot`` moving-block resamples of ``range(n)`` (blocks keep the serial correlation)."""
    block = max(1, min(block, n))
    per = -(-n // block)
    starts = rng.integers(0, n - block + 1, size=(boot, per))
    idx = (starts[:, :, None] + np.arange(block)[None, None, :]).reshape(boot, -1)[:, :n]
    out: I64 = idx.astype(np.int64)
    return out


def _interval(values: F64) -> list[float]:
    lo, hi = np.quantile(values, [0.025, 0.975])
    return [float(lo), float(hi)]


def verdict(summary: dict[str, dict[str, Any]], reference: str) -> dict[str, Any]:
    """The best model by mean macro-F1 over pairs, and whether any model beats ``reference``.

    A model beats the reference when it wins on every pair and the interval of
    its mean difference lies above zero. Ties go to the simpler (earlier) model.
    """
    names = list(summary)
    best = max(names, key=lambda m: (summary[m]["mean_macro_f1"], -names.index(m)))
    ref = summary[reference]
    beaters = [
        m
        for m in names
        if m != reference
        and summary[m]["wins_vs_reference"] == summary[m]["pairs"]
        and summary[m]["delta_vs_reference_ci95"][0] > 0
    ]
    rivals = [m for m in names if m != reference]
    challenger = (
        max(rivals, key=lambda m: (summary[m]["mean_delta_vs_reference"], -names.index(m)))
        if rivals
        else None
    )
    if challenger is None:
        line = f"{reference} is the only model evaluated"
    else:
        c = summary[challenger]
        lo, hi = c["delta_vs_reference_ci95"]
        verb = "beats" if challenger in beaters else "does not beat"
        line = (
            f"best out of sample: {best} (mean macro-F1 {summary[best]['mean_macro_f1']:.3f} over "
            f"{ref['pairs']} pairs; {reference} {ref['mean_macro_f1']:.3f}). Best challenger "
            f"{challenger} {verb} {reference}: {c['mean_delta_vs_reference']:+.3f} macro-F1 "
            f"[{lo:+.3f}, {hi:+.3f}], wins {c['wins_vs_reference']}/{c['pairs']} pairs"
        )
        if not beaters:
            line += f"; no model beats {reference} out of sample"
    return {
        "best_model": best,
        "reference": reference,
        "beats_reference": beaters,
        "best_challenger": challenger,
        "line": line,
    }


def cross_evaluate(
    sources: Sequence[Dataset],
    horizon: int,
    *,
    models: Sequence[str] = DEFAULT_MODELS,
    reference: str = "logistic",
    seed: int = 0,
    boot: int = 200,
    block: int = 100,
) -> dict[str, Any]:
    """Train every model on each source, score it on every other; rows, summary and verdict.

    ``block`` is the bootstrap block length in samples; ``boot`` the number of
    resamples (per pair on the test rows, and over the pairs for the means).
    """
    names = list(dict.fromkeys(models))
    unknown = [m for m in names if m not in MODELS]
    if unknown:
        msg = f"invalid `models` {unknown}, must be among {sorted(MODELS)}"
        raise ConfigError(msg)
    if reference not in names:
        msg = f"invalid `models`, must include the reference {reference!r}, was {names}"
        raise ConfigError(msg)
    if len(sources) < 2:
        n = len(sources)
        msg = f"invalid `sources`, need at least 2 (train on one, test on another), got {n}"
        raise ConfigError(msg)
    labels = [d.source for d in sources]
    if len(set(labels)) != len(labels):
        msg = f"invalid `sources`, each must be distinct, got {labels}"
        raise DataError(msg)
    if boot < 10 or block < 1:
        msg = f"invalid bootstrap, need boot >= 10 and block >= 1, got {boot}, {block}"
        raise ConfigError(msg)
    rng = np.random.default_rng(seed)
    rows: list[dict[str, Any]] = []
    trained: dict[str, dict[str, Any]] = {}
    for i, train in enumerate(sources):
        first = sources[1] if i == 0 else sources[0]
        report, fitted = evaluate([train], horizon, test=[first], models=names, seed=seed)
        trained[train.source] = {"alpha": report["alpha"], "samples": report["samples"]}
        for j, test in enumerate(sources):
            if i == j:
                continue
            te = np.arange(0, len(test) - horizon)
            y = direction_labels(test.mid, horizon, report["alpha"])[te]
            preds: dict[str, I64] = {}
            scores: dict[str, dict[str, Any]] = {}
            for m in names:
                proba = fitted[m].predict_proba(test, te)
                scores[m] = classification_report(y, proba)
                preds[m] = proba.argmax(axis=1).astype(np.int64)
            resample = _block_resamples(te.size, block, boot, rng)
            ref_f1 = _macro_f1(y, preds[reference], resample)
            for m in names:
                s = scores[m]
                delta = s["macro_f1"] - scores[reference]["macro_f1"]
                boot_delta = _macro_f1(y, preds[m], resample) - ref_f1
                rows.append({
                    "train": train.source, "test": test.source, "model": m,
                    "macro_f1": s["macro_f1"], "accuracy": s["accuracy"], "brier": s["brier"],
                    "ece": s["ece"], "test_samples": int(te.size),
                    "class_balance_test": np.bincount(y, minlength=3).tolist(),
                    "delta_vs_reference": float(delta),
                    "delta_ci95": [0.0, 0.0] if m == reference else _interval(boot_delta),
                })  # fmt: skip
    summary = _summarise(rows, names, reference, rng, boot)
    return {
        "horizon_events": horizon,
        "sources": labels,
        "models": names,
        "reference": reference,
        "seed": seed,
        "bootstrap": {"resamples": boot, "block_samples": block},
        "trained": trained,
        "rows": rows,
        "summary": summary,
        "verdict": verdict(summary, reference),
    }


def _summarise(
    rows: Sequence[dict[str, Any]],
    models: Sequence[str],
    reference: str,
    rng: np.random.Generator,
    boot: int = 200,
) -> dict[str, dict[str, Any]]:
    """Per model: mean macro-F1 and accuracy over pairs, the difference to ``reference``."""
    out: dict[str, dict[str, Any]] = {}
    pairs = len({(r["train"], r["test"]) for r in rows})
    pick = rng.integers(0, pairs, size=(boot, pairs))
    for m in models:
        mine = [r for r in rows if r["model"] == m]
        f1 = np.array([r["macro_f1"] for r in mine])
        delta = np.array([r["delta_vs_reference"] for r in mine])
        out[m] = {
            "pairs": len(mine),
            "mean_macro_f1": float(f1.mean()),
            "macro_f1_ci95": _interval(f1[pick].mean(axis=1)),
            "min_macro_f1": float(f1.min()),
            "max_macro_f1": float(f1.max()),
            "mean_accuracy": float(np.mean([r["accuracy"] for r in mine])),
            "mean_delta_vs_reference": float(delta.mean()),
            "delta_vs_reference_ci95": (
                [0.0, 0.0] if m == reference else _interval(delta[pick].mean(axis=1))
            ),
            "wins_vs_reference": int((delta > 0).sum()),
        }
    return out
