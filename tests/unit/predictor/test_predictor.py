"""Datasets without leakage, labels by hand, models that learn a planted signal, model files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from makerkit.core.errors import ConfigError, DataError
from makerkit.predictor import (
    FEATURE_COLUMNS,
    TrainedModel,
    adverse_labels,
    book_dataset,
    check_finite,
    classification_report,
    direction_labels,
    evaluate,
    make_model,
    return_labels,
    time_split,
)
from makerkit.predictor._dataset import _last_move

pytest.importorskip("sklearn")
pytest.importorskip("lightgbm")
pytest.importorskip("torch")


def planted(n: int = 6000, seed: int = 0, noise: float = 0.1):  # type: ignore[no-untyped-def]
    """Book states whose top-of-book imbalance says where the mid goes next."""
    rng = np.random.default_rng(seed)
    bid_sz = rng.integers(1, 20, n).astype(float)
    ask_sz = rng.integers(1, 20, n).astype(float)
    imb = bid_sz / (bid_sz + ask_sz)
    step = np.where(imb > 0.6, 1, np.where(imb < 0.4, -1, 0))
    flip = rng.random(n) < noise
    step = np.where(flip, rng.choice([-1, 0, 1], n), step)
    mid = 10_000 + np.concatenate([[0], np.cumsum(step[:-1])]).astype(float)  # moves after t
    ts = np.arange(n, dtype=np.int64) * 100_000_000
    return book_dataset(ts, (mid - 1)[:, None], bid_sz[:, None], (mid + 1)[:, None],
                        ask_sz[:, None], source="planted")  # fmt: skip


def test_labels_follow_the_fi2010_convention_by_hand() -> None:
    mid = np.array([100.0, 101.0, 103.0, 100.0, 100.0])
    # k=2: m+ = mean of the next two mids; (m+ - m) / m against alpha = 0.005
    assert direction_labels(mid, 2, 0.005).tolist() == [2, 1, 0, -1, -1]
    with pytest.raises(ConfigError, match="horizon"):
        direction_labels(mid, 0, 0.1)
    assert _last_move(np.array([5.0, 5, 6, 6, 4, 4])).tolist() == [0, 0, 1, 1, -1, -1]


def test_features_never_see_the_future_and_splits_leave_gaps() -> None:
    base = planted(2000, seed=1)
    ts, mid = base.ts, base.mid
    half = len(ts) // 2
    bs = np.exp(base.raw[:, 3]) - 1
    as_ = np.exp(base.raw[:, 2]) - 1
    bs2 = bs.copy()
    bs2[half:] = 1.0  # a different future
    a = book_dataset(ts, (mid - 1)[:, None], bs[:, None], (mid + 1)[:, None], as_[:, None])
    b = book_dataset(ts, (mid - 1)[:, None], bs2[:, None], (mid + 1)[:, None], as_[:, None])
    assert np.array_equal(a.features[:half], b.features[:half])
    # labels at t read t+1..t+k only
    labels = direction_labels(mid, 5, 1e-6)
    mid2 = mid.copy()
    mid2[: half - 5] += 7.0  # the past changes the past labels only through m(t) itself
    assert np.array_equal(direction_labels(mid2, 5, 1e-6)[half:], labels[half:])
    split = time_split(1000, 25)
    assert split.train == (0, 575) and split.val == (600, 775) and split.test == (800, 975)
    with pytest.raises(DataError, match="not enough samples"):
        time_split(40, 25)


def test_every_model_beats_the_majority_on_a_planted_signal() -> None:
    report, fitted = evaluate([planted()], 1, seed=3)
    majority = report["models"]["majority"]["macro_f1"]
    for name in ("logistic", "lightgbm", "mlp", "deeplob"):
        assert report["models"][name]["macro_f1"] > majority + 0.2, name
    assert report["best_model"] in ("logistic", "lightgbm", "mlp", "deeplob")
    assert set(fitted) == {"majority", "persistence", "logistic", "lightgbm", "mlp", "deeplob"}


def test_scaler_and_threshold_come_from_the_training_part_only() -> None:
    ds = planted(3000)
    _, fitted = evaluate([ds], 3, models=["logistic"])
    tm = fitted["logistic"]
    split = time_split(len(ds), 3)
    train = np.hstack([ds.features, ds.raw])[split.train[0] : split.train[1]]
    assert np.allclose(tm.mean, train.mean(axis=0))


def test_seeds_make_fits_repeatable_and_files_round_trip(tmp_path: Path) -> None:
    ds = planted(3000)
    for name in ("lightgbm", "mlp", "deeplob"):
        _, one = evaluate([ds], 2, models=[name], seed=5)
        _, two = evaluate([ds], 2, models=[name], seed=5)
        p1, p2 = one[name].predict_proba(ds), two[name].predict_proba(ds)
        assert np.array_equal(p1, p2), name
        path = one[name].save(tmp_path / f"{name}.mkp")
        back = TrainedModel.load(path)
        assert back.schema == one[name].schema
        assert np.allclose(back.predict_proba(ds), p1), name


def test_a_model_refuses_data_of_another_schema(tmp_path: Path) -> None:
    ds = planted(3000)
    _, fitted = evaluate([ds], 2, models=["logistic"])
    path = fitted["logistic"].save(tmp_path / "m.mkp")
    wide = book_dataset(ds.ts, np.c_[ds.mid - 1, ds.mid - 2], np.ones((len(ds), 2)),
                        np.c_[ds.mid + 1, ds.mid + 2], np.ones((len(ds), 2)))  # fmt: skip
    with pytest.raises(DataError, match="levels: model 1, data 2"):
        TrainedModel.load(path).predict_proba(wide)
    (tmp_path / "junk.mkp").write_bytes(b"not a model")
    with pytest.raises(DataError, match="cannot read the model"):
        TrainedModel.load(tmp_path / "junk.mkp")


def test_non_finite_inputs_are_reported_by_column() -> None:
    x = np.zeros((5, len(FEATURE_COLUMNS)))
    x[3, FEATURE_COLUMNS.index("ofi")] = np.nan
    x[4, FEATURE_COLUMNS.index("ret_1s")] = np.inf
    with pytest.raises(DataError, match=r"'ofi': 1.*'ret_1s': 1.*row 3"):
        check_finite(x, FEATURE_COLUMNS)
    with pytest.raises(ConfigError, match="must be one of"):
        make_model("transformer")


def test_report_metrics_by_hand() -> None:
    y = np.array([0, 0, 1, 2, 2, 2])
    proba = np.eye(3)[[0, 1, 1, 2, 2, 0]] * 0.9 + 0.1 / 3
    r = classification_report(y, proba)
    assert r["accuracy"] == pytest.approx(4 / 6)
    assert r["confusion"] == [[1, 1, 0], [0, 1, 0], [1, 0, 2]]
    assert r["per_class"]["up"] == {"precision": 1.0, "recall": 2 / 3, "f1": 0.8, "support": 3}
    assert r["macro_f1"] == pytest.approx((0.5 + 2 / 3 + 0.8) / 3)


def test_cli_evaluate_ends_with_models_and_the_best(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from makerkit.cli import app

    args = ["predictor", "evaluate", "--train", "synthetic:seed=3,events=30000", "--horizon", "5",
            "--models", "majority,persistence,logistic,lightgbm", "--out", str(tmp_path),
            "--json"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout.strip().splitlines()[-1])
    assert {"majority", "persistence", "logistic"} <= set(payload["models"])
    assert payload["best_model"] in payload["models"]
    assert all({"accuracy", "macro_f1"} <= set(m) for m in payload["models"].values())
    assert (tmp_path / "metrics.json").exists()
    model = tmp_path / "m.mkp"
    train = ["predictor", "train", "--data", "synthetic:seed=4,events=30000", "--horizon", "5",
             "--model", "logistic", "-o", str(model), "--out", str(tmp_path / "train"),
             "--json"]  # fmt: skip
    trained = CliRunner().invoke(app, train)
    assert trained.exit_code == 0, trained.output
    assert TrainedModel.load(model).name == "logistic"
    assert (tmp_path / "train" / "metrics.json").exists()
    bad = CliRunner().invoke(app, ["predictor", "evaluate", "--train", "nowhere_message_1.csv",
                                   "--horizon", "5"])  # fmt: skip
    assert bad.exit_code == 2 and "orderbook twin" in bad.output


def test_return_and_adverse_selection_labels_by_hand() -> None:
    mid = np.array([100.0, 100.5, 99.0, 101.5, 101.5])
    assert np.array_equal(return_labels(mid, 2)[:3], [-1.0, 1.0, 2.5])
    assert np.isnan(return_labels(mid, 2)[3:]).all()
    ts = np.arange(5, dtype=np.int64)
    ds = book_dataset(ts, (mid - 0.5)[:, None], np.ones((5, 1)), (mid + 0.5)[:, None],
                      np.ones((5, 1)))  # fmt: skip
    bid, ask = adverse_labels(ds, 2)
    # a buy at 99.5 then the mid at 99: a loss; a sell at 100.5 then 99: a gain
    assert bid.tolist() == [1, 0, 0, -1, -1]
    assert ask.tolist() == [0, 1, 1, -1, -1]


def test_adverse_model_learns_when_fills_lose_and_the_guard_moves_that_side() -> None:
    from makerkit.core import StrategyContext
    from makerkit.predictor import fit_adverse
    from makerkit.strategies import AdverseGuard, make_strategy

    rng = np.random.default_rng(4)
    n = 4000
    ts = np.arange(n, dtype=np.int64) * 100_000_000
    imb = rng.uniform(-1, 1, n)
    mid = 100.0 + np.cumsum(rng.choice([-0.5, 0.5], n))
    # a trade every other sample, half each way; it loses when the imbalance was against it
    t_idx = np.arange(1, n - 20, 2)
    side = rng.choice([-1, 1], t_idx.size)  # aggressor
    price = np.where(side < 0, mid[t_idx] - 0.5, mid[t_idx] + 0.5)
    resting = -side
    lose = (resting * imb[t_idx]) < 0  # the sample just before the trade
    later = t_idx + 11  # the first sample 1 s after the trade: the mid against the losers
    mid[later] = np.where(lose, price - resting * 2.0, price + resting * 2.0)
    feats = {"imbalance_n": imb, "spread_ticks": np.ones(n)}
    model = fit_adverse(ts, mid, feats, trades=(ts[t_idx] + 1, side, price),
                        names=("imbalance_n",))  # fmt: skip
    assert 0.2 < model.base_rate[0] < 0.8
    bad_for_bids = model.signals({"imbalance_n": -0.9})
    assert bad_for_bids["p_adverse_bid"] > 0.8 > 0.2 > bad_for_bids["p_adverse_ask"]
    assert model.signals({"imbalance_n": float("nan")}) == {}
    guard = AdverseGuard(make_strategy("symmetric", half_spread=1.0), threshold=0.6, widen=2)
    ctx = StrategyContext(ts_ns=0, best_bid=100, best_ask=102,
                          features={"p_adverse_bid": 0.9, "p_adverse_ask": 0.1})  # fmt: skip
    plain = make_strategy("symmetric", half_spread=1.0).quote(ctx)
    moved = guard.quote(ctx)
    assert (moved.bid_price, moved.ask_price) == (plain.bid_price - 2, plain.ask_price)
    pulled = AdverseGuard(make_strategy("symmetric"), threshold=0.6, pull=True).quote(ctx)
    assert pulled.bid_price is None and pulled.ask_price is not None
    with pytest.raises(ConfigError, match="threshold"):
        AdverseGuard(make_strategy("symmetric"), threshold=1.5)


def test_binance_captures_and_clock_sampling_make_datasets(data_root: Path) -> None:
    from makerkit.data import load_binance_capture
    from makerkit.predictor import binance_dataset

    capture = load_binance_capture(data_root / "crypto" / "binance_spot_btcusdt_20240808_stream.gz")
    ds = binance_dataset(capture, levels=5)
    assert len(ds) > 3000 and ds.levels == 5 and ds.raw.shape == (len(ds), 20)
    assert np.all(np.diff(ds.ts) >= 0) and np.all(ds.ask > ds.bid)
    sparse = binance_dataset(capture, levels=5, clock_ms=1000.0)
    span_s = (int(ds.ts[-1]) - int(ds.ts[0])) / 1e9
    assert abs(len(sparse) - span_s) <= 3  # one sample a second
    report, _ = evaluate([ds], 5, models=["majority", "lightgbm"])
    assert report["models"]["lightgbm"]["macro_f1"] > report["models"]["majority"]["macro_f1"]
