"""Positions and PnL in integers: FIFO lots, realized and unrealized PnL, fees.

Units: prices in ticks, sizes in lots, so trading PnL is in tick-lots; fees are
in micro tick-lots (``MONEY_SCALE`` per tick-lot) because fee rates are parts
per million of notional. ``Instrument`` turns both into money at the edge.
"""

from __future__ import annotations

from collections import deque

import msgspec

__all__ = ["MONEY_SCALE", "Position", "PositionView"]

MONEY_SCALE = 1_000_000


class PositionView(msgspec.Struct, frozen=True, kw_only=True):
    """A snapshot of one account's position in one symbol."""

    symbol: str
    qty: int  # signed lots: > 0 long, < 0 short
    avg_price: float | None  # average entry of the open lots, in ticks
    realized: int  # tick-lots
    unrealized: int  # tick-lots at the last mark
    fees: int  # micro tick-lots (negative for net rebates)
    mark: int | None
    bought: int
    sold: int
    # tick-lots the fills received (+) or paid (-), before fees: the quote asset's flow
    cash: int = 0

    @property
    def pnl_micro(self) -> int:
        """Return realized + unrealized - fees in micro tick-lots."""
        return (self.realized + self.unrealized) * MONEY_SCALE - self.fees


class Position:
    """Net position with FIFO lots, so realized PnL is exact in integers."""

    __slots__ = ("bought", "fees", "lots", "open_cost", "qty", "realized", "sold")

    def __init__(self) -> None:
        self.qty = 0
        self.lots: deque[list[int]] = deque()  # [lots, price], oldest first
        self.open_cost = 0  # sum of price * lots over open lots
        self.realized = 0
        self.fees = 0
        self.bought = 0
        self.sold = 0

    def apply(self, side: int, price: int, qty: int, fee_micro: int = 0) -> int:
        """Book a fill; return the PnL it realized (tick-lots)."""
        self.fees += fee_micro
        if side > 0:
            self.bought += qty
        else:
            self.sold += qty
        realized = 0
        left = qty
        while left and self.qty * side < 0:
            lot = self.lots[0]
            take = min(left, lot[0])
            # closing a long with a sell earns price - entry; closing a short, entry - price
            realized += (price - lot[1]) * take * -side
            lot[0] -= take
            self.open_cost -= lot[1] * take
            self.qty += side * take
            left -= take
            if lot[0] == 0:
                self.lots.popleft()
        if left:
            self.lots.append([left, price])
            self.open_cost += price * left
            self.qty += side * left
        self.realized += realized
        return realized

    def unrealized(self, mark: int | None) -> int:
        """Return the open lots' PnL at ``mark`` (0 without a mark)."""
        if mark is None or self.qty == 0:
            return 0
        sign = 1 if self.qty > 0 else -1
        return sign * (mark * abs(self.qty) - self.open_cost)

    def pnl_micro(self, mark: int | None) -> int:
        """Return realized + unrealized - fees in micro tick-lots."""
        return (self.realized + self.unrealized(mark)) * MONEY_SCALE - self.fees

    def view(self, symbol: str, mark: int | None) -> PositionView:
        """Return an immutable snapshot."""
        return PositionView(
            symbol=symbol,
            qty=self.qty,
            avg_price=self.open_cost / abs(self.qty) if self.qty else None,
            realized=self.realized,
            unrealized=self.unrealized(mark),
            fees=self.fees,
            mark=mark,
            bought=self.bought,
            sold=self.sold,
            cash=self.realized - (self.open_cost if self.qty > 0 else -self.open_cost),
        )
