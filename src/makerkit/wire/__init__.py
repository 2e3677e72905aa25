"""Request, response and WebSocket message models shared by the server and the client.

Prices and sizes travel as decimal strings; the server converts them to
ticks and lots through the instrument, once, at the edge.
"""

from __future__ import annotations

from makerkit.wire._models import (
    AccountOut,
    AccountRequest,
    AuditOut,
    BookOut,
    CancelAllOut,
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
    WsCancel,
    WsModify,
    WsOrder,
    WsSubscribe,
    parse_ws_request,
)

__all__ = [
    "AccountOut",
    "AccountRequest",
    "AuditOut",
    "BookOut",
    "CancelAllOut",
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
    "WsSubscribe",
    "parse_ws_request",
]
