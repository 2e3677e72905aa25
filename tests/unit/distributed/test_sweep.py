from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from makerkit.cli import app
from makerkit.core import ConfigError, MakerkitError
from makerkit.distributed import (
    BacktestTask,
    backtest_row,
    expand_range,
    in_window,
    plan_sweep,
    run_sweep,
    run_tasks,
    summarise,
)
from makerkit.testing._faults import crash_once, square

runner = CliRunner()
SMALL = "synthetic:events=20000"


def grid(**backtest: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"strategies": ["symmetric"], "data": [SMALL], "seeds": [1, 2]}
    return {"backtest": {**base, **backtest}}


# ------------------------------------------------------------------- configs


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.5, [0.5]),
        ([1, 2, 5], [1, 2, 5]),
        ({"start": 1, "stop": 3, "num": 3}, [1, 2, 3]),
        ({"start": 0.0, "stop": 1.0, "num": 5}, [0.0, 0.25, 0.5, 0.75, 1.0]),
        ({"start": 2, "stop": 10, "step": 4}, [2, 6, 10]),
        ({"start": 0.1, "stop": 0.3, "step": 0.1}, [0.1, 0.2, 0.3]),
        ({"start": 4, "stop": 4, "num": 1}, [4]),
    ],
)
def test_expand_range(value: Any, expected: list[Any]) -> None:
    assert expand_range("x", value) == pytest.approx(expected)
    assert [type(v) for v in expand_range("x", value)] == [type(v) for v in expected]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([], "empty list"),
        ({"start": 3, "stop": 1, "num": 2}, "below start"),
        ({"start": 1, "stop": 3, "num": 0}, "num must be"),
        ({"start": 1, "stop": 3, "step": 0}, "step must be > 0"),
        ({"start": 1, "stop": 3}, "must be {start, stop, num}"),
        ({"start": "a", "stop": 3, "num": 2}, "must be numbers"),
    ],
)
def test_bad_ranges_are_refused(value: Any, message: str) -> None:
    with pytest.raises(ConfigError, match="invalid") as info:
        expand_range("glft.gamma", value)
    assert message in str(info.value) and "glft.gamma" in str(info.value)


@pytest.mark.usefixtures("data_root")  # lobster:GOOG must exist to be planned
def test_the_grid_is_every_combination_in_order(tmp_path: Path) -> None:
    config = grid(
        strategies=["symmetric", "glft"],
        data=[SMALL, "lobster:GOOG"],
        params={"glft": {"gamma": [0.01, 0.1], "k": {"start": 1.0, "stop": 2.0, "num": 2}}},
    )
    plan = plan_sweep(config, tmp_path)
    # symmetric: 1 combo x (2 seeds + 1 recorded day); glft: 4 combos x 3
    assert len(plan.backtests) == 3 + 4 * 3
    assert [t.task_id for t in plan.tasks] == list(range(15))
    glft = [t for t in plan.backtests if t.strategy == "glft"]
    assert {(t.params["gamma"], t.params["k"]) for t in glft} == {
        (0.01, 1.0), (0.01, 2.0), (0.1, 1.0), (0.1, 2.0),
    }  # fmt: skip
    recorded = [t for t in plan.backtests if t.market == "lobster:GOOG"]
    assert all(t.seed is None and t.data == "lobster:GOOG" for t in recorded)
    seeded = [t for t in plan.backtests if t.market == SMALL]
    assert {t.data for t in seeded} == {f"synthetic:seed={s},events=20000" for s in (1, 2)}


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({}, "empty grid"),
        ({"backtest": {"strategies": [], "data": [SMALL]}}, "non-empty list `strategies`"),
        (grid(data=[]), "non-empty list `data`"),
        (grid(strategies=["martingale"]), "unknown strategy 'martingale'"),
        (grid(params={"symmetric": {"gama": [1]}}), "invalid parameter(s) ['gama']"),
        (grid(params={"glft": {"gamma": [1]}}), "not in `strategies`"),
        (grid(params={"symmetric": {"half_spread": []}}), "empty list"),
        (grid(data=["nasdaq:x"]), "lobster:SYMBOL"),
        (grid(data=["synthetic:events=0"]), "must be > 0"),
        (grid(seeds=["a"]), "seeds must be integers"),
        (grid(sedes=[1]), "unknown key(s) ['sedes']"),
        ({"rl": {"seeds": [0], "timesteps": 10}}, "timesteps must be"),
        ({"rl": {"seeds": [5], "eval_seed": 0, "eval_episodes": 10}}, "overlaps"),
        ({"rl": {"seeds": [0], "env": "lob"}}, "sweeps train on `model`"),
    ],
)
def test_bad_configs_are_refused(tmp_path: Path, config: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        plan_sweep(config, tmp_path)
    assert message in str(info.value)


# ----------------------------------------------------------------- executors


def test_rows_come_back_in_task_order_and_task_errors_stay_in_their_row() -> None:
    rows, info = run_tasks(square, [("", v) for v in (3, -1, 5, 2)], workers=2)
    assert [r.get("value") for r in rows] == [9, None, 25, 4]
    assert rows[1]["error"] == "ValueError: negative value -1"
    assert info["lost_workers"] == 0


def test_a_lost_worker_is_replaced_and_its_tasks_rerun(tmp_path: Path) -> None:
    marker = str(tmp_path / "crashed")
    rows, info = run_tasks(crash_once, [(marker, v) for v in range(6)], workers=2)
    assert Path(marker).exists()  # the worker really died
    assert [r["value"] for r in rows] == [v * v for v in range(6)]
    assert info["lost_workers"] == 1 and info["retried_tasks"] >= 1


def test_without_retries_the_lost_task_is_reported() -> None:
    from makerkit.testing._faults import always_crash

    rows, _ = run_tasks(always_crash, [4, 5], workers=1, retries=0)
    assert rows[0] == {"value": 16} and "worker lost 1 times" in rows[1]["error"]


def test_a_sweep_equals_its_backtests_run_one_by_one(tmp_path: Path) -> None:
    plan = plan_sweep(grid(strategies=["symmetric", "glft"]), tmp_path)
    seen: list[int] = []
    result = run_sweep(plan, workers=2, on_result=lambda r: seen.append(r["task_id"]))
    assert sorted(seen) == [0, 1, 2, 3] and not result.failed
    for row, task in zip(result.rows, plan.backtests, strict=True):
        direct = backtest_row(task)
        assert row["strategy"] == task.strategy and row["seed"] == task.seed
        assert {k: row[k] for k in ("pnl_total", "fills", "sharpe", "final_position")} == {
            k: direct[k] for k in ("pnl_total", "fills", "sharpe", "final_position")
        }
    summary = summarise(result.rows)
    assert {s["strategy"]: s["runs"] for s in summary} == {"symmetric": 2, "glft": 2}


def test_an_unreachable_ray_address_is_refused_fast() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ConfigError, match=f"cannot reach a Ray cluster at 127.0.0.1:{port}"):
        run_tasks(square, [("", 1)], runner="ray", ray_address=f"127.0.0.1:{port}")
    with pytest.raises(ConfigError, match="must be `auto` or HOST:PORT"):
        run_tasks(square, [("", 1)], runner="ray", ray_address="somewhere")


# ---------------------------------------------------------------------- Ray


@pytest.fixture(scope="module")
def local_ray() -> Any:
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def test_ray_runs_the_sweep_like_local_processes(local_ray: Any, tmp_path: Path) -> None:
    plan = plan_sweep(grid(strategies=["symmetric", "inventory_skew"]), tmp_path)
    on_ray = run_sweep(plan, runner="ray")
    local = run_sweep(plan, workers=2)
    assert on_ray.info["runner"] == "ray" and on_ray.info["workers"] == 2
    keys = ("task_id", "strategy", "data", "pnl_total", "fills", "sharpe", "markout_1s")
    assert [{k: r[k] for k in keys} for r in on_ray.rows] == [
        {k: r[k] for k in keys} for r in local.rows
    ]


def test_ray_retries_a_task_whose_worker_died(local_ray: Any, tmp_path: Path) -> None:
    marker = str(tmp_path / "crashed")
    rows, info = run_tasks(crash_once, [(marker, v) for v in range(5)], runner="ray")
    assert Path(marker).exists()
    assert [r["value"] for r in rows] == [v * v for v in range(5)] and info["runner"] == "ray"


# ---------------------------------------------------------------------- CLI


def test_cli_sweep_writes_parquet_and_html(tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    config = tmp_path / "grid.toml"
    config.write_text(
        'name = "tiny"\n[backtest]\nstrategies = ["symmetric"]\n'
        f'data = ["{SMALL}"]\nseeds = [1, 2]\n'
        "[backtest.params.symmetric]\nhalf_spread = [1, 3]\n"
    )
    result = runner.invoke(app, ["sweep", str(config), "--out", str(tmp_path / "o"), "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout.strip().splitlines()[-1])
    assert payload["tasks"] == 4 and payload["failed"] == 0 and payload["name"] == "tiny"
    table = pq.read_table(payload["results"]).to_pylist()
    assert [(r["p_half_spread"], r["seed"]) for r in table] == [(1, 1), (1, 2), (3, 1), (3, 2)]
    assert all(r["fills"] > 0 for r in table)
    page = Path(payload["report"]).read_text()
    assert "Configurations, best mean edge first" in page and "data:image/png" in page
    assert payload["objective"] == "edge"


def test_cli_sweep_refuses_a_bad_config(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(
        '[backtest]\nstrategies = ["glft"]\ndata = ["synthetic"]\n'
        "[backtest.params.glft]\ngamma = { start = 1, stop = 0, num = 3 }\n"
    )
    result = runner.invoke(app, ["sweep", str(config), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "stop 0 is below start 1" in result.output
    assert not (tmp_path / "o").exists()
    broken = tmp_path / "broken.toml"
    broken.write_text("[backtest\n")
    result = runner.invoke(app, ["sweep", str(broken)])
    assert result.exit_code == 2 and "invalid sweep config" in result.output


@pytest.mark.expensive
@pytest.mark.slow
def test_cli_sweep_trains_ppo_per_seed(tmp_path: Path) -> None:
    pytest.importorskip("stable_baselines3")
    pytest.importorskip("pyarrow")
    config = tmp_path / "rl.toml"
    config.write_text("[rl]\nseeds = [0, 1]\ntimesteps = 2048\neval_episodes = 50\n")
    result = runner.invoke(app, ["sweep", str(config), "--out", str(tmp_path / "o"), "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout.strip().splitlines()[-1])
    assert payload["tasks"] == 2 and payload["failed"] == 0
    for seed in (0, 1):
        assert (tmp_path / "o" / "rl" / f"seed-{seed}" / "policy.zip").stat().st_size > 0
    import pyarrow.parquet as pq

    rows = pq.read_table(payload["results"]).to_pylist()
    assert [r["seed"] for r in rows] == [0, 1]
    assert all(r["as_reward_mean"] > 0 and r["ratio_to_avellaneda_stoikov"] < 2 for r in rows)


def test_a_missing_recorded_day_is_refused_before_any_work(data_root: Path, tmp_path: Path) -> None:
    with pytest.raises(MakerkitError, match="no file for MSFT"):
        plan_sweep(grid(data=["lobster:MSFT"]), tmp_path)


def test_recorded_days_sweep_with_the_queue_model(data_root: Path, tmp_path: Path) -> None:
    days = ["lobster:GOOG,queue=conservative", "lobster:GOOG,queue=probabilistic"]
    config = grid(strategies=["symmetric", "glft"], data=days)
    plan = plan_sweep(config, tmp_path)
    assert len(plan.backtests) == 4 and all(t.seed is None for t in plan.backtests)
    result = run_sweep(plan, workers=2)
    assert not result.failed
    fills = {(r["strategy"], r["market"].split("=")[1]): r["fills"] for r in result.rows}
    # the conservative queue never fills more than the probabilistic one
    for name in ("symmetric", "glft"):
        assert 0 < fills[(name, "conservative")] <= fills[(name, "probabilistic")]


def test_a_task_that_always_kills_its_worker_takes_nothing_else_down() -> None:
    from makerkit.testing._faults import always_crash

    rows, info = run_tasks(always_crash, list(range(8)), workers=2, retries=1)
    assert "worker lost 2 times" in rows[5]["error"]  # task 5 crashes every time
    assert [r.get("value") for r in rows] == [v * v if v != 5 else None for v in range(8)]
    # once among the others (who shared its round go again, alone, at no charge), then
    # twice alone: charged each time, given up after the second
    assert info["lost_workers"] == 3


def test_a_sweep_runs_a_strategy_from_a_file_in_worker_processes(tmp_path: Path) -> None:
    mine = tmp_path / "mine.py"
    mine.write_text(
        "from makerkit.strategies import Symmetric\n\n"
        "class Mine(Symmetric, kw_only=True):\n    pass\n"
    )
    name = f"{mine}:Mine"
    plan = plan_sweep(
        {"backtest": {"strategies": [name], "data": [SMALL], "seeds": [1],
                      "params": {name: {"half_spread": [1.0, 2.0]}}}},
        tmp_path,
    )  # fmt: skip
    rows = run_sweep(plan, workers=2).rows
    assert len(plan.backtests) == 2 and len(rows) == 2
    assert all(isinstance(r.get("pnl_total"), float) for r in rows), rows
    assert sorted(r["p_half_spread"] for r in rows) == [1.0, 2.0]
    with pytest.raises(ConfigError, match="no class 'Theirs'"):
        plan_sweep(grid(strategies=[f"{mine}:Theirs"]), tmp_path)


def test_a_sweep_ranks_on_the_train_window_and_judges_the_best_on_the_test(
    data_root: Path, tmp_path: Path
) -> None:
    config = {"backtest": {"strategies": ["symmetric"], "data": ["lobster:GOOG"],
                           "params": {"symmetric": {"half_spread": [1.0, 6.0, 14.0]}}}}  # fmt: skip
    path = tmp_path / "split.json"
    path.write_text(json.dumps(config))
    out = tmp_path / "out"
    windows = ["--train", "10:00-10:15", "--test", "10:15-10:30", "--json"]
    result = runner.invoke(app, ["sweep", str(path), "--out", str(out), "--workers", "1", *windows])
    assert result.exit_code == 0, result.output
    line = json.loads(result.stdout.strip().splitlines()[-1])
    best = line["best"][0]
    # the best on train is the best of the three train runs, each run on the train window only
    plan = in_window(plan_sweep(config, out), ("10:00", "10:15"), name="train")
    assert all(t.data.endswith("start=10:00,end=10:15") for t in plan.backtests)
    train_rows = run_sweep(plan).rows
    assert summarise(train_rows)[0]["params"] == best["params"]
    # judged once on the test window: the same as a backtest of that setting there
    judged = line["out_of_sample"][0]
    assert judged["params"] == best["params"] and judged["runs"] == 1
    alone = backtest_row(BacktestTask(task_id=0, strategy="symmetric",
                                      params=json.loads(best["params"]),
                                      data="lobster:GOOG,start=10:15,end=10:30",
                                      market="lobster:GOOG"))  # fmt: skip
    assert judged["pnl_mean"] == alone["pnl_total"] and judged["fills_mean"] == alone["fills"]
    assert judged["pnl_mean"] != best["pnl_mean"]  # another window, another result
    refused = runner.invoke(app, ["sweep", str(path), "--out", str(out), "--train",
                                  "10:15-10:30", "--test", "10:00-10:15"])  # fmt: skip
    assert refused.exit_code == 2 and "must start after the train" in refused.output
    alone_test = runner.invoke(
        app, ["sweep", str(path), "--out", str(out), "--test", "10:00-10:15"]
    )
    assert alone_test.exit_code == 2 and "without --train" in alone_test.output
