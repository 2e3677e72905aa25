"""Request, response and WebSocket message models shared by the server and the client.

Prices and sizes travel as decimal strings; the server converts them to
ticks and lots through the instrument, once, at the edge.
"""

from __future__ import annotations

# the WebSocket requests are msgspec Structs (makerkit.wire._ws): one decoding pass on
# the order-entry hot path; the REST bodies are the pydantic models of _models
from makerkit.wire._models import (
    AccountOut,
    AccountRequest,
    AuditOut,
    BalanceOut,
    BalancesOut,
    BookOut,
    CancelAllOut,
    DepositRequest,
    ErrorOut,
    FillOut,
    HealthOut,
    InstrumentOut,
    KillRequest,
    LevelOut,
    LimitsRequest,
    ModifyRequest,
    OrderOut,
    OrderRequest,
    PositionOut,
    RiskOut,
)
from makerkit.wire._rules import IDENT_PATTERN, SYMBOL_MAX, find_duplicate_key
from makerkit.wire._ws import (
    WsCancel,
    WsModify,
    WsOrder,
    WsRequest,
    WsRequestError,
    WsSubscribe,
    WsUnsubscribe,
    parse_ws_request,
)

__all__ = [
    "IDENT_PATTERN",
    "SYMBOL_MAX",
    "AccountOut",
    "AccountRequest",
    "AuditOut",
    "BalanceOut",
    "BalancesOut",
    "BookOut",
    "CancelAllOut",
    "DepositRequest",
    "ErrorOut",
    "FillOut",
    "HealthOut",
    "InstrumentOut",
    "KillRequest",
    "LevelOut",
    "LimitsRequest",
    "ModifyRequest",
    "OrderOut",
    "OrderRequest",
    "PositionOut",
    "RiskOut",
    "WsCancel",
    "WsModify",
    "WsOrder",
    "WsRequest",
    "WsRequestError",
    "WsSubscribe",
    "WsUnsubscribe",
    "find_duplicate_key",
    "parse_ws_request",
]
