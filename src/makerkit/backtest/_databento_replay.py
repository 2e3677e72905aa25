"""Databento MBO through the matching engine, checked against the truth the data carries.

The book
--------
Databento's rule (its order-tracking and limit-order-book examples): A, C, M
and R change the book; T (an aggressor traded) and F (a resting order was
filled) do not, because the C or M that follows a fill removes it; the book
may be read only after a record with F_LAST. The replay applies every A
(``submit``), C (``cancel``, or ``reduce`` for part of an order), M
(``modify``: a new price or a larger size loses priority, a smaller size keeps
it, as the engine does) and R (the books are emptied) to makerkit's engine,
one book per side: CME's pre-open shows a crossed book (the full ES day is
crossed from 22:39:55 to the 23:00 open, 891 events), which one matching book
would trade away, while the exchange did not.

The book starts from the file's snapshot: the records flagged F_SNAPSHOT at
its start, with or without an R before them (the 2024 ESM4 capture has one
and ends its snapshot with F_LAST; the full ES day has neither, so the
snapshot ends where the flag does). A file without a snapshot has an unknown
book; given MBP truth, it is seeded from the first truth record (that record's
MBO changes undone, one placeholder order per level) and levels that come
into the truth's 10-level window from beyond it are set from the truth as
they appear (``seeded_levels``), as the LOBSTER replay does.

The truth
---------
* MBP-10 / MBP-1 records of the same instrument (``truth=``, or tables of the
  same symbol passed with the MBO): after the last MBO record with the same
  ``ts_recv`` and ``ts_event`` as a truth record, the book's top levels must
  equal it (a TBBO record is the book just before its trade: compared at the
  first MBO record with its times).
* The trades in the MBO data: a T's price must lie at or beyond the opposite
  touch when its event starts, and once the event is complete no opposite
  order may rest at a better price. (Exactly "at the touch before it" does
  not hold: one event's T records can sweep several levels before the C
  records that empty them come, and self-match prevention cancels a resting
  order the sweep passed over: 82 of the ES day's 2,972 trades.) T and F
  records without a side are the opening auction's: counted, not checked.
* The order references: a C must name a resting order of its side at its
  price for no more than it has, an M or F (with a side) a resting order of
  its side, an A a new order id. (An F's price may differ from the order's:
  an M of the same event that follows it moves the order, 134 times on the
  ES day.)

``mismatches`` counts every failed check, ``book_checks`` every check.

Events for the backtester (``databento_events``)
------------------------------------------------
The depth view: after every A/C/M record a DEPTH event with the level's new
total, every level emptied by an R, and a TRADE per T with a side (the
aggressor); the order-level view: ADD, CANCEL and EXECUTE with ``ref`` the
index of the touched order's add event (an F executes its order at once; the
C or M that follows it removes only what the fill did not; a modify that
keeps priority is a CANCEL of the difference, one that loses it a CANCEL and a
new ADD at the back). Each record is stamped with the ``ts_ns`` of its event's
last record (the book is published only then). While the book is crossed
(the pre-open) nothing is emitted; when it uncrosses, the difference from the
last uncrossed book is emitted at once (decreases first, so no step crosses),
and the auction's trades, which have no aggressor, are left out (notes).
``start_ns`` is the first record after the snapshot.
"""

from __future__ import annotations

import datetime as dt
import heapq
import itertools
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import numpy.typing as npt

from makerkit.backtest._events import ADD, CANCEL, DEPTH, EXECUTE, TRADE, MarketEvents
from makerkit.backtest._gc import gc_paused
from makerkit.backtest._replay_config import backend_of
from makerkit.book import make_book
from makerkit.core.clock import monotonic_ns
from makerkit.core.errors import DataError
from makerkit.data import DBN_ACTIONS, DBN_F_LAST, DBN_F_SNAPSHOT, SourceTable, read_dbn

__all__ = ["DatabentoReplayReport", "databento_events", "databento_tick", "replay_databento"]

_A, _C, _M, _R, _T, _F = (DBN_ACTIONS[k] for k in "ACMRTF")
_LETTER = {code: letter for letter, code in DBN_ACTIONS.items()}
_PLACEHOLDER = 1 << 60  # engine ids of placeholder orders start here (real orders from 1)
_CHUNK = 8192
_TRUTH_SCHEMAS = ("l2_snapshot", "bbo")

DatabentoSource = str | Path | SourceTable | Sequence[SourceTable]


class DatabentoReplayReport(msgspec.Struct, kw_only=True):
    """Outcome of a checked MBO replay; ``mismatches == 0`` means the book held every check."""

    engine: str
    file: str
    symbol: str
    truth: str  # what the book was checked against (module notes)
    messages: int  # MBO records replayed
    events: int  # records ending an event (F_LAST, the snapshot's end)
    seconds: float
    msgs_per_sec: float
    book_checks: int
    mismatches: int
    first_mismatch: str | None = None
    load_seconds: float = 0.0
    tick: int = 1  # price units (1e-9) per tick
    levels: int = 0  # levels compared with the MBP truth (0: none)
    snapshot_records: int = 0
    clears: int = 0  # R records
    start_ns: int = 0  # the first record after the snapshot
    seeded: bool = False  # no snapshot: the book was seeded from the truth
    seeded_levels: int = 0
    skipped_before_seed: int = 0
    mbp_checks: int = 0
    mbp_mismatches: int = 0
    truth_rows: int = 0
    truth_unmatched: int = 0  # truth records with no MBO record of the same times
    trade_checks: int = 0
    trade_mismatches: int = 0
    order_checks: int = 0
    order_mismatches: int = 0
    unknown_refs: int = 0  # C/M/F of orders a book without a snapshot cannot know
    placeholder_refs: int = 0
    unresolved_refs: int = 0
    adds: int = 0
    cancels: int = 0
    modifies: int = 0
    trades: int = 0
    fills: int = 0
    auction_trades: int = 0  # T without a side (the opening auction)
    auction_fills: int = 0
    crossed_events: int = 0  # events after which the book was crossed (pre-open)
    final_bid: list[int] | None = None  # [price (1e-9 units), size] or []
    final_ask: list[int] | None = None
    notes: list[str] = msgspec.field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Return True when every check held."""
        return self.mismatches == 0


# -- inputs ---------------------------------------------------------------------


def _load(source: DatabentoSource) -> list[SourceTable]:
    if isinstance(source, str | Path):
        return read_dbn(source)
    if isinstance(source, SourceTable):
        return [source]
    return list(source)


def _pick(tables: list[SourceTable], symbol: str | None) -> tuple[SourceTable, list[SourceTable]]:
    """The MBO (l3) table of ``symbol`` and the truth tables of the same symbol."""
    l3 = [t for t in tables if t.schema == "l3"]
    files = sorted({str(t.meta.get("file", "")) for t in tables} - {""})
    where = ", ".join(files)
    if not l3:
        held = sorted({str(t.meta.get("schema", t.schema)) for t in tables})
        msg = (
            f"an MBO replay needs MBO records (schema mbo); this holds "
            f"{', '.join(held) or 'nothing'}"
        )
        raise DataError(msg, path=where)
    if symbol is not None:
        l3 = [t for t in l3 if t.symbol == symbol]
        if not l3:
            msg = f"no MBO records of {symbol!r}"
            raise DataError(msg, path=where)
    if len(l3) > 1:
        names = sorted({t.symbol for t in l3})
        if len(names) == 1:
            msg = f"{len(l3)} MBO tables of {names[0]}: replay them one at a time"
        else:
            msg = (
                f"MBO records of several instruments ({', '.join(names)}): choose one with symbol="
            )
        raise DataError(msg, path=where)
    chosen = l3[0]
    truth = [t for t in tables if t.symbol == chosen.symbol and t.schema in _TRUTH_SCHEMAS]
    truth.sort(key=lambda t: _TRUTH_SCHEMAS.index(t.schema))
    return chosen, truth


def databento_tick(tables: Sequence[SourceTable]) -> int:
    """The price grid of ``tables``: the gcd of every price they hold (1e-9 units)."""
    parts = []
    for t in tables:
        for name in ("price", "bid_price", "ask_price"):
            if name in t.columns:
                col = np.abs(t.columns[name].astype(np.int64))
                parts.append(col[col != 0])
    prices = np.concatenate(parts) if parts else np.zeros(0, np.int64)
    return int(np.gcd.reduce(prices)) if prices.size else 1


def _event_ends(flags: npt.NDArray[Any]) -> npt.NDArray[np.bool_]:
    """Records that end an event: F_LAST, the last of a snapshot run, the file's last."""
    f = flags.astype(np.int64)
    snap = (f & DBN_F_SNAPSHOT) != 0
    ends: npt.NDArray[np.bool_] = (f & DBN_F_LAST) != 0
    if f.shape[0]:
        ends[:-1] |= snap[:-1] & ~snap[1:]
        ends[-1] = True
    return ends


def _snapshot_length(action: npt.NDArray[Any], flags: npt.NDArray[Any]) -> int:
    """Records of the snapshot opening the file (an R first counts), 0 without one."""
    snap = (flags.astype(np.int64) & DBN_F_SNAPSHOT) != 0
    if not snap.size or not snap[0]:
        return 0
    off = np.flatnonzero(~snap)
    return int(off[0]) if off.size else int(snap.size)


def _money(units: int) -> str:
    sign, units = ("-", -units) if units < 0 else ("", units)
    whole, frac = divmod(units, 10**9)
    return f"{sign}{whole}.{frac:09d}".rstrip("0").rstrip(".")


def _clock(ns: int) -> str:
    return dt.datetime.fromtimestamp(ns / 1e9, tz=dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


# -- truth ----------------------------------------------------------------------

Levels = tuple[list[int], list[int], list[int], list[int]]  # bid px, bid sz, ask px, ask sz


class _Truth(msgspec.Struct):
    points: dict[int, tuple[int, Levels]]  # MBO record -> (truth record, its levels)
    depth: int
    rows: int
    unmatched: int
    label: str


def _truth_books(table: SourceTable, tick: int, offset: int) -> tuple[list[Any], int]:
    """[(ts, exch, levels)] per truth record, prices in engine units, and the depth."""
    c = table.columns
    ts, exch = c["ts_ns"].tolist(), c["exch_ns"].tolist()
    books: list[Any] = []
    if table.schema == "bbo":
        bid_px = (c["bid_price"] // tick + offset).tolist()
        ask_px = (c["ask_price"] // tick + offset).tolist()
        cols = zip(ts, exch, bid_px, c["bid_qty"].tolist(), ask_px, c["ask_qty"].tolist(),
                   strict=True)  # fmt: skip
        for t, e, bid, bid_qty, ask, ask_qty in cols:
            bids = ([bid], [bid_qty]) if bid_qty else ([], [])
            asks = ([ask], [ask_qty]) if ask_qty else ([], [])
            books.append((t, e, (*bids, *asks)))
        return books, 1
    level, side = c["level"].astype(np.int64), c["side"].astype(np.int64)
    n = level.shape[0]
    # a record's rows share its times; a new one also starts where a (level, side) repeats
    new = np.ones(n, dtype=bool)
    new[1:] = (
        (c["ts_ns"][1:] != c["ts_ns"][:-1])
        | (c["exch_ns"][1:] != c["exch_ns"][:-1])
        | (level[1:] < level[:-1])
        | ((level[1:] == level[:-1]) & (side[1:] == side[:-1]))
    )
    starts = [*np.flatnonzero(new).tolist(), n]
    px = (c["price"] // tick + offset).tolist()
    qty, sides = c["qty"].tolist(), side.tolist()
    for a, b in itertools.pairwise(starts):
        bp: list[int] = []
        bq: list[int] = []
        ap: list[int] = []
        aq: list[int] = []
        for k in range(a, b):  # level-major: each side's levels come best first
            if sides[k] > 0:
                bp.append(px[k])
                bq.append(qty[k])
            else:
                ap.append(px[k])
                aq.append(qty[k])
        books.append((ts[a], exch[a], (bp, bq, ap, aq)))
    return books, int(level.max()) if n else 0


def _truth(l3: SourceTable, table: SourceTable | None, tick: int, offset: int) -> _Truth | None:
    if table is None:
        return None
    books, depth = _truth_books(table, tick, offset)
    keys = list(zip(l3.columns["ts_ns"].tolist(), l3.columns["exch_ns"].tolist(), strict=True))
    before_trade = table.meta.get("schema") == "tbbo"
    at: dict[tuple[int, int], int] = {}
    for i, key in enumerate(keys):
        if before_trade:
            at.setdefault(key, i)
        else:
            at[key] = i
    points: dict[int, tuple[int, Levels]] = {}
    unmatched = 0
    for k, (t, e, levels) in enumerate(books):
        where = at.get((t, e))
        if where is None:
            unmatched += 1
        elif before_trade:
            points.setdefault(where, (k, levels))
        else:
            points[where] = (k, levels)
    schema = str(table.meta.get("schema", table.schema))
    name = Path(str(table.meta.get("file", ""))).name
    return _Truth(points=points, depth=depth, rows=len(books), unmatched=unmatched,
                  label=f"{schema} {name}".strip())  # fmt: skip


# -- the replay -----------------------------------------------------------------


class _Books:
    """The two one-sided books, the id map and the placeholders of a seeded book."""

    def __init__(self, backend: str | None) -> None:
        self.backend = backend
        self.bids: Any = make_book(backend)
        self.asks: Any = make_book(backend)
        self.engine: str = self.bids.backend
        self.live: dict[int, tuple[int, int, int]] = {}  # order id -> (engine id, side, price)
        self.next_id = 0
        self.placeholders: dict[tuple[int, int], list[int]] = {}
        self.next_placeholder = _PLACEHOLDER
        self.seeded_levels = 0
        self.placeholder_refs = 0
        self.unresolved_refs = 0

    def book(self, side: int) -> Any:
        return self.bids if side > 0 else self.asks

    def clear(self) -> None:
        self.bids = make_book(self.backend)
        self.asks = make_book(self.backend)
        self.live.clear()
        self.placeholders.clear()

    def top(self, depth: int) -> Levels:
        bp, bq = self.bids.top(1, depth)
        ap, aq = self.asks.top(-1, depth)
        return bp, bq, ap, aq

    def add_placeholder(self, side: int, price: int, qty: int, ts: int) -> None:
        self.next_placeholder += 1
        self.book(side).submit(self.next_placeholder, side, price, qty, ts=ts)
        self.placeholders.setdefault((side, price), []).append(self.next_placeholder)

    def take_placeholder(self, side: int, price: int, qty: int, ts: int) -> None:
        """Remove ``qty`` from the placeholders at a level, front first."""
        self.placeholder_refs += 1
        book = self.book(side)
        ids = self.placeholders.get((side, price), [])
        while qty > 0 and ids:
            have = book.remaining(ids[0])
            take = min(qty, have)
            if take:
                book.reduce(ids[0], take, ts=ts)
            qty -= take
            if take == have:
                ids.pop(0)
        if qty > 0:
            self.unresolved_refs += 1

    def sync_level(self, side: int, price: int, target: int, ts: int) -> None:
        """Make a level hold ``target`` (placeholders first, then the newest orders)."""
        book = self.book(side)
        current = book.depth_at(side, price)
        if current == target:
            return
        self.seeded_levels += 1
        if target > current:
            self.add_placeholder(side, price, target - current, ts)
            return
        excess = current - target
        ids = self.placeholders.get((side, price), [])
        while excess and ids:
            have = book.remaining(ids[0])
            take = min(excess, have)
            if take:
                book.reduce(ids[0], take, ts=ts)
            excess -= take
            if take == have:
                ids.pop(0)
        for resting in reversed(book.orders_at(side, price)):
            if not excess:
                break
            take = min(excess, resting.qty)
            book.reduce(resting.order_id, take, ts=ts)
            excess -= take

    def sync_window(
        self, side: int, deep: int | None, prices: list[int], sizes: list[int], depth: int, ts: int
    ) -> int | None:
        """Set the levels of the truth beyond ``deep`` (the deepest level known so far)."""
        if deep is None:
            return None
        beyond = [(p, q) for p, q in zip(prices, sizes, strict=True)
                  if (p < deep if side > 0 else p > deep)]  # fmt: skip
        if beyond:
            last = beyond[-1][0]
            book, k = self.book(side), 2 * depth
            while True:  # every book level down to the truth's new last level
                have = book.top(side, k)[0]
                if len(have) < k or (have[-1] < last if side > 0 else have[-1] > last):
                    break
                k *= 2
            stale = [p for p in have if (last <= p < deep if side > 0 else deep < p <= last)]
            want = dict(beyond)
            for p in stale:
                if p not in want:
                    self.sync_level(side, p, 0, ts)
            for p, q in beyond:
                self.sync_level(side, p, q, ts)
        if len(prices) < depth:
            return None  # the truth shows the whole side: nothing lies beyond it
        return prices[-1] if (prices[-1] < deep if side > 0 else prices[-1] > deep) else deep


def _diff(got: Levels, want: Levels, offset: int, tick: int) -> str:
    for name, (gp, gs, wp, ws) in (
        ("bid", (got[0], got[1], want[0], want[1])),
        ("ask", (got[2], got[3], want[2], want[3])),
    ):
        for k in range(max(len(gp), len(wp))):
            g = (gp[k], gs[k]) if k < len(gp) else None
            w = (wp[k], ws[k]) if k < len(wp) else None
            if g != w:
                want_txt = f"{_money((w[0] - offset) * tick)} x {w[1]}" if w else "no level"
                got_txt = f"{_money((g[0] - offset) * tick)} x {g[1]}" if g else "no level"
                return f"{name} level {k + 1} should be {want_txt}, the book has {got_txt}"
    return "levels differ"


def replay_databento(
    source: DatabentoSource,
    *,
    truth: DatabentoSource | None = None,
    symbol: str | None = None,
    backend: str | None = None,
    engine: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> DatabentoReplayReport:
    """Replay the MBO records of ``source`` (a DBN path or tables) and check the book.

    ``truth`` adds MBP-10/MBP-1/TBBO records (a path or tables) to check
    against; tables of those schemas and the same symbol in ``source`` count
    too. ``progress`` is called with the records done after each chunk.
    ``engine`` is the old name of ``backend``. See the module notes.
    """
    started = monotonic_ns()
    tables = _load(source) + (_load(truth) if truth is not None else [])
    l3, truth_tables = _pick(tables, symbol)
    tick = databento_tick([l3, *truth_tables])
    c = l3.columns
    raw_px = c["price"].astype(np.int64) // tick
    offset = 1 - int(raw_px.min()) if raw_px.size and int(raw_px.min()) < 1 else 0
    checks = _truth(l3, truth_tables[0] if truth_tables else None, tick, offset)
    load_seconds = (monotonic_ns() - started) / 1e9
    books = _Books(backend_of(backend, engine))
    report = _run(l3, checks, books, tick, offset, progress)
    report.load_seconds = load_seconds
    return report


def _run(
    l3: SourceTable, truth: _Truth | None, books: _Books, tick: int, offset: int,
    progress: Callable[[int], None] | None,
) -> DatabentoReplayReport:  # fmt: skip
    c = l3.columns
    n = len(l3)
    acts = c["action"].tolist()
    oids = c["order_id"].tolist()
    sides = c["side"].tolist()
    px = (c["price"].astype(np.int64) // tick + offset).tolist()
    qtys = c["qty"].tolist()
    stamps = c["ts_ns"].tolist()
    ends = _event_ends(c["flags"]).tolist()
    snap_n = _snapshot_length(c["action"], c["flags"])
    known = n > 0 and (snap_n > 0 or acts[0] == _R)
    points = truth.points if truth is not None else {}
    depth = truth.depth if truth is not None else 0
    notes: list[str] = []
    first = 0
    seeded = False
    deep: dict[int, int | None] = {1: None, -1: None}
    if not known and points:
        first, deep = _seed(l3, books, points, px, depth, offset, tick, notes)
        seeded = True
    elif not known:
        notes.append("no snapshot and no MBP truth: the book before the file is unknown, "
                     "so nothing is checked (orders it names are counted)")  # fmt: skip
    check_orders = known
    check_trades = known or seeded
    counts = dict.fromkeys(("adds", "cancels", "modifies", "trades", "fills", "clears",
                            "auction_trades", "auction_fills", "unknown_refs", "events",
                            "crossed_events", "mbp_checks", "mbp_mismatches", "trade_checks",
                            "trade_mismatches", "order_checks", "order_mismatches"), 0)  # fmt: skip
    first_mismatch: list[str] = []

    def describe(i: int) -> str:
        side = {1: "bid", -1: "ask"}.get(sides[i], "no side")
        return (f"record {i} ({_LETTER.get(acts[i], acts[i])} {side} {qtys[i]} @ "
                f"{_money((px[i] - offset) * tick)}, order {oids[i]}, ts_recv "
                f"{_clock(stamps[i])})")  # fmt: skip

    def order_miss(i: int, why: str) -> None:
        counts["order_mismatches"] += 1
        if not first_mismatch:
            first_mismatch.append(f"{describe(i)}: {why}")

    live = books.live
    ev_trades: list[tuple[int, int, int]] = []
    bb, ba = books.bids.best_bid(), books.asks.best_ask()
    b0: int | None = bb[0] if bb else None
    a0: int | None = ba[0] if ba else None
    started = monotonic_ns()
    with gc_paused():
        for i in range(first, n):
            a, oid, s, p, q, ts = acts[i], oids[i], sides[i], px[i], qtys[i], stamps[i]
            if a == _A:
                counts["adds"] += 1
                if check_orders:
                    counts["order_checks"] += 1
                if oid in live:
                    if check_orders:
                        order_miss(i, "adds an order id that is already resting")
                    eid, was, _ = live.pop(oid)
                    books.book(was).cancel(eid, ts=ts)
                if s == 0:
                    if check_orders:
                        order_miss(i, "an add without a side")
                else:
                    books.next_id += 1
                    books.book(s).submit(books.next_id, s, p, q, ts=ts)
                    live[oid] = (books.next_id, s, p)
            elif a == _C:
                counts["cancels"] += 1
                entry = live.get(oid)
                if entry is None:
                    if seeded and s:
                        books.take_placeholder(s, p, q, ts)
                    elif check_orders:
                        counts["order_checks"] += 1
                        order_miss(i, "cancels an order that is not resting")
                    else:
                        counts["unknown_refs"] += 1
                else:
                    eid, was, price = entry
                    book = books.bids if was > 0 else books.asks
                    have = book.remaining(eid)
                    if check_orders:
                        counts["order_checks"] += 1
                        if was != s or price != p or q > have:
                            why = (f"the order rests on the {'bid' if was > 0 else 'ask'} "
                                   f"at {_money((price - offset) * tick)} with {have}")  # fmt: skip
                            order_miss(i, why)
                    if q >= have:
                        book.cancel(eid, ts=ts)
                        del live[oid]
                    else:
                        book.reduce(eid, q, ts=ts)
            elif a == _M:
                counts["modifies"] += 1
                entry = live.get(oid)
                if check_orders:
                    counts["order_checks"] += 1
                    if entry is None or entry[1] != s:
                        order_miss(i, "modifies an order that is not resting on its side")
                elif entry is None:
                    counts["unknown_refs"] += 1
                if entry is not None and (entry[1] != s or q <= 0):
                    books.book(entry[1]).cancel(entry[0], ts=ts)
                    del live[oid]
                    entry = None
                if entry is not None:
                    books.book(s).modify(entry[0], price=p, qty=q, ts=ts)
                    live[oid] = (entry[0], s, p)
                elif q > 0 and s != 0:
                    books.next_id += 1
                    books.book(s).submit(books.next_id, s, p, q, ts=ts)
                    live[oid] = (books.next_id, s, p)
            elif a == _R:
                counts["clears"] += 1
                books.clear()
                if not check_orders and not seeded:
                    check_orders = check_trades = True
            elif a == _T:
                counts["trades"] += 1
                if s == 0:
                    counts["auction_trades"] += 1
                elif check_trades:
                    ev_trades.append((i, s, p))
            elif a == _F:
                counts["fills"] += 1
                if s == 0:
                    counts["auction_fills"] += 1
                elif check_orders:
                    counts["order_checks"] += 1
                    entry = live.get(oid)
                    if entry is None or entry[1] != s:
                        order_miss(i, "fills an order that is not resting on its side")
            if i in points:
                k, want = points[i]
                if seeded:
                    deep[1] = books.sync_window(1, deep[1], want[0], want[1], depth, ts)
                    deep[-1] = books.sync_window(-1, deep[-1], want[2], want[3], depth, ts)
                got = books.top(depth)
                counts["mbp_checks"] += 1
                if got != want:
                    counts["mbp_mismatches"] += 1
                    if not first_mismatch and truth is not None:
                        first_mismatch.append(
                            f"after {describe(i)} the book differs from {truth.label} record "
                            f"{k}: {_diff(got, want, offset, tick)}"
                        )
            if ends[i]:
                counts["events"] += 1
                bb, ba = books.bids.best_bid(), books.asks.best_ask()
                b1 = bb[0] if bb else None
                a1 = ba[0] if ba else None
                if b1 is not None and a1 is not None and b1 >= a1:
                    counts["crossed_events"] += 1
                for j, side, price in ev_trades:
                    counts["trade_checks"] += 1
                    if side > 0:
                        fine = a0 is not None and price >= a0 and (a1 is None or a1 >= price)
                        touch, after = a0, a1
                    else:
                        fine = b0 is not None and price <= b0 and (b1 is None or b1 <= price)
                        touch, after = b0, b1
                    if not fine:
                        counts["trade_mismatches"] += 1
                        if not first_mismatch:
                            shown = [("none" if x is None else _money((x - offset) * tick))
                                     for x in (touch, after)]  # fmt: skip
                            first_mismatch.append(
                                f"{describe(j)}: the opposite touch was {shown[0]} when its "
                                f"event began and {shown[1]} when it ended"
                            )
                ev_trades.clear()
                b0, a0 = b1, a1
            if progress is not None and (i + 1) % _CHUNK == 0:
                progress(i + 1)
    seconds = (monotonic_ns() - started) / 1e9
    if progress is not None:
        progress(n)
    done = n - first
    if counts["crossed_events"]:
        notes.append(f"{counts['crossed_events']} events left the book crossed (a pre-open)")
    if counts["unknown_refs"]:
        notes.append(f"{counts['unknown_refs']} records name orders from before the file")
    truth_names = []
    if truth is not None:
        truth_names.append(f"{truth.label} ({len(points)} of {truth.rows} records matched)")
    if check_trades:
        truth_names.append("the trades in the MBO records")
    if check_orders:
        truth_names.append("the order references")
    bb, ba = books.bids.best_bid(), books.asks.best_ask()
    book_checks = counts["mbp_checks"] + counts["trade_checks"] + counts["order_checks"]
    mismatches = counts["mbp_mismatches"] + counts["trade_mismatches"] + counts["order_mismatches"]
    return DatabentoReplayReport(
        engine=books.engine, file=str(l3.meta.get("file", "")), symbol=l3.symbol,
        truth=", ".join(truth_names) or "none", messages=done, events=counts["events"],
        seconds=seconds, msgs_per_sec=done / seconds if seconds > 0 else 0.0,
        book_checks=book_checks, mismatches=mismatches,
        first_mismatch=first_mismatch[0] if first_mismatch else None, tick=tick, levels=depth,
        snapshot_records=snap_n, clears=counts["clears"],
        start_ns=stamps[snap_n] if snap_n < n else (stamps[-1] if n else 0), seeded=seeded,
        seeded_levels=books.seeded_levels, skipped_before_seed=first,
        mbp_checks=counts["mbp_checks"], mbp_mismatches=counts["mbp_mismatches"],
        truth_rows=truth.rows if truth else 0, truth_unmatched=truth.unmatched if truth else 0,
        trade_checks=counts["trade_checks"], trade_mismatches=counts["trade_mismatches"],
        order_checks=counts["order_checks"], order_mismatches=counts["order_mismatches"],
        unknown_refs=counts["unknown_refs"], placeholder_refs=books.placeholder_refs,
        unresolved_refs=books.unresolved_refs, adds=counts["adds"], cancels=counts["cancels"],
        modifies=counts["modifies"], trades=counts["trades"], fills=counts["fills"],
        auction_trades=counts["auction_trades"], auction_fills=counts["auction_fills"],
        crossed_events=counts["crossed_events"],
        final_bid=[(bb[0] - offset) * tick, bb[1]] if bb else [],
        final_ask=[(ba[0] - offset) * tick, ba[1]] if ba else [], notes=notes,
    )  # fmt: skip


def _seed(
    l3: SourceTable, books: _Books, points: dict[int, tuple[int, Levels]], px: list[int],
    depth: int, offset: int, tick: int, notes: list[str],
) -> tuple[int, dict[int, int | None]]:  # fmt: skip
    """Seed a book without a snapshot from the first truth record (module notes)."""
    c = l3.columns
    i0 = min(points)
    ts, exch = c["ts_ns"].tolist(), c["exch_ns"].tolist()
    g0 = i0
    while g0 > 0 and (ts[g0 - 1], exch[g0 - 1]) == (ts[i0], exch[i0]):
        g0 -= 1
    _, (bp, bq, ap, aq) = points[i0]
    levels = {(1, p): q for p, q in zip(bp, bq, strict=True)}
    levels |= {(-1, p): q for p, q in zip(ap, aq, strict=True)}
    acts, sides, qtys = c["action"].tolist(), c["side"].tolist(), c["qty"].tolist()
    for i in range(g0, i0 + 1):  # undo the records the truth record already shows
        key = (sides[i], px[i])
        if acts[i] == _A:
            levels[key] = levels.get(key, 0) - qtys[i]
        elif acts[i] == _C:
            levels[key] = levels.get(key, 0) + qtys[i]
        elif acts[i] == _M:
            notes.append(f"record {i} modifies an unknown order while the book is seeded")
    # asks first, then bids, each best first: placeholder ids are deterministic
    order = sorted(levels.items(), key=lambda kv: (kv[0][0], -kv[0][0] * kv[0][1]))
    for (side, price), qty in order:
        if qty > 0 and side:
            books.add_placeholder(side, price, qty, ts[g0])
    notes.append(
        f"no snapshot: the book was seeded from the truth at record {g0} "
        f"({_clock(ts[g0])}); levels beyond its window are set from it as they appear"
    )
    deep: dict[int, int | None] = {
        1: bp[-1] if len(bp) >= depth else None,
        -1: ap[-1] if len(ap) >= depth else None,
    }
    return g0, deep


# -- events for the backtester --------------------------------------------------


def _crossed_spans(
    acts: list[int], oids: list[int], sides: list[int], px: list[int], qtys: list[int],
    ends: list[bool],
) -> list[tuple[int, int]]:  # fmt: skip
    """(first, last record) of each crossed stretch, through the event that uncrosses it."""
    orders: dict[int, tuple[int, int, int]] = {}
    levels: dict[tuple[int, int], int] = {}
    bid_heap: list[int] = []
    ask_heap: list[int] = []
    spans: list[tuple[int, int]] = []
    open_at: int | None = None
    event_start = 0

    def move(side: int, price: int, qty: int) -> None:
        key = (side, price)
        total = levels.get(key, 0) + qty
        if total > 0:
            if key not in levels:
                heapq.heappush(bid_heap if side > 0 else ask_heap, -price if side > 0 else price)
            levels[key] = total
        else:
            levels.pop(key, None)

    for i, a in enumerate(acts):
        oid = oids[i]
        if a in (_A, _M):
            old = orders.pop(oid, None)
            if old is not None:
                move(old[0], old[1], -old[2])
            if sides[i] and qtys[i] > 0:
                orders[oid] = (sides[i], px[i], qtys[i])
                move(sides[i], px[i], qtys[i])
        elif a == _C:
            old = orders.get(oid)
            if old is not None:
                take = min(qtys[i], old[2])
                move(old[0], old[1], -take)
                if take == old[2]:
                    del orders[oid]
                else:
                    orders[oid] = (old[0], old[1], old[2] - take)
        elif a == _R:
            orders.clear()
            levels.clear()
            bid_heap.clear()
            ask_heap.clear()
        if ends[i]:
            while bid_heap and (1, -bid_heap[0]) not in levels:
                heapq.heappop(bid_heap)
            while ask_heap and (-1, ask_heap[0]) not in levels:
                heapq.heappop(ask_heap)
            crossed = bool(bid_heap and ask_heap and -bid_heap[0] >= ask_heap[0])
            if crossed and open_at is None:
                open_at = event_start
            elif not crossed and open_at is not None:
                spans.append((open_at, i))
                open_at = None
            event_start = i + 1
    if open_at is not None:
        spans.append((open_at, len(acts) - 1))
    return spans


class _Emitter:
    """Rows of the depth or order-level view from the records (module notes)."""

    def __init__(self, order_level: bool) -> None:
        self.order_level = order_level
        self.rows: list[tuple[int, int, int, int, int, int]] = []  # ts, kind, side, px, qty, ref
        # order id -> (side, price, book qty, ref of its add; -1 while held)
        self.orders: dict[int, tuple[int, int, int, int]] = {}
        self.levels: dict[tuple[int, int], int] = {}
        self.pending: dict[int, int] = {}  # fills already executed in the order view
        self.hold = False
        self.unknown = 0
        self.unmatched_fills = 0
        self.away = 0  # fills at a price where the order does not rest

    def level(self, side: int, price: int, qty: int, ts: int) -> None:
        key = (side, price)
        total = self.levels.get(key, 0) + qty
        if total > 0:
            self.levels[key] = total
        else:
            self.levels.pop(key, None)
        if not self.hold and not self.order_level:
            self.rows.append((ts, DEPTH, side, price, max(total, 0), 0))

    def emit(self, ts: int, kind: int, side: int, price: int, qty: int, ref: int) -> int:
        index = len(self.rows)
        if not self.hold and self.order_level and qty > 0:
            self.rows.append((ts, kind, side, price, qty, index if kind == ADD else ref))
        return index

    def add(self, oid: int, side: int, price: int, qty: int, ts: int) -> None:
        self.level(side, price, qty, ts)
        ref = -1 if self.hold else len(self.rows)
        self.emit(ts, ADD, side, price, qty, ref)
        self.orders[oid] = (side, price, qty, ref)

    def remove(self, oid: int, qty: int, ts: int) -> None:
        """Take ``qty`` (book units) off an order; the order view's share net of its fills."""
        side, price, have, ref = self.orders[oid]
        qty = min(qty, have)
        fill = self.pending.pop(oid, 0)
        covered = min(qty, fill)
        if fill > covered:
            self.pending[oid] = fill - covered
        self.level(side, price, -qty, ts)
        self.emit(ts, CANCEL, side, price, qty - covered, ref)
        if qty == have:
            del self.orders[oid]
            self.pending.pop(oid, None)
        else:
            self.orders[oid] = (side, price, have - qty, ref)

    def modify(self, oid: int, side: int, price: int, qty: int, ts: int) -> None:
        old = self.orders.get(oid)
        if old is None:
            self.unknown += 1
            if side and qty > 0:
                self.add(oid, side, price, qty, ts)
            return
        was, at, have, _ = old
        shown = have - self.pending.get(oid, 0)  # the order view's size before the modify
        if was == side and at == price and 0 < qty <= shown:
            self.pending.pop(oid, None)
            self.level(side, price, qty - have, ts)
            self.emit(ts, CANCEL, side, price, shown - qty, old[3])
            self.orders[oid] = (side, price, qty, old[3])
            return
        self.remove(oid, have, ts)  # priority lost: out, and in again at the back
        if side and qty > 0:
            self.add(oid, side, price, qty, ts)

    def fill(self, oid: int, side: int, price: int, qty: int, ts: int) -> None:
        old = self.orders.get(oid)
        if old is None:
            self.unknown += side != 0  # sideless: the auction's fills
            return
        if not self.order_level or self.hold:
            return
        if old[:2] != (side, price):  # not a fill at its level: the C/M that follows removes it
            self.away += 1
            return
        have, ref = old[2], old[3]
        take = min(qty, have - self.pending.get(oid, 0))
        if take > 0:
            self.emit(ts, EXECUTE, side, price, take, ref)
            self.pending[oid] = self.pending.get(oid, 0) + take

    def clear(self, ts: int) -> None:
        for oid in list(self.orders):
            self.remove(oid, self.orders[oid][2], ts)
        self.levels.clear()

    def end_event(self) -> None:
        if self.pending:
            self.unmatched_fills += len(self.pending)
            self.pending.clear()

    def release(self, saved: dict[int, tuple[int, int, int, int]], ts: int) -> None:
        """Leave a held stretch: the difference from ``saved`` at once, decreases first."""
        self.hold = False
        if not self.order_level:
            before: dict[tuple[int, int], int] = {}
            for side, price, qty, _ in saved.values():
                before[(side, price)] = before.get((side, price), 0) + qty
            keys = set(before) | set(self.levels)
            changes = [(k, self.levels.get(k, 0)) for k in keys
                       if self.levels.get(k, 0) != before.get(k, 0)]  # fmt: skip
            changes.sort(key=lambda kv: (kv[1] > before.get(kv[0], 0), kv[0]))
            for (side, price), qty in changes:
                self.rows.append((ts, DEPTH, side, price, qty, 0))
            return
        for oid, (side, price, qty, ref) in saved.items():
            now = self.orders.get(oid)
            if now is None or now[3] != ref or now[:2] != (side, price):
                self.rows.append((ts, CANCEL, side, price, qty, ref))
            elif now[2] < qty:
                self.rows.append((ts, CANCEL, side, price, qty - now[2], ref))
        for oid, (side, price, qty, ref) in list(self.orders.items()):
            if ref == -1:
                index = len(self.rows)
                self.rows.append((ts, ADD, side, price, qty, index))
                self.orders[oid] = (side, price, qty, index)


def databento_events(
    tables: DatabentoSource,
    *,
    order_level: bool = False,
    symbol: str | None = None,
    tick: int | None = None,
) -> MarketEvents:
    """The MBO records of ``tables`` (or a DBN path) as replay events (module notes).

    ``tick`` is the instrument's tick in 1e-9 units when known (ES: 250000000);
    by default the gcd of the prices in the data.
    """
    l3, _ = _pick(_load(tables), symbol)
    n = len(l3)
    if n == 0:
        msg = "no MBO records"
        raise DataError(msg, path=str(l3.meta.get("file", "")))
    c = l3.columns
    tk = int(tick) if tick else databento_tick([l3])
    if tk <= 0 or np.any(c["price"] % tk):
        msg = f"invalid tick {tk}: the prices are not all on its grid"
        raise DataError(msg, path=str(l3.meta.get("file", "")))
    acts, oids, sides = c["action"].tolist(), c["order_id"].tolist(), c["side"].tolist()
    px = (c["price"].astype(np.int64) // tk).tolist()
    qtys = c["qty"].tolist()
    ends_arr = _event_ends(c["flags"])
    end_idx = np.flatnonzero(ends_arr)
    ts_ns = c["ts_ns"].astype(np.int64)
    ev_ts = ts_ns[end_idx[np.searchsorted(end_idx, np.arange(n))]].tolist()
    ends = ends_arr.tolist()
    snap_n = _snapshot_length(c["action"], c["flags"])
    spans = _crossed_spans(acts, oids, sides, px, qtys, ends)
    span_start = dict(spans)
    span_end: dict[int, dict[int, tuple[int, int, int, int]]] = {}
    em = _Emitter(order_level)
    auction = 0
    for i in range(n):
        if i in span_start:
            em.hold = True
            span_end[span_start[i]] = dict(em.orders)
        a, oid, s, p, q, ts = acts[i], oids[i], sides[i], px[i], qtys[i], ev_ts[i]
        if a == _A:
            if oid in em.orders:
                em.remove(oid, em.orders[oid][2], ts)
            if s and q > 0:
                em.add(oid, s, p, q, ts)
        elif a == _C:
            if oid in em.orders:
                em.remove(oid, q, ts)
            else:
                em.unknown += 1
        elif a == _M:
            em.modify(oid, s, p, q, ts)
        elif a == _R:
            em.clear(ts)
        elif a == _T:
            if s == 0 or em.hold:
                auction += 1
            elif not order_level:
                em.rows.append((ts, TRADE, s, p, q, 0))
        elif a == _F:
            em.fill(oid, s, p, q, ts)
        if ends[i]:
            em.end_event()
        if i in span_end:
            em.release(span_end.pop(i), ts)
    if not em.rows:
        msg = "no book events in the MBO records"
        raise DataError(msg, path=str(l3.meta.get("file", "")))
    notes = [
        f"book crossed from {_clock(int(ts_ns[a]))} to {_clock(int(ts_ns[b]))} (records {a}-{b}): "
        "held, then applied at once when it uncrossed"
        for a, b in spans
    ]
    if auction:
        notes.append(f"{auction} trades without an aggressor (an auction, or while crossed) "
                     "left out")  # fmt: skip
    if em.unknown:
        notes.append(f"{em.unknown} records name orders the book does not hold (no snapshot?)")
    if em.away:
        notes.append(f"{em.away} fills away from their order's price (the C or M that follows "
                     "removes them): cancels, not executions")  # fmt: skip
    if em.unmatched_fills:
        notes.append(f"{em.unmatched_fills} fills not followed by their C or M in the event")
    cols = np.asarray(em.rows, dtype=np.int64).T
    start = int(ts_ns[snap_n]) if snap_n < n else int(ts_ns[-1])
    return MarketEvents(
        ts=np.ascontiguousarray(cols[0]), kind=np.ascontiguousarray(cols[1]),
        side=np.ascontiguousarray(cols[2]), price=np.ascontiguousarray(cols[3]),
        qty=np.ascontiguousarray(cols[4]),
        ref=np.ascontiguousarray(cols[5]) if order_level else None,
        source="databento", symbol=l3.symbol, tick=tk, lot=1, price_unit="1e-9",
        start_ns=start, notes=tuple(notes),
    )  # fmt: skip
