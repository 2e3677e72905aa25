"""Market-making strategies and fill-intensity calibration (the order manager: ``execution``).

Every strategy implements ``makerkit.core.Strategy``: the same object runs in
the backtester, the RL environment and live against the venue.
"""

from __future__ import annotations

from makerkit.execution import Cancel, LiveQuote, OrderManager, Place
from makerkit.strategies._intensity import fit_intensity
from makerkit.strategies._kernel import (
    ASK,
    ASK_SIZE,
    BID,
    BID_SIZE,
    MID,
    OUT_ASK,
    OUT_ASK_SIZE,
    OUT_BID,
    OUT_BID_SIZE,
    PNL,
    POSITION,
    PREDICTION,
    TIME_S,
    KernelStrategy,
    numba_available,
    out_of_range,
    quote_from_out,
)
from makerkit.strategies._strategies import (
    GLFT,
    STRATEGIES,
    AdaptiveSpread,
    AdverseGuard,
    AvellanedaStoikov,
    InventorySkew,
    Symmetric,
    make_strategy,
    with_venue_fees,
)

__all__ = [
    "ASK",
    "ASK_SIZE",
    "BID",
    "BID_SIZE",
    "GLFT",
    "MID",
    "OUT_ASK",
    "OUT_ASK_SIZE",
    "OUT_BID",
    "OUT_BID_SIZE",
    "PNL",
    "POSITION",
    "PREDICTION",
    "STRATEGIES",
    "TIME_S",
    "AdaptiveSpread",
    "AdverseGuard",
    "AvellanedaStoikov",
    "Cancel",
    "InventorySkew",
    "KernelStrategy",
    "LiveQuote",
    "OrderManager",
    "Place",
    "Symmetric",
    "fit_intensity",
    "make_strategy",
    "numba_available",
    "out_of_range",
    "quote_from_out",
    "with_venue_fees",
]
