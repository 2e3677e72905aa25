"""
Native matching engine of makerkit (C++20). Use makerkit.book, not this module.
"""

from collections.abc import Callable, Sequence
from typing import Annotated

import numpy
from numpy.typing import NDArray


class Engine:
    """One instrument's order book. Not thread-safe."""

    def __init__(self, fill_history: int = 100000) -> None: ...

    def submit(self, order_id: int, side: int, price: int, qty: int, order_type: int, tif: int, account: int, stp: int, ts: int) -> tuple[int, int, int, int, int, int, int]: ...

    def cancel(self, order_id: int, ts: int) -> tuple[int, int, int, int, int, int, int]: ...

    def reduce(self, order_id: int, qty: int, ts: int) -> tuple[int, int, int, int, int, int, int]: ...

    def execute(self, order_id: int, qty: int, ts: int) -> tuple[int, int, int, int, int, int, int]: ...

    def modify(self, order_id: int, price: int, qty: int, ts: int) -> tuple[int, int, int, int, int, int, int]:
        """price/qty equal to KEEP leave that field unchanged"""

    def last_fills(self) -> list[tuple[int, int, int, int, int, int, int, int, int]]:
        """
        Fills of the last command as tuples (seq, maker, taker, price, qty, aggressor, maker_account, taker_account, ts).
        """

    def last_canceled(self) -> list[int]: ...

    @property
    def seq(self) -> int: ...

    def __len__(self) -> int: ...

    def __contains__(self, order_id: int) -> bool: ...

    def remaining(self, order_id: int) -> int: ...

    def best(self, side: int) -> tuple[int, int] | None: ...

    def top(self, side: int, depth: int) -> tuple[list[int], list[int]]: ...

    def levels(self, side: int, depth: int) -> list[tuple[int, int, int]]: ...

    def top_equals(self, depth: int, ask_prices: object, ask_sizes: object, bid_prices: object, bid_sizes: object) -> bool: ...

    def depth_at(self, side: int, price: int) -> int: ...

    def orders_at(self, side: int, price: int) -> list[tuple[int, int, int]]: ...

    def order(self, order_id: int) -> tuple[int, int, int, int, int, int, int, int, int, int, int] | None: ...

    def order_ids(self) -> list[int]: ...

    def restore_order(self, order_id: int, side: int, price: int, qty: int, remaining: int, filled: int, account: int, order_type: int, tif: int, stp: int, ts: int) -> int:
        """
        Put a snapshot's live order back at the tail of its level; returns the reject reason code (0 = restored).
        """

    def restore_history(self, seq: int, fills: Sequence[tuple[int, int, int, int, int, int, int, int, int]]) -> None:
        """Set a snapshot's sequence number and fill history."""

    def fills(self) -> list[tuple[int, int, int, int, int, int, int, int, int]]: ...

KEEP: int = -9223372036854775808

def apply_stream(book: Engine, action: object, order_id: object, side: object, price: object, qty: object, tif: object, ts: object) -> tuple[int, int, int, int, list[int], Annotated[NDArray[numpy.int64], dict(shape=(None, None))]]:
    """
    Apply a whole command stream inside C++; returns (accepted, fills, volume, last_price, rejects by reason code, fills as an n x 9 int64 array: seq, maker, taker, price, qty, aggressor, maker_account, taker_account, ts).
    """

def apply_l3(book: Engine, type: object, order_id: object, side: object, price: object, qty: object, ts: object) -> int:
    """
    Apply a market-by-order feed (1 add, 2 partial cancel, 3 delete, 4 execute) inside C++; returns the number of rejected events.
    """

def replay_lobster(book: Engine, type: object, order_id: object, size: object, price: object, direction: object, ts: object, orderbook: object, levels: int, tick: int, check: bool = True, record_l1: bool = False) -> dict[str, object]:
    """Replay a LOBSTER day inside C++ and check every orderbook row."""

class Simulator:
    """Order-flow simulator driving one Engine (see simulator.hpp)."""

    def __init__(self, book: Engine, limit_rate: Sequence[float], cancel_rate: Sequence[float], market_rate: float, hawkes_alpha: float, hawkes_beta: float, value_rate: float, informed: float, limit_sizes: Sequence[int], limit_size_cdf: Sequence[float], market_sizes: Sequence[int], market_size_cdf: Sequence[float], improve_rate: Sequence[float], improve_cdf: Sequence[float], start_price: int, start_ns: int, improve_ratio: Sequence[float], market_rate_by_spread: Sequence[float], touch_cancel_by_spread: Sequence[float], market_within_touch: float, activity_sigma: float, activity_tau: float, activity_step: float, profile_step: float, activity_profile: Sequence[float], price_profile: Sequence[float], seed: int) -> None: ...

    def run(self, events: int, record: bool = True, until_ns: int = 9223372036854775807, watch_from: int = 9223372036854775807) -> dict[str, object]:
        """
        Emit up to `events` more commands (fewer once the clock reaches `until_ns`, or after one fills an order with id >= `watch_from`); with `record`, return them (6 x n: action, order_id, side, price, qty, ts) and the L1 after each (n x 4).
        """

    @property
    def value(self) -> int:
        """The fundamental value in ticks (the informed flow trades towards it)."""

    @value.setter
    def value(self, arg: int, /) -> None: ...

    @property
    def seconds(self) -> float: ...

    @property
    def live_orders(self) -> int: ...

class ReplayBacktest:
    """
    Replay backtest core: L2 book, queue model, latency (see replay_backtest.hpp).
    """

    def __init__(self, ts: object, kind: object, side: object, price: object, qty: object, roi_lo: int, roi_hi: int, queue_model: int, queue_power: float, feed_latency_ns: int, order_latency_ns: int, decision_ns: int, start_ns: int, wake_on_fill: bool, post_only: bool, maker_fee: float, taker_fee: float, ref: object | None = None, clear_on_trade: bool = True) -> None:
        """
        The event columns (int64 arrays, C-contiguous) are read in place, not copied: they must not change while the core lives.
        """

    def run(self, budget: int) -> int:
        """
        Process until a decision (1), a visible notice (2), the budget (3) or the end (0).
        """

    def stream(self, next: Callable[[], tuple[object, ...] | None]) -> None:
        """
        Stream the events: when they run out, `next()` gives the next chunk, a tuple (ts, kind, side, price, qty, ref or None) of int64 arrays, or None at the end. Indices (ref) count from the first event of the first chunk.
        """

    def step(self, budget: int) -> tuple[int, int, int | None, int, int | None, int, int, int, float, int, int, int, float]:
        """
        run() and the state a decision needs in one call: (reason, now, bid, bid size, ask, ask size, position, cash, fees, visible notices, and position, cash and fees as the strategy knows them: without fills whose reports have not arrived).
        """

    def next_stop(self, budget: int, make: object, names: object, features: object) -> tuple[int, bool, object]:
        """
        run(), then (reason, notices waiting, context): at a decision or a notice the context a Python strategy reads, make(**dict(zip(names, (now, bid, ask, bid size, ask size, position, pnl, features)))), position and pnl as its reports have told it, pnl marked to the mid after fees; None at the budget or the end.
        """

    def quote_and_run(self, bid_price: object | None, bid_size: object | None, ask_price: object | None, ask_size: object | None, record: bool, budget: int, make: object, names: object, features: object) -> tuple[int, bool, object]:
        """
        apply_quotes() (a price None: not quoted; prices and sizes must be ints, else TypeError and nothing happens), then next_stop(): one call per decision.
        """

    def seen(self) -> tuple[int, int, float]:
        """
        (position, cash, fees) as the strategy knows them now: without the fills whose reports have not arrived.
        """

    def submit(self, order_id: int, side: int, price: int, qty: int) -> None: ...

    def cancel(self, order_id: int) -> None: ...

    def take(self, order_id: int, side: int, price: int, qty: int) -> None:
        """
        An immediate (IOC) order from the current view time: it takes what the book shows up to `price` and the rest is canceled; it never rests.
        """

    def notices(self) -> list[tuple[int, int, int, int, int, int, int, int]]:
        """
        Visible notices, oldest first: (kind, ts, order_id, side, price, qty, left, maker).
        """

    def touch(self) -> tuple[int | None, int, int | None, int]:
        """(best bid, its size, best ask, its size); a missing side is (None, 0)."""

    def top(self, side: int, n: int) -> tuple[list[int], list[int]]: ...

    def depth_at(self, side: int, price: int) -> int: ...

    def fills(self) -> Annotated[NDArray[numpy.int64], dict(shape=(None, None))]:
        """Every fill: 6 x n (ts, order_id, side, price, qty, maker)."""

    def rejections(self) -> Annotated[NDArray[numpy.int64], dict(shape=(None, None))]:
        """Every refused order: 2 x n (arrival ts, side)."""

    def set_strategy(self, kind: int, params: Sequence[float], size: int, max_position: int, min_quote_life_ns: int, price_tolerance: int, size_tolerance: int, max_order_size: int) -> None:
        """
        Decide inside run() with a built-in strategy (1 symmetric, 2 inventory skew, 3 Avellaneda-Stoikov, 4 GLFT); -1 means none for the limits.
        """

    def set_manager(self, min_quote_life_ns: int, price_tolerance: int, size_tolerance: int, max_order_size: int) -> None:
        """
        The strategy decides in Python (run() returns at decisions); apply_quotes carries its quotes out with the built-ins' order-manager rules; -1: no max_order_size.
        """

    def set_kernel(self, address: int, params: Annotated[NDArray[numpy.float64], dict(shape=(None,), order='C', device='cpu', writable=False)], state: Annotated[NDArray[numpy.float64], dict(shape=(None,), order='C', device='cpu')], min_quote_life_ns: int, price_tolerance: int, size_tolerance: int, max_order_size: int) -> None:
        """
        Decide inside run() with a compiled strategy: `address` is a numba cfunc int32(view*, params*, state*, out*) (makerkit.strategies.KernelStrategy); the float64 arrays are read and written in place. run() answers 4 once it failed.
        """

    @property
    def kernel_status(self) -> int:
        """
        0 while a compiled strategy runs; -1 it raised; 1..4 the out slot (bid, bid size, ask, ask size; 1-based) it filled out of range.
        """

    @property
    def kernel_bad_value(self) -> float:
        """The out-of-range value a compiled strategy wrote (kernel_status 1..4)."""

    def apply_quotes(self, bid_price: int, bid_size: int, ask_price: int, ask_size: int, record: bool) -> None:
        """
        Move our quotes towards these now (a price < 0: not quoted); record: a path row when the book is two-sided.
        """

    def path(self) -> tuple[Annotated[NDArray[numpy.int64], dict(shape=(None, None))], Annotated[NDArray[numpy.float64], dict(shape=(None, None))]]:
        """
        The native strategy's decisions: (ts as 1 x n, 6 x n: mid, position, equity, bid, ask, both).
        """

    @property
    def placed(self) -> int: ...

    @property
    def now(self) -> int: ...

    @property
    def events_done(self) -> int: ...

    @property
    def events_total(self) -> int: ...

    @property
    def position(self) -> int: ...

    @property
    def cash(self) -> int: ...

    @property
    def fees(self) -> float: ...

    @property
    def ignored(self) -> int: ...

    @property
    def rejected(self) -> int: ...

    @property
    def open_orders(self) -> int: ...

    def queue_ahead(self, order_id: int) -> float:
        """
        The volume ahead of a resting order of ours in its queue; -1 when not resting.
        """

    @property
    def fifo_exceptions(self) -> int:
        """l3: executions behind our order while volume was still ahead of it."""

class JournalWriteError(Exception):
    pass

class JournalWriter:
    """
    The journal's native writer: its own connection to a journal whose schema exists, and its own thread, which commits each batch in one transaction without the GIL.
    """

    def __init__(self, path: str, full_sync: bool) -> None: ...

    def submit(self, commands: object, events: object) -> int:
        """
        Queue (ts, account, kind, payload) commands and (ts, kind, account, symbol, order_id, json) history rows as one transaction; return its ticket. Batches commit in order; each end is read with finished() once completion_fd is readable.
        """

    def write(self, commands: object, events: object) -> None:
        """
        submit() and wait for that batch; JournalWriteError (rolled back) on failure.
        """

    @property
    def completion_fd(self) -> int:
        """A file descriptor readable once a submitted batch has ended."""

    def finished(self) -> list[tuple[int, str | None]]:
        """
        The submitted batches ended since the last call, in order: (ticket, error or None).
        """

    def execute(self, sql: str) -> None:
        """Run SQL on this connection, between batches (pragmas, maintenance)."""

    def query_int(self, sql: str) -> int | None:
        """The first column of the first row, as an integer (None: no row)."""

    def close(self) -> None:
        """Finish the queued batches, stop the thread, close the connection."""
