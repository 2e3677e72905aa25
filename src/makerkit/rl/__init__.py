"""Reinforcement learning for market making: environments and reference policies.

* ``ModelVecEnv``: the Avellaneda-Stoikov model market, vectorised, with the
  paper's inventory and symmetric strategies as yardsticks
  (``makerkit rl evaluate --env model``);
* ``ModelVectorEnv``: the same as a Gymnasium ``VectorEnv`` (``ModelEnv``: one market);
* ``MarketMakingEnv`` (``makerkit/MarketMaking-v0``, needs ``makerkit[rl]``):
  one market maker in the simulated limit-order book, the backtester's market;
  ``ReplayMarketEnv`` (the same id with ``LOBEnvConfig(data="lobster:GOOG")``):
  on a recorded day, with the backtester's replay core and queue model.

``makerkit rl train`` trains PPO (stable-baselines3) on either market;
``makerkit rl evaluate --out`` scores a policy beside the closed forms and the
strategies; ``makerkit rl compare`` trains one policy per seed and scores each
against GLFT on held-out episodes with bootstrap intervals (``compare_model``,
``compare_lob``); ``RLStrategy`` runs a trained policy in the backtester and live.
"""

from __future__ import annotations

import typing

from makerkit.rl._model_env import (
    ModelParams,
    ModelVecEnv,
    as_penalty,
    avellaneda_stoikov_policy,
    run_policy,
    symmetric_policy,
)

if typing.TYPE_CHECKING:  # the lazy names, typed for the checker
    from makerkit.rl._compare import compare_lob, compare_model
    from makerkit.rl._evaluate import (
        evaluate_lob,
        evaluate_model,
        evaluation_figure,
        write_evaluation,
    )
    from makerkit.rl._gym_model import ModelEnv, ModelVectorEnv, ppo_policy, train_ppo
    from makerkit.rl._lob_env import LOBEnvConfig, MarketMakingEnv
    from makerkit.rl._replay_env import ReplayMarketEnv, make_market_env
    from makerkit.rl._strategy import RLStrategy
    from makerkit.rl._sweep import sweep_train

__all__ = [
    "LOBEnvConfig",
    "MarketMakingEnv",
    "ModelEnv",
    "ModelParams",
    "ModelVecEnv",
    "ModelVectorEnv",
    "RLStrategy",
    "ReplayMarketEnv",
    "as_penalty",
    "avellaneda_stoikov_policy",
    "compare_lob",
    "compare_model",
    "evaluate_lob",
    "evaluate_model",
    "evaluation_figure",
    "make_market_env",
    "ppo_policy",
    "register",
    "run_policy",
    "sweep_train",
    "symmetric_policy",
    "train_ppo",
    "write_evaluation",
]


# heavy names (gymnasium, stable-baselines3) load when first asked for: module -> names
_LAZY = {
    "_lob_env": ("LOBEnvConfig", "MarketMakingEnv"),
    "_gym_model": ("ModelEnv", "ModelVectorEnv", "ppo_policy", "train_ppo"),
    "_replay_env": ("ReplayMarketEnv", "make_market_env"),
    "_strategy": ("RLStrategy",),
    "_evaluate": ("evaluate_lob", "evaluate_model", "evaluation_figure", "write_evaluation"),
    "_sweep": ("sweep_train",),
    "_compare": ("compare_lob", "compare_model"),
}


def __getattr__(name: str) -> object:
    """The Gymnasium environments load gymnasium only when they are asked for."""
    import importlib

    for module, names in _LAZY.items():
        if name in names:
            return getattr(importlib.import_module(f"makerkit.rl.{module}"), name)
    msg = f"module 'makerkit.rl' has no attribute {name!r}"
    raise AttributeError(msg)


def register() -> None:
    """Register ``makerkit/MarketMaking-v0`` and ``makerkit/ModelMarket-v0`` (idempotent).

    ``gym.make_vec("makerkit/ModelMarket-v0", num_envs=N,
    vectorization_mode="vector_entry_point")`` gives the numpy ``ModelVectorEnv``.
    """
    import gymnasium as gym

    if "makerkit/MarketMaking-v0" not in gym.registry:
        gym.register(id="makerkit/MarketMaking-v0",
                     entry_point="makerkit.rl._replay_env:make_market_env")  # fmt: skip
    if "makerkit/ModelMarket-v0" not in gym.registry:
        gym.register(id="makerkit/ModelMarket-v0", entry_point="makerkit.rl._gym_model:ModelEnv",
                     vector_entry_point="makerkit.rl._gym_model:ModelVectorEnv")  # fmt: skip
