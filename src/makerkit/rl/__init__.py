"""Reinforcement learning for market making: environments and reference policies.

So far: the Avellaneda-Stoikov model market, vectorised (``ModelVecEnv``), with
the paper's inventory and symmetric strategies as yardsticks
(``makerkit rl evaluate --env model``). The limit-order-book environment,
PPO training and the sweep are to come.
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
    "ModelParams",
    "ModelVecEnv",
    "avellaneda_stoikov_policy",
    "run_policy",
    "symmetric_policy",
]
