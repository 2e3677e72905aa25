"""The exchange: instruments and books, accounts, order lifecycle, fees, risk, sequenced events.

One ``Venue`` is a single-writer state machine driven by commands
(``NewOrder``, ``CancelOrder``, ``CancelAll``, ``ModifyOrder``); each returns
an ``Outcome`` with the order's update and every event it caused.
"""

from __future__ import annotations

from makerkit.venue._journal import Journal, JournaledVenue, Sealed, journal_writer
from makerkit.venue._model import (
    Account,
    Balance,
    BookDelta,
    CancelAll,
    CancelOrder,
    Event,
    FeeSchedule,
    FillReport,
    IdFloor,
    ModifyOrder,
    NewOrder,
    OrderUpdate,
    Outcome,
    Role,
    Trade,
)
from makerkit.venue._venue import Venue

__all__ = [
    "Account",
    "Balance",
    "BookDelta",
    "CancelAll",
    "CancelOrder",
    "Event",
    "FeeSchedule",
    "FillReport",
    "IdFloor",
    "Journal",
    "JournaledVenue",
    "ModifyOrder",
    "NewOrder",
    "OrderUpdate",
    "Outcome",
    "Role",
    "Sealed",
    "Trade",
    "Venue",
    "journal_writer",
]
