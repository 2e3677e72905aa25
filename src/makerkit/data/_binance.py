"""Binance depth-stream captures: rebuild the book as Binance documents it, and check it.

A capture is one event per line, ``<local receive ns> <json>``: combined-stream
messages (``<sym>@depth...`` diffs, ``@bookTicker``, ``@trade``) and one REST
depth snapshot (``lastUpdateId``). ``sync_binance`` is the one builder every
consumer uses (``replay_binance``, the backtest events, the venue replay, the
predictor datasets). It applies the snapshot, then the diffs in exchange
update-id order (never receive order: the diff that bridges the snapshot is
received before it), with Binance's rules exactly:

* spot: drop diffs with ``u <= lastUpdateId``; the first applied diff has
  ``U <= lastUpdateId + 1 <= u``; afterwards ``U == previous u + 1``;
* USD-M futures (diffs carry ``pu``): drop diffs with ``u < lastUpdateId``;
  the first applied diff has ``U <= lastUpdateId <= u``; afterwards
  ``pu == previous u``.

A break is a gap, reported with its line and the rule it broke; the book is
not trusted after it (a capture has one snapshot), so nothing after it is
applied. After each applied diff the book is checked: crossed states are counted.

Prices and quantities are decimal strings; inside they are integers in units
of 10^-8 (``SCALE``), exact for every Binance symbol.
"""

from __future__ import annotations

import gzip
import heapq
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import numpy.typing as npt

from makerkit.core.errors import DataError

__all__ = [
    "SCALE",
    "BinanceCapture",
    "BinanceGap",
    "BinanceReplay",
    "BinanceSync",
    "L2Book",
    "capture_depth",
    "load_binance_capture",
    "replay_binance",
    "sync_binance",
]

SCALE = 10**8
I64 = npt.NDArray[np.int64]


def _units(text: str) -> int:
    """'61737.63000000' -> 6173763000000 (exact, no float)."""
    whole, _, frac = text.partition(".")
    if len(frac) > 8 or not (whole.lstrip("-").isdigit() and (not frac or frac.isdigit())):
        msg = f"not a decimal with at most 8 places: {text!r}"
        raise ValueError(msg)
    sign = -1 if whole.startswith("-") else 1
    return sign * (abs(int(whole)) * SCALE + int((frac or "0").ljust(8, "0")))


class _Diff(msgspec.Struct, frozen=True):
    line: int
    local_ns: int
    event_ms: int
    first: int  # U
    last: int  # u
    prev: int | None  # pu (futures only)
    bids: list[tuple[int, int]]
    asks: list[tuple[int, int]]


class _Ticker(msgspec.Struct, frozen=True):
    line: int
    local_ns: int
    update_id: int
    bid: int
    bid_qty: int
    ask: int
    ask_qty: int


class BinanceCapture(msgspec.Struct, frozen=True, kw_only=True):
    """A parsed capture: diffs, tickers and trades in file order, and the snapshot."""

    path: str
    symbol: str
    diffs: list[_Diff]
    tickers: list[_Ticker]
    snapshot_line: int
    snapshot_ns: int  # local receive time of the snapshot
    snapshot_id: int
    snapshot_bids: list[tuple[int, int]]
    snapshot_asks: list[tuple[int, int]]
    trade_ns: I64  # local receive time
    trade_price: I64  # units of 1e-8
    trade_qty: I64
    trade_buyer_maker: npt.NDArray[np.bool_]
    trade_exch_ns: I64 | None = None  # the trade's exchange time (``T``), when parsed


def _levels(raw: Any, path: str, line: int, field: str) -> list[tuple[int, int]]:
    try:
        return [(_units(p), _units(q)) for p, q in raw]
    except (TypeError, ValueError) as exc:
        raise DataError(str(exc), path=path, line=line, field=field) from exc


def load_binance_capture(path: str | Path) -> BinanceCapture:
    """Parse a capture file (``.gz`` or plain); malformed lines raise DataError naming them."""
    p = Path(path)
    name = str(p)
    try:
        raw = gzip.decompress(p.read_bytes()) if p.suffix == ".gz" else p.read_bytes()
    except (OSError, EOFError) as exc:
        why = f"cannot read the capture: {exc}"
        raise DataError(why, path=name) from exc
    diffs: list[_Diff] = []
    tickers: list[_Ticker] = []
    trades: list[tuple[int, int, int, bool, int]] = []
    snapshot: dict[str, Any] | None = None
    snapshot_line = snapshot_ns = 0
    symbol = ""
    decode = msgspec.json.decode
    for n, text in enumerate(raw.splitlines(), start=1):
        if not text.strip():
            continue
        stamp, _, body = text.partition(b" ")
        try:
            local = int(stamp)
            msg = decode(body)
        except (ValueError, msgspec.DecodeError) as exc:
            why = f"not '<ns> <json>': {exc}"
            raise DataError(why, path=name, line=n) from exc
        if "lastUpdateId" in msg:
            if snapshot is not None:
                why = "a second REST snapshot; split the capture"
                raise DataError(why, path=name, line=n)
            snapshot, snapshot_line, snapshot_ns = msg, n, local
            continue
        stream, data = msg.get("stream", ""), msg.get("data")
        if not isinstance(data, dict):
            why = "neither a snapshot nor a combined-stream message"
            raise DataError(why, path=name, line=n)
        symbol = symbol or str(data.get("s", ""))
        try:
            if "@depth" in stream:
                diffs.append(
                    _Diff(
                        n, local, int(data["E"]), int(data["U"]), int(data["u"]),
                        int(data["pu"]) if "pu" in data else None,
                        _levels(data["b"], name, n, "b"), _levels(data["a"], name, n, "a"),
                    )
                )  # fmt: skip
            elif stream.endswith("@bookTicker"):
                tickers.append(
                    _Ticker(
                        n, local, int(data["u"]), _units(data["b"]), _units(data["B"]),
                        _units(data["a"]), _units(data["A"]),
                    )
                )  # fmt: skip
            elif stream.endswith("@trade"):
                trades.append(
                    (local, _units(data["p"]), _units(data["q"]), bool(data["m"]),
                     int(data.get("T") or data.get("E") or 0) * 1_000_000)
                )  # fmt: skip
        except (KeyError, TypeError, ValueError) as exc:
            why = f"bad {stream} message: {exc}"
            raise DataError(why, path=name, line=n) from exc
    if snapshot is None:
        why = "no REST depth snapshot (lastUpdateId) in the capture"
        raise DataError(why, path=name)
    cols: list[tuple[Any, ...]] = list(zip(*trades, strict=True)) if trades else [()] * 5
    return BinanceCapture(
        path=name,
        symbol=symbol,
        diffs=diffs,
        tickers=tickers,
        snapshot_line=snapshot_line,
        snapshot_ns=snapshot_ns,
        snapshot_id=int(snapshot["lastUpdateId"]),
        snapshot_bids=_levels(snapshot.get("bids", []), name, snapshot_line, "bids"),
        snapshot_asks=_levels(snapshot.get("asks", []), name, snapshot_line, "asks"),
        trade_ns=np.asarray(cols[0], dtype=np.int64),
        trade_price=np.asarray(cols[1], dtype=np.int64),
        trade_qty=np.asarray(cols[2], dtype=np.int64),
        trade_buyer_maker=np.asarray(cols[3], dtype=bool),
        trade_exch_ns=np.asarray(cols[4], dtype=np.int64),
    )


class L2Book:
    """Aggregated levels (price -> quantity) with the best of each side in O(log n)."""

    def __init__(self) -> None:
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}
        self._bid_heap: list[int] = []  # negated prices; stale entries skipped lazily
        self._ask_heap: list[int] = []

    def set(self, side: int, price: int, qty: int) -> None:
        """Set a level's quantity (0 removes it), as a depth diff does."""
        levels = self.bids if side == 1 else self.asks
        if qty == 0:
            levels.pop(price, None)
            return
        if price not in levels:
            heapq.heappush(
                self._bid_heap if side == 1 else self._ask_heap, -price if side == 1 else price
            )
        levels[price] = qty

    def best(self, side: int) -> tuple[int, int] | None:
        """(price, quantity) of the best level of a side, or None."""
        heap, levels, sign = (
            (self._bid_heap, self.bids, -1) if side == 1 else (self._ask_heap, self.asks, 1)
        )
        while heap:
            price = sign * heap[0]
            if price in levels:
                return price, levels[price]
            heapq.heappop(heap)
        return None


class BinanceGap(msgspec.Struct, frozen=True, kw_only=True):
    """A diff that breaks the sequence: its line and the rule it broke."""

    path: str
    line: int
    rule: str  # the rule, with the ids that broke it

    def __str__(self) -> str:
        return f"{self.path}, line {self.line}: sequence gap, {self.rule}"


class BinanceSync(msgspec.Struct, frozen=True, kw_only=True):
    """The diffs applied on the snapshot, in update-id order, and what was not applied."""

    market: str  # "spot" or "futures" (diffs with ``pu``)
    applied: list[_Diff]  # in exchange update-id order
    ts: list[int]  # when each applied diff takes effect: receive time, never before the
    # snapshot's or the previous diff's (the bridging diff is received before the snapshot)
    stale: int  # diffs older than the snapshot, dropped as the procedure says
    dropped: int  # diffs not applied: repeats of applied ids, and all after a gap
    gap: BinanceGap | None  # the first break; nothing after it is applied
    crossed: int  # applied diffs after which best bid >= best ask
    first_crossed_line: int  # 0 if none

    @property
    def gaps(self) -> int:
        """0 or 1: after a gap nothing is applied, so no later break is seen."""
        return 0 if self.gap is None else 1


def sync_binance(
    capture: BinanceCapture, each: Callable[[L2Book, _Diff], None] | None = None
) -> BinanceSync:
    """Apply the snapshot and the diffs with Binance's rules; ``each`` sees the book after each.

    Diffs are taken in exchange update-id order (``u``, then ``U``), whatever
    order they were received in. Spot and USD-M rules are in the module notes.
    """
    book = L2Book()
    for price, qty in capture.snapshot_bids:
        book.set(1, price, qty)
    for price, qty in capture.snapshot_asks:
        book.set(-1, price, qty)
    snap = capture.snapshot_id
    futures = any(d.prev is not None for d in capture.diffs)
    ordered = sorted(capture.diffs, key=lambda d: (d.last, d.first))
    applied: list[_Diff] = []
    ts: list[int] = []
    stale = dropped = crossed = first_crossed = 0
    gap: BinanceGap | None = None
    prev_u = snap
    clock = capture.snapshot_ns
    for diff in ordered:
        if gap is not None:
            dropped += 1
            continue
        if (diff.last < snap) if futures else (diff.last <= snap):
            stale += 1
            continue
        if applied and diff.last <= prev_u:  # the same ids again: already applied
            dropped += 1
            continue
        rule = ""
        if not applied:
            if futures and not diff.first <= snap <= diff.last:
                rule = (
                    "futures: the first diff must have U <= lastUpdateId <= u "
                    f"(lastUpdateId {snap}, U {diff.first}, u {diff.last})"
                )
            elif not futures and not diff.first <= snap + 1 <= diff.last:
                rule = (
                    "spot: the first diff must have U <= lastUpdateId + 1 <= u "
                    f"(lastUpdateId {snap}, U {diff.first}, u {diff.last})"
                )
        elif futures and diff.prev != prev_u:
            rule = f"futures: pu must equal the previous u (previous u {prev_u}, pu {diff.prev})"
        elif not futures and diff.first != prev_u + 1:
            rule = f"spot: U must equal the previous u + 1 (previous u {prev_u}, U {diff.first})"
        if rule:
            gap = BinanceGap(path=capture.path, line=diff.line, rule=rule)
            dropped += 1
            continue
        for price, qty in diff.bids:
            book.set(1, price, qty)
        for price, qty in diff.asks:
            book.set(-1, price, qty)
        prev_u = diff.last
        clock = max(clock, diff.local_ns)
        applied.append(diff)
        ts.append(clock)
        bid, ask = book.best(1), book.best(-1)
        if bid is not None and ask is not None and bid[0] >= ask[0]:
            crossed += 1
            first_crossed = first_crossed or diff.line
        if each is not None:
            each(book, diff)
    return BinanceSync(
        market="futures" if futures else "spot", applied=applied, ts=ts, stale=stale,
        dropped=dropped, gap=gap, crossed=crossed, first_crossed_line=first_crossed,
    )  # fmt: skip


class BinanceReplay(msgspec.Struct, frozen=True, kw_only=True):
    """What a replay found: applied diffs, gaps, and the bookTicker agreement."""

    diffs: int
    dropped_before_snapshot: int
    applied: int
    gaps: int
    gap_lines: tuple[int, ...]
    crossed: int  # applied diffs after which best bid >= best ask
    tickers: int
    comparable: int  # tickers whose u is the u of an applied diff
    matches: int
    first_mismatch_line: int  # 0 if none
    final_bid: tuple[int, int] | None
    final_ask: tuple[int, int] | None
    dropped: int = 0  # diffs not applied: repeats, and every diff after a gap
    gap: str = ""  # the gap, with its line and rule


def replay_binance(capture: BinanceCapture) -> BinanceReplay:
    """Rebuild the book (``sync_binance``) and compare it with every comparable ticker."""
    state_at: dict[int, tuple[tuple[int, int] | None, tuple[int, int] | None]] = {}
    final: list[tuple[int, int] | None] = [None, None]

    def record(book: L2Book, diff: _Diff) -> None:
        state_at[diff.last] = (book.best(1), book.best(-1))

    sync = sync_binance(capture, record)
    if not sync.applied:  # the snapshot alone
        book = L2Book()
        for price, qty in capture.snapshot_bids:
            book.set(1, price, qty)
        for price, qty in capture.snapshot_asks:
            book.set(-1, price, qty)
        final = [book.best(1), book.best(-1)]
    else:
        final = list(state_at[sync.applied[-1].last])
    comparable = matches = 0
    first_bad = 0
    for t in capture.tickers:
        state = state_at.get(t.update_id)
        if state is None:
            continue
        comparable += 1
        if state == ((t.bid, t.bid_qty), (t.ask, t.ask_qty)):
            matches += 1
        elif not first_bad:
            first_bad = t.line
    return BinanceReplay(
        diffs=len(capture.diffs),
        dropped_before_snapshot=sync.stale,
        applied=len(sync.applied),
        gaps=sync.gaps,
        gap_lines=() if sync.gap is None else (sync.gap.line,),
        crossed=sync.crossed,
        tickers=len(capture.tickers),
        comparable=comparable,
        matches=matches,
        first_mismatch_line=first_bad,
        final_bid=final[0],
        final_ask=final[1],
        dropped=sync.dropped,
        gap="" if sync.gap is None else str(sync.gap),
    )


def capture_depth(capture: BinanceCapture) -> tuple[BinanceSync, dict[str, I64]]:
    """The book a replay sees: the snapshot's levels, then every applied diff's, in order.

    Columns ``ts_ns`` (when each takes effect), ``exch_ns`` (the diff's event
    time; the snapshot's receive time, as REST gives none), ``side``, ``price``,
    ``qty``. Within a diff removals come first, so it never crosses the book
    half-applied. One builder for the backtester and the catalog.
    """
    ts: list[int] = []
    exch: list[int] = []
    rows: list[tuple[int, int, int]] = []
    snap_ts = capture.snapshot_ns
    for side, levels in ((1, capture.snapshot_bids), (-1, capture.snapshot_asks)):
        rows.extend((side, p, q) for p, q in levels)
    ts.extend([snap_ts] * len(rows))
    exch.extend([snap_ts] * len(rows))
    sync = sync_binance(capture)
    for diff, at in zip(sync.applied, sync.ts, strict=True):
        ups = [(s, p, q) for s, lv in ((1, diff.bids), (-1, diff.asks)) for p, q in lv]
        ups.sort(key=lambda u: u[2] > 0)  # removals first
        rows.extend(ups)
        ts.extend([at] * len(ups))
        exch.extend([diff.event_ms * 1_000_000] * len(ups))
    arr = np.asarray(rows, dtype=np.int64).reshape(-1, 3)
    cols = {
        "ts_ns": np.asarray(ts, np.int64), "exch_ns": np.asarray(exch, np.int64),
        "side": arr[:, 0].copy(), "price": arr[:, 1].copy(), "qty": arr[:, 2].copy(),
    }  # fmt: skip
    return sync, cols
