"""The features, defined once in words and implemented twice (see the package docstring).

At book state n (time t, best bid b / ask a with sizes qb / qa, mid m):

* ``mid`` = (b + a) / 2; ``spread_ticks`` = a - b; ``rel_spread`` = spread / mid
  (NaN while a side is empty).
* ``weighted_mid`` = (b * qa + a * qb) / (qb + qa).
* ``microprice``: Stoikov's micro-price to first order, m + g(I, spread), with
  I = qb / (qb + qa) and g the mean next mid change fitted by
  ``fit_microprice``; without a table it is the weighted mid.
* ``imbalance_1`` = (qb - qa) / (qb + qa); ``imbalance_n`` the same over
  levels 1..``levels``.
* ``ofi``: Cont, Kukanov and Stoikov's order-flow imbalance of this event,
  e = [b >= b'] qb - [b <= b'] qb' - [a <= a'] qa + [a >= a'] qa' (primes:
  the previous state; 0 at the first); ``ofi_window`` sums e over
  (t - ofi_window, t].
* ``ret_<h>`` = log(m / m(t - h)), m(x) the mid of the last state at or before x.
* ``ewma_vol``: sqrt(v), v <- alpha v + (1 - alpha) r^2 per state, r the log
  change of the mid (0 across an empty side), alpha = exp(-dt / tau),
  tau = half-life / ln 2. Per event, not annualised.
* ``trade_volume``, ``trade_imbalance`` = (buys - sells) / volume over trades
  in (t - trade_window, t]; ``since_trade_ns``: t - the last trade at or before t.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from typing import Any

import msgspec
import numpy as np
import numpy.typing as npt

from makerkit.core.errors import ConfigError

__all__ = [
    "FEATURES",
    "FeatureConfig",
    "FeatureStream",
    "MicropriceTable",
    "compute_features",
    "fit_microprice",
]

F64 = npt.NDArray[np.float64]
NAN = math.nan


class MicropriceTable(msgspec.Struct, frozen=True, kw_only=True):
    """g(I, spread): mean next mid change (ticks) by spread (1..max_spread) and imbalance bin."""

    bins: int
    max_spread: int
    values: tuple[tuple[float, ...], ...]  # [spread - 1][imbalance bin]

    def adjust(self, imbalance_bid: float, spread: float) -> float:
        """The adjustment for I = qb / (qb + qa) in [0, 1] and a spread in ticks."""
        s = min(max(int(spread), 1), self.max_spread) - 1
        k = min(int(imbalance_bid * self.bins), self.bins - 1)
        return self.values[s][k]


class FeatureConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Windows and depths of the features (times in nanoseconds)."""

    levels: int = 5
    horizons_ns: tuple[int, ...] = (1_000_000_000, 5_000_000_000)
    ofi_window_ns: int = 1_000_000_000
    trade_window_ns: int = 1_000_000_000
    vol_halflife_ns: int = 10_000_000_000
    microprice: MicropriceTable | None = None

    def __post_init__(self) -> None:
        if self.levels < 1:
            msg = f"invalid `levels`, must be >= 1, was {self.levels}"
            raise ConfigError(msg)
        for name in ("ofi_window_ns", "trade_window_ns", "vol_halflife_ns"):
            if getattr(self, name) <= 0:
                msg = f"invalid `{name}`, must be > 0, was {getattr(self, name)}"
                raise ConfigError(msg)
        if any(h <= 0 for h in self.horizons_ns):
            msg = f"invalid `horizons_ns`, must all be > 0, was {self.horizons_ns}"
            raise ConfigError(msg)

    def names(self) -> list[str]:
        """The feature names, in output order."""
        rets = [f"ret_{_label(h)}" for h in self.horizons_ns]
        return [*FEATURES[:9], *rets, *FEATURES[9:]]


FEATURES = (
    "mid", "spread_ticks", "rel_spread", "weighted_mid", "microprice", "imbalance_1",
    "imbalance_n", "ofi", "ofi_window", "ewma_vol", "trade_volume", "trade_imbalance",
    "since_trade_ns",
)  # fmt: skip


def _label(ns: int) -> str:
    for unit, size in (("s", 10**9), ("ms", 10**6), ("us", 10**3)):
        if ns % size == 0:
            return f"{ns // size}{unit}"
    return f"{ns}ns"


def _ratio(num: float, den: float) -> float:
    return num / den if den else NAN


# ---------------------------------------------------------------------- streaming


class FeatureStream:
    """Features updated one event at a time, O(1) each (amortised over the windows).

    Call ``on_trade`` for every trade and ``on_book`` for every book state, in
    time order (a trade stamped with a state's time goes first).
    """

    def __init__(self, config: FeatureConfig | None = None) -> None:
        self.config = cfg = config or FeatureConfig()
        self.names = cfg.names()
        self._tau = cfg.vol_halflife_ns / math.log(2)
        self._prev: tuple[int, int, int, int] | None = None  # b, qb, a, qa
        self._prev_ts: int | None = None
        self._prev_mid = NAN
        self._var = 0.0
        self._ofi: deque[tuple[int, float]] = deque()
        self._ofi_sum = 0.0
        self._mids = [deque[tuple[int, float]]() for _ in cfg.horizons_ns]
        self._trades: deque[tuple[int, int, int]] = deque()  # ts, signed qty, qty
        self._buy_minus_sell = 0
        self._volume = 0
        self._last_trade: int | None = None

    def on_trade(self, ts: int, price: int, qty: int, side: int) -> None:
        """A trade; ``side`` is the aggressor's (+1 buy, -1 sell)."""
        self._trades.append((ts, side * qty, qty))
        self._buy_minus_sell += side * qty
        self._volume += qty
        self._last_trade = ts

    def on_book(
        self,
        ts: int,
        bid_px: Sequence[int],
        bid_sz: Sequence[int],
        ask_px: Sequence[int],
        ask_sz: Sequence[int],
    ) -> dict[str, float]:
        """The features at this book state (best level first on each side)."""
        cfg = self.config
        b, qb, a, qa = int(bid_px[0]), int(bid_sz[0]), int(ask_px[0]), int(ask_sz[0])
        both = qb > 0 and qa > 0
        mid = (b + a) / 2 if both else NAN
        spread = float(a - b) if both else NAN
        out: dict[str, float] = {
            "mid": mid,
            "spread_ticks": spread,
            "rel_spread": spread / mid if both else NAN,
            "weighted_mid": _ratio(b * qa + a * qb, qb + qa) if both else NAN,
        }
        if both and cfg.microprice is not None:
            out["microprice"] = mid + cfg.microprice.adjust(qb / (qb + qa), spread)
        else:
            out["microprice"] = out["weighted_mid"]
        n = min(cfg.levels, len(bid_sz), len(ask_sz))
        sb, sa = sum(int(x) for x in bid_sz[:n]), sum(int(x) for x in ask_sz[:n])
        out["imbalance_1"] = _ratio(qb - qa, qb + qa)
        out["imbalance_n"] = _ratio(sb - sa, sb + sa)
        # order-flow imbalance
        e = 0.0
        if self._prev is not None:
            pb, pqb, pa, pqa = self._prev
            e = (qb if b >= pb else 0) - (pqb if b <= pb else 0)
            e += -(qa if a <= pa else 0) + (pqa if a >= pa else 0)
        self._prev = (b, qb, a, qa)
        self._ofi.append((ts, e))
        self._ofi_sum += e
        while self._ofi and self._ofi[0][0] <= ts - cfg.ofi_window_ns:
            self._ofi_sum -= self._ofi.popleft()[1]
        out["ofi"] = e
        out["ofi_window"] = self._ofi_sum
        # returns over horizons: the last state at or before t - h
        for h, mids in zip(cfg.horizons_ns, self._mids, strict=True):
            mids.append((ts, mid))
            while len(mids) > 1 and mids[1][0] <= ts - h:
                mids.popleft()
            then = mids[0][1] if mids[0][0] <= ts - h else NAN
            out[f"ret_{_label(h)}"] = math.log(mid / then) if mid > 0 and then > 0 else NAN
        # EWMA volatility of the mid's log changes
        r = (
            math.log(mid / self._prev_mid)
            if mid > 0 and self._prev_mid > 0 and self._prev_ts is not None
            else 0.0
        )
        if self._prev_ts is None:
            self._var = 0.0
        else:
            alpha = math.exp(-(ts - self._prev_ts) / self._tau)
            self._var = alpha * self._var + (1 - alpha) * r * r
        self._prev_ts, self._prev_mid = ts, mid
        out["ewma_vol"] = math.sqrt(self._var)
        # trade flow
        while self._trades and self._trades[0][0] <= ts - cfg.trade_window_ns:
            _, signed, qty = self._trades.popleft()
            self._buy_minus_sell -= signed
            self._volume -= qty
        out["trade_volume"] = float(self._volume)
        out["trade_imbalance"] = _ratio(self._buy_minus_sell, self._volume)
        out["since_trade_ns"] = (
            float(ts - self._last_trade) if self._last_trade is not None else NAN
        )
        return {name: out[name] for name in self.names}


# ---------------------------------------------------------------------- vectorised


def _col(a: npt.ArrayLike, name: str, n: int | None = None) -> Any:
    arr = np.asarray(a)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or (n is not None and arr.shape[0] != n):
        msg = f"invalid `{name}`, must be (n, levels) with n = {n}, was {arr.shape}"
        raise ConfigError(msg)
    return arr.astype(np.float64)


def _window_sum(ts: npt.NDArray[np.int64], values: F64, at: npt.NDArray[np.int64], w: int) -> F64:
    """Sum of values stamped in (t - w, t] for each t in ``at`` (ts sorted)."""
    cs = np.concatenate([[0.0], np.cumsum(values)])
    hi = np.searchsorted(ts, at, side="right")
    lo = np.searchsorted(ts, at - w, side="right")
    out: F64 = cs[hi] - cs[lo]
    return out


def _ewma_var(ts: npt.NDArray[np.int64], r: F64, tau: float) -> F64:
    """v_n = alpha_n v_(n-1) + (1 - alpha_n) r_n^2 without a Python loop.

    v_n = sum_k (1 - alpha_k) r_k^2 exp(-(t_n - t_k) / tau), summed in blocks
    short enough (500 tau) that the exponentials stay finite, carrying v over.
    """
    n = ts.shape[0]
    out = np.zeros(n)
    if n == 0:
        return out
    t = (ts - ts[0]).astype(np.float64)  # relative first: exact for any epoch
    dt = np.diff(ts, prepend=ts[0]).astype(np.float64)
    w = (1.0 - np.exp(-dt / tau)) * r * r
    w[0] = 0.0
    start, carry, t_carry = 0, 0.0, t[0]
    while start < n:
        stop = int(np.searchsorted(t, t_carry + 500.0 * tau, side="right"))
        stop = max(stop, start + 1)
        rel = (t[start:stop] - t_carry) / tau
        acc = np.cumsum(w[start:stop] * np.exp(rel))
        out[start:stop] = np.exp(-rel) * (carry + acc)
        carry, t_carry = out[stop - 1], t[stop - 1]
        start = stop
    return out


def compute_features(
    ts: npt.ArrayLike,
    bid_px: npt.ArrayLike,
    bid_sz: npt.ArrayLike,
    ask_px: npt.ArrayLike,
    ask_sz: npt.ArrayLike,
    *,
    trade_ts: npt.ArrayLike = (),
    trade_qty: npt.ArrayLike = (),
    trade_side: npt.ArrayLike = (),
    config: FeatureConfig | None = None,
) -> dict[str, F64]:
    """Every feature at every book state, as arrays (same numbers as ``FeatureStream``).

    ``bid_px`` etc. are (n, levels) or (n,) arrays, best level first; ``ts``
    and ``trade_ts`` sorted nanoseconds; ``trade_side`` the aggressor's side.
    """
    cfg = config or FeatureConfig()
    t = np.asarray(ts, dtype=np.int64)
    n = t.shape[0]
    if n and np.any(np.diff(t) < 0):
        msg = "invalid `ts`, must be sorted"
        raise ConfigError(msg)
    bp, bq = _col(bid_px, "bid_px", n), _col(bid_sz, "bid_sz", n)
    ap, aq = _col(ask_px, "ask_px", n), _col(ask_sz, "ask_sz", n)
    b, qb, a, qa = bp[:, 0], bq[:, 0], ap[:, 0], aq[:, 0]
    both = (qb > 0) & (qa > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        mid = np.where(both, (b + a) / 2, np.nan)
        spread = np.where(both, a - b, np.nan)
        out: dict[str, F64] = {"mid": mid, "spread_ticks": spread, "rel_spread": spread / mid}
        wmid = np.where(both, (b * qa + a * qb) / (qb + qa), np.nan)
        out["weighted_mid"] = wmid
        if cfg.microprice is not None:
            table = np.asarray(cfg.microprice.values)
            s_idx = np.clip(
                np.nan_to_num(spread, nan=1.0).astype(np.int64), 1, cfg.microprice.max_spread
            )
            ib = np.where(both, qb / (qb + qa), 0.0)
            k_idx = np.minimum((ib * cfg.microprice.bins).astype(np.int64), cfg.microprice.bins - 1)
            out["microprice"] = np.where(both, mid + table[s_idx - 1, k_idx], np.nan)
        else:
            out["microprice"] = wmid
        levels = min(cfg.levels, bq.shape[1], aq.shape[1])
        sb, sa = bq[:, :levels].sum(axis=1), aq[:, :levels].sum(axis=1)
        tot1, totn = qb + qa, sb + sa
        out["imbalance_1"] = np.where(tot1 > 0, (qb - qa) / tot1, np.nan)
        out["imbalance_n"] = np.where(totn > 0, (sb - sa) / totn, np.nan)
    # order-flow imbalance
    e = np.zeros(n)
    if n > 1:
        pb, pqb, pa, pqa = b[:-1], qb[:-1], a[:-1], qa[:-1]
        cb, cqb, ca, cqa = b[1:], qb[1:], a[1:], qa[1:]
        e[1:] = (
            np.where(cb >= pb, cqb, 0.0) - np.where(cb <= pb, pqb, 0.0)
            - np.where(ca <= pa, cqa, 0.0) + np.where(ca >= pa, pqa, 0.0)
        )  # fmt: skip
    out["ofi"] = e
    out["ofi_window"] = _window_sum(t, e, t, cfg.ofi_window_ns)
    # returns: the last state at or before t - h
    with np.errstate(divide="ignore", invalid="ignore"):
        for h in cfg.horizons_ns:
            j = np.searchsorted(t, t - h, side="right") - 1
            then = np.where(j >= 0, mid[np.maximum(j, 0)], np.nan)
            ok = (mid > 0) & (then > 0)
            out[f"ret_{_label(h)}"] = np.where(ok, np.log(np.where(ok, mid / then, 1.0)), np.nan)
        prev = np.concatenate([[np.nan], mid[:-1]])
        okr = (mid > 0) & (prev > 0)
        r = np.where(okr, np.log(np.where(okr, mid / prev, 1.0)), 0.0)
    out["ewma_vol"] = np.sqrt(_ewma_var(t, r, cfg.vol_halflife_ns / math.log(2)))
    # trade flow
    tt = np.asarray(trade_ts, dtype=np.int64)
    tq = np.asarray(trade_qty, dtype=np.float64)
    ts_side = np.asarray(trade_side, dtype=np.float64)
    if not (tt.shape == tq.shape == ts_side.shape):
        msg = "invalid trades, `trade_ts`, `trade_qty` and `trade_side` must have one length"
        raise ConfigError(msg)
    volume = _window_sum(tt, tq, t, cfg.trade_window_ns)
    flow = _window_sum(tt, tq * ts_side, t, cfg.trade_window_ns)
    out["trade_volume"] = volume
    with np.errstate(divide="ignore", invalid="ignore"):
        out["trade_imbalance"] = np.where(volume > 0, flow / volume, np.nan)
    last = np.searchsorted(tt, t, side="right") - 1
    out["since_trade_ns"] = np.where(
        last >= 0, (t - tt[np.maximum(last, 0)]).astype(np.float64), np.nan
    ) if tt.size else np.full(n, np.nan)  # fmt: skip
    return {name: out[name] for name in cfg.names()}


def fit_microprice(
    ts: npt.ArrayLike,
    bid_px: npt.ArrayLike,
    bid_sz: npt.ArrayLike,
    ask_px: npt.ArrayLike,
    ask_sz: npt.ArrayLike,
    *,
    bins: int = 10,
    max_spread: int = 5,
) -> MicropriceTable:
    """Fit g(I, spread): the mean change of the mid at its next move, by state.

    Stoikov (2018) defines the micro-price as the limit of expected future
    mids; this is its first term, estimated by binning the imbalance
    I = qb / (qb + qa) and the spread, which already carries most of it.
    """
    n = np.asarray(ts).shape[0]
    b, qb = _col(bid_px, "bid_px", n)[:, 0], _col(bid_sz, "bid_sz", n)[:, 0]
    a, qa = _col(ask_px, "ask_px", n)[:, 0], _col(ask_sz, "ask_sz", n)[:, 0]
    both = (qb > 0) & (qa > 0)
    mid = np.where(both, (b + a) / 2, np.nan)
    # the mid at its next move, for each state (NaN when it never moves again)
    moved = np.flatnonzero(np.isfinite(mid[1:]) & (mid[1:] != mid[:-1])) + 1
    future = np.full(n, np.nan)
    if moved.size:
        nxt = np.searchsorted(moved, np.arange(n), side="right")
        has = nxt < moved.size
        future[has] = mid[moved[nxt[has]]]
    delta = future - mid
    ok = both & np.isfinite(delta)
    s_idx = np.clip((a - b)[ok].astype(np.int64), 1, max_spread) - 1
    k_idx = np.minimum((qb[ok] / (qb[ok] + qa[ok]) * bins).astype(np.int64), bins - 1)
    sums = np.zeros((max_spread, bins))
    counts = np.zeros((max_spread, bins))
    np.add.at(sums, (s_idx, k_idx), delta[ok])
    np.add.at(counts, (s_idx, k_idx), 1)
    values = np.divide(sums, counts, out=np.zeros_like(sums), where=counts > 0)
    return MicropriceTable(
        bins=bins,
        max_spread=max_spread,
        values=tuple(tuple(round(float(v), 12) for v in row) for row in values),
    )
