"""What a replay backtest is configured with (kept apart so results can name it)."""

from __future__ import annotations

import msgspec

from makerkit.core.errors import ConfigError

__all__ = ["QUEUE_MODELS", "ReplayConfig", "backend_of"]

QUEUE_MODELS = {"conservative": 0, "probabilistic": 1, "l3": 2}


def backend_of(backend: str | None, engine: str | None) -> str | None:
    """``backend``, or its old name ``engine``; checked (None: native when built)."""
    if engine is not None and backend is not None and engine != backend:
        msg = f"`engine` is the old name of `backend`: give one, not {engine!r} and {backend!r}"
        raise ConfigError(msg)
    name = backend if backend is not None else engine
    if name not in (None, "auto", "native", "python"):
        msg = f"invalid `backend`, must be auto, native or python, was {name!r}"
        raise ConfigError(msg)
    return None if name == "auto" else name


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
    backend: str | None = None  # "native" (default when built) or "python"
    engine: str | None = None  # the old name of `backend`, still accepted
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
        msgspec.structs.force_setattr(self, "backend", backend_of(self.backend, self.engine))
        msgspec.structs.force_setattr(self, "engine", None)
        if self.roi_ticks is not None and self.roi_ticks < 0:
            msg = f"invalid `roi_ticks`, must be >= 0, was {self.roi_ticks}"
            raise ConfigError(msg)
