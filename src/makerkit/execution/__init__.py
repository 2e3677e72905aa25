"""The one execution layer: target ladders in, place/cancel commands out, fills back.

``OrderManager`` decides the fewest commands that move resting orders towards
a strategy's targets; ``TradingSession`` runs a ``makerkit.core.MarketMaker``
through any venue that implements ``Gateway`` (the simulated market, the
replay core, the live client). Drivers only move time and deliver events.
"""

from __future__ import annotations

from makerkit.execution._manager import Cancel, LiveQuote, OrderManager, Place
from makerkit.execution._session import Gateway, TradingSession

__all__ = ["Cancel", "Gateway", "LiveQuote", "OrderManager", "Place", "TradingSession"]
