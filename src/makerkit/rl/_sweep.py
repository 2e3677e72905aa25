"""One seed of a multi-seed PPO sweep: train on the model market, score on held-out seeds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from makerkit.core.clock import monotonic_ns
from makerkit.rl._gym_model import ppo_policy, train_ppo
from makerkit.rl._model_env import ModelParams, as_penalty, avellaneda_stoikov_policy, run_policy

__all__ = ["sweep_train"]


def sweep_train(task: dict[str, Any]) -> dict[str, Any]:
    """Train PPO with ``task``'s seed and budget; its reward beside the AS policy's.

    ``task`` has ``seed``, ``timesteps``, ``gamma``, ``eval_episodes``,
    ``eval_seed`` and ``out_dir`` (a sweep's ``RLTask`` as plain data).
    """
    started = monotonic_ns()
    gamma = float(task["gamma"])
    params = as_penalty(ModelParams(max_offset=4.0), gamma)
    out = Path(task["out_dir"])
    train_ppo(out, timesteps=int(task["timesteps"]), seed=int(task["seed"]), params=params,
              threads=1)  # fmt: skip
    episodes, seed = int(task["eval_episodes"]), int(task["eval_seed"])
    stats = run_policy(ppo_policy(out / "policy.zip", params), params, episodes=episodes, seed=seed)
    ref = run_policy(avellaneda_stoikov_policy(params, gamma), params, episodes=episodes, seed=seed)
    return {
        "pnl_total": stats["pnl_mean"], "pnl_std": stats["pnl_std"],
        "reward_mean": stats["reward_mean"], "as_reward_mean": ref["reward_mean"],
        "ratio_to_avellaneda_stoikov": stats["reward_mean"] / ref["reward_mean"],
        "final_inventory_std": stats["final_inventory_std"], "spread_mean": stats["spread_mean"],
        "policy": str(out / "policy.zip"), "seconds": (monotonic_ns() - started) / 1e9,
    }  # fmt: skip
