"""Pydantic models of the REST and WebSocket APIs (decimals as strings)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

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

Decimal = Annotated[str, Field(pattern=r"^-?\d+(\.\d+)?$", max_length=40, examples=["100.25"])]
Side = Literal["buy", "sell"]
OrderType = Literal["limit", "market"]
Tif = Literal["gtc", "ioc", "fok", "post_only"]
Stp = Literal["none", "cancel_newest", "cancel_oldest", "cancel_both"]
Status = Literal["new", "partially_filled", "filled", "canceled", "rejected", "expired"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OrderRequest(_Strict):
    """Place an order. ``price`` is required for limit orders."""

    symbol: str = Field(min_length=1, max_length=32)
    side: Side
    qty: Decimal
    price: Decimal | None = None
    type: OrderType = "limit"
    tif: Tif = "gtc"
    client_order_id: str | None = Field(default=None, min_length=1, max_length=64)
    stp: Stp = "cancel_newest"


class ModifyRequest(_Strict):
    """Change price and/or remaining size of an open order."""

    price: Decimal | None = None
    qty: Decimal | None = None


class OrderOut(_Strict):
    """An order's state; ``reason`` is the stable reject code ("NONE" when accepted)."""

    order_id: int
    client_order_id: str | None
    symbol: str
    side: Side
    price: str | None
    qty: str
    filled: str
    remaining: str
    status: Status
    reason: str
    seq: int
    ts: int


class CancelAllOut(_Strict):
    """Orders cancelled by a cancel-all."""

    canceled: list[OrderOut]


class FillOut(_Strict):
    """One fill of the account; ``fee`` in the instrument's quote currency."""

    order_id: int
    client_order_id: str | None
    symbol: str
    side: Side
    price: str
    qty: str
    liquidity: Literal["maker", "taker"]
    fee: str
    trade_seq: int
    seq: int
    ts: int


class LevelOut(_Strict):
    """One price level: price, total size, number of orders."""

    price: str
    size: str
    count: int


class BookOut(_Strict):
    """A book snapshot with the public sequence it is consistent with."""

    symbol: str
    seq: int
    bids: list[LevelOut]
    asks: list[LevelOut]


class PositionOut(_Strict):
    """An account's position and PnL in one symbol (money in quote currency)."""

    symbol: str
    qty: str
    avg_price: str | None
    realized_pnl: str
    unrealized_pnl: str
    fees: str
    mark: str | None


class RiskOut(_Strict):
    """An account's risk picture."""

    account_id: int
    killed: bool
    kill_reason: str
    venue_killed: bool
    limits: dict[str, Any]
    positions: list[PositionOut]


class InstrumentOut(_Strict):
    """A listed instrument."""

    symbol: str
    tick_size: str
    lot_size: str


class HealthOut(_Strict):
    """Liveness and the journal's position."""

    status: Literal["ok", "failed"]
    failure: str | None = None  # why order entry is stopped (the journal cannot write)
    symbols: int
    accounts: int
    journal_commands: int


class ErrorOut(_Strict):
    """Every error: a stable code and a plain message."""

    code: str
    message: str


class KillRequest(_Strict):
    """Trip or reset a kill switch; ``account_id`` null means venue-wide."""

    account_id: int | None = Field(default=None, ge=0, le=2**63 - 1)
    reason: str = Field(default="manual", max_length=200)


class LimitsRequest(_Strict):
    """Risk limits in integer units (lots, ticks, tick-lots, micro tick-lots); null = off."""

    account_id: int | None = Field(default=None, ge=0, le=2**63 - 1)
    symbol: str | None = Field(default=None, max_length=32)
    max_order_qty: int | None = Field(default=None, ge=0)
    max_notional: int | None = Field(default=None, ge=0)
    max_position: int | None = Field(default=None, ge=0)
    collar_ticks: int | None = Field(default=None, ge=0)
    max_msgs_per_sec: float | None = Field(default=None, ge=0)
    burst: int | None = Field(default=None, ge=0)
    duplicate_window_ns: int | None = Field(default=None, ge=0)
    daily_loss_limit: int | None = Field(default=None, ge=0)


class AccountRequest(_Strict):
    """Create an account."""

    name: str = Field(min_length=1, max_length=64)
    role: Literal["trader", "admin"] = "trader"


class AccountOut(_Strict):
    """An account; ``api_key`` is only present in the answer that created it."""

    account_id: int
    name: str
    role: Literal["trader", "admin"]
    api_key: str | None = None


class AuditOut(_Strict):
    """One risk decision."""

    ts: int
    account_id: int
    symbol: str
    rule: str
    decision: str
    limit: str
    value: str


# ---------------------------------------------------------------------- WebSocket


class WsSubscribe(_Strict):
    """Subscribe to a symbol's public channel: book (snapshot + deltas), l1 or trades."""

    op: Literal["subscribe", "unsubscribe"]
    channel: Literal["book", "l1", "trades"]
    symbol: str


class WsOrder(OrderRequest):
    """Place an order over the private WebSocket; the ack echoes ``req_id``."""

    op: Literal["order"]
    req_id: int | str | None = None


class WsCancel(_Strict):
    """Cancel one order (by id or client id), or all with ``all``."""

    op: Literal["cancel"]
    symbol: str | None = None
    order_id: int | None = Field(default=None, ge=1, le=2**63 - 1)
    client_order_id: str | None = None
    all: bool = False
    req_id: int | str | None = None


class WsModify(ModifyRequest):
    """Modify one order over the private WebSocket."""

    op: Literal["modify"]
    symbol: str
    order_id: int | None = Field(default=None, ge=1, le=2**63 - 1)
    client_order_id: str | None = None
    req_id: int | str | None = None


_WS_REQUEST: TypeAdapter[WsSubscribe | WsOrder | WsCancel | WsModify] = TypeAdapter(
    Annotated[WsSubscribe | WsOrder | WsCancel | WsModify, Field(discriminator="op")]
)


def parse_ws_request(raw: str | bytes) -> WsSubscribe | WsOrder | WsCancel | WsModify:
    """Validate one client frame (raises pydantic.ValidationError when malformed)."""
    return _WS_REQUEST.validate_json(raw)
