"""Immutable value types: orders, fills, results and book snapshots.

All prices are int ticks and all sizes int lots; timestamps are int nanoseconds.
"""

from __future__ import annotations

import msgspec

from makerkit.core._enums import (
    OrderStatus,
    OrderType,
    RejectReason,
    SelfTradePrevention,
    Side,
    TimeInForce,
)

__all__ = [
    "BookLevel",
    "BookState",
    "CommandResult",
    "Fill",
    "L1Snapshot",
    "L2Snapshot",
    "L3Level",
    "L3Order",
    "L3Snapshot",
    "Order",
]


class Order(msgspec.Struct, frozen=True, kw_only=True):
    """A point-in-time view of one order held by a book."""

    order_id: int
    side: Side
    price: int
    qty: int
    remaining: int
    filled: int = 0
    account: int = 0
    order_type: OrderType = OrderType.LIMIT
    tif: TimeInForce = TimeInForce.GTC
    stp: SelfTradePrevention = SelfTradePrevention.CANCEL_NEWEST
    status: OrderStatus = OrderStatus.NEW
    ts_event: int = 0


class Fill(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One trade between a resting (maker) and an incoming (taker) order.

    ``taker_order_id`` is 0 when the aggressor is outside the book, as in an
    L3 replay of an execution message.
    """

    seq: int
    maker_order_id: int
    taker_order_id: int
    price: int
    qty: int
    aggressor: Side
    maker_account: int = 0
    taker_account: int = 0
    ts_event: int = 0
    ts_recv: int = 0


class BookState(msgspec.Struct, frozen=True, kw_only=True):
    """What a book needs to carry on exactly where it stood (venue snapshots).

    ``orders`` are the live orders in priority (bids then asks, best level
    first, FIFO within a level); restoring them in that order rebuilds the
    queues, and ``seq`` and ``fills`` continue the sequence and the history.
    """

    seq: int
    orders: tuple[Order, ...]
    fills: tuple[Fill, ...] = ()


class CommandResult(msgspec.Struct, frozen=True, kw_only=True):
    """What one book command did.

    A rejected command has ``status == REJECTED``, a ``reason`` and changed
    nothing. ``canceled`` lists resting orders removed by self-trade
    prevention while this command matched.
    """

    order_id: int
    status: OrderStatus
    reason: RejectReason = RejectReason.NONE
    filled: int = 0
    remaining: int = 0
    fills: tuple[Fill, ...] = ()
    canceled: tuple[int, ...] = ()
    seq: int = 0

    @property
    def ok(self) -> bool:
        """Return True unless the command was rejected."""
        return self.status is not OrderStatus.REJECTED


class L1Snapshot(msgspec.Struct, frozen=True, kw_only=True):
    """Best bid and ask; prices are None on an empty side."""

    bid_price: int | None
    bid_size: int
    ask_price: int | None
    ask_size: int
    seq: int = 0

    @classmethod
    def from_best(
        cls, bid: tuple[int, int] | None, ask: tuple[int, int] | None, seq: int = 0
    ) -> L1Snapshot:
        """Build from the (price, size) pairs books return for their best levels."""
        return cls(
            bid_price=bid[0] if bid else None,
            bid_size=bid[1] if bid else 0,
            ask_price=ask[0] if ask else None,
            ask_size=ask[1] if ask else 0,
            seq=seq,
        )

    @property
    def spread(self) -> int | None:
        """Return ask minus bid in ticks, or None when a side is empty."""
        if self.bid_price is None or self.ask_price is None:
            return None
        return self.ask_price - self.bid_price


class BookLevel(msgspec.Struct, frozen=True, array_like=True):
    """One aggregated price level: price, total size and number of orders."""

    price: int
    size: int
    count: int


class L2Snapshot(msgspec.Struct, frozen=True, kw_only=True):
    """Top levels per side, best first."""

    bids: tuple[BookLevel, ...]
    asks: tuple[BookLevel, ...]
    seq: int = 0


class L3Order(msgspec.Struct, frozen=True, array_like=True):
    """One resting order as seen in an L3 view."""

    order_id: int
    qty: int
    account: int


class L3Level(msgspec.Struct, frozen=True, kw_only=True):
    """One price level with its orders in time priority."""

    price: int
    orders: tuple[L3Order, ...]


class L3Snapshot(msgspec.Struct, frozen=True, kw_only=True):
    """Top levels per side with every order, best first."""

    bids: tuple[L3Level, ...]
    asks: tuple[L3Level, ...]
    seq: int = 0
