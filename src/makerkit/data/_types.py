"""Market data at the edge: bars and quotes as the sources give them.

Prices here are floats in the quote currency, as delivered; they become
integer ticks (``Instrument.to_ticks``) when they enter a book.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Protocol

import msgspec
import numpy as np
import numpy.typing as npt

__all__ = ["Bars", "CorporateAction", "EventSource", "MarketDataSource", "Quote"]

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


class Bars(msgspec.Struct, frozen=True, kw_only=True):
    """OHLCV bars, oldest first; ``ts_ns`` is each bar's start (UTC, ns).

    A bar the source left empty (nulls) is dropped, not filled. ``adj_close``
    is the source's split- and dividend-adjusted close where it gives one.
    """

    symbol: str
    interval: str  # "1m", "5m", "1h", "1d", ...
    source: str
    ts_ns: I64
    open: F64
    high: F64
    low: F64
    close: F64
    volume: F64
    adj_close: F64 | None = None
    currency: str = ""

    def __len__(self) -> int:
        return int(self.ts_ns.shape[0])


class CorporateAction(msgspec.Struct, frozen=True, kw_only=True):
    """A dividend (``amount`` per share) or a split (``ratio`` new shares per old)."""

    symbol: str
    ts_ns: int
    kind: str  # "dividend" or "split"
    amount: float = 0.0
    ratio: float = 1.0


class Quote(msgspec.Struct, frozen=True, kw_only=True):
    """The latest price of a symbol (bid/ask when the source has them)."""

    symbol: str
    source: str
    ts_ns: int
    price: float
    bid: float | None = None
    ask: float | None = None
    volume: float | None = None
    currency: str = ""


class MarketDataSource(Protocol):
    """Historical bars, the latest quote, and a polling stream of quotes."""

    name: str

    def bars(self, symbol: str, *, start: str, end: str, interval: str = "1d") -> Bars:
        """Bars in [start, end) (ISO dates or datetimes, UTC)."""
        ...

    def quote(self, symbol: str) -> Quote:
        """The latest quote."""
        ...

    def poll(self, symbol: str, *, every_s: float = 1.0) -> AsyncIterator[Quote]:
        """Quotes every ``every_s`` seconds, forever (only new ones)."""
        ...


class EventSource(Protocol):
    """Recorded order-book events of one symbol and day, as Parquet-store columns."""

    name: str

    def days(self, symbol: str) -> list[str]:
        """The days (YYYY-MM-DD) this source holds for ``symbol``."""
        ...

    def events(self, symbol: str, day: str) -> tuple[str, dict[str, Any], dict[str, Any]]:
        """(kind, columns, meta) of that day: kind ``l3`` or ``l2`` (see the store)."""
        ...
