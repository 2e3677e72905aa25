"""Datasets for short-term prediction: features and raw levels in, labels that look ahead out.

Samples are book states (one per event, or every ``every`` events). Inputs:

* the microstructure features of ``makerkit.features`` (those that are prices
  become distances to the mid, so that nothing depends on the price level);
* the raw top-N levels: each price as ticks from the mid, each size as
  log(1 + size).

Labels, k events ahead (all computed from the future only):

* ``direction``: the FI-2010 convention (Ntakaris et al. 2018):
  l = (m+ - m) / m with m+ the mean of the next k mids; up when l > alpha, down
  when l < -alpha, stationary otherwise (classes 0 down, 1 stationary, 2 up).
  ``alpha`` is set on the training split so that a third of its samples are
  stationary, unless given;
* ``ret``: m(t + k) - m(t), in ticks;
* ``adverse_bid`` / ``adverse_ask``: a passive fill at the touch now would show a
  negative mark-out k events later (the mid below our bid, above our ask).

Splits are in time order with a gap of k samples between them, so no label
of one split sees into the next; the scaler is fitted on the training split.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from typing import Any

import msgspec
import numpy as np
import numpy.typing as npt

from makerkit.core.errors import ConfigError, DataError
from makerkit.data import (
    LOBSTER_DUMMY_ASK,
    LOBSTER_DUMMY_BID,
    BinanceCapture,
    L2Book,
    LobsterDay,
    lobster_tick,
    sync_binance,
)
from makerkit.features import FeatureConfig, compute_features

__all__ = [
    "FEATURE_COLUMNS",
    "Dataset",
    "Split",
    "adverse_labels",
    "binance_dataset",
    "book_dataset",
    "check_finite",
    "direction_labels",
    "lobster_dataset",
    "return_labels",
    "time_split",
]

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

# features as the models see them: prices as distances to the mid, the rest as is
FEATURE_COLUMNS = (
    "spread_ticks", "microprice_dev", "weighted_mid_dev", "imbalance_1", "imbalance_n", "ofi",
    "ofi_window", "ret_1s", "ret_5s", "ewma_vol", "trade_volume", "trade_imbalance",
    "since_trade_s", "last_move",
)  # fmt: skip


class Dataset(msgspec.Struct, frozen=True, kw_only=True):
    """Aligned arrays, one row per sample; ``raw`` is (n, 4 x levels)."""

    ts: I64
    mid: F64  # ticks
    bid: F64
    ask: F64
    features: F64  # (n, len(names))
    names: tuple[str, ...]
    raw: F64  # ask dist, bid dist, log ask size, log bid size per level
    levels: int
    source: str

    def __len__(self) -> int:
        return int(self.ts.shape[0])

    def take(self, idx: npt.NDArray[Any]) -> Dataset:
        """The rows ``idx`` (a slice of time, usually)."""
        return msgspec.structs.replace(
            self, ts=self.ts[idx], mid=self.mid[idx], bid=self.bid[idx], ask=self.ask[idx],
            features=self.features[idx], raw=self.raw[idx],
        )  # fmt: skip


def check_finite(x: F64, names: Sequence[str]) -> None:
    """NaN or infinite inputs are reported with their column, never filled silently."""
    bad = ~np.isfinite(x)
    if bad.any():
        rows, cols = np.nonzero(bad)
        per = {names[c]: int((cols == c).sum()) for c in np.unique(cols)}
        msg = f"non-finite inputs in {per} (first at row {int(rows[0])})"
        raise DataError(msg)


def _last_move(mid: F64) -> F64:
    """The sign of the last non-zero mid change up to each sample (0 before any)."""
    step = np.sign(np.diff(mid, prepend=mid[:1]))
    idx = np.where(step != 0, np.arange(mid.size), 0)
    np.maximum.accumulate(idx, out=idx)
    return np.where(idx > 0, step[idx], 0.0)


def book_dataset(
    ts: I64, bid_px: F64, bid_sz: F64, ask_px: F64, ask_sz: F64, *,
    trade_ts: I64 | None = None, trade_qty: I64 | None = None, trade_side: I64 | None = None,
    every: int = 1, clock_ms: float | None = None, source: str = "",
) -> Dataset:  # fmt: skip
    """A dataset from book states (n x levels arrays in ticks and lots, best level first).

    Samples are every ``every``-th state, or with ``clock_ms`` the last state at
    or before each tick of a fixed clock.
    """
    if every < 1 or (clock_ms is not None and clock_ms <= 0):
        msg = f"invalid sampling, need every >= 1 and clock_ms > 0, got {every}, {clock_ms}"
        raise ConfigError(msg)
    n, levels = bid_px.shape
    feats = compute_features(
        ts, bid_px, bid_sz, ask_px, ask_sz,
        trade_ts=() if trade_ts is None else trade_ts,
        trade_qty=() if trade_qty is None else trade_qty,
        trade_side=() if trade_side is None else trade_side,
        config=FeatureConfig(levels=levels),
    )  # fmt: skip
    mid = feats["mid"]
    cols = {
        "spread_ticks": feats["spread_ticks"],
        "microprice_dev": feats["microprice"] - mid,
        "weighted_mid_dev": feats["weighted_mid"] - mid,
        "imbalance_1": feats["imbalance_1"], "imbalance_n": feats["imbalance_n"],
        "ofi": feats["ofi"], "ofi_window": feats["ofi_window"],
        "ret_1s": feats["ret_1s"] * 1e4, "ret_5s": feats["ret_5s"] * 1e4,  # basis points
        "ewma_vol": feats["ewma_vol"] * 1e4, "trade_volume": np.log1p(feats["trade_volume"]),
        "trade_imbalance": feats["trade_imbalance"],
        "since_trade_s": np.minimum(feats["since_trade_ns"] / 1e9, 600.0),
        "last_move": _last_move(mid),
    }  # fmt: skip
    # windows not yet filled (returns, volatility) and windows without trades mean
    # "no move, no flow": zero, by definition; any other NaN drops the sample below
    for c in ("ret_1s", "ret_5s", "ewma_vol", "trade_imbalance", "since_trade_s", "ofi_window"):
        cols[c] = np.nan_to_num(cols[c], nan=0.0, posinf=0.0, neginf=0.0)
    x = np.column_stack([cols[c] for c in FEATURE_COLUMNS])
    raw = np.empty((n, 4 * levels))
    with np.errstate(invalid="ignore"):
        raw[:, 0::4] = np.where(ask_sz > 0, ask_px - mid[:, None], 0.0)
        raw[:, 1::4] = np.where(bid_sz > 0, mid[:, None] - bid_px, 0.0)
    raw[:, 2::4] = np.log1p(ask_sz)
    raw[:, 3::4] = np.log1p(bid_sz)
    keep = np.isfinite(mid) & np.isfinite(x).all(axis=1)
    if clock_ms is not None and n:
        t = np.asarray(ts, dtype=np.int64)
        grid = np.arange(t[0], t[-1] + 1, int(clock_ms * 1e6))
        on_clock = np.zeros(n, dtype=bool)
        on_clock[np.unique(np.searchsorted(t, grid, side="right") - 1)] = True
        keep &= on_clock
    keep[np.arange(n) % every != 0] = False
    return Dataset(
        ts=np.asarray(ts, dtype=np.int64)[keep], mid=mid[keep],
        bid=bid_px[keep, 0].astype(np.float64), ask=ask_px[keep, 0].astype(np.float64),
        features=x[keep], names=FEATURE_COLUMNS, raw=raw[keep], levels=levels, source=source,
    )  # fmt: skip


def lobster_dataset(day: LobsterDay, *, every: int = 1, clock_ms: float | None = None) -> Dataset:
    """A LOBSTER day: its orderbook file is the book after each message."""
    b = day.book
    tick = lobster_tick(day)
    ask_px, ask_sz = b[:, 0::4].astype(np.float64), b[:, 1::4].astype(np.float64)
    bid_px, bid_sz = b[:, 2::4].astype(np.float64), b[:, 3::4].astype(np.float64)
    ask_empty = b[:, 0::4] == LOBSTER_DUMMY_ASK
    bid_empty = b[:, 2::4] == LOBSTER_DUMMY_BID
    ask_sz[ask_empty], bid_sz[bid_empty] = 0.0, 0.0
    ask_px = np.where(ask_empty, 0.0, ask_px / tick)
    bid_px = np.where(bid_empty, 0.0, bid_px / tick)
    m = day.messages
    execs = (m.type == 4) | (m.type == 5)
    return book_dataset(
        m.ts_ns, bid_px, bid_sz, ask_px, ask_sz, trade_ts=m.ts_ns[execs],
        trade_qty=m.size[execs], trade_side=-m.direction[execs], every=every, clock_ms=clock_ms,
        source=f"lobster:{m.path.rsplit('/', 1)[-1]}",
    )  # fmt: skip


def binance_dataset(
    capture: BinanceCapture, *, levels: int = 5, every: int = 1, clock_ms: float | None = None
) -> Dataset:
    """A Binance capture: the book after each applied depth diff (its own tick and lot grid)."""
    prices = [p for p, _ in (*capture.snapshot_bids, *capture.snapshot_asks)]
    sizes = [q for _, q in (*capture.snapshot_bids, *capture.snapshot_asks) if q > 0]
    rows: list[tuple[int, list[int], list[int], list[int], list[int]]] = []

    def sample(book: L2Book, diff: Any) -> None:
        for p, q in (*diff.bids, *diff.asks):
            prices.append(p)
            if q > 0:
                sizes.append(q)
        bids, asks = book.bids, book.asks
        top_b = heapq.nlargest(levels, bids)
        top_a = heapq.nsmallest(levels, asks)
        rows.append((0, top_b, [bids[p] for p in top_b], top_a, [asks[p] for p in top_a]))

    # the one Binance builder: diffs in update-id order, Binance's rules, stops at a gap
    sync = sync_binance(capture, sample)
    rows = [(ts, *row[1:]) for ts, row in zip(sync.ts, rows, strict=True)]
    if not rows:
        msg = "the capture has no depth after its snapshot"
        raise DataError(msg, path=capture.path)
    tick = int(np.gcd.reduce(np.asarray(prices, dtype=np.int64))) or 1
    lot = int(np.gcd.reduce(np.asarray(sizes, dtype=np.int64))) or 1
    n = len(rows)
    arr = {k: np.zeros((n, levels)) for k in ("bp", "bs", "ap", "as")}
    for i, (_, bp, bs, ap, as_) in enumerate(rows):
        arr["bp"][i, : len(bp)] = np.asarray(bp) / tick
        arr["bs"][i, : len(bs)] = np.asarray(bs) / lot
        arr["ap"][i, : len(ap)] = np.asarray(ap) / tick
        arr["as"][i, : len(as_)] = np.asarray(as_) / lot
    return book_dataset(
        np.asarray([r[0] for r in rows], dtype=np.int64), arr["bp"], arr["bs"], arr["ap"],
        arr["as"], trade_ts=capture.trade_ns, trade_qty=capture.trade_qty // lot,
        trade_side=np.where(capture.trade_buyer_maker, -1, 1), every=every, clock_ms=clock_ms,
        source=f"binance:{capture.symbol}",
    )  # fmt: skip


def direction_labels(mid: F64, k: int, alpha: float) -> npt.NDArray[np.int64]:
    """FI-2010 labels k samples ahead (-1 where the future is not there yet)."""
    if k < 1:
        msg = f"invalid horizon, must be >= 1 events, was {k}"
        raise ConfigError(msg)
    n = mid.size
    csum = np.concatenate([[0.0], np.cumsum(mid)])
    out = np.full(n, -1, dtype=np.int64)
    valid = np.arange(n) + k < n
    idx = np.nonzero(valid)[0]
    m_plus = (csum[idx + k + 1] - csum[idx + 1]) / k
    rel = (m_plus - mid[idx]) / mid[idx]
    out[idx] = np.where(rel > alpha, 2, np.where(rel < -alpha, 0, 1))
    return out


def relative_change(mid: F64, k: int) -> F64:
    """(m+ - m) / m, NaN where the future is not there yet."""
    n = mid.size
    csum = np.concatenate([[0.0], np.cumsum(mid)])
    out = np.full(n, np.nan)
    idx = np.nonzero(np.arange(n) + k < n)[0]
    out[idx] = ((csum[idx + k + 1] - csum[idx + 1]) / k - mid[idx]) / mid[idx]
    return out


def return_labels(mid: F64, k: int) -> F64:
    """m(t + k) - m(t) in ticks (NaN where the future is not there yet)."""
    out = np.full(mid.size, np.nan)
    if k < mid.size:
        out[: mid.size - k] = mid[k:] - mid[: mid.size - k]
    return out


def adverse_labels(ds: Dataset, k: int) -> tuple[I64, I64]:
    """(bid, ask): 1 where a passive fill at the touch now marks out below zero k samples on.

    A buy at the bid loses if the mid k samples later is below the bid; a sell
    at the ask if it is above the ask. -1 where the future is not there yet.
    """
    n = len(ds)
    bid = np.full(n, -1, dtype=np.int64)
    ask = np.full(n, -1, dtype=np.int64)
    if k < n:
        later = ds.mid[k:]
        bid[: n - k] = (later < ds.bid[: n - k]).astype(np.int64)
        ask[: n - k] = (later > ds.ask[: n - k]).astype(np.int64)
    return bid, ask


class Split(msgspec.Struct, frozen=True, kw_only=True):
    """Row ranges of one dataset, in time order, with gaps between them."""

    train: tuple[int, int]
    val: tuple[int, int]
    test: tuple[int, int]


def time_split(n: int, k: int, fractions: tuple[float, float] = (0.6, 0.2)) -> Split:
    """Train, validation, test in time order; k rows dropped at each boundary."""
    a = int(n * fractions[0])
    b = int(n * (fractions[0] + fractions[1]))
    train, val, test = (0, a - k), (a, b - k), (b, n - k)
    if min(train[1] - train[0], val[1] - val[0], test[1] - test[0]) < 10:
        msg = f"not enough samples ({n}) to split with a gap of {k}"
        raise DataError(msg)
    return Split(train=train, val=val, test=test)
