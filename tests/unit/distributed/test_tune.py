"""tune: chosen on the train window, judged on the test window; deterministic; bad input refused."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from makerkit.core import ConfigError
from makerkit.distributed import parse_dimension, parse_window, tune, walk_forward

FIELDS = {"pnl", "pnl_ci95", "fills", "pnl_spread", "pnl_adverse", "pnl_inventory", "pnl_fees"}
SIM = "synthetic:events=120000,seed=4"
GOOG = "lobster:GOOG"


def test_the_cli_contract_on_a_recorded_day(tmp_path: Path, data_root: Path) -> None:
    cmd = [sys.executable, "-m", "makerkit", "tune", "--strategy", "symmetric", "--data",
           "lobster:GOOG", "--train", "10:00-10:30", "--test", "10:30-11:00", "--search", "grid",
           "--grid-points", "3", "--out", str(tmp_path), "--json"]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=300)
    assert proc.returncode == 0, proc.stderr
    line = json.loads(proc.stdout.strip().splitlines()[-1])
    assert set(line["best_params"]) == {"half_spread"} and len(line["trials"]) == 3
    for window in ("in_sample", "out_of_sample"):
        assert set(line[window]) >= FIELDS
        row = line[window]
        assert row["pnl"] == pytest.approx(
            row["pnl_spread"] + row["pnl_adverse"] + row["pnl_inventory"] + row["pnl_fees"]
        )
        lo, hi = row["pnl_ci95"]
        assert lo <= hi
    assert line["in_sample"] != line["out_of_sample"]  # two different windows
    assert json.loads((tmp_path / "tune.json").read_text())["best_params"] == line["best_params"]


def test_the_best_train_setting_is_the_one_reported_and_optuna_repeats_itself() -> None:
    first = tune("inventory_skew", SIM, ("09:30", "09:50"), ("09:50", "10:10"), trials=6, seed=3)
    again = tune("inventory_skew", SIM, ("09:30", "09:50"), ("09:50", "10:10"), trials=6, seed=3)
    assert first.best_params == again.best_params and first.trials == again.trials
    best = max((t for t in first.trials if t["objective"] is not None),
               key=lambda t: t["objective"])  # fmt: skip
    assert best["params"] == first.best_params
    assert first.in_sample["edge"] == pytest.approx(best["objective"])  # ranked by edge on train
    other = tune("inventory_skew", SIM, ("09:30", "09:50"), ("09:50", "10:10"), trials=6, seed=4)
    assert other.trials != first.trials  # the seed matters


def test_a_file_strategy_with_its_own_space_and_fixed_parameters() -> None:
    ladder = f"{Path(__file__).parents[3] / 'examples/strategies/glft_ladder.py'}:GLFTLadder"
    result = tune(ladder, SIM, ("09:30", "09:45"), ("09:45", "10:00"), search="grid",
                  space=(parse_dimension("gamma=0.05:0.5:log"),), fixed={"levels": 2},
                  grid_points=2)  # fmt: skip
    assert result.best_params["levels"] == 2 and "gamma" in result.best_params
    assert len(result.trials) == 2


def test_a_hedger_is_tuned_on_a_recorded_pair_and_judged_on_the_next_window(
    data_root: Path,
) -> None:
    hedged = f"{Path(__file__).parents[3] / 'examples/strategies/hedged_maker.py'}:HedgedMaker"
    fixed = {"quote_symbol": "GOOG", "hedge_symbol": "AMZN"}
    result = tune(hedged, "lobster:GOOG+AMZN", ("10:00", "10:10"), ("10:10", "10:20"),
                  search="grid", space=(parse_dimension("half_spread=2:12"),), fixed=fixed,
                  grid_points=2)  # fmt: skip
    assert result.best_params["hedge_symbol"] == "AMZN" and len(result.trials) == 2
    assert {t["params"]["half_spread"] for t in result.trials} == {2.0, 12.0}
    assert result.in_sample != result.out_of_sample  # two windows of both instruments
    assert result.out_of_sample["fills"] > 0
    # ranked by the legs' summed edge: what the hedges paid counts against what quoting earned
    legs = result.in_sample["legs"]
    assert set(legs) == {"GOOG", "AMZN"} and legs["AMZN"]["edge"] < 0
    best = max(result.trials, key=lambda t: t["objective"])
    assert best["objective"] == pytest.approx(sum(leg["edge"] for leg in legs.values()))
    assert best["objective"] < result.in_sample["edge"]  # the quoted leg's alone is higher
    with pytest.raises(ConfigError, match="ranked by what adds up over its legs"):
        tune(hedged, "lobster:GOOG+AMZN", ("10:00", "10:10"), ("10:10", "10:20"),
             objective="sharpe", space=(parse_dimension("half_spread=2:12"),),
             fixed=fixed)  # fmt: skip


def test_bad_windows_and_spaces_are_refused_naming_the_value(data_root: Path) -> None:
    with pytest.raises(ConfigError, match="must end before the test"):
        tune("symmetric", "lobster:GOOG", ("12:00", "13:00"), ("10:00", "11:00"))
    with pytest.raises(ConfigError, match="end must be after its start"):
        parse_window("10:00-10:00", name="train")
    with pytest.raises(ConfigError, match="START-END"):
        parse_window("10:00", name="test")
    with pytest.raises(ConfigError, match="runs from 23:57"):
        tune("symmetric", "binance:BTCUSDT", ("10:00", "11:00"), ("11:00", "12:00"))
    with pytest.raises(ConfigError, match="not start=/end="):
        tune("symmetric", "lobster:GOOG,start=10:00", ("10:00", "11:00"), ("11:00", "12:00"))
    with pytest.raises(ConfigError, match="invalid --space"):
        parse_dimension("gamma=1:0.5")
    with pytest.raises(ConfigError, match="no search space"):
        tune("mine.py:X", SIM, ("09:30", "09:40"), ("09:40", "09:50"))
    with pytest.raises(ConfigError, match="both searched"):
        tune("symmetric", SIM, ("09:30", "09:40"), ("09:40", "09:50"), fixed={"half_spread": 1})


def test_walk_forward_rolls_the_windows_and_sums_out_of_sample(data_root: Path) -> None:
    walked = walk_forward("symmetric", GOOG, ("10:00", "10:10"), ("10:10", "10:20"),
                          until="10:40", search="grid", grid_points=2)  # fmt: skip
    assert [(f.train, f.test) for f in walked.folds] == [
        ("10:00-10:10", "10:10-10:20"), ("10:10-10:20", "10:20-10:30"),
        ("10:20-10:30", "10:30-10:40")]  # fmt: skip
    for fold in walked.folds:  # each fold is a tune of its own windows
        alone = tune("symmetric", GOOG, tuple(fold.train.split("-")), tuple(fold.test.split("-")),
                     search="grid", grid_points=2)  # type: ignore[arg-type]  # fmt: skip
        assert alone.best_params == fold.best_params and alone.out_of_sample == fold.out_of_sample
    total = walked.out_of_sample
    assert total["folds"] == 3
    assert total["pnl"] == pytest.approx(sum(f.out_of_sample["pnl"] for f in walked.folds))
    assert total["edge"] == pytest.approx(sum(f.out_of_sample["edge"] for f in walked.folds))
    assert total["folds_with_positive_edge"] == sum(f.out_of_sample["edge"] > 0
                                                    for f in walked.folds)  # fmt: skip
    with pytest.raises(ConfigError, match="--until '10:15'"):
        walk_forward("symmetric", GOOG, ("10:00", "10:10"), ("10:10", "10:20"), until="10:15")


def test_the_cli_walks_forward_and_writes_every_fold(tmp_path: Path, data_root: Path) -> None:
    cmd = [sys.executable, "-m", "makerkit", "tune", "--strategy", "symmetric", "--data", GOOG,
           "--train", "10:00-10:05", "--test", "10:05-10:10", "--until", "10:15", "--search",
           "grid", "--grid-points", "1", "--out", str(tmp_path), "--json"]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=300)
    assert proc.returncode == 0, proc.stderr
    line = json.loads(proc.stdout.strip().splitlines()[-1])
    assert [f["test"] for f in line["folds"]] == ["10:05-10:10", "10:10-10:15"]
    assert line["out_of_sample"]["folds"] == 2 and "2 folds" in proc.stderr
    saved = json.loads((tmp_path / "walk_forward.json").read_text())
    assert saved["out_of_sample"] == line["out_of_sample"]


def test_trials_on_workers_and_on_ray_choose_as_they_would_here(data_root: Path) -> None:
    windows = (("10:00", "10:10"), ("10:10", "10:20"))
    here = tune("symmetric", GOOG, *windows, search="grid", grid_points=3)
    local = tune("symmetric", GOOG, *windows, search="grid", grid_points=3, runner="local",
                 workers=2)  # fmt: skip
    assert local.trials == here.trials and local.out_of_sample == here.out_of_sample
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        on_ray = tune("inventory_skew", GOOG, *windows, trials=4, seed=2, runner="ray",
                      workers=2)  # fmt: skip
    finally:
        ray.shutdown()
    batched = tune("inventory_skew", GOOG, *windows, trials=4, seed=2, runner="local",
                   workers=2)  # fmt: skip
    # Optuna asks two settings at a time in both: the same trials, the same choice
    assert on_ray.trials == batched.trials and on_ray.best_params == batched.best_params
