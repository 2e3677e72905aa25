"""Market data: file loaders and synthetic order streams.

Loaders turn external formats into validated integer arrays; nothing here
matches orders (that is ``book``) or drives a book (that is ``backtest``).
"""

from __future__ import annotations

from makerkit.data._lobster import (
    LOBSTER_DUMMY_ASK,
    LOBSTER_DUMMY_BID,
    LobsterDay,
    LobsterMessages,
    load_lobster,
    load_lobster_messages,
    load_lobster_orderbook,
)
from makerkit.data._paths import data_dir, lobster_pairs
from makerkit.data._synthetic import (
    ACTION_ADD,
    ACTION_CANCEL,
    ACTION_MARKET,
    ACTION_MODIFY,
    L3EventStream,
    OrderStream,
    synthetic_l3_events,
    synthetic_stream,
)

__all__ = [
    "ACTION_ADD",
    "ACTION_CANCEL",
    "ACTION_MARKET",
    "ACTION_MODIFY",
    "LOBSTER_DUMMY_ASK",
    "LOBSTER_DUMMY_BID",
    "L3EventStream",
    "LobsterDay",
    "LobsterMessages",
    "OrderStream",
    "data_dir",
    "load_lobster",
    "load_lobster_messages",
    "load_lobster_orderbook",
    "lobster_pairs",
    "synthetic_l3_events",
    "synthetic_stream",
]
