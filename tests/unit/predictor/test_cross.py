"""Cross evaluation: train on one source, test on another, a verdict drawn from the rows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from makerkit.core.errors import ConfigError, DataError
from makerkit.predictor import (
    Dataset,
    book_dataset,
    cross_evaluate,
    evaluate,
    split_windows,
    verdict,
)

pytest.importorskip("sklearn")

GOOG_L1 = "lobster/GOOG_2012-06-21_34200000_57600000_message_1.csv.gz"
FAST = ("majority", "persistence", "logistic")


def _walk(n: int, seed: int, source: str) -> Dataset:
    """Book states whose imbalance leads the mid (as in the predictor tests), one level."""
    rng = np.random.default_rng(seed)
    bid_sz = rng.integers(1, 20, n).astype(float)
    ask_sz = rng.integers(1, 20, n).astype(float)
    imb = bid_sz / (bid_sz + ask_sz)
    step = np.where(imb > 0.6, 1, np.where(imb < 0.4, -1, 0))
    step = np.where(rng.random(n) < 0.2, rng.choice([-1, 0, 1], n), step)
    mid = 10_000 + np.concatenate([[0], np.cumsum(step[:-1])]).astype(float)
    ts = np.arange(n, dtype=np.int64) * 100_000_000
    return book_dataset(ts, (mid - 1)[:, None], bid_sz[:, None], (mid + 1)[:, None],
                        ask_sz[:, None], source=source)  # fmt: skip


@pytest.fixture(scope="module")
def goog_windows(data_root: Path) -> list[Dataset]:
    from makerkit.cli._predictor import load_dataset

    day = load_dataset(str(data_root / GOOG_L1), every=10)
    return split_windows(day.take(np.arange(min(len(day), 6000))), 2)


def test_windows_are_consecutive_and_named(goog_windows: list[Dataset]) -> None:
    first, second = goog_windows
    assert first.source.endswith("[1/2]")
    assert second.source.endswith("[2/2]")
    assert first.ts[-1] < second.ts[0]
    assert abs(len(first) - len(second)) <= 1
    with pytest.raises(ConfigError, match="`windows`"):
        split_windows(first, 0)


def test_cross_on_two_real_windows_matches_evaluate_and_repeats(
    goog_windows: list[Dataset],
) -> None:
    a, b = goog_windows
    report = cross_evaluate(goog_windows, 10, models=FAST, boot=30, block=50)
    rows = report["rows"]
    assert {(r["train"], r["test"]) for r in rows} == {(a.source, b.source), (b.source, a.source)}
    assert len(rows) == 2 * len(FAST)
    # the same definitions as `evaluate`: train on a, test on b
    direct, _ = evaluate([a], 10, test=[b], models=FAST)
    for r in rows:
        if r["train"] == a.source:
            want = direct["models"][r["model"]]
            assert r["macro_f1"] == pytest.approx(want["macro_f1"])
            assert r["accuracy"] == pytest.approx(want["accuracy"])
            assert r["class_balance_test"] == direct["class_balance_test"]
        if r["model"] == "logistic":
            assert r["delta_vs_reference"] == 0.0
        else:
            lo, hi = r["delta_ci95"]
            assert lo <= hi
    assert report["verdict"]["best_model"] in FAST
    assert report["verdict"]["line"]
    again = cross_evaluate(goog_windows, 10, models=FAST, boot=30, block=50)
    assert again == report


def test_the_verdict_is_the_argmax_of_the_rows(goog_windows: list[Dataset]) -> None:
    report = cross_evaluate(goog_windows, 10, models=FAST, boot=30, block=50)
    means: dict[str, list[float]] = {}
    for r in report["rows"]:
        means.setdefault(r["model"], []).append(r["macro_f1"])
    best = max(means, key=lambda m: float(np.mean(means[m])))
    assert report["verdict"]["best_model"] == best
    for m, values in means.items():
        assert report["summary"][m]["mean_macro_f1"] == pytest.approx(np.mean(values))


def _summary(**deltas: list[float]) -> dict[str, dict[str, Any]]:
    """A summary as ``cross_evaluate`` writes it, from per-pair deltas against logistic."""
    base = 0.4
    out = {}
    for m, d in {"logistic": [0.0, 0.0, 0.0], **deltas}.items():
        arr = np.asarray(d)
        out[m] = {
            "pairs": arr.size, "mean_macro_f1": base + float(arr.mean()),
            "mean_delta_vs_reference": float(arr.mean()),
            "delta_vs_reference_ci95": [float(arr.min()), float(arr.max())],
            "wins_vs_reference": int((arr > 0).sum()),
        }  # fmt: skip
    return out


def test_the_verdict_follows_the_numbers_not_a_name() -> None:
    everywhere = verdict(_summary(lightgbm=[0.02, 0.01, 0.03], mlp=[-0.01, 0.0, -0.02]), "logistic")
    assert everywhere["best_model"] == "lightgbm"
    assert everywhere["beats_reference"] == ["lightgbm"]
    assert "lightgbm beats logistic" in everywhere["line"]
    # better on the mean but not on every pair: best, yet it does not beat the reference
    mixed = verdict(_summary(lightgbm=[0.09, 0.01, -0.01], mlp=[-0.05, -0.02, -0.01]), "logistic")
    assert mixed["best_model"] == "lightgbm"
    assert mixed["beats_reference"] == []
    assert "no model beats logistic" in mixed["line"]
    worse = verdict(_summary(lightgbm=[-0.02, -0.01, -0.03]), "logistic")
    assert worse["best_model"] == "logistic"
    assert worse["best_challenger"] == "lightgbm"


def test_bad_input_is_refused_with_the_field() -> None:
    a, b = _walk(1500, 1, "a"), _walk(1500, 2, "b")
    with pytest.raises(ConfigError, match=r"`sources`, need at least 2.*got 1"):
        cross_evaluate([a], 5, models=FAST)
    with pytest.raises(ConfigError, match=r"`models` \['xgboost'\]"):
        cross_evaluate([a, b], 5, models=("logistic", "xgboost"))
    with pytest.raises(ConfigError, match="must include the reference 'logistic'"):
        cross_evaluate([a, b], 5, models=("majority",))
    with pytest.raises(DataError, match="each must be distinct"):
        cross_evaluate([a, _walk(1500, 3, "a")], 5, models=FAST)
    with pytest.raises(ConfigError, match="bootstrap"):
        cross_evaluate([a, b], 5, models=FAST, boot=1)


def test_a_planted_signal_carries_across_sources() -> None:
    sources = [_walk(3000, s, f"walk{s}") for s in (1, 2, 3)]
    report = cross_evaluate(sources, 1, models=FAST, boot=30, block=20)
    assert len(report["rows"]) == 6 * len(FAST)
    s = report["summary"]
    # the imbalance says where the next move goes; the linear model learns it on any walk
    assert s["logistic"]["min_macro_f1"] > s["majority"]["max_macro_f1"]
    assert report["verdict"]["best_model"] == "logistic"
    assert s["majority"]["wins_vs_reference"] == 0
