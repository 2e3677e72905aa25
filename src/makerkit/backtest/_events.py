"""Recorded market data as one flat L2 event stream for the replay backtester.

An event is a depth update (the new absolute size at a price, 0 removes the
level), a trade (``side`` is the aggressor: +1 a buyer lifted the ask) or a
window clear (see LOBSTER below).
Prices are integer ticks and sizes integer lots of the source's grid; the
grid itself is kept in ``tick``/``lot`` (source units) so reports can speak
in decimals.

* LOBSTER: the orderbook file is the book after each message, so each
  message's level is read from it (no matching engine needed): the size at the
  message's price after the message, 0 when the level emptied inside the
  window. Hidden executions (type 5) become HIDDEN events: they move no
  visible depth but fill a quote they went through, or one with nothing
  displayed ahead of it at their price (displayed orders have priority).
  When the window reaches deeper (a level inside it emptied), a clear
  event empties the stretch between the old and the new deepest level (what
  lay beyond the window is unknown, and may be stale) and depth events set the
  levels the row now shows there. Visible executions (type 4) also become
  trades, aggressor opposite the resting order. Crosses and halts are left
  out.
* Binance: the REST snapshot, then every level of every diff the book
  builder (``sync_binance``) applies, in exchange update-id order with
  Binance's spot or futures rules (removals before additions within a diff,
  so a diff never crosses the book half-applied), each stamped no earlier
  than the snapshot, merged with the trade stream by receive time. After a
  sequence gap nothing is replayed (the book is not trusted); the gap is kept
  in ``notes`` and counted in ``gaps``/``dropped``.

``data_quality`` checks any stream: after each complete update (the last
event of a timestamp) the book must not be crossed.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import numpy.typing as npt

from makerkit.core.errors import DataError
from makerkit.data import (
    LOBSTER_DUMMY_ASK,
    LOBSTER_DUMMY_BID,
    BinanceCapture,
    BinanceFiles,
    LobsterDay,
    LobsterFiles,
    capture_depth,
    load_binance_capture,
    load_lobster,
    lobster_tick,
)

__all__ = [
    "ADD",
    "CANCEL",
    "CLEAR",
    "DEPTH",
    "EXECUTE",
    "HIDDEN",
    "TRADE",
    "MarketEvents",
    "StreamedMarket",
    "binance_events",
    "book_levels",
    "check_events",
    "data_quality",
    "lobster_events",
    "recorded_events",
]

I64 = npt.NDArray[np.int64]
DEPTH = 1
TRADE = 2
CLEAR = 3  # levels of `side` strictly between `price` and `qty` (a price) are emptied
# order-level (L3) events; `side` is the resting order's, `ref` the index of its add event
ADD = 4  # an order rests at price: the level grows by qty
CANCEL = 5  # qty of the order added at event `ref` is cancelled
EXECUTE = 6  # qty of the order added at event `ref` is executed (the aggressor is -side)
HIDDEN = 7  # a hidden order resting on `side` at price executes qty (no visible depth)


class MarketEvents(msgspec.Struct, frozen=True, kw_only=True):
    """Columns of equal length, ``ts`` non-decreasing (ns)."""

    ts: I64
    kind: I64  # DEPTH, TRADE or CLEAR
    side: I64  # depth: +1 bid / -1 ask; trade: the aggressor
    price: I64  # ticks
    qty: I64  # lots
    source: str
    symbol: str
    tick: int = 1  # one tick in source price units
    lot: int = 1  # one lot in source size units
    price_unit: str = ""
    start_ns: int = 0  # when the book is complete: decisions start here
    # data quality, from the builder (see ``data_quality``)
    gaps: int = 0  # sequence gaps in the source
    dropped: int = 0  # source updates not replayed (after a gap, repeats)
    notes: tuple[str, ...] = ()  # what was wrong, with file and line
    # order-level streams (kinds ADD..HIDDEN): the index of the touched order's add event
    ref: I64 | None = None

    @property
    def order_level(self) -> bool:
        """Whether this is an order-level (L3) stream, replayable with ``queue=l3``."""
        return self.ref is not None

    def __len__(self) -> int:
        return int(self.ts.shape[0])

    def price_range(self) -> tuple[int, int]:
        """(lowest, highest) traded price, or the depth's range without trades."""
        k = self.kind
        trades = self.price[(k == TRADE) | (k == EXECUTE) | (k == HIDDEN)]
        prices = trades if trades.size else self.price
        if not prices.size:
            msg = "no events"
            raise DataError(msg)
        return int(prices.min()), int(prices.max())


class StreamedMarket:
    """A replay too long to hold: its first chunk, then the rest read one chunk at a time.

    ``chunks()`` starts a fresh pass over every chunk after ``head`` (each run
    reads its own). The grid (``tick``, ``lot``) and the price range are known
    before any row is read, so the replay's book is sized once; ``ref`` in
    order-level chunks counts from the first event of ``head``.
    """

    def __init__(
        self, head: MarketEvents, chunks: Callable[[], Iterator[MarketEvents]], *,
        price_lo: int, price_hi: int, total_hint: int,
    ) -> None:  # fmt: skip
        self.head = head
        self.chunks = chunks
        self.price_lo, self.price_hi = price_lo, price_hi
        self.total_hint = total_hint
        self.symbol, self.source = head.symbol, head.source
        self.tick, self.lot, self.price_unit = head.tick, head.lot, head.price_unit
        self.start_ns = head.start_ns

    @property
    def order_level(self) -> bool:
        """Whether the chunks are order-level (L3)."""
        return self.head.order_level

    def price_range(self) -> tuple[int, int]:
        """(lowest, highest) price in ticks over every chunk, from the catalog's statistics."""
        return self.price_lo, self.price_hi

    def __len__(self) -> int:
        return self.total_hint


def _stack(parts: list[tuple[I64, ...]]) -> tuple[I64, ...]:
    """Concatenate (order_key, ts, kind, side, price, qty) parts, sorted stably by key."""
    cols = [np.concatenate([p[i] for p in parts]) for i in range(6)]
    order = np.argsort(cols[0], kind="stable")
    return tuple(c[order] for c in cols[1:])


def lobster_events(day: LobsterDay, *, symbol: str = "") -> MarketEvents:
    """A LOBSTER day (messages + orderbook file) as L2 events; see the module notes."""
    m, book, n = day.messages, day.book, day.levels
    if book.shape[0] != len(m) or book.shape[0] == 0:
        msg = "the orderbook file must have one row per message"
        raise DataError(msg, path=day.orderbook_path)
    tick = lobster_tick(day)
    rows = np.arange(len(m), dtype=np.int64)
    ask_px, ask_sz = book[:, 0::4], book[:, 1::4]
    bid_px, bid_sz = book[:, 2::4], book[:, 3::4]
    # the size after each message at its price, read from its side of the row
    is_bid = m.direction == 1
    px = np.where(is_bid[:, None], bid_px, ask_px)
    sz = np.where(is_bid[:, None], bid_sz, ask_sz)
    hit = px == m.price[:, None]
    size_after = (sz * hit).sum(axis=1)
    found = hit.any(axis=1)
    deepest = px[:, n - 1]
    dummy = np.where(is_bid, LOBSTER_DUMMY_BID, LOBSTER_DUMMY_ASK)
    inside = (deepest == dummy) | np.where(is_bid, m.price >= deepest, m.price <= deepest)
    visible = (m.type >= 1) & (m.type <= 4)
    depth_ok = visible & (found | inside) & (rows > 0)
    parts: list[tuple[I64, ...]] = []

    def part(mask: Any, slot: int, kind: int, side: Any, price: Any, qty: Any) -> None:
        r = rows[mask]
        key = r * (2 * n + 6) + slot
        parts.append((key, m.ts_ns[mask], np.full(r.size, kind, np.int64),
                      np.broadcast_to(side, rows.shape)[mask].astype(np.int64),
                      np.broadcast_to(price, rows.shape)[mask] // tick,
                      np.broadcast_to(qty, rows.shape)[mask].astype(np.int64)))  # fmt: skip

    # row 0 seeds the book: every level it shows, at the first timestamp
    seed_key, seed = [], []
    for level in range(n):
        for side, p_col, s_col in ((-1, ask_px, ask_sz), (1, bid_px, bid_sz)):
            p, s = int(p_col[0, level]), int(s_col[0, level])
            if s > 0 and p not in (LOBSTER_DUMMY_ASK, LOBSTER_DUMMY_BID):
                seed_key.append(level * 2 + (side > 0))
                seed.append((side, p // tick, s))
    if seed:
        arr = np.asarray(seed, dtype=np.int64)
        key = np.asarray(seed_key, np.int64) - 1000  # before row 0's own events
        first = np.full(len(seed), m.ts_ns[0])
        parts.append((key, first, np.full(len(seed), DEPTH, np.int64), *arr.T))
    part((m.type == 4) & (rows > 0), 0, TRADE, -m.direction, m.price, m.size)
    # hidden executions, on the tick that does not reach past them (up for bids)
    hidden_px = np.where(m.direction > 0, m.price + tick - 1, m.price)
    part((m.type == 5) & (rows > 0), 0, HIDDEN, m.direction, hidden_px, m.size)
    part(depth_ok, 1, DEPTH, m.direction, m.price, size_after)
    # the window reaching deeper: what was beyond it is unknown, so clear that
    # stretch and set the levels the row now shows there
    sides = (
        (2, -1, ask_px, ask_sz, LOBSTER_DUMMY_ASK),
        (3 + n, 1, bid_px, bid_sz, LOBSTER_DUMMY_BID),
    )
    for slot, side, p_col, s_col, dummy_px in sides:
        last = p_col[:, n - 1]
        prev = np.r_[last[:1], last[:-1]]
        deeper = (last > prev) if side < 0 else (last < prev)
        grew = deeper & (prev != dummy_px) & (rows > 0)
        part(grew, slot, CLEAR, side, prev, last // tick)
        for k in range(n):
            px = p_col[:, k]
            beyond = (px > prev) if side < 0 else (px < prev)
            part(grew & beyond & (px != dummy_px) & (s_col[:, k] > 0), slot + 1 + k, DEPTH,
                 side, px, s_col[:, k])  # fmt: skip
    ts, kind, side_col, price, qty = _stack(parts)
    return MarketEvents(
        ts=ts, kind=kind, side=side_col, price=price, qty=qty, source="lobster",
        symbol=symbol or _lobster_symbol(m.path), tick=tick, lot=1, price_unit="1e-4 USD",
        start_ns=int(m.ts_ns[0]),
    )  # fmt: skip


def _lobster_symbol(path: str) -> str:
    name = path.rsplit("/", 1)[-1]
    return name.split("_", 1)[0] if "_" in name else ""


def binance_events(capture: BinanceCapture) -> MarketEvents:
    """A Binance capture as L2 events on its own tick and lot grid (see the module notes)."""
    snap_ts = capture.snapshot_ns
    sync, depth = capture_depth(capture)
    if not sync.applied:
        msg = "the capture has no depth after its snapshot"
        if sync.gap is not None:
            msg = f"{msg}: {sync.gap}"
        raise DataError(msg, path=capture.path)
    nd = depth["ts_ns"].shape[0]
    arr = np.stack([
        np.zeros(nd, np.int64), depth["ts_ns"], np.full(nd, DEPTH, np.int64), depth["side"],
        depth["price"], depth["qty"],
    ], axis=1)  # fmt: skip
    keep = capture.trade_ns >= snap_ts
    if sync.gap is not None:  # nothing after the gap: the book is not trusted there
        keep &= capture.trade_ns <= sync.ts[-1]
    trades = np.stack([
        np.zeros(int(keep.sum()), np.int64), capture.trade_ns[keep],
        np.full(int(keep.sum()), TRADE, np.int64),
        np.where(capture.trade_buyer_maker[keep], -1, 1).astype(np.int64),
        capture.trade_price[keep], capture.trade_qty[keep],
    ], axis=1)  # fmt: skip
    allrows = np.concatenate([trades, arr])  # trades first at equal times
    order = np.lexsort((allrows[:, 0], allrows[:, 1]))
    allrows = allrows[order]
    tick = int(np.gcd.reduce(allrows[:, 4]))
    sizes = allrows[:, 5]
    lot = int(np.gcd.reduce(sizes[sizes > 0])) if (sizes > 0).any() else 1
    tick, lot = tick or 1, lot or 1
    notes = () if sync.gap is None else (str(sync.gap),)
    return MarketEvents(
        ts=np.ascontiguousarray(allrows[:, 1]), kind=np.ascontiguousarray(allrows[:, 2]),
        side=np.ascontiguousarray(allrows[:, 3]), price=allrows[:, 4] // tick,
        qty=sizes // lot, source="binance", symbol=capture.symbol, tick=tick, lot=lot,
        price_unit="1e-8", start_ns=snap_ts, gaps=sync.gaps, dropped=sync.dropped, notes=notes,
    )  # fmt: skip


def data_quality(ev: MarketEvents | StreamedMarket) -> dict[str, int]:
    """``{events, crossed_events, gaps, dropped}`` of a stream, as the backtester sees it.

    The book is rebuilt from the depth and clear events (or the order-level
    adds, cancels and executions) and checked after each
    complete update (the last event of a timestamp that changed it):
    ``crossed_events`` counts those where best bid >= best ask. Gaps and
    dropped updates come from the source's builder. A ``StreamedMarket`` is
    read one chunk at a time, its book carried from chunk to chunk.
    """
    chunks = [ev] if isinstance(ev, MarketEvents) else itertools.chain([ev.head], ev.chunks())
    book = _QualityBook()
    total = {"events": 0, "crossed_events": 0, "gaps": 0, "dropped": 0}
    for chunk in chunks:
        book.apply(chunk)
        total["events"] += len(chunk)
        total["gaps"] += chunk.gaps
        total["dropped"] += chunk.dropped
    total["crossed_events"] = book.crossed
    return total


class _QualityBook:
    """The book ``data_quality`` rebuilds, kept across the chunks of a stream."""

    def __init__(self) -> None:
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}
        self.bid_heap: list[int] = []  # negated
        self.ask_heap: list[int] = []
        self.crossed = 0

    def apply(self, ev: MarketEvents) -> None:
        ts, kind, side = ev.ts.tolist(), ev.kind.tolist(), ev.side.tolist()
        price, qty = ev.price.tolist(), ev.qty.tolist()
        bids, asks, bid_heap, ask_heap = self.bids, self.asks, self.bid_heap, self.ask_heap
        crossed = 0
        dirty = False
        n = len(ts)
        push, pop = heapq.heappush, heapq.heappop
        for i in range(n):
            k = kind[i]
            if k == DEPTH or k in (ADD, CANCEL, EXECUTE):
                p, bid = price[i], side[i] > 0
                book = bids if bid else asks
                q = qty[i] if k == DEPTH else book.get(p, 0) + (qty[i] if k == ADD else -qty[i])
                if q > 0:
                    if p not in book:
                        push(bid_heap if bid else ask_heap, -p if bid else p)
                    book[p] = q
                else:
                    book.pop(p, None)
                dirty = True
            elif k == CLEAR:
                lo, hi = sorted((price[i], qty[i]))
                book = bids if side[i] > 0 else asks
                for p in [p for p in book if lo < p < hi]:
                    del book[p]
                dirty = True
            if dirty and (i + 1 == n or ts[i + 1] != ts[i]):
                dirty = False
                while bid_heap and -bid_heap[0] not in bids:
                    pop(bid_heap)
                while ask_heap and ask_heap[0] not in asks:
                    pop(ask_heap)
                if bid_heap and ask_heap and -bid_heap[0] >= ask_heap[0]:
                    crossed += 1
        self.crossed += crossed


def book_levels(ev: MarketEvents, levels: int = 5) -> dict[str, np.ndarray[Any, Any]]:
    """The top ``levels`` of the book after each complete update of an L2 stream, and its trades.

    ``ts`` (n), ``bid_px``/``bid_sz``/``ask_px``/``ask_sz`` (n x levels, ticks and
    lots, best first, 0 where a side is shallower), ``trade_ts``/``trade_qty``/
    ``trade_side`` (the aggressor). A book state is taken after the last event
    of each timestamp that changed the book, as ``data_quality`` checks it.
    """
    import bisect

    if ev.order_level:
        msg = "book_levels reads an L2 stream (the order-level view has no depth events)"
        raise DataError(msg)
    ts, kind, side = ev.ts.tolist(), ev.kind.tolist(), ev.side.tolist()
    price, qty = ev.price.tolist(), ev.qty.tolist()
    sizes: dict[int, dict[int, int]] = {1: {}, -1: {}}
    keys: dict[int, list[int]] = {1: [], -1: []}  # ascending prices held on each side
    rows: list[tuple[int, list[int], list[int], list[int], list[int]]] = []
    n = len(ts)
    dirty = False
    for i in range(n):
        k = kind[i]
        if k == DEPTH:
            s, p, q = side[i], price[i], qty[i]
            book, held = sizes[s], keys[s]
            if q > 0:
                if p not in book:
                    bisect.insort(held, p)
                book[p] = q
            elif p in book:
                del book[p]
                held.pop(bisect.bisect_left(held, p))
            dirty = True
        elif k == CLEAR:
            s = side[i]
            lo, hi = sorted((price[i], qty[i]))
            held = keys[s]
            a, b = bisect.bisect_right(held, lo), bisect.bisect_left(held, hi)
            for p in held[a:b]:
                del sizes[s][p]
            del held[a:b]
            dirty = True
        if dirty and (i + 1 == n or ts[i + 1] != ts[i]):
            dirty = False
            bp = keys[1][::-1][:levels]
            ap = keys[-1][:levels]
            rows.append((ts[i], bp, [sizes[1][p] for p in bp], ap, [sizes[-1][p] for p in ap]))
    out = {name: np.zeros((len(rows), levels)) for name in ("bid_px", "bid_sz", "ask_px", "ask_sz")}
    for r, (_, bp, bs, ap, az) in enumerate(rows):
        out["bid_px"][r, : len(bp)], out["bid_sz"][r, : len(bs)] = bp, bs
        out["ask_px"][r, : len(ap)], out["ask_sz"][r, : len(az)] = ap, az
    trades = ev.kind == TRADE
    return {
        "ts": np.asarray([r[0] for r in rows], np.int64), **out,
        "trade_ts": ev.ts[trades], "trade_qty": ev.qty[trades], "trade_side": ev.side[trades],
    }  # fmt: skip


def check_events(ev: MarketEvents) -> None:
    """Refuse streams the backtester cannot replay, naming the column."""
    n = len(ev)
    for name in ("kind", "side", "price", "qty", *(("ref",) if ev.ref is not None else ())):
        if getattr(ev, name).shape != (n,):
            msg = f"invalid events: `{name}` must have {n} rows"
            raise DataError(msg)
    if n and np.any(np.diff(ev.ts) < 0):
        msg = "invalid events: `ts` must not decrease"
        raise DataError(msg)
    if ev.tick <= 0 or ev.lot <= 0:
        msg = "invalid events: `tick` and `lot` must be > 0"
        raise DataError(msg)


def recorded_events(
    source: str, symbol: str, day: str | None = None, *, root: str | Path | None = None,
    order_level: bool = False,
) -> MarketEvents:  # fmt: skip
    """Events of a recorded day: ``source`` is ``lobster`` or ``binance`` (files under ``root``).

    ``order_level`` asks for the order-level (L3) view, which only LOBSTER days have.
    """
    if source == "lobster":
        message = LobsterFiles(root).file(symbol.upper(), day)
        book = message.with_name(message.name.replace("message", "orderbook"))
        if not book.exists():
            msg = f"lobster: {message.name} has no orderbook file beside it ({book.name})"
            raise DataError(msg)
        loaded = load_lobster(message, book)
        if order_level:
            from makerkit.backtest._l3 import lobster_l3_events  # _l3 imports this module

            return lobster_l3_events(loaded, symbol=symbol.upper())
        return lobster_events(loaded, symbol=symbol.upper())
    if order_level:
        msg = f"queue=l3 needs order-level data: {source} has none (only lobster days do)"
        raise DataError(msg)
    if source == "binance":
        return binance_events(load_binance_capture(BinanceFiles(root).file(symbol.lower(), day)))
    msg = f"invalid source {source!r}, must be 'lobster' or 'binance'"
    raise DataError(msg)
