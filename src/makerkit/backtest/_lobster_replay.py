"""Exact L3 replay of LOBSTER days through an order book, checked row by row.

What the replay may take from the orderbook file
------------------------------------------------
* Row 0, with message 0 undone, seeds the book: one placeholder order per
  level stands for the orders resting before the file starts.
* After that, only levels that newly enter the top N from beyond the window
  (because a level inside it vanished) are synchronised from the row: a
  level-N file omits every message deeper than level N, so nothing else can
  know their size. These are counted as ``seeded_levels``.

Everything else follows from the messages: submissions rest, partial
cancels reduce, deletions cancel, visible executions trade against the named
order; hidden executions (type 5) and crosses (type 6) are recorded as trades
without touching depth; halts (type 7) are tracked and executions during a
halt are counted. Messages naming an order the book does not know (it rested
before the file started, or was submitted beyond the window) act on the
placeholder quantity at that price.
"""

from __future__ import annotations

from collections.abc import Callable
from operator import itemgetter
from typing import Any

import msgspec
import numpy as np

from makerkit.backtest._gc import gc_paused
from makerkit.backtest._replay_config import backend_of
from makerkit.book import make_book
from makerkit.core.clock import monotonic_ns
from makerkit.data import LOBSTER_DUMMY_ASK, LOBSTER_DUMMY_BID, LobsterDay, lobster_tick

__all__ = ["ReplayReport", "replay_lobster"]

_PLACEHOLDER_BASE = 1 << 60
_CHUNK = 8192
_TYPE_NAMES = {
    1: "submit",
    2: "partial cancel",
    3: "delete",
    4: "execute",
    5: "hidden execution",
    6: "cross trade",
    7: "halt",
}


class ReplayReport(msgspec.Struct, kw_only=True):
    """Outcome of a checked replay; ``mismatched_rows == 0`` means exact."""

    engine: str
    messages: int
    levels: int
    tick: int
    rows_checked: int
    mismatched_rows: int
    seconds: float
    msgs_per_sec: float
    load_seconds: float = 0.0
    seeded_levels: int = 0
    initial_levels: int = 0
    placeholder_refs: int = 0
    unresolved_refs: int = 0
    dark_refs: int = 0
    visible_trades: int = 0
    visible_volume: int = 0
    hidden_trades: int = 0
    hidden_volume: int = 0
    cross_trades: int = 0
    halts: int = 0
    halt_violations: int = 0
    first_mismatch: str | None = None
    final_bid: list[int] | None = None
    final_ask: list[int] | None = None

    @property
    def ok(self) -> bool:
        """Return True when every checked row matched."""
        return self.mismatched_rows == 0


def _money(price_ticks: int, tick: int) -> str:
    return f"{price_ticks * tick / 10_000:.4f}".rstrip("0").rstrip(".")


class _Replayer:
    """Holds the book and the placeholder bookkeeping for one replay."""

    def __init__(self, day: LobsterDay, book: Any) -> None:
        self.book: Any = book
        self.engine: str = self.book.backend
        self.levels = day.levels
        self.tick = lobster_tick(day)
        self.placeholders: dict[tuple[int, int], list[int]] = {}
        self.next_placeholder = _PLACEHOLDER_BASE
        self.seeded_levels = 0
        self.initial_levels = 0
        self.placeholder_refs = 0
        self.unresolved_refs = 0
        self.dark_refs = 0

    # -- placeholders -------------------------------------------------------

    def add_placeholder(self, side: int, price: int, qty: int, ts: int) -> None:
        self.next_placeholder += 1
        oid = self.next_placeholder
        self.book.submit(oid, side, price, qty, ts=ts)
        self.placeholders.setdefault((side, price), []).append(oid)

    def take_placeholder(self, side: int, price: int, qty: int, execute: bool, ts: int) -> None:
        """Remove ``qty`` from placeholders at a level, front first."""
        self.placeholder_refs += 1
        ids = self.placeholders.get((side, price))
        book = self.book
        while qty > 0 and ids:
            oid = ids[0]
            order = book.order(oid)
            if order is None:
                ids.pop(0)
                continue
            take = min(qty, order.remaining)
            if execute:
                book.execute(oid, take, ts=ts)
            else:
                book.reduce(oid, take, ts=ts)
            qty -= take
            if take == order.remaining:
                ids.pop(0)
        if qty > 0:
            # no placeholder left: the level changed while beyond the window, so
            # known orders there may be gone in truth; take the newest first
            self.dark_refs += 1
            for resting in reversed(book.orders_at(side, price)):
                take = min(qty, resting.qty)
                if execute:
                    book.execute(resting.order_id, take, ts=ts)
                else:
                    book.reduce(resting.order_id, take, ts=ts)
                qty -= take
                if qty == 0:
                    return
            self.unresolved_refs += 1

    def settle(self, oid: int, have: int, side: int, price: int, size: int, ts: int) -> None:
        """Delete an order whose size in the book differs from the message's."""
        if have:
            self.book.cancel(oid, ts=ts)
            self.dark_refs += 1
            if have > size:
                # the excess belongs to orders that vanished unseen: keep it at the level
                self.add_placeholder(side, price, have - size, ts)
                return
        self.take_placeholder(side, price, size - have, False, ts)

    def settle_execution(self, oid: int, side: int, price: int, size: int, ts: int) -> None:
        """Execute more than the book holds for ``oid``: the rest comes from the level."""
        have = self.book.remaining(oid)
        if have:
            self.dark_refs += 1
            self.book.execute(oid, have, ts=ts)
        self.take_placeholder(side, price, size - have, True, ts)

    def settle_reduce(self, oid: int, side: int, price: int, size: int, ts: int) -> None:
        """Partially cancel at least what the book holds for ``oid``."""
        have = self.book.remaining(oid)
        if have:
            self.book.cancel(oid, ts=ts)
            if have == size:
                return
            self.dark_refs += 1
        self.take_placeholder(side, price, size - have, False, ts)

    def sync_level(self, side: int, price: int, target: int, ts: int) -> None:
        """Make the level at ``price`` hold ``target``: the seeding rule for entering levels."""
        book = self.book
        current = book.depth_at(side, price)
        if current == target:
            return
        self.seeded_levels += 1
        if target > current:
            self.add_placeholder(side, price, target - current, ts)
            return
        excess = current - target
        ids = self.placeholders.get((side, price), [])
        for oid in list(ids):
            order = book.order(oid)
            if order is None:
                ids.remove(oid)
                continue
            take = min(excess, order.remaining)
            book.reduce(oid, take, ts=ts)
            if take == order.remaining:
                ids.remove(oid)
            excess -= take
            if excess == 0:
                return
        # known orders vanished while outside the window: drop the newest first
        for resting in reversed(book.orders_at(side, price)):
            take = min(excess, resting.qty)
            book.reduce(resting.order_id, take, ts=ts)
            excess -= take
            if excess == 0:
                return

    def sync_entering(
        self, side: int, boundary: int, row_prices: list[int], row_sizes: list[int], ts: int
    ) -> None:
        """Apply the orderbook row to levels beyond ``boundary`` that entered the window."""
        book = self.book
        if side == -1:
            fresh = [(p, q) for p, q in zip(row_prices, row_sizes, strict=True) if p > boundary]
        else:
            fresh = [(p, q) for p, q in zip(row_prices, row_sizes, strict=True) if p < boundary]
        if not fresh:
            return
        last = fresh[-1][0]
        depth = self.levels + 1
        while True:  # every book level between the old boundary and the new last level
            prices = book.top(side, depth)[0]
            if len(prices) < depth or (prices[-1] > last if side == -1 else prices[-1] < last):
                break
            depth *= 2
        if side == -1:
            stale = [p for p in prices if boundary < p <= last]
        else:
            stale = [p for p in prices if last <= p < boundary]
        want = dict(fresh)
        for p in stale:
            if p not in want:
                self.sync_level(side, p, 0, ts)
        for p, q in fresh:
            self.sync_level(side, p, q, ts)

    # -- setup --------------------------------------------------------------

    def seed(self, first_row: list[int], mtype: int, side: int, price: int, size: int) -> None:
        """Seed the book with the state before message 0 (row 0 with message 0 undone)."""
        levels: dict[tuple[int, int], int] = {}
        for k in range(self.levels):
            ap, asz, bp, bsz = first_row[4 * k : 4 * k + 4]
            if ap != LOBSTER_DUMMY_ASK and asz > 0:
                levels[(-1, ap // self.tick)] = asz
            if bp != LOBSTER_DUMMY_BID and bsz > 0:
                levels[(1, bp // self.tick)] = bsz
        key = (side, price)
        if mtype == 1:
            levels[key] = levels.get(key, 0) - size
        elif mtype in (2, 3, 4):
            levels[key] = levels.get(key, 0) + size
        # asks first, then bids, each best first, so placeholder ids are deterministic
        for (s, p), qty in sorted(levels.items(), key=lambda kv: (kv[0][0], kv[0][1] * -kv[0][0])):
            if qty > 0:
                self.add_placeholder(s, p, qty, 0)
                self.initial_levels += 1


def _shared_rows(values: np.ndarray[Any, Any], dummy: int | None, tick: int) -> tuple[Any, ...]:
    """Per-row Python lists of ``values``, converting only rows that changed.

    Unchanged rows reuse the previous row's list object, which halves the
    conversion cost and lets list equality short-cut on identical elements.
    """
    if dummy is not None:
        present = values != dummy
        values = np.where(present, values // tick, 0)
    changed = np.ones(values.shape[0], dtype=bool)
    changed[1:] = np.any(values[1:] != values[:-1], axis=1)
    rows = values[changed].tolist()
    if dummy is not None:
        trimmed = present[changed]
        for k in np.flatnonzero(~trimmed.all(axis=1)).tolist():
            rows[k] = rows[k][: int(trimmed[k].sum())]
    rank = (np.cumsum(changed) - 1).tolist()
    if len(rank) == 1:
        return (rows[0],)
    return itemgetter(*rank)(rows)  # type: ignore[no-any-return]


def _expected_chunk(book_rows: np.ndarray[Any, Any], tick: int) -> tuple[tuple[Any, ...], ...]:
    """Expected (ask prices, ask sizes, bid prices, bid sizes) per row, prices in ticks."""
    ask_present = book_rows[:, 0::4] != LOBSTER_DUMMY_ASK
    bid_present = book_rows[:, 2::4] != LOBSTER_DUMMY_BID
    return (
        _shared_rows(book_rows[:, 0::4], LOBSTER_DUMMY_ASK, tick),
        _shared_rows(np.where(ask_present, book_rows[:, 1::4], -1), -1, 1),
        _shared_rows(book_rows[:, 2::4], LOBSTER_DUMMY_BID, tick),
        _shared_rows(np.where(bid_present, book_rows[:, 3::4], -1), -1, 1),
    )


def _entering_rows(day: LobsterDay, tick: int) -> dict[int, list[tuple[int, int]]]:
    """Rows where a level enters the window from beyond: row -> [(side, old boundary)]."""
    book = day.book
    n = day.levels
    out: dict[int, list[tuple[int, int]]] = {}
    for side, col, dummy in ((-1, 4 * (n - 1), LOBSTER_DUMMY_ASK), (1, 4 * (n - 1) + 2, None)):
        last = book[:, col]
        if side == -1:
            grew = (last[:-1] != dummy) & (last[1:] > last[:-1])
        else:
            grew = (
                (last[:-1] != LOBSTER_DUMMY_BID)
                & (last[1:] < last[:-1])
                & (last[1:] != LOBSTER_DUMMY_BID)
            )
        rows = np.flatnonzero(grew) + 1
        for row, boundary in zip(rows.tolist(), (last[rows - 1] // tick).tolist(), strict=True):
            out.setdefault(row, []).append((side, boundary))
    return out


def _describe_mismatch(
    day: LobsterDay,
    i: int,
    tick: int,
    got: tuple[list[int], list[int], list[int], list[int]],
    want: tuple[list[int], list[int], list[int], list[int]],
) -> str:
    msgs = day.messages
    mtype = int(msgs.type[i])
    side = "buy" if msgs.direction[i] == 1 else "sell"
    head = (
        f"orderbook row {i + 1} differs after message line {i + 1} "
        f"({_TYPE_NAMES.get(mtype, mtype)} order {int(msgs.order_id[i])} {side} "
        f"{int(msgs.size[i])} @ {_money(int(msgs.price[i]) // tick, tick)})"
    )
    for name, (gp, gs, wp, ws) in (
        ("ask", (got[0], got[1], want[0], want[1])),
        ("bid", (got[2], got[3], want[2], want[3])),
    ):
        for k in range(max(len(gp), len(wp))):
            g = (gp[k], gs[k]) if k < len(gp) else None
            w = (wp[k], ws[k]) if k < len(wp) else None
            if g != w:
                want_txt = f"{_money(w[0], tick)} x {w[1]}" if w else "no level"
                got_txt = f"{_money(g[0], tick)} x {g[1]}" if g else "no level"
                return f"{head}: {name} level {k + 1} should be {want_txt}, the book has {got_txt}"
    return head


def replay_lobster(
    day: LobsterDay,
    *,
    backend: str | None = None,
    engine: str | None = None,
    check: bool = True,
    record_l1: bool = False,
    progress: Callable[[int], None] | None = None,
    batch: bool = True,
    wrap: Callable[[Any], Any] | None = None,
) -> tuple[ReplayReport, np.ndarray[Any, Any] | None]:
    """Replay ``day`` through a book; return the report and, if asked, per-row L1.

    The L1 record is an int64 array (rows x 4): ask price, ask size, bid price,
    bid size in LOBSTER price units (0 for an empty side). ``progress`` is
    called with the number of messages done after each chunk. An engine with
    a batch API (native) replays the whole day in one call unless ``batch``
    is False, in which case it is driven per message from Python like the
    reference engine. ``wrap`` replaces the book with ``wrap(book)`` (a recorder
    of every change, say, with a ``hidden(row)`` method told of hidden
    executions) and implies the per-message path. ``engine`` is the old name
    of ``backend``.
    """
    book = make_book(backend_of(backend, engine))
    hidden = None
    if wrap is not None:
        book = wrap(book)
        hidden = getattr(book, "hidden", None)
    elif batch and hasattr(book, "replay_lobster_batch"):
        return _replay_batch(day, book, check=check, record_l1=record_l1, progress=progress)
    rep = _Replayer(day, book)
    msgs = day.messages
    tick = rep.tick
    n = day.levels
    nrows = len(msgs)
    types = msgs.type.tolist()
    oids = msgs.order_id.tolist()
    sizes = msgs.size.tolist()
    prices = (msgs.price // tick).tolist()
    sides = msgs.direction.tolist()
    stamps = msgs.ts_ns.tolist()
    rep.seed(day.book[0].tolist(), types[0], sides[0], prices[0], sizes[0])
    entering = _entering_rows(day, tick) if check else {}
    book = rep.book
    submit, cancel, reduce, execute = book.submit, book.cancel, book.reduce, book.execute
    remaining = book.remaining
    top = book.top
    top_equals = book.top_equals
    l1 = np.zeros((nrows, 4), dtype=np.int64) if record_l1 else None
    mismatched = 0
    first_mismatch: str | None = None
    visible_trades = visible_volume = hidden_trades = hidden_volume = 0
    cross_trades = halts = halt_violations = 0
    halted = False
    started = monotonic_ns()
    with gc_paused():
        none_rows = (None,) * _CHUNK
        for start in range(0, nrows, _CHUNK):
            stop = min(start + _CHUNK, nrows)
            expected = _expected_chunk(day.book[start:stop], tick) if check else (none_rows,) * 4
            rows = zip(
                range(start, stop),
                types[start:stop],
                oids[start:stop],
                sides[start:stop],
                prices[start:stop],
                sizes[start:stop],
                stamps[start:stop],
                *expected,
                strict=False,
            )
            for i, t, oid, side, price, size, ts, eap, eas, ebp, ebs in rows:
                if t == 1:
                    submit(oid, side, price, size, ts=ts)
                elif t == 3:
                    have = remaining(oid)
                    if have == size:
                        cancel(oid, ts=ts)
                    else:
                        rep.settle(oid, have, side, price, size, ts)
                elif t == 4:
                    visible_trades += 1
                    visible_volume += size
                    if halted:
                        halt_violations += 1
                    if remaining(oid) >= size:
                        execute(oid, size, ts=ts)
                    else:
                        rep.settle_execution(oid, side, price, size, ts)
                elif t == 2:
                    if remaining(oid) > size:
                        reduce(oid, size, ts=ts)
                    else:
                        rep.settle_reduce(oid, side, price, size, ts)
                elif t == 5:
                    hidden_trades += 1
                    hidden_volume += size
                    if hidden is not None:
                        hidden(i)
                    if halted:
                        halt_violations += 1
                elif t == 6:
                    cross_trades += 1
                else:  # 7: raw price -1 halts, 0 resumes quoting only, 1 resumes trading
                    raw = int(msgs.price[i])
                    halts += raw == -1
                    halted = raw != 1
                if check and not top_equals(n, eap, eas, ebp, ebs):
                    for entering_side, boundary in entering.get(i, ()):
                        if entering_side == -1:
                            rep.sync_entering(-1, boundary, eap, eas, ts)
                        else:
                            rep.sync_entering(1, boundary, ebp, ebs, ts)
                    if not top_equals(n, eap, eas, ebp, ebs):
                        mismatched += 1
                        if first_mismatch is None:
                            got = (*top(-1, n), *top(1, n))
                            first_mismatch = _describe_mismatch(
                                day, i, tick, got, (eap, eas, ebp, ebs)
                            )
                if l1 is not None:
                    a = book.best_ask()
                    b = book.best_bid()
                    l1[i] = (
                        a[0] * tick if a else 0,
                        a[1] if a else 0,
                        b[0] * tick if b else 0,
                        b[1] if b else 0,
                    )
            if progress is not None:
                progress(stop)
    seconds = (monotonic_ns() - started) / 1e9
    ask_p, ask_s = top(-1, n)
    bid_p, bid_s = top(1, n)
    report = ReplayReport(
        engine=rep.engine,
        messages=nrows,
        levels=n,
        tick=tick,
        rows_checked=nrows if check else 0,
        mismatched_rows=mismatched,
        seconds=seconds,
        msgs_per_sec=nrows / seconds if seconds > 0 else 0.0,
        seeded_levels=rep.seeded_levels,
        initial_levels=rep.initial_levels,
        placeholder_refs=rep.placeholder_refs,
        unresolved_refs=rep.unresolved_refs,
        dark_refs=rep.dark_refs,
        visible_trades=visible_trades,
        visible_volume=visible_volume,
        hidden_trades=hidden_trades,
        hidden_volume=hidden_volume,
        cross_trades=cross_trades,
        halts=halts,
        halt_violations=halt_violations,
        first_mismatch=first_mismatch,
        final_bid=[p * tick for p in bid_p[:1]] + bid_s[:1],
        final_ask=[p * tick for p in ask_p[:1]] + ask_s[:1],
    )
    return report, l1


def _replay_batch(
    day: LobsterDay,
    book: Any,
    *,
    check: bool,
    record_l1: bool,
    progress: Callable[[int], None] | None,
) -> tuple[ReplayReport, np.ndarray[Any, Any] | None]:
    """Replay inside the engine (one call); same rules and report as the Python loop."""
    msgs = day.messages
    tick = lobster_tick(day)
    started = monotonic_ns()
    out = book.replay_lobster_batch(
        type=msgs.type,
        order_id=msgs.order_id,
        size=msgs.size,
        price=msgs.price,
        direction=msgs.direction,
        ts=msgs.ts_ns,
        orderbook=np.ascontiguousarray(day.book),
        levels=day.levels,
        tick=tick,
        check=check,
        record_l1=record_l1,
    )
    seconds = (monotonic_ns() - started) / 1e9
    if progress is not None:
        progress(len(msgs))
    first_mismatch = None
    row = int(out["first_mismatch_row"])
    if row >= 0:
        want = tuple(column[0] for column in _expected_chunk(day.book[row : row + 1], tick))
        first_mismatch = _describe_mismatch(day, row, tick, out["got"], want)
    ask_p, ask_s = book.top(-1, 1)
    bid_p, bid_s = book.top(1, 1)
    report = ReplayReport(
        engine=book.backend,
        messages=len(msgs),
        levels=day.levels,
        tick=tick,
        rows_checked=len(msgs) if check else 0,
        mismatched_rows=int(out["mismatched_rows"]),
        seconds=seconds,
        msgs_per_sec=len(msgs) / seconds if seconds > 0 else 0.0,
        seeded_levels=int(out["seeded_levels"]),
        initial_levels=int(out["initial_levels"]),
        placeholder_refs=int(out["placeholder_refs"]),
        unresolved_refs=int(out["unresolved_refs"]),
        dark_refs=int(out["dark_refs"]),
        visible_trades=int(out["visible_trades"]),
        visible_volume=int(out["visible_volume"]),
        hidden_trades=int(out["hidden_trades"]),
        hidden_volume=int(out["hidden_volume"]),
        cross_trades=int(out["cross_trades"]),
        halts=int(out["halts"]),
        halt_violations=int(out["halt_violations"]),
        first_mismatch=first_mismatch,
        final_bid=[p * tick for p in bid_p] + bid_s,
        final_ask=[p * tick for p in ask_p] + ask_s,
    )
    return report, out["l1"]
