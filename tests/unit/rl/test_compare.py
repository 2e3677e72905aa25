"""The residual action around GLFT, the exact optimum, the seed comparison's statistics and CLI."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import numpy as np
import pytest
from typer.testing import CliRunner

from makerkit.cli import app
from makerkit.core.errors import ConfigError
from makerkit.rl._compare import bootstrap_ci, compare_rows, verdict
from makerkit.rl._gym_model import ActionMap, ModelEnv, ModelVectorEnv, model_obs
from makerkit.rl._model_env import (
    ModelParams,
    ModelVecEnv,
    as_penalty,
    avellaneda_stoikov_policy,
    episode_rewards,
    glft_policy,
    optimal_policy,
    run_policy,
)

P = as_penalty(ModelParams(max_offset=4.0), 0.1)


def test_the_residual_zero_action_is_glft_exactly() -> None:
    glft = glft_policy(P, 0.1)
    venv = ModelVecEnv(64, P, seed=7)
    raw = venv.reset()
    for _ in range(30):  # inventories spread out, time runs down
        raw, *_ = venv.step(glft(raw))
    mapping = ActionMap(base="glft", gamma=0.1)
    zero = np.zeros((64, 2))
    assert np.array_equal(mapping.offsets(zero, raw, P), glft(raw))
    assert np.ptp(raw[:, 0]) > 0  # the check covered several inventories
    # an action moves the quotes by scale x action around GLFT
    nudged = ActionMap(base="glft", gamma=0.1, scale=0.5).offsets(np.ones((64, 2)), raw, P)
    assert np.allclose(nudged, glft(raw) + 0.5)
    # the absolute map is the old one: -1 -> 0, 1 -> max_offset
    assert np.array_equal(ActionMap().offsets(np.array([[-1.0, 1.0]]), raw[:1], P), [[0.0, 4.0]])


def test_the_residual_env_played_at_zero_is_the_glft_run() -> None:
    env = ModelVectorEnv(32, P, ActionMap(base="glft", gamma=0.1))
    env.reset(seed=11)
    total = np.zeros(32)
    for _ in range(P.steps):
        _, reward, done, _, infos = env.step(np.zeros((32, 2), dtype=np.float32))
        total += reward
    assert done.all()
    ref = episode_rewards(glft_policy(P, 0.1), P, episodes=32, seed=11)
    assert np.allclose(total, ref["reward"]) and np.allclose(infos["pnl"], ref["pnl"])
    # the one-market env too
    one = ModelEnv(P, ActionMap(base="glft", gamma=0.1))
    obs, _ = one.reset(seed=3)
    assert np.allclose(obs, model_obs(np.array([[0.0, 1.0, 0.0]]))[0])
    with pytest.raises(ConfigError, match="base"):
        ActionMap(base="as")


def test_the_optimum_is_at_least_every_closed_form_and_glft_is_close() -> None:
    opt = optimal_policy(P, 0.1, grid=81)
    scores = {name: episode_rewards(make, P, episodes=2000, seed=2**31)["reward"]
              for name, make in (("opt", opt), ("glft", glft_policy(P, 0.1)),
                                 ("as", avellaneda_stoikov_policy(P, 0.1)))}  # fmt: skip
    diff_glft = scores["opt"] - scores["glft"]
    assert scores["opt"].mean() > scores["as"].mean() + 1.0  # AS is first-order only
    assert -0.3 < diff_glft.mean() < 0.5  # GLFT sits near the optimum in this market
    assert run_policy(opt, P, episodes=100, seed=1)["reward_mean"] == pytest.approx(
        episode_rewards(opt, P, episodes=100, seed=1)["reward"].mean()
    )


def test_with_a_liquidation_penalty_the_optimum_flattens_and_glft_does_not() -> None:
    flat = msgspec.structs.replace(P, terminal_penalty=1.0)
    rewards = {name: episode_rewards(make, flat, episodes=1000, seed=2**31)["reward"]
               for name, make in (("opt", optimal_policy(flat, 0.1, grid=81)),
                                  ("blind", optimal_policy(P, 0.1, grid=81)),
                                  ("glft", glft_policy(flat, 0.1)))}  # fmt: skip
    # GLFT's infinite horizon never sees the close; the optimum sells down into it
    assert (rewards["opt"] - rewards["glft"]).mean() > 2.0
    assert (rewards["opt"] - rewards["blind"]).mean() > 2.0  # the end's penalty is in theta
    for bad in (-1.0, float("nan")):
        with pytest.raises(ConfigError, match="terminal_penalty"):
            msgspec.structs.replace(P, terminal_penalty=bad)


def test_bootstrap_interval_and_verdicts_follow_the_numbers() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(5.0, 2.0, 4000)
    lo, hi = bootstrap_ci(x)
    se = x.std() / np.sqrt(x.size)
    assert lo < x.mean() < hi and hi - lo == pytest.approx(2 * 1.96 * se, rel=0.1)
    assert verdict(0.1, 0.3) == "beats" and verdict(-0.3, -0.1) == "worse"
    assert verdict(-0.1, 0.2) == "not distinguishable"
    with pytest.raises(ConfigError, match="2 values"):
        bootstrap_ci(np.array([1.0]))


def test_compare_rows_pairs_episodes_and_reads_the_verdict_from_the_interval() -> None:
    rng = np.random.default_rng(1)
    market = rng.normal(60.0, 8.0, 1000)  # what every policy shares in an episode
    glft = market + rng.normal(0.0, 0.5, 1000)
    better = glft + 0.4 + rng.normal(0.0, 0.5, 1000)  # +0.4 a paired test resolves
    same = glft + rng.normal(0.0, 0.5, 1000)
    worse = glft - 0.4 + rng.normal(0.0, 0.5, 1000)
    refs = {"glft": glft, "avellaneda_stoikov": market - 2.0}
    out = compare_rows({0: better, 1: same, 2: worse}, refs, resamples=2000)
    assert set(out) == {"references", "seeds", "pooled", "ppo_beats_glft", "verdict"}
    rows = {row["seed"]: row for row in out["seeds"]}
    assert [rows[s]["verdict"] for s in (0, 1, 2)] == ["beats", "not distinguishable", "worse"]
    assert rows[0]["ppo_beats_glft"] and not rows[1]["ppo_beats_glft"]
    diff = rows[0]["ppo_minus_glft"]
    assert diff["mean"] == pytest.approx(float((better - glft).mean()))
    lo, hi = diff["ci95"]
    assert 0 < lo < diff["mean"] < hi
    # the unpaired intervals overlap: only pairing by episode sees the gain
    assert rows[0]["ci95"][0] < out["references"]["glft"]["ci95"][1]
    pooled = out["pooled"]
    assert pooled["mean"] == pytest.approx(float(np.mean([better, same, worse])))
    assert pooled["seed_range"] == [rows[2]["mean"], rows[0]["mean"]]
    assert out["ppo_beats_glft"] == pooled["ppo_beats_glft"] == (pooled["verdict"] == "beats")
    with pytest.raises(ConfigError, match="same episodes"):
        compare_rows({0: better[:10]}, refs)
    with pytest.raises(ConfigError, match="reference"):
        compare_rows({0: better}, {"avellaneda_stoikov": glft})


@pytest.mark.expensive
@pytest.mark.slow
def test_rl_compare_trains_each_seed_and_reports_json(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["rl", "compare", "--seeds", "0,1", "--timesteps", "2048",
                                 "--episodes", "50", "--out", str(tmp_path), "--json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout.strip().splitlines()[-1])
    assert payload["env"] == "model" and payload["training_seeds"] == [0, 1]
    assert payload["eval_seed"] == 2**31  # above every training market's seed
    assert set(payload["references"]) == {"avellaneda_stoikov", "glft", "optimum"}
    assert [row["seed"] for row in payload["seeds"]] == [0, 1]
    for row in payload["seeds"]:
        assert Path(row["policy"]).exists() and row["train_seconds"] > 0
        assert row["ppo_beats_glft"] == (row["ppo_minus_glft"]["ci95"][0] > 0)
    assert payload["verdict"] in ("beats", "worse", "not distinguishable")
    assert payload["ppo_beats_glft"] == (payload["pooled"]["ppo_minus_glft"]["ci95"][0] > 0)
    assert "ppo_minus_glft" in payload["pnl"]["pooled"]
    # the headroom above each closed form: the exact optimum, paired on the same episodes
    for name, gap in payload["minus_optimum"].items():
        ref, best = payload["references"][name]["mean"], payload["references"]["optimum"]["mean"]
        assert gap["mean"] == pytest.approx(ref - best)
        assert gap["ci95"][0] <= gap["mean"] <= gap["ci95"][1]
    assert "optimum, paired" in result.stderr or "optimum, paired" in result.output
    assert json.loads((tmp_path / "compare.json").read_text())["seeds"][0]["seed"] == 0
    # a trained residual policy evaluates through `rl evaluate` with its own action map
    policy = payload["seeds"][0]["policy"]
    evaluated = runner.invoke(app, ["rl", "evaluate", "--policy", policy, "--episodes", "20",
                                    "--seed", str(2**31), "--json"])  # fmt: skip
    assert evaluated.exit_code == 0, evaluated.output
    mean = json.loads(evaluated.stdout.strip().splitlines()[-1])["reward_mean"]
    ppo = payload["seeds"][0]["mean"]
    assert abs(mean - ppo) < 10  # 20 of the same 50 episodes


@pytest.mark.expensive
def test_rl_compare_on_a_market_that_closes_flat(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["rl", "compare", "--seeds", "0", "--timesteps", "1024",
                                      "--episodes", "200", "--terminal-penalty", "1",
                                      "--out", str(tmp_path), "--json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout.strip().splitlines()[-1])
    assert payload["terminal_penalty"] == 1.0 and "at the end" in payload["metric"]
    # GLFT does not see the close: it leaves the optimum a clear gain there
    assert payload["minus_optimum"]["glft"]["ci95"][1] < -1.0
    evaluated = CliRunner().invoke(app, ["rl", "evaluate", "--policy", "avellaneda-stoikov",
                                         "--episodes", "20", "--terminal-penalty", "1",
                                         "--json"])  # fmt: skip
    assert evaluated.exit_code == 0, evaluated.output
    row = json.loads(evaluated.stdout.strip().splitlines()[-1])
    assert row["terminal_penalty"] == 1.0 and "1.0 x inventory^2 at the end" in row["reward"]


def test_rl_compare_refuses_bad_input(tmp_path: Path) -> None:
    runner = CliRunner()
    late, rate, scale = "--terminal-penalty", "--learning-rate", "--residual-scale"
    for args, words in ((["--seeds", "0,x"], "--seeds"), (["--seeds", "1,1"], "each once"),
                        (["--env", "moon"], "--env"), (["--action", "up"], "--action"),
                        (["--episodes", "1"], "--episodes"), ([late, "-1"], late),
                        (["--env", "lob", late, "1"], late), ([rate, "0"], rate),
                        (["--env", "lob", scale, "1"], scale)):  # fmt: skip
        result = runner.invoke(app, ["rl", "compare", "--out", str(tmp_path), *args])
        assert result.exit_code == 2 and words in result.output, (args, result.output)
