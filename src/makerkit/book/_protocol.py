"""The contract every order book backend keeps: what ``make_book`` returns, typed.

``PyOrderBook`` and ``NativeOrderBook`` both satisfy it (mypy checks it where
``make_book`` builds them); the venue, the simulator, the replays and the
backtesters depend on this protocol, never on a backend class.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from makerkit.core import (
    BookState,
    CommandResult,
    Fill,
    L1Snapshot,
    L2Snapshot,
    L3Order,
    L3Snapshot,
    Order,
    OrderType,
    SelfTradePrevention,
    Side,
    TimeInForce,
)

__all__ = ["Book"]


class Book(Protocol):
    """One instrument's limit order book with price-time priority."""

    backend: str  # "native" or "python"

    def submit(
        self,
        order_id: int,
        side: Side | int,
        price: int,
        qty: int,
        *,
        order_type: OrderType | int = ...,
        tif: TimeInForce | int = ...,
        account: int = ...,
        stp: SelfTradePrevention | int = ...,
        ts: int = ...,
    ) -> CommandResult:
        """Enter a new order, match what it crosses and apply its time in force."""
        ...

    def cancel(self, order_id: int, *, ts: int = ...) -> CommandResult:
        """Remove a resting order."""
        ...

    def reduce(self, order_id: int, qty: int, *, ts: int = ...) -> CommandResult:
        """Cancel ``qty`` of a resting order, keeping its priority."""
        ...

    def execute(self, order_id: int, qty: int, *, ts: int = ...) -> CommandResult:
        """Trade ``qty`` of a resting order against an aggressor outside the book."""
        ...

    def modify(
        self, order_id: int, *, price: int | None = ..., qty: int | None = ..., ts: int = ...
    ) -> CommandResult:
        """Change price and/or remaining size of a resting order."""
        ...

    @property
    def seq(self) -> int:
        """The sequence number of the last accepted command or fill."""
        ...

    def __len__(self) -> int: ...

    def remaining(self, order_id: int) -> int:
        """The open size of a live order, 0 when it is not resting."""
        ...

    def best_bid(self) -> tuple[int, int] | None:
        """(price, size) of the best bid, or None."""
        ...

    def best_ask(self) -> tuple[int, int] | None:
        """(price, size) of the best ask, or None."""
        ...

    def l1(self) -> L1Snapshot:
        """The best bid and ask."""
        ...

    def l2(self, depth: int = ...) -> L2Snapshot:
        """The best ``depth`` levels per side."""
        ...

    def l3(self, depth: int = ...) -> L3Snapshot:
        """The best ``depth`` levels per side, every order in priority."""
        ...

    def top(self, side: Side | int, depth: int) -> tuple[list[int], list[int]]:
        """(prices, sizes) of the best ``depth`` levels of ``side``."""
        ...

    def top_equals(
        self,
        depth: int,
        ask_prices: list[int],
        ask_sizes: list[int],
        bid_prices: list[int],
        bid_sizes: list[int],
    ) -> bool:
        """Whether the best ``depth`` levels equal the given lists."""
        ...

    def depth_at(self, side: Side | int, price: int) -> int:
        """The total resting size at ``price`` on ``side``."""
        ...

    def orders_at(self, side: Side | int, price: int) -> tuple[L3Order, ...]:
        """The orders resting at ``price`` on ``side`` in time priority."""
        ...

    def order(self, order_id: int) -> Order | None:
        """A live order's snapshot, or None."""
        ...

    def orders(self) -> Iterable[Order]:
        """Every live order."""
        ...

    def fills(self) -> list[Fill]:
        """The retained fill history, oldest first."""
        ...

    def export_state(self) -> BookState:
        """Everything needed to rebuild this book exactly."""
        ...

    def restore(self, state: BookState) -> None:
        """Rebuild an empty book from ``state``."""
        ...
