"""Market-making strategies and fill-intensity calibration (the order manager: ``execution``).

Every strategy implements ``makerkit.core.Strategy``: the same object runs in
the backtester, the RL environment and live against the venue.
"""

from __future__ import annotations

from makerkit.execution import Cancel, LiveQuote, OrderManager, Place
from makerkit.strategies._intensity import fit_intensity
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
    "GLFT",
    "STRATEGIES",
    "AdaptiveSpread",
    "AdverseGuard",
    "AvellanedaStoikov",
    "Cancel",
    "InventorySkew",
    "LiveQuote",
    "OrderManager",
    "Place",
    "Symmetric",
    "fit_intensity",
    "make_strategy",
    "with_venue_fees",
]
