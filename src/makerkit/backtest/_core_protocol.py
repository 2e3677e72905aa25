"""The contract of a replay core: what ``make_replay_core`` returns, typed.

``PyReplayCore`` (the reference) and the C++ ``ReplayBacktest`` both keep it;
``NativeReplayCore`` adds what only the C++ core has (a built-in strategy
deciding inside the core, and its path).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np

__all__ = ["NativeReplayCore", "ReplayCore"]


class ReplayCore(Protocol):
    """Recorded events replayed into a book, our orders queued by a model (see ``_replay_core``)."""

    def run(self, budget: int) -> int:
        """Replay until a decision, a visible notice, ``budget`` events, or the end."""
        ...

    def step(self, budget: int) -> tuple[Any, ...]:
        """``run``, then (reason, time, touch, position, cash, fees, notices, seen...)."""
        ...

    def submit(self, order_id: int, side: int, price: int, qty: int) -> None:
        """Send an order from the current view time."""
        ...

    def cancel(self, order_id: int) -> None:
        """Send a cancel from the current view time."""
        ...

    def take(self, order_id: int, side: int, price: int, qty: int) -> None:
        """Send an immediate (IOC) order: it takes the book up to ``price``, never rests."""
        ...

    def notices(self) -> Sequence[tuple[int, ...]]:
        """What happened to our orders, visible now, oldest first."""
        ...

    def touch(self) -> tuple[int | None, int, int | None, int]:
        """(bid, its size, ask, its size) of the book now."""
        ...

    def top(self, side: int, n: int) -> tuple[list[int], list[int]]:
        """Up to ``n`` levels of ``side`` from the touch outwards."""
        ...

    def depth_at(self, side: int, price: int) -> int:
        """The displayed size at ``price`` on ``side``."""
        ...

    def fills(self) -> np.ndarray[Any, Any]:
        """Every fill so far: rows ts, order, side, price, qty, maker."""
        ...

    def rejections(self) -> np.ndarray[Any, Any]:
        """Every refused order so far: rows arrival time, side."""
        ...

    def queue_ahead(self, order_id: int) -> float:
        """The volume ahead of our resting order (-1: it is not resting)."""
        ...

    def stream(self, next: Callable[[], Any]) -> None:
        """When the events run out, ``next()`` gives the next chunk, or None at the end."""
        ...

    @property
    def events_done(self) -> int: ...

    @property
    def events_total(self) -> int: ...

    @property
    def open_orders(self) -> int: ...

    @property
    def position(self) -> int: ...

    @property
    def fees(self) -> float: ...

    @property
    def rejected(self) -> int: ...

    @property
    def fifo_exceptions(self) -> int: ...


class NativeReplayCore(ReplayCore, Protocol):
    """The C++ core: a built-in strategy can decide inside it."""

    def set_strategy(
        self, kind: int, params: Sequence[float], size: int, max_position: int,
        min_quote_life_ns: int, price_tolerance: int, size_tolerance: int, max_order_size: int,
    ) -> None:  # fmt: skip
        """Decide inside the core with a built-in strategy from now on."""
        ...

    def set_kernel(
        self, address: int, params: np.ndarray[Any, Any], state: np.ndarray[Any, Any],
        min_quote_life_ns: int, price_tolerance: int, size_tolerance: int, max_order_size: int,
    ) -> None:  # fmt: skip
        """Decide inside the core with a compiled strategy (a numba cfunc's address)."""
        ...

    @property
    def kernel_status(self) -> int: ...

    @property
    def kernel_bad_value(self) -> float: ...

    def set_manager(
        self, min_quote_life_ns: int, price_tolerance: int, size_tolerance: int,
        max_order_size: int,
    ) -> None:  # fmt: skip
        """A Python strategy decides; ``apply_quotes`` carries it out with the same rules."""
        ...

    def apply_quotes(
        self, bid_price: int, bid_size: int, ask_price: int, ask_size: int, record: bool
    ) -> None:
        """Move our quotes towards these now (a price < 0: not quoted)."""
        ...

    def next_stop(
        self, budget: int, make: Callable[..., Any], names: tuple[str, ...], features: object
    ) -> tuple[int, bool, Any]:
        """``run``, then (reason, notices waiting, the context ``make`` builds, or None)."""
        ...

    def quote_and_run(
        self, bid_price: int | None, bid_size: int, ask_price: int | None, ask_size: int,
        record: bool, budget: int, make: Callable[..., Any], names: tuple[str, ...],
        features: object,
    ) -> tuple[int, bool, Any]:  # fmt: skip
        """``apply_quotes`` (None: not quoted), then ``next_stop``: one call per decision."""
        ...

    def seen(self) -> tuple[int, int, float]:
        """(position, cash, fees) as the strategy knows them now."""
        ...

    def path(self) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
        """The native strategy's path: one row per decision with a two-sided book."""
        ...

    @property
    def placed(self) -> int: ...
