"""The model market as a Gymnasium VectorEnv, and the closed-form references beside it."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("gymnasium")

import gymnasium as gym

from makerkit.core.errors import ConfigError
from makerkit.rl import ModelParams, ModelVecEnv, ModelVectorEnv, avellaneda_stoikov_policy
from makerkit.rl import register as register_envs
from makerkit.rl._gym_model import model_obs
from makerkit.rl._model_env import glft_policy, inventory_skew_policy, run_policy


def to_unit(offsets: np.ndarray, max_offset: float) -> np.ndarray:
    """Offsets in [0, max_offset] as actions in [-1, 1] (the inverse of scale_action)."""
    return np.clip(offsets / max_offset * 2.0 - 1.0, -1.0, 1.0)


def test_the_vector_env_steps_the_numpy_markets_exactly() -> None:
    p = ModelParams(max_offset=4.0)
    venv = ModelVectorEnv(6, p)
    direct = ModelVecEnv(6, p, seed=42)
    policy = avellaneda_stoikov_policy(p, 0.1)
    obs, _ = venv.reset(seed=42)
    raw = direct.reset()
    assert np.array_equal(obs, model_obs(raw))
    assert obs.shape == (6, 3) and venv.observation_space.contains(obs)
    for _ in range(p.steps + 5):  # past one episode end: the autoreset is exercised
        offsets = policy(raw)
        action = to_unit(offsets, p.max_offset).astype(np.float32)
        assert venv.action_space.contains(action)
        obs, reward, terminated, truncated, infos = venv.step(action)
        raw, r, done, info = direct.step(
            (np.clip(action.astype(np.float64), -1, 1) + 1) / 2 * p.max_offset
        )
        assert np.array_equal(obs, model_obs(raw)) and np.array_equal(reward, r)
        assert np.array_equal(terminated, done) and not truncated.any()
        if done.any():  # same step autoreset: fresh observations, terminal ones in infos
            assert np.all(infos["_final_obs"] == done)
            assert np.all(infos["final_obs"][done][:, 1] == 0.0)  # no time left
            assert np.all(obs[done][:, 1] == 1.0) and np.all(obs[done][:, 0] == 0.0)
            assert np.array_equal(infos["pnl"][done], info["pnl"][done])


def test_make_vec_builds_it_and_a_seed_repeats_it() -> None:
    register_envs()
    venv = gym.make_vec("makerkit/ModelMarket-v0", num_envs=4,
                        vectorization_mode="vector_entry_point")  # fmt: skip
    assert isinstance(venv.unwrapped, ModelVectorEnv)
    assert venv.metadata["autoreset_mode"] == gym.vector.AutoresetMode.SAME_STEP
    runs = []
    for _ in range(2):
        venv.reset(seed=7)
        rng = np.random.default_rng(0)
        total = np.zeros(4)
        for _ in range(50):
            total += venv.step(rng.uniform(-1, 1, (4, 2)).astype(np.float32))[1]
        runs.append(total)
    assert np.array_equal(runs[0], runs[1]) and np.any(runs[0] != 0)
    with pytest.raises(ConfigError, match="reset"):
        ModelVectorEnv(2).step(np.zeros((2, 2)))


def test_the_closed_forms_rank_as_the_theory_says() -> None:
    # with the AS inventory penalty, the inventory-aware policies beat the symmetric one,
    # and GLFT and inventory-skew keep the final inventory tighter than symmetric
    from makerkit.rl._model_env import as_penalty, symmetric_policy

    p = as_penalty(ModelParams(max_offset=4.0), 0.1)
    makers = {"as": avellaneda_stoikov_policy, "glft": glft_policy,
              "skew": inventory_skew_policy, "sym": symmetric_policy}  # fmt: skip
    rows = {
        name: run_policy(make(p, 0.1), p, episodes=1000, seed=5) for name, make in makers.items()
    }
    for name in ("as", "glft", "skew"):
        assert rows[name]["reward_mean"] > rows["sym"]["reward_mean"]
        assert rows[name]["final_inventory_std"] < rows["sym"]["final_inventory_std"] / 2
    # GLFT quotes widen on the side that would add to a position
    act = glft_policy(p, 0.1)(np.array([[3.0, 0.5, 0.0], [-3.0, 0.5, 0.0]]))
    assert act[0, 0] > act[0, 1] and act[1, 0] < act[1, 1]


def test_every_contender_plays_the_same_episodes() -> None:
    from makerkit.rl._evaluate import evaluate_lob, play
    from makerkit.rl._lob_env import LOBEnvConfig
    from makerkit.strategies import make_strategy

    cfg = LOBEnvConfig(episode_steps=40)
    rows = evaluate_lob(cfg, [3, 4], fit_seed=1)
    assert list(rows) == ["symmetric", "inventory_skew", "glft", "avellaneda_stoikov"]
    again = evaluate_lob(cfg, [3, 4], fit_seed=1)
    assert [r["pnl_mean"] for r in rows.values()] == [r["pnl_mean"] for r in again.values()]

    # a strategy that never quotes sees the market unchanged: the same mid path by seed
    class Idle:
        def quote(self, ctx):  # type: ignore[no-untyped-def]
            from makerkit.core import QuoteIntent

            return QuoteIntent.none()

    def decide(strategy):  # type: ignore[no-untyped-def]
        return lambda env, obs: strategy.quote(env.context())

    idle = play(decide(Idle()), cfg, seed=3)
    assert idle["pnl"] == 0 and idle["fills"] == 0 and idle["sharpe"] == 0.0
    sym = play(decide(make_strategy("symmetric")), cfg, seed=3)
    assert sym["pnl"] == rows["symmetric"]["episodes"][0]["pnl"] and sym["fills"] > 0
    assert len(sym["equity"]) == cfg.episode_steps + 1
