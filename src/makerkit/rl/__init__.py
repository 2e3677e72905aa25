"""Reinforcement learning for market making: environments and reference policies.

* ``ModelVecEnv``: the Avellaneda-Stoikov model market, vectorised, with the
  paper's inventory and symmetric strategies as yardsticks
  (``makerkit rl evaluate --env model``);
* ``MarketMakingEnv`` (``makerkit/MarketMaking-v0``, needs ``makerkit[rl]``):
  one market maker in the simulated limit-order book, the backtester's market.

``makerkit rl train`` trains PPO on the model market (stable-baselines3); the
``rl`` strategy and the sweep are to come.
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
    "ModelParams",
    "ModelVecEnv",
    "RLStrategy",
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
    if name == "RLStrategy":
        from makerkit.rl._strategy import RLStrategy

        return RLStrategy
    msg = f"module 'makerkit.rl' has no attribute {name!r}"
    raise AttributeError(msg)


def register() -> None:
    """Register ``makerkit/MarketMaking-v0`` with gymnasium (idempotent)."""
    import gymnasium as gym

    if "makerkit/MarketMaking-v0" not in gym.registry:
        gym.register(id="makerkit/MarketMaking-v0",
                     entry_point="makerkit.rl._lob_env:MarketMakingEnv")  # fmt: skip
