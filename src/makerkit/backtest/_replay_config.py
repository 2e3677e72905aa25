"""What a replay backtest is configured with (kept apart so results can name it)."""

from __future__ import annotations

import msgspec

from makerkit.core.errors import ConfigError

__all__ = ["QUEUE_MODELS", "ReplayConfig"]

QUEUE_MODELS = {"conservative": 0, "probabilistic": 1, "l3": 2}


class ReplayConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """How the replay fills our orders and when the strategy decides."""

    # "conservative" or "probabilistic" on L2 data; "l3": the real FIFO queue (order-level data)
    queue: str = "probabilistic"
    queue_power: float = 2.0  # f(x) = x^power splits cancels ahead of / behind us
    feed_latency_ms: float = 0.0
    order_latency_ms: float = 0.3
    decision_ms: float = 100.0
    requote_on_fill: bool = True
    post_only: bool = True  # a quote that would cross is rejected, not filled
    # a trade empties the levels it went through before the depth stream says so (L2 only)
    clear_on_trade: bool = False
    maker_fee: float = 0.0  # fraction of notional (negative: a rebate)
    taker_fee: float = 0.0
    min_quote_life_ms: float = 0.0
    price_tolerance: int = 0
    roi_ticks: int | None = None  # price range kept around the traded range (default: its width)
    engine: str | None = None  # "native" (default when built) or "python"
    # built-in strategies (not subclasses) decide inside the native core, with the same
    # formulas; False always calls the strategy object from Python
    native_strategy: bool = True

    def __post_init__(self) -> None:
        if self.queue not in QUEUE_MODELS:
            msg = f"invalid `queue` {self.queue!r}, must be one of {sorted(QUEUE_MODELS)}"
            raise ConfigError(msg)
        if self.queue_power <= 0:
            msg = f"invalid `queue_power`, must be > 0, was {self.queue_power}"
            raise ConfigError(msg)
        for name in ("feed_latency_ms", "order_latency_ms", "min_quote_life_ms"):
            if getattr(self, name) < 0:
                msg = f"invalid `{name}`, must be >= 0, was {getattr(self, name)}"
                raise ConfigError(msg)
        if self.decision_ms <= 0:
            msg = f"invalid `decision_ms`, must be > 0, was {self.decision_ms}"
            raise ConfigError(msg)
        if self.engine not in (None, "native", "python"):
            msg = f"invalid `engine` {self.engine!r}, must be 'native' or 'python'"
            raise ConfigError(msg)
        if self.roi_ticks is not None and self.roi_ticks < 0:
            msg = f"invalid `roi_ticks`, must be >= 0, was {self.roi_ticks}"
            raise ConfigError(msg)
