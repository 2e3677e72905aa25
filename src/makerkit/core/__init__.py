"""Value types, errors and protocols that every other layer builds on.

Prices are int ticks, sizes int lots, timestamps int nanoseconds; decimals
only enter and leave through :class:`Instrument`.
"""

from __future__ import annotations

from makerkit.core._enums import (
    OrderStatus,
    OrderType,
    RejectReason,
    SelfTradePrevention,
    Side,
    TimeInForce,
)
from makerkit.core._instrument import Instrument, format_units
from makerkit.core._strategy import Predictor, QuoteIntent, Strategy, StrategyContext
from makerkit.core._types import (
    BookLevel,
    BookState,
    CommandResult,
    Fill,
    L1Snapshot,
    L2Snapshot,
    L3Level,
    L3Order,
    L3Snapshot,
    Order,
)
from makerkit.core.clock import Clock, LiveClock, SimClock
from makerkit.core.errors import (
    ConfigError,
    DataError,
    DuplicateOrderId,
    EngineUnavailable,
    Forbidden,
    InvalidPrice,
    InvalidQuantity,
    JournalUnavailable,
    MakerkitError,
    NotAuthorized,
    OrderRejected,
    RecoveryRefused,
    RiskLimitBreached,
    SourceError,
    UnknownAccount,
    UnknownOrder,
    UnknownSymbol,
    rejection,
)

__all__ = [
    "BookLevel",
    "BookState",
    "Clock",
    "CommandResult",
    "ConfigError",
    "DataError",
    "DuplicateOrderId",
    "EngineUnavailable",
    "Fill",
    "Forbidden",
    "Instrument",
    "InvalidPrice",
    "InvalidQuantity",
    "JournalUnavailable",
    "L1Snapshot",
    "L2Snapshot",
    "L3Level",
    "L3Order",
    "L3Snapshot",
    "LiveClock",
    "MakerkitError",
    "NotAuthorized",
    "Order",
    "OrderRejected",
    "OrderStatus",
    "OrderType",
    "Predictor",
    "QuoteIntent",
    "RecoveryRefused",
    "RejectReason",
    "RiskLimitBreached",
    "SelfTradePrevention",
    "Side",
    "SimClock",
    "SourceError",
    "Strategy",
    "StrategyContext",
    "TimeInForce",
    "UnknownAccount",
    "UnknownOrder",
    "UnknownSymbol",
    "format_units",
    "rejection",
]
