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
strategies; ``RLStrategy`` runs a trained policy in the backtester and live.
"""

from __future__ import annotations

from makerkit.rl._model_env import (
    ModelParams,
    ModelVecEnv,
    avellaneda_stoikov_policy,
    run_policy,
    symmetric_policy,
)

__all__ = [
    "LOBEnvConfig",
    "MarketMakingEnv",
    "ModelEnv",
    "ModelParams",
    "ModelVecEnv",
    "ModelVectorEnv",
    "RLStrategy",
    "ReplayMarketEnv",
    "avellaneda_stoikov_policy",
    "register",
    "run_policy",
    "symmetric_policy",
]


def __getattr__(name: str) -> object:
    """The Gymnasium environment loads gymnasium only when it is asked for."""
    if name in ("LOBEnvConfig", "MarketMakingEnv"):
        from makerkit.rl import _lob_env

        return getattr(_lob_env, name)
    if name in ("ModelEnv", "ModelVectorEnv"):
        from makerkit.rl import _gym_model

        return getattr(_gym_model, name)
    if name == "ReplayMarketEnv":
        from makerkit.rl._replay_env import ReplayMarketEnv

        return ReplayMarketEnv
    if name == "RLStrategy":
        from makerkit.rl._strategy import RLStrategy

        return RLStrategy
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
