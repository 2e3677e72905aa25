"""A trained policy as a strategy: the same class in the backtester and live.

The policy (a stable-baselines3 PPO file trained on ``MarketMakingEnv``) sees
the observation the environment built, from the context: the features, the
inventory and the time left. Outside an episode there is no end in sight, so
the time left is held at 1 (the policy acts as at an episode's start).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from makerkit.core import QuoteIntent, StrategyContext
from makerkit.core.errors import DataError
from makerkit.rl._lob_env import LOBEnvConfig, observation, quote_intent

__all__ = ["RLStrategy"]


class RLStrategy:
    """Quotes from a trained policy (deterministic actions)."""

    name = "rl"
    wants_features = True

    def __init__(self, policy: str | Path, config: LOBEnvConfig | None = None) -> None:
        from stable_baselines3 import PPO

        self.cfg = config or LOBEnvConfig()
        try:
            self.model = PPO.load(str(policy), device="cpu")
        except Exception as exc:  # a corrupt or foreign file: say which
            msg = f"cannot load the policy {policy}: {type(exc).__name__}: {exc}"
            raise DataError(msg) from exc
        want = len(observation({}, 0, 1.0, self.cfg))
        got = self.model.observation_space.shape
        if got != (want,):
            msg = f"the policy {policy} expects observations {got}, the LOB env gives ({want},)"
            raise DataError(msg)

    def quote(self, ctx: StrategyContext) -> QuoteIntent:
        """The policy's quotes for this context."""
        mid = ctx.mid
        if mid is None:
            return QuoteIntent.none()
        obs = observation(ctx.features, ctx.position, 1.0, self.cfg)
        action, _ = self.model.predict(obs, deterministic=True)
        return quote_intent(action, mid, ctx.position, self.cfg)

    def on_fill(self, side: int, price: int, qty: int, ctx: StrategyContext) -> Any:
        """The policy reads its position from the context; nothing to keep."""
        return None
