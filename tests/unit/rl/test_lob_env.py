"""The Gymnasium environment on the simulated book: checkers, seeds, reward accounting."""

from __future__ import annotations

import numpy as np
import pytest

gym = pytest.importorskip("gymnasium")
pytest.importorskip("stable_baselines3")

from makerkit.core.errors import ConfigError  # noqa: E402
from makerkit.rl import LOBEnvConfig, MarketMakingEnv, register  # noqa: E402


def test_it_passes_gymnasiums_and_stable_baselines3s_checkers() -> None:
    from gymnasium.utils.env_checker import check_env
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    register()
    env = gym.make("makerkit/MarketMaking-v0", config=LOBEnvConfig(episode_steps=30))
    check_env(env.unwrapped, skip_render_check=True)
    sb3_check_env(MarketMakingEnv(LOBEnvConfig(episode_steps=30)))


def play(env: MarketMakingEnv, seed: int, steps: int) -> tuple[list[float], list[dict]]:  # type: ignore[type-arg]
    rng = np.random.default_rng(seed)
    env.reset(seed=seed)
    rewards, infos = [], []
    for _ in range(steps):
        action = rng.uniform(-1, 1, 3).astype(np.float32)
        _, r, done, _, info = env.step(action)
        rewards.append(r)
        infos.append(info)
        if done:
            break
    return rewards, infos


@pytest.mark.parametrize("reward", ["penalised", "terminal"])
def test_rewards_add_up_to_equity_minus_penalties(reward: str) -> None:
    env = MarketMakingEnv(LOBEnvConfig(episode_steps=120, reward=reward, max_offset=2.0))
    rewards, infos = play(env, 3, 200)
    last = infos[-1]
    assert len(rewards) == 120 and last["fills"] > 0
    assert sum(rewards) == pytest.approx(last["equity"] - last["penalties"])


def test_cancelled_quotes_are_not_fills() -> None:
    env = MarketMakingEnv(LOBEnvConfig(episode_steps=80, max_offset=40.0))
    env.reset(seed=5)
    far = np.ones(3, dtype=np.float32)  # 40 ticks out: nothing reaches them
    info: dict = {}  # type: ignore[type-arg]
    for _ in range(80):  # the mid moves, so the quotes are cancelled and replaced
        *_, info = env.step(far)
    assert info["fills"] == 0 and info["position"] == 0 and info["equity"] == 0.0


def test_a_seed_and_the_actions_repeat_an_episode() -> None:
    a = play(MarketMakingEnv(LOBEnvConfig(episode_steps=60)), 8, 60)
    b = play(MarketMakingEnv(LOBEnvConfig(episode_steps=60)), 8, 60)
    assert a == b
    c = play(MarketMakingEnv(LOBEnvConfig(episode_steps=60)), 9, 60)
    assert a != c


def test_a_predictor_joins_the_observation() -> None:
    from makerkit.features import LinearPredictor

    up = LinearPredictor(features=("spread_ticks",), coef=(0.0,), intercept=2.5)
    env = MarketMakingEnv(LOBEnvConfig(episode_steps=10), predictor=up)
    obs, _ = env.reset(seed=1)
    assert obs.shape == (10,) and env.observation_space.contains(obs)
    obs, *_ = env.step(np.zeros(3, dtype=np.float32))
    assert obs[-1] == pytest.approx(2.5)


def test_bad_config_and_misuse_are_refused() -> None:
    with pytest.raises(ConfigError, match="reward"):
        LOBEnvConfig(reward="sharpe")
    with pytest.raises(ConfigError, match="reset"):
        MarketMakingEnv().step(np.zeros(3, dtype=np.float32))


@pytest.mark.expensive
def test_a_policy_trained_on_the_book_runs_as_the_rl_strategy_in_a_backtest(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import json

    from typer.testing import CliRunner

    from makerkit.backtest import BacktestConfig, run_synthetic_backtest
    from makerkit.cli import app
    from makerkit.core.errors import DataError
    from makerkit.rl import RLStrategy

    runner = CliRunner()
    out = tmp_path / "lob"
    trained = runner.invoke(app, ["rl", "train", "--env", "lob", "--timesteps", "2048",
                                  "--seed", "3", "--out", str(out), "--json"])  # fmt: skip
    assert trained.exit_code == 0, trained.output
    policy = out / "policy.zip"
    result = run_synthetic_backtest(RLStrategy(policy), BacktestConfig(events=20_000, seed=2))
    assert result.strategy == "rl" and len(result.path["ts"]) > 100
    assert result.metrics.quote_uptime > 0  # it quoted
    args = ["backtest", "--strategy", "rl", "--policy", str(policy), "--data",
            "synthetic:seed=2,events=20000", "--out", str(tmp_path / "bt"), "--json"]  # fmt: skip
    cli = runner.invoke(app, args)
    assert cli.exit_code == 0, cli.output
    assert json.loads(cli.stdout.strip().splitlines()[-1])["metrics"] == msgspec_builtins(result)
    assert (
        runner.invoke(app, ["backtest", "--strategy", "rl", "--out", str(tmp_path)]).exit_code == 2
    )
    # rl evaluate: the policy and the strategies on the same held-out episodes
    args = ["rl", "evaluate", "--env", "lob", "--policy", str(policy), "--episodes", "3",
            "--seed", "500", "--out", str(tmp_path / "ev"), "--json"]  # fmt: skip
    evaluated = runner.invoke(app, args)
    assert evaluated.exit_code == 0, evaluated.output
    payload = json.loads(evaluated.stdout.strip().splitlines()[-1])
    assert list(payload["policies"]) == [
        "symmetric",
        "inventory_skew",
        "glft",
        "avellaneda_stoikov",
        "ppo",
    ]
    sharpe = {k: v["sharpe_mean"] for k, v in payload["policies"].items()}
    assert payload["ppo_beats_symmetric_on_sharpe"] == (sharpe["ppo"] > sharpe["symmetric"])
    assert payload["policies"]["symmetric"]["fills_mean"] > 0
    assert "data:image/png" in (tmp_path / "ev" / "evaluation.html").read_text()
    wrong = runner.invoke(app, ["rl", "evaluate", "--env", "lob", "--policy", "symmetric"])
    assert wrong.exit_code == 2 and "takes a policy.zip" in wrong.output
    model_policy = tmp_path / "model"
    runner.invoke(app, ["rl", "train", "--timesteps", "1024", "--out", str(model_policy)])
    with pytest.raises(DataError, match="expects observations"):
        RLStrategy(model_policy / "policy.zip")  # trained on the model market: wrong shape


def msgspec_builtins(result):  # type: ignore[no-untyped-def]
    import msgspec

    return msgspec.to_builtins(result.metrics)
