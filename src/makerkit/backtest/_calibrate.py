"""Measure what GLFT and Avellaneda-Stoikov need from a market: A, k and sigma.

* A and k: how fast a quote d ticks from the mid gets hit, lambda(d) = A exp(-k d),
  from the depth every market order reached (``fit_intensity``);
* sigma: the mid's volatility in ticks per square-root second, from mid changes
  sampled every ``sample_s`` of market time.

On the simulator the depths are exact: the recorded command stream is replayed
through a fresh engine and each market order's last fill price is read. On
recorded L2 data a trade's price is the depth it reached (a trade at the touch
is a depth of half the spread).
"""

from __future__ import annotations

import heapq
import math
from typing import Any

import msgspec
import numpy as np

from makerkit.backtest._events import CLEAR, DEPTH, TRADE, MarketEvents
from makerkit.book import make_book
from makerkit.core import OrderType
from makerkit.core.errors import DataError
from makerkit.data import ACTION_ADD, ACTION_CANCEL, ACTION_MARKET, MarketSimulator, SimParams
from makerkit.strategies import fit_intensity

__all__ = ["MarketFit", "fit_recorded", "fit_synthetic"]


class MarketFit(msgspec.Struct, frozen=True, kw_only=True):
    """GLFT / Avellaneda-Stoikov inputs measured on one market sample."""

    A: float  # market orders per second reaching the mid, per side
    k: float  # per tick
    sigma: float  # ticks per sqrt(second)
    seconds: float
    market_orders: int
    source: str
    # the touch, sampled once a second of market time: spread quantiles (ticks) and the
    # mean size (lots) at the best three levels of each side
    spread: dict[str, float] = msgspec.field(default_factory=dict)  # mean, p10, p50, p90
    depth_bid: list[float] = msgspec.field(default_factory=list)
    depth_ask: list[float] = msgspec.field(default_factory=list)

    def params(self, strategy: str) -> dict[str, float]:
        """The fitted values ``strategy`` takes (AS has no A)."""
        if strategy == "glft":
            return {"A": self.A, "k": self.k, "sigma": self.sigma}
        if strategy == "avellaneda_stoikov":
            return {"k": self.k, "sigma": self.sigma}
        return {}


def _sigma(ts: np.ndarray[Any, Any], mid: np.ndarray[Any, Any], sample_s: float) -> float:
    ok = np.isfinite(mid)
    ts, mid = ts[ok], mid[ok]
    if ts.size < 3:
        msg = "cannot measure volatility: fewer than three mid prices"
        raise DataError(msg)
    grid = np.arange(ts[0], ts[-1], int(sample_s * 1e9))
    sampled = mid[np.searchsorted(ts, grid, side="right") - 1]
    moves = np.diff(sampled)
    if moves.size < 2:
        msg = f"cannot measure volatility: the sample is shorter than 3 x {sample_s} s"
        raise DataError(msg)
    return float(moves.std() / math.sqrt(sample_s))


def fit_synthetic(
    params: SimParams | None = None, *, seed: int = 7, events: int = 300_000,
    sample_s: float = 1.0,
) -> MarketFit:  # fmt: skip
    """Fit on ``events`` commands of the simulator (use another seed than the backtest's)."""
    p = params or SimParams.default()
    run = MarketSimulator(p, seed=seed).run(events, record=True)
    s = run.stream
    book = make_book()
    submit, cancel, modify = book.submit, book.cancel, book.modify
    depths: list[float] = []
    mids = np.full(len(s), np.nan)
    cols = zip(s.action.tolist(), s.order_id.tolist(), s.side.tolist(), s.price.tolist(),
               s.qty.tolist(), s.tif.tolist(), s.ts.tolist(), strict=True)  # fmt: skip
    touch: list[tuple[int, list[int], list[int]]] = []
    step, next_sample = int(sample_s * 1e9), int(s.ts[0]) if len(s) else 0
    for i, (action, oid, side, price, qty, tif, ts) in enumerate(cols):
        bid, ask = book.best_bid(), book.best_ask()
        if bid and ask:
            mids[i] = (bid[0] + ask[0]) / 2
            if ts >= next_sample:  # the touch once a second (level 1 only here)
                touch.append((ask[0] - bid[0], [bid[1]], [ask[1]]))
                next_sample = ts + step
        if action == ACTION_ADD:
            submit(oid, side, price, qty, tif=tif, ts=ts)
        elif action == ACTION_CANCEL:
            cancel(oid, ts=ts)
        elif action == ACTION_MARKET:
            res = submit(oid, side, 0, qty, order_type=OrderType.MARKET, ts=ts)
            if res.fills and mids[i] == mids[i]:
                depths.append(abs(res.fills[-1].price - mids[i]))
        else:
            modify(oid, price=price or None, qty=qty, ts=ts)
    seconds = (int(s.ts[-1]) - int(s.ts[0])) / 1e9
    a, k = fit_intensity(depths, seconds)
    return MarketFit(
        A=a, k=k, sigma=_sigma(s.ts, mids, sample_s), seconds=seconds,
        market_orders=len(depths), source=f"synthetic seed={seed} events={events}",
        **_touch(touch),
    )  # fmt: skip


def _touch(samples: list[tuple[int, list[int], list[int]]]) -> dict[str, Any]:
    """Spread quantiles and mean sizes at levels 1-3 from (spread, bid sizes, ask sizes)."""
    if not samples:
        return {"spread": {}, "depth_bid": [], "depth_ask": []}
    spread = np.array([s for s, _, _ in samples], dtype=np.float64)
    quant = np.percentile(spread, [10, 50, 90])

    def levels(sizes: list[list[int]]) -> list[float]:
        known = min(3, max(len(row) for row in sizes))  # the simulator's fit sees level 1
        return [float(np.mean([row[i] if i < len(row) else 0 for row in sizes]))
                for i in range(known)]  # fmt: skip

    return {
        "spread": {"mean": float(spread.mean()), "p10": float(quant[0]),
                   "p50": float(quant[1]), "p90": float(quant[2])},
        "depth_bid": levels([b for _, b, _ in samples]),
        "depth_ask": levels([a for _, _, a in samples]),
    }  # fmt: skip


def fit_recorded(events: MarketEvents, *, sample_s: float = 1.0) -> MarketFit:
    """Fit on a recorded day (its L2 book rebuilt from the events).

    Only what happens from ``events.start_ns`` on is measured (a window's
    start): the events before it only build the book.
    """
    bids: dict[int, int] = {}
    asks: dict[int, int] = {}
    best_bid = best_ask = None
    depths: list[float] = []
    n = len(events)
    mids = np.full(n, np.nan)
    start = int(events.start_ns)
    touch: list[tuple[int, list[int], list[int]]] = []
    next_sample = start
    step = int(sample_s * 1e9)
    cols = zip(events.ts.tolist(), events.kind.tolist(), events.side.tolist(),
               events.price.tolist(), events.qty.tolist(), strict=True)  # fmt: skip
    for i, (ts, kind, side, price, qty) in enumerate(cols):
        if best_bid is not None and best_ask is not None and best_bid < best_ask:
            mids[i] = (best_bid + best_ask) / 2
            if ts >= next_sample:  # the book as it stood when the second began
                top_b = heapq.nlargest(3, bids)
                top_a = heapq.nsmallest(3, asks)
                touch.append((best_ask - best_bid, [bids[p] for p in top_b],
                              [asks[p] for p in top_a]))  # fmt: skip
                next_sample = max(next_sample + step, ts - (ts - start) % step + step)
        if kind == TRADE:
            if mids[i] == mids[i] and ts >= start:
                depths.append(abs(price - mids[i]))
            # the levels it went through are gone (the depth stream may say so later)
            if side < 0 and best_bid is not None and price < best_bid:
                for p in [p for p in bids if p > price]:
                    del bids[p]
                best_bid = max(bids) if bids else None
            elif side > 0 and best_ask is not None and price > best_ask:
                for p in [p for p in asks if p < price]:
                    del asks[p]
                best_ask = min(asks) if asks else None
            continue
        if kind not in (DEPTH, CLEAR):  # hidden executions move no visible depth
            continue
        levels = bids if side > 0 else asks
        if kind == CLEAR:  # a window clear: what lay beyond the old window is unknown
            lo, hi = min(price, qty), max(price, qty)
            for p in [p for p in levels if lo < p < hi]:
                del levels[p]
            best_bid = max(bids) if bids else None
            best_ask = min(asks) if asks else None
            continue
        if qty > 0:
            levels[price] = qty
        else:
            levels.pop(price, None)
        if side > 0:
            if qty > 0:
                best_bid = price if best_bid is None else max(best_bid, price)
            elif price == best_bid:
                best_bid = max(bids) if bids else None
        elif qty > 0:
            best_ask = price if best_ask is None else min(best_ask, price)
        elif price == best_ask:
            best_ask = min(asks) if asks else None
    seconds = (int(events.ts[-1]) - start) / 1e9
    a, k = fit_intensity(depths, seconds)
    inside = events.ts >= start
    return MarketFit(
        A=a, k=k, sigma=_sigma(events.ts[inside], mids[inside], sample_s), seconds=seconds,
        market_orders=len(depths), source=f"{events.source}:{events.symbol}",
        **_touch(touch),
    )  # fmt: skip
