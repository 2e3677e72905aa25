"""Venue commands, events, accounts and fee schedules (frozen msgspec structs).

Commands come in, events go out. Private events (order updates, fills) carry
a per-account sequence number; public events (trades, book deltas) a
per-symbol one, so a subscriber can detect a gap and resync from a snapshot.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

import msgspec

from makerkit.core import (
    OrderStatus,
    OrderType,
    RejectReason,
    SelfTradePrevention,
    Side,
    TimeInForce,
)
from makerkit.core.errors import ConfigError

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
    "ModifyOrder",
    "NewOrder",
    "OrderUpdate",
    "Outcome",
    "Role",
    "Trade",
]


class Role(StrEnum):
    """What an account may do."""

    TRADER = "trader"
    ADMIN = "admin"


class Account(msgspec.Struct, frozen=True, kw_only=True):
    """A venue client; the API key itself is never stored, only its hash."""

    account_id: int
    name: str
    role: Role = Role.TRADER


class Balance(msgspec.Struct, frozen=True, kw_only=True):
    """One asset of an account: ``free`` to spend and ``locked`` by open orders.

    Both may be negative on a venue that allows shorting (``Venue.allow_short``).
    """

    asset: str
    free: Decimal
    locked: Decimal

    @property
    def total(self) -> Decimal:
        """What the account holds of the asset."""
        return self.free + self.locked


class FeeSchedule(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Fees in parts per million of notional; negative means a rebate."""

    maker_ppm: int = 0
    taker_ppm: int = 0

    def __post_init__(self) -> None:
        for name in ("maker_ppm", "taker_ppm"):
            value = getattr(self, name)
            if not -1_000_000 < value < 1_000_000:
                msg = f"invalid `{name}`, must be within +/- 1,000,000 ppm, was {value}"
                raise ConfigError(msg)


class NewOrder(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Place an order; ``price`` in ticks (None for a market order), ``qty`` in lots."""

    symbol: str
    side: Side
    qty: int
    price: int | None = None
    order_type: OrderType = OrderType.LIMIT
    tif: TimeInForce = TimeInForce.GTC
    client_order_id: str | None = None
    stp: SelfTradePrevention = SelfTradePrevention.CANCEL_NEWEST


class CancelOrder(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Cancel one of the account's orders by venue id or client order id."""

    symbol: str
    order_id: int | None = None
    client_order_id: str | None = None


class CancelAll(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Cancel the account's open orders (in one symbol, or everywhere), oldest first.

    ``limit`` cancels at most that many, and ``max_order_id`` only orders with
    an id up to it: a server cancels thousands of orders in slices, each slice
    ``CancelAll(limit=n, max_order_id=<last id when the request came>)``, so
    orders placed meanwhile are not touched and a replay of the journaled
    slices cancels exactly the same orders.

    Like every message, a cancel-all is checked against the account's kill
    switches and message rate (and refused by them). ``rate_checked=False``
    skips that check: it is for the operator's own follow-up slices of a
    cancel-all that was already accepted (and for cancel-on-disconnect), never
    for a client's request. It travels in the command so that the journal
    replays the same decision.
    """

    symbol: str | None = None
    limit: int | None = None
    max_order_id: int | None = None
    rate_checked: bool = True

    def __post_init__(self) -> None:
        if self.limit is not None and self.limit < 1:
            msg = f"invalid `limit`, must be >= 1 or null, was {self.limit}"
            raise ConfigError(msg)


class ModifyOrder(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Change price and/or remaining size; the book's priority rules apply."""

    symbol: str
    order_id: int | None = None
    client_order_id: str | None = None
    price: int | None = None
    qty: int | None = None


class IdFloor(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What a venue has handed out: ids and sequence numbers no later answer may repeat.

    A venue rebuilt from a journal that lost its tail (recovery's safe path)
    raises itself to the floor of a snapshot that saw more, so an order id, a
    client order id or a sequence number handed out up to that snapshot is
    never told again for something else.
    """

    order_id: int  # the last order id given
    public_seq: dict[str, int]  # symbol -> its last public sequence number
    private_seq: dict[int, int]  # account -> its last private sequence number
    client_ids: list[tuple[int, str, int]]  # (account, client order id, order id)


class OrderUpdate(msgspec.Struct, frozen=True, kw_only=True, tag="order"):
    """Private: the state of one order after a command touched it."""

    account: int
    seq: int
    symbol: str
    order_id: int
    client_order_id: str | None
    side: Side
    price: int | None
    qty: int
    filled: int
    remaining: int
    status: OrderStatus
    reason: RejectReason
    ts_event: int


class FillReport(msgspec.Struct, frozen=True, kw_only=True, tag="fill"):
    """Private: one fill of one of the account's orders; ``fee`` in micro tick-lots."""

    account: int
    seq: int
    symbol: str
    order_id: int
    client_order_id: str | None
    trade_seq: int
    side: Side
    price: int
    qty: int
    liquidity: str  # maker or taker
    fee: int
    ts_event: int


class Trade(msgspec.Struct, frozen=True, kw_only=True, tag="trade"):
    """Public: a trade, with the symbol's sequence number."""

    symbol: str
    seq: int
    price: int
    qty: int
    aggressor: Side
    ts_event: int


class BookDelta(msgspec.Struct, frozen=True, kw_only=True, tag="delta"):
    """Public: the new total size of one level (0 removes it)."""

    symbol: str
    seq: int
    side: Side
    price: int
    size: int
    ts_event: int


Event = OrderUpdate | FillReport | Trade | BookDelta


class Outcome(msgspec.Struct, frozen=True, kw_only=True):
    """What one command did: the order's update (the ack) and every event it caused."""

    update: OrderUpdate
    events: tuple[Event, ...]

    @property
    def accepted(self) -> bool:
        """Return True unless the command was rejected."""
        return self.update.status is not OrderStatus.REJECTED
