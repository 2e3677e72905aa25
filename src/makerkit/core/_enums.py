"""Small closed vocabularies shared by every layer.

Values are plain ints so that numpy command arrays, the C++ engine and the
wire format can carry them without translation tables.
"""

from __future__ import annotations

from enum import IntEnum

__all__ = [
    "OrderStatus",
    "OrderType",
    "RejectReason",
    "SelfTradePrevention",
    "Side",
    "TimeInForce",
]


class Side(IntEnum):
    """Side of an order; ``sign`` is +1 for buys and -1 for sells."""

    BUY = 1
    SELL = -1

    @property
    def sign(self) -> int:
        """Return +1 for a buy and -1 for a sell (position arithmetic)."""
        return int(self)

    @property
    def opposite(self) -> Side:
        """Return the side this side trades against."""
        return Side.SELL if self is Side.BUY else Side.BUY


class OrderType(IntEnum):
    """How an order is priced."""

    LIMIT = 0
    MARKET = 1


class TimeInForce(IntEnum):
    """How long the unfilled part of an order lives."""

    GTC = 0
    IOC = 1
    FOK = 2
    POST_ONLY = 3


class OrderStatus(IntEnum):
    """Lifecycle state of an order after a command was applied."""

    NEW = 0
    PARTIALLY_FILLED = 1
    FILLED = 2
    CANCELED = 3
    REJECTED = 4
    EXPIRED = 5


class SelfTradePrevention(IntEnum):
    """What happens when an order would trade with a resting order of the same account.

    Account 0 is anonymous and never triggers self-trade prevention.
    """

    NONE = 0
    CANCEL_NEWEST = 1
    CANCEL_OLDEST = 2
    CANCEL_BOTH = 3


class RejectReason(IntEnum):
    """Stable reason codes; the numbers never change once published."""

    NONE = 0
    OFF_TICK = 1
    OFF_LOT = 2
    NON_POSITIVE_QTY = 3
    NON_POSITIVE_PRICE = 4
    UNKNOWN_ORDER = 5
    DUPLICATE_ORDER_ID = 6
    POST_ONLY_WOULD_CROSS = 7
    NO_LIQUIDITY = 8
    FOK_NOT_FILLABLE = 9
    SELF_TRADE = 10
    INVALID_ORDER_ID = 11
    INVALID_FIELD = 12
    INVALID_TIF = 13
    QTY_EXCEEDS_REMAINING = 14
    # venue and risk reasons (the matching engines never return these)
    UNKNOWN_SYMBOL = 15
    MAX_ORDER_QTY = 16
    MAX_NOTIONAL = 17
    MAX_POSITION = 18
    PRICE_COLLAR = 19
    RATE_LIMIT = 20
    DUPLICATE_ORDER = 21
    KILL_SWITCH = 22
    NOT_AUTHORIZED = 23
    MAX_OPEN_ORDERS = 24
    MIN_QTY = 25
    MIN_NOTIONAL = 26
    INSUFFICIENT_BALANCE = 27
