"""The Avellaneda-Stoikov model market against the paper, reward accounting, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from makerkit.cli import app
from makerkit.core.errors import ConfigError
from makerkit.rl import (
    ModelParams,
    ModelVecEnv,
    avellaneda_stoikov_policy,
    run_policy,
    symmetric_policy,
)


def test_the_papers_table_for_gamma_0_1() -> None:
    # Avellaneda and Stoikov (2008), table for gamma = 0.1: inventory strategy profit
    # 62.94 (sd 5.89), final q sd 2.80; symmetric 67.21 (sd 13.43), final q sd 8.66
    p = ModelParams()
    inv = run_policy(avellaneda_stoikov_policy(p, 0.1), p, episodes=2000, seed=11)
    sym = run_policy(symmetric_policy(p, 0.1), p, episodes=2000, seed=11)
    assert 58 < inv["pnl_mean"] < 70 and 5 < inv["pnl_std"] < 8
    assert 2.3 < inv["final_inventory_std"] < 3.4
    assert 60 < sym["pnl_mean"] < 74 and 11.5 < sym["pnl_std"] < 15.5
    assert 7.5 < sym["final_inventory_std"] < 9.8
    assert abs(inv["spread_mean"] - sym["spread_mean"]) < 0.01  # the same average spread


def test_rewards_add_up_to_pnl_minus_the_penalties() -> None:
    p = ModelParams(inventory_penalty=0.3, terminal_penalty=0.5)
    env = ModelVecEnv(64, p, seed=2)
    policy = avellaneda_stoikov_policy(p, 0.1)
    obs = env.reset()
    total = np.zeros(64)
    penalties = np.zeros(64)
    for _ in range(p.steps):
        obs, reward, done, info = env.step(policy(obs))
        total += reward
        q_after = np.where(done, info["final_inventory"], obs[:, 0])
        penalties += p.inventory_penalty * q_after**2 * p.dt
    penalties += p.terminal_penalty * info["final_inventory"] ** 2
    assert done.all()
    assert np.allclose(total, info["pnl"] - penalties)


def test_a_seed_repeats_a_run_and_bad_parameters_are_refused() -> None:
    p = ModelParams()
    a = run_policy(symmetric_policy(p, 0.1), p, episodes=300, seed=4)
    b = run_policy(symmetric_policy(p, 0.1), p, episodes=300, seed=4)
    assert a == b
    with pytest.raises(ConfigError, match="gamma"):
        avellaneda_stoikov_policy(p, 0.0)
    with pytest.raises(ConfigError, match="sigma"):
        ModelParams(sigma=-1.0)
    with pytest.raises(ConfigError, match="num_envs"):
        ModelVecEnv(0)


def test_cli_evaluate_ends_with_the_statistics() -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["rl", "evaluate", "--env", "model", "--policy",
                                 "avellaneda-stoikov", "--gamma", "0.1", "--episodes", "200",
                                 "--seed", "9", "--json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout.strip().splitlines()[-1])
    for key in ("pnl_mean", "pnl_std", "final_inventory_mean", "final_inventory_std",
                "spread_mean"):  # fmt: skip
        assert isinstance(payload[key], float)
    bad = runner.invoke(app, ["rl", "evaluate", "--policy", "martingale"])
    assert bad.exit_code == 2 and "must be one of" in bad.output


def test_every_evaluate_mode_reports_one_reward_and_the_raw_pnl_apart(tmp_path: Path) -> None:
    runner = CliRunner()
    args = ["rl", "evaluate", "--env", "model", "--policy", "symmetric", "--gamma", "0.1",
            "--episodes", "200", "--seed", "9", "--json"]  # fmt: skip
    alone = json.loads(runner.invoke(app, args).stdout.strip().splitlines()[-1])
    both = runner.invoke(app, [*args, "--out", str(tmp_path)])
    assert both.exit_code == 0, both.output
    compared = json.loads(both.stdout.strip().splitlines()[-1])
    table = json.loads((tmp_path / "evaluation.json").read_text())
    # the policy alone, the policy with --out, and its row in the comparison: one reward
    assert alone["reward_mean"] == compared["reward_mean"] == table["symmetric"]["reward_mean"]
    assert alone["pnl_mean"] == table["symmetric"]["pnl_mean"]
    assert alone["reward_mean"] < alone["pnl_mean"]  # the inventory penalty is charged
    assert "inventory" in alone["reward"]
    # the report's plot, for a notebook, straight from the JSON (its non-row keys skipped)
    from makerkit.rl import evaluation_figure

    png = evaluation_figure(table)
    assert png.startswith(b"\x89PNG\r\n") and len(png) > 5_000
    assert png != evaluation_figure({"symmetric": table["symmetric"]})  # one bar, not all
    bench = runner.invoke(app, ["bench", "env", "--envs", "256", "--steps", "50", "--repeat",
                                "1", "--json"])  # fmt: skip
    assert bench.exit_code == 0
    assert json.loads(bench.stdout.strip().splitlines()[-1])["vec_model_steps_per_sec"] > 0


@pytest.mark.expensive
def test_ppo_trains_saves_and_is_scored_beside_the_closed_form(tmp_path) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("stable_baselines3")
    runner = CliRunner()
    out = tmp_path / "run"
    result = runner.invoke(app, ["rl", "train", "--env", "model", "--timesteps", "2048",
                                 "--seed", "1", "--out", str(out), "--json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (out / "policy.zip").exists() and (out / "meta.json").exists()
    assert any((out / "checkpoints").iterdir()) and (out / "logs" / "progress.csv").exists()
    scored = runner.invoke(app, ["rl", "evaluate", "--policy", str(out / "policy.zip"),
                                 "--episodes", "100", "--seed", "7", "--json"])  # fmt: skip
    assert scored.exit_code == 0, scored.output
    payload = json.loads(scored.stdout.strip().splitlines()[-1])
    assert payload["avellaneda_stoikov_reward_mean"] > 0
    assert payload["ratio_to_avellaneda_stoikov"] == pytest.approx(
        payload["reward_mean"] / payload["avellaneda_stoikov_reward_mean"]
    )
    (tmp_path / "corrupt.zip").write_bytes(b"not a policy")
    bad = runner.invoke(app, ["rl", "evaluate", "--policy", str(tmp_path / "corrupt.zip")])
    assert bad.exit_code == 2 and "cannot load the policy" in bad.output
    # the held-out evaluations: every tenth of the run at most, and never more often than
    # the training between two of them takes steps (five episodes here outweigh a tenth)
    with np.load(out / "eval" / "evaluations.npz") as evals:  # closed: no stray file handle
        at, used = evals["timesteps"], evals["ep_lengths"].sum(axis=1)
    assert 2 <= len(at) < 10
    assert used[0] > 2048 // 10  # the bound had something to do
    pairs = zip(at[:-1], at[1:], used[:-1], strict=True)
    assert all(later - earlier >= cost for earlier, later, cost in pairs)


def test_markets_stepped_together_are_markets_stepped_alone() -> None:
    p = ModelParams()
    policy = avellaneda_stoikov_policy(p, 0.1)
    together = ModelVecEnv(6, p, seed=40)
    alone = [ModelVecEnv(1, p, seed=40 + i) for i in range(6)]
    obs = together.reset()
    for env in alone:
        env.reset()
    for _ in range(2 * p.steps + 17):  # through two auto-resets
        actions = policy(obs)
        obs, rewards, done, _ = together.step(actions)
        for i, env in enumerate(alone):
            o, r, d, _ = env.step(actions[i : i + 1])
            assert np.array_equal(o[0], obs[i]) and r[0] == rewards[i] and d[0] == done[i]
