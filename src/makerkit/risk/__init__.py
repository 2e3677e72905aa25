"""Risk: pre-trade limits, positions and PnL, kill switches and an audit log.

Integers inside: sizes in lots, prices in ticks, notional and trading PnL in
tick-lots, fees and money limits in micro tick-lots (``MONEY_SCALE``).
"""

from __future__ import annotations

from makerkit.risk._manager import AuditRecord, RiskLimits, RiskManager, RiskState
from makerkit.risk._positions import MONEY_SCALE, Position, PositionView

__all__ = [
    "MONEY_SCALE",
    "AuditRecord",
    "Position",
    "PositionView",
    "RiskLimits",
    "RiskManager",
    "RiskState",
]
