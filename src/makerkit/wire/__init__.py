"""Request, response and WebSocket message models shared by the server and the client.

Prices and sizes travel as decimal strings; the server converts them to
ticks and lots through the instrument, once, at the edge.
"""

from __future__ import annotations

# WsCancel, WsModify, WsOrder, WsSubscribe and parse_ws_request are still the pydantic
# ones here, until the WebSocket session switches to the msgspec decoder of
# makerkit.wire._ws (same names and fields; a WsRequestError, code INVALID_REQUEST, with
# the client's req_id); then these names are bound to those.
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
from makerkit.wire._rules import find_duplicate_key
from makerkit.wire._ws import WsRequest, WsRequestError, WsUnsubscribe

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
    "WsRequest",
    "WsRequestError",
    "WsSubscribe",
    "WsUnsubscribe",
    "find_duplicate_key",
    "parse_ws_request",
]
