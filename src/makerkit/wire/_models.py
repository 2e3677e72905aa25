"""Pydantic models of the REST and WebSocket APIs (decimals as strings).

Requests are strict (:mod:`makerkit.wire._rules`): decimals are ASCII digits,
integers are JSON integers within bounds (``false`` and ``1.0`` are not),
symbols and client order ids are printable ASCII, free text has no control or
bidi characters, and unknown fields are refused. The WebSocket requests
decoded on the hot path are msgspec Structs (:mod:`makerkit.wire._ws`); the
pydantic ``Ws*`` models here follow the same rules.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from makerkit.wire._rules import (
    ACCOUNT_ID_MAX,
    BURST_MAX,
    CLIENT_ORDER_ID_MAX,
    DECIMAL_MAX,
    DECIMAL_PATTERN,
    IDENT_PATTERN,
    LIMIT_INT_MAX,
    MSGS_PER_SEC_MAX,
    ORDER_ID_MAX,
    REQ_ID_MAX,
    REQ_ID_PATTERN,
    SYMBOL_MAX,
    TEXT_PATTERN,
)

__all__ = [
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
    "WsSubscribe",
    "parse_ws_request",
]

Decimal = Annotated[
    str,
    Field(
        pattern=DECIMAL_PATTERN,
        max_length=DECIMAL_MAX,
        examples=["100.25"],
        description="a decimal number as a string of ASCII digits",
    ),
]
Symbol = Annotated[
    str,
    Field(
        pattern=IDENT_PATTERN,
        min_length=1,
        max_length=SYMBOL_MAX,
        examples=["AAA"],
        description="printable ASCII without spaces",
    ),
]
ClientOrderId = Annotated[
    str,
    Field(
        pattern=IDENT_PATTERN,
        min_length=1,
        max_length=CLIENT_ORDER_ID_MAX,
        description="the client's id for the order: printable ASCII without spaces",
    ),
]
ReqId = (
    Annotated[int, Field(ge=-(2**63), le=2**63 - 1)]
    | Annotated[str, Field(pattern=REQ_ID_PATTERN, min_length=1, max_length=REQ_ID_MAX)]
    | None
)
OrderId = Annotated[int, Field(ge=1, le=ORDER_ID_MAX)]
AccountId = Annotated[int, Field(ge=0, le=ACCOUNT_ID_MAX)]
LimitInt = Annotated[int, Field(ge=0, le=LIMIT_INT_MAX)]
Side = Literal["buy", "sell"]
OrderType = Literal["limit", "market"]
Tif = Literal["gtc", "ioc", "fok", "post_only"]
Stp = Literal["none", "cancel_newest", "cancel_oldest", "cancel_both"]
Status = Literal["new", "partially_filled", "filled", "canceled", "rejected", "expired"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Request(_Strict):
    """A request body: strict types (no ``false`` for 0, no ``1.0`` for 1, no ``"1"`` for 1)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class OrderRequest(_Request):
    """Place an order. ``price`` is required for limit orders."""

    symbol: Symbol
    side: Side
    qty: Decimal
    price: Decimal | None = None
    type: OrderType = "limit"
    tif: Tif = "gtc"
    client_order_id: ClientOrderId | None = None
    stp: Stp = "cancel_newest"


class ModifyRequest(_Request):
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
    """A listed instrument: its grids, its assets and its smallest order."""

    symbol: str
    tick_size: str
    lot_size: str
    base_asset: str
    quote_asset: str
    min_qty: str  # in the base asset
    min_notional: str  # price x size, in the quote asset


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


class KillRequest(_Request):
    """Trip or reset a kill switch; ``account_id`` null means venue-wide."""

    account_id: AccountId | None = None
    reason: str = Field(
        default="manual",
        max_length=200,
        pattern=TEXT_PATTERN,
        description="free text without control or bidi characters",
    )


class LimitsRequest(_Request):
    """Risk limits in integer units (lots, ticks, tick-lots, micro tick-lots); null = off.

    Integers are JSON integers up to 2**62; ``max_msgs_per_sec`` is a finite
    rate in (0, 1e6]; ``burst`` (messages allowed at once; null: the rate) is
    1 to 1,000,000.
    """

    account_id: AccountId | None = None
    symbol: Symbol | None = None
    max_order_qty: LimitInt | None = None
    max_notional: LimitInt | None = None
    max_position: LimitInt | None = None
    collar_ticks: LimitInt | None = None
    max_msgs_per_sec: float | None = Field(
        default=None, gt=0, le=MSGS_PER_SEC_MAX, allow_inf_nan=False
    )
    burst: int | None = Field(default=None, ge=1, le=BURST_MAX)
    duplicate_window_ns: LimitInt | None = None
    daily_loss_limit: LimitInt | None = None


class AccountRequest(_Request):
    """Create an account."""

    name: str = Field(
        min_length=1,
        max_length=64,
        pattern=TEXT_PATTERN,
        description="free text without control or bidi characters",
    )
    role: Literal["trader", "admin"] = "trader"
    balances: dict[Symbol, Decimal] | None = Field(
        default=None,
        max_length=64,
        description="opening deposits: asset -> amount",
        examples=[{"USD": "100000", "AAA": "1000"}],
    )


class AccountOut(_Strict):
    """An account; ``api_key`` and ``api_secret`` are only in the answer that created it.

    The secret signs requests to the Binance-style API (HMAC-SHA256); the venue
    never shows it again.
    """

    account_id: int
    name: str
    role: Literal["trader", "admin"]
    api_key: str | None = None
    api_secret: str | None = None


class DepositRequest(_Request):
    """Credit an account's asset (a negative amount debits it)."""

    account_id: AccountId
    asset: Symbol
    amount: Decimal


class BalanceOut(_Strict):
    """One asset: ``free`` to spend, ``locked`` by open orders (decimal strings)."""

    asset: str
    free: str
    locked: str


class BalancesOut(_Strict):
    """An account's assets; with ``allow_short`` balances may go negative."""

    account_id: int
    allow_short: bool
    balances: list[BalanceOut]


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


# The pydantic forms of the WebSocket requests, with the rules of `makerkit.wire._ws`
# (whose msgspec decoder is the one meant for the hot path).


class WsSubscribe(_Request):
    """Subscribe to a symbol's public channel: book (snapshot + deltas), l1 or trades."""

    op: Literal["subscribe", "unsubscribe"]
    channel: Literal["book", "l1", "trades"]
    symbol: Symbol
    depth: int = Field(default=1000, ge=1, le=5000)


class WsOrder(OrderRequest):
    """Place an order over the private WebSocket; the ack echoes ``req_id``."""

    op: Literal["order"]
    req_id: ReqId = None


class WsCancel(_Request):
    """Cancel one order (by id or client id), or all with ``all``."""

    op: Literal["cancel"]
    symbol: Symbol | None = None
    order_id: OrderId | None = None
    client_order_id: ClientOrderId | None = None
    all: bool = False
    req_id: ReqId = None


class WsModify(ModifyRequest):
    """Modify one order over the private WebSocket."""

    op: Literal["modify"]
    symbol: Symbol
    order_id: OrderId | None = None
    client_order_id: ClientOrderId | None = None
    req_id: ReqId = None


_WS_REQUEST: TypeAdapter[WsSubscribe | WsOrder | WsCancel | WsModify] = TypeAdapter(
    Annotated[WsSubscribe | WsOrder | WsCancel | WsModify, Field(discriminator="op")]
)


def parse_ws_request(raw: str | bytes) -> WsSubscribe | WsOrder | WsCancel | WsModify:
    """Validate one client frame (raises pydantic.ValidationError when malformed)."""
    return _WS_REQUEST.validate_json(raw)
