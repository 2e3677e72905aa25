"""The market-making environment on a recorded day: the backtester's replay core underneath."""

from __future__ import annotations

from pathlib import Path

import msgspec
import numpy as np
import pytest

pytest.importorskip("gymnasium")

import gymnasium as gym

from makerkit.backtest import run_replay_backtest
from makerkit.core.errors import ConfigError
from makerkit.rl import LOBEnvConfig, ReplayMarketEnv
from makerkit.rl import register as register_envs
from makerkit.strategies import make_strategy

GOOG = "lobster:GOOG,queue=probabilistic,order_latency_ms=1"


@pytest.fixture
def cfg(data_root: Path) -> LOBEnvConfig:
    return LOBEnvConfig(data=GOOG, episode_steps=120, decision_ms=500.0)


def test_it_passes_the_checkers_and_make_builds_it(cfg: LOBEnvConfig) -> None:
    from gymnasium.utils.env_checker import check_env
    from stable_baselines3.common.env_checker import check_env as sb3_check

    check_env(ReplayMarketEnv(cfg), skip_render_check=True)
    sb3_check(ReplayMarketEnv(cfg))
    register_envs()
    env = gym.make("makerkit/MarketMaking-v0", config=cfg)
    assert isinstance(env.unwrapped, ReplayMarketEnv)


def test_rewards_add_up_and_a_seed_repeats_the_episode(cfg: LOBEnvConfig) -> None:
    runs = []
    for _ in range(2):
        env = ReplayMarketEnv(cfg)
        env.reset(seed=11)
        rng = np.random.default_rng(3)
        total, done, truncated, info = 0.0, False, False, {}
        while not (done or truncated):
            action = rng.uniform(-1, 0, 3).astype(np.float32)  # quotes near the touch
            _, reward, done, truncated, info = env.step(action)
            total += reward
        assert total == pytest.approx(info["equity"] - info["penalties"])
        runs.append((total, info["fills"], info["position"]))
    assert runs[0] == runs[1] and runs[0][1] > 0  # the quotes traded
    other = ReplayMarketEnv(cfg)
    other.reset(seed=12)
    assert other.episode_events.start_ns != env.episode_events.start_ns


def test_a_strategy_in_the_env_fills_as_in_the_backtester(cfg: LOBEnvConfig) -> None:
    env = ReplayMarketEnv(cfg)
    env.reset(seed=5)
    strategy = make_strategy("inventory_skew", half_spread=3.0)
    done = truncated = False
    while not (done or truncated):
        _, _, done, truncated, _ = env.step_intent(strategy.quote(env.context()))
    fills = env.core.fills()
    replay = msgspec.structs.replace(env.replay, native_strategy=False)
    result = run_replay_backtest(strategy, env.episode_events, replay)
    ours = list(zip(*(fills[i].tolist() for i in (0, 2, 3, 4)), strict=True))
    end = env.context().ts_ns  # the backtest goes on past the episode, to the slice's end
    theirs = [tuple(f) for f in result.fills if f[0] <= end]
    assert ours and ours == theirs and len(result.fills) > len(theirs)


def test_bad_configs_are_refused(data_root: Path) -> None:
    with pytest.raises(ConfigError, match="a recorded day"):
        ReplayMarketEnv(LOBEnvConfig(data="synthetic"))
    with pytest.raises(ConfigError, match="an episode needs"):
        ReplayMarketEnv(LOBEnvConfig(data="lobster:GOOG", episode_steps=10**6))
    with pytest.raises(ConfigError, match="queue"):
        ReplayMarketEnv(LOBEnvConfig(data="lobster:GOOG,queue=fifo"))
    with pytest.raises(ConfigError, match="reset"):
        ReplayMarketEnv(LOBEnvConfig(data="lobster:GOOG")).step(np.zeros(3, dtype=np.float32))


@pytest.mark.expensive
def test_cli_trains_and_evaluates_on_a_recorded_day(data_root: Path, tmp_path: Path) -> None:
    import json

    from typer.testing import CliRunner

    from makerkit.cli import app

    runner = CliRunner()
    out = tmp_path / "goog"
    trained = runner.invoke(app, ["rl", "train", "--env", "lob", "--data", GOOG, "--timesteps",
                                  "2048", "--out", str(out), "--json"])  # fmt: skip
    assert trained.exit_code == 0, trained.output
    meta = json.loads(trained.stdout.strip().splitlines()[-1])
    assert meta["params"]["data"] == GOOG
    args = ["rl", "evaluate", "--env", "lob", "--data", GOOG, "--policy",
            str(out / "policy.zip"), "--episodes", "2", "--json"]  # fmt: skip
    evaluated = runner.invoke(app, args)
    assert evaluated.exit_code == 0, evaluated.output
    payload = json.loads(evaluated.stdout.strip().splitlines()[-1])
    assert payload["data"] == GOOG and set(payload["policies"]) == {
        "symmetric", "inventory_skew", "glft", "avellaneda_stoikov", "ppo",
    }  # fmt: skip
    bad = runner.invoke(app, ["rl", "train", "--env", "lob", "--data", "lobster:MSFT",
                              "--out", str(tmp_path / "x")])  # fmt: skip
    assert bad.exit_code == 2 and "no file for MSFT" in bad.output
    bad = runner.invoke(app, ["rl", "train", "--data", GOOG, "--out", str(tmp_path / "x")])
    assert bad.exit_code == 2 and "--data goes with --env lob" in bad.output


def test_a_window_bounds_where_episodes_trade(data_root: Path) -> None:
    """Train on one window, judge on another: no episode may trade outside its window."""
    hour = 3_600_000_000_000
    cfg = LOBEnvConfig(data="lobster:GOOG,start=10:00,end=11:00", episode_steps=40,
                       decision_ms=500.0)  # fmt: skip
    env = ReplayMarketEnv(cfg)
    seen = []
    for seed in range(8):
        env.reset(seed=seed)
        seen.append(env._t % (24 * hour))
        for _ in range(40):
            *_, done, cut, _info = env.step(np.zeros(3, dtype=np.float32))
            seen.append(env._t % (24 * hour))
            if done or cut:
                break
    assert 10 * hour <= min(seen) and max(seen) < 11 * hour


def test_a_catalog_day_is_the_same_market_as_its_file(data_root: Path, tmp_path: Path) -> None:
    """The environment on a LOBSTER day read from the catalog runs the same episode."""
    from makerkit.data import ingest

    files = sorted((data_root / "lobster").glob("GOOG_2012-06-21_*_message_10.csv.gz"))
    ingest(files, tmp_path)
    spec = (
        f"catalog:nasdaq:GOOG:2012-06-21,catalog={tmp_path},queue=probabilistic,order_latency_ms=1"
    )
    episodes = []
    for data in (GOOG, spec):
        env = ReplayMarketEnv(LOBEnvConfig(data=data, episode_steps=120, decision_ms=500.0))
        env.reset(seed=11)
        total, done, truncated, info = 0.0, False, False, {}
        rng = np.random.default_rng(3)
        while not (done or truncated):
            _, reward, done, truncated, info = env.step(rng.uniform(-1, 0, 3).astype(np.float32))
            total += reward
        episodes.append((total, info["fills"], info["position"]))
    assert episodes[0] == episodes[1] and episodes[0][1] > 0
