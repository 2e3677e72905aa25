"""The metrics (see the package docstring for units and annualisation)."""

from __future__ import annotations

import math
from typing import Any

import msgspec
import numpy as np
import numpy.typing as npt

from makerkit.core.errors import ConfigError

__all__ = ["Metrics", "compute_metrics", "pnl_decomposition"]

MINUTE_NS = 60_000_000_000
PERIODS_PER_YEAR = 252 * 390  # trading minutes
MIN_BUCKETS = 30  # fewer periods than this: no Sharpe
BOOTSTRAP_RESAMPLES = 2000


class Metrics(msgspec.Struct, frozen=True, kw_only=True):
    """A backtest's numbers; PnL in tick-lots."""

    pnl_total: float  # = pnl_spread + pnl_adverse + pnl_inventory + pnl_fees, exactly
    pnl_spread: float = 0.0  # sum of side x (mid before the fill - price) x qty
    pnl_adverse: float = 0.0  # sum of side x (mid at the next mark - mid before the fill) x qty
    pnl_inventory: float = 0.0  # sum of position x mid change between marks
    pnl_fees: float = 0.0  # minus the fees (plus rebates) of the fills on the path
    edge: float = 0.0  # pnl_spread + pnl_adverse + pnl_fees: what quoting earned, no drift
    edge_ci95: list[float] | None = None  # bootstrap over the per-period edge, x periods
    liquidation_cost: float | None = None  # crossing the half-spread for the final position
    pnl_realized: float
    pnl_unrealized: float
    fees: float
    pnl_per_period_mean: float
    pnl_per_period_median: float
    pnl_per_period_std: float
    pnl_per_period_quantiles: dict[str, float]  # p5, p25, p50, p75, p95
    sharpe: float | None  # None with fewer than MIN_BUCKETS buckets (see sharpe_reason)
    sortino: float | None
    sharpe_reason: str | None = None
    buckets: int = 0  # periods of market time the per-period numbers come from
    pnl_per_bucket_mean: float = 0.0
    pnl_per_bucket_ci95: list[float] | None = None  # bootstrap, seeded: [lo, hi]
    annualisation: str
    max_drawdown: float
    fills: int
    fill_rate: float  # fills per quote placed
    fill_imbalance: float  # (bought - sold) / traded volume
    volume: int
    turnover: float  # traded notional, tick-lots
    avg_abs_inventory: float  # time-weighted
    max_abs_inventory: int
    spread_captured: float  # sum of side x (mid - price) x qty at fill time
    markouts: dict[str, float]  # mean side x (mid(t + h) - price) per lot, by horizon
    # the edge with each fill marked h later (side x (mid(t + h) - price) x qty - fee; a
    # fill too close to the end for h counts its fee only), and its bootstrap 95% CI
    markout_edge: dict[str, float] = msgspec.field(default_factory=dict)
    markout_edge_ci95: dict[str, list[float]] = msgspec.field(default_factory=dict)
    quote_uptime: float  # share of time with both sides resting (a rejected quote is not)
    rejected_quotes: int = 0  # quotes the venue refused (post-only would have crossed)
    orders_sent: int = 0  # new orders sent: quotes and immediate (hedge) orders
    # the most resting orders the strategy held at once, per side
    max_live_orders: dict[str, int] = msgspec.field(default_factory=lambda: {"bid": 0, "ask": 0})
    final_position: int


def _label(ns: int) -> str:
    for unit, size in (("s", 10**9), ("ms", 10**6)):
        if ns % size == 0:
            return f"{ns // size}{unit}"
    return f"{ns}ns"


def _bootstrap_ci(per: npt.NDArray[np.float64], seed: int) -> list[float] | None:
    """Percentile bootstrap 95% interval of the mean of ``per`` (None without data)."""
    if per.size == 0:
        return None
    rng = np.random.default_rng(seed)
    # resamples drawn in blocks of ~1M indices: a month of minutes would otherwise need a
    # BOOTSTRAP_RESAMPLES x n matrix (GBs); the draws are the same as in one call
    rows = max(1, (1 << 20) // per.size)
    means = np.empty(BOOTSTRAP_RESAMPLES)
    for a in range(0, BOOTSTRAP_RESAMPLES, rows):
        b = min(a + rows, BOOTSTRAP_RESAMPLES)
        means[a:b] = per[rng.integers(0, per.size, size=(b - a, per.size))].mean(axis=1)
    lo, hi = np.percentile(means, [2.5, 97.5])
    return [float(lo), float(hi)]


def pnl_decomposition(
    *,
    ts: npt.ArrayLike,
    mid: npt.ArrayLike,
    position: npt.ArrayLike,
    fill_ts: npt.ArrayLike,
    fill_side: npt.ArrayLike,
    fill_price: npt.ArrayLike,
    fill_qty: npt.ArrayLike,
    fill_fee: npt.ArrayLike | None = None,
    per_fill: list[npt.NDArray[np.float64]] | None = None,
) -> dict[str, float]:
    """PnL over the path split into spread, adverse selection, inventory and fees.

    A fill at ``ft`` belongs to the first mark ``i`` with ``ts[i] >= ft`` (the
    path's position there includes it); fills at or before the first mark or
    after the last are outside the path. With ``m0`` the mid at the mark before
    the fill and ``m1`` the mid at its mark: spread ``side x (m0 - price) x qty``,
    adverse ``side x (m1 - m0) x qty`` (the mark-out to the next mark), inventory
    ``sum position[i-1] x (mid[i] - mid[i-1])``, fees minus their sum. Mids are
    whole or half ticks, so the first three are summed as integers in half
    tick-lots and are exact; ``pnl_total`` is their sum plus the fees, so the
    four parts add up to it exactly (in this order). ``per_fill``, when given,
    receives each fill's spread + adverse + fee (0 outside the path).
    """
    t = np.asarray(ts, dtype=np.int64)
    twice = np.rint(np.asarray(mid, dtype=np.float64) * 2).astype(np.int64)
    pos = np.asarray(position, dtype=np.int64)
    ft = np.asarray(fill_ts, dtype=np.int64)
    fs = np.asarray(fill_side, dtype=np.int64)
    fp = np.asarray(fill_price, dtype=np.int64)
    fq = np.asarray(fill_qty, dtype=np.int64)
    fee = np.zeros(ft.size) if fill_fee is None else np.asarray(fill_fee, dtype=np.float64)
    j = np.searchsorted(t, ft, side="left")
    on = (j >= 1) & (j < t.size)
    j, signed = j[on], fs[on] * fq[on]
    spread2 = int((signed * (twice[j - 1] - 2 * fp[on])).sum())
    adverse2 = int((signed * (twice[j] - twice[j - 1])).sum())
    inventory2 = int((pos[:-1] * np.diff(twice)).sum())
    fees = -float(fee[on].sum())
    if per_fill is not None:  # each fill's spread + adverse + fee, in fill order
        edge = np.zeros(ft.size)
        edge[on] = signed * (twice[j] - 2 * fp[on]) / 2 - fee[on]
        per_fill.append(edge)
    parts = {
        "pnl_spread": spread2 / 2, "pnl_adverse": adverse2 / 2,
        "pnl_inventory": inventory2 / 2, "pnl_fees": fees + 0.0,
    }  # fmt: skip
    parts["pnl_total"] = (
        parts["pnl_spread"] + parts["pnl_adverse"] + parts["pnl_inventory"] + parts["pnl_fees"]
    )
    return parts


def compute_metrics(
    *,
    ts: npt.ArrayLike,
    mid: npt.ArrayLike,
    position: npt.ArrayLike,
    equity: npt.ArrayLike,
    quoted_both: npt.ArrayLike,
    fill_ts: npt.ArrayLike,
    fill_side: npt.ArrayLike,
    fill_price: npt.ArrayLike,
    fill_qty: npt.ArrayLike,
    fees: float = 0.0,
    quotes_placed: int = 0,
    fill_fee: npt.ArrayLike | None = None,
    rejected_ts: npt.ArrayLike = (),
    rejected_quotes: int | None = None,
    final_spread: float | None = None,
    orders_sent: int | None = None,
    max_live_orders: dict[str, int] | None = None,
    bootstrap_seed: int = 0,
    markout_ns: tuple[int, ...] = (1_000_000_000, 5_000_000_000, 30_000_000_000),
    period_ns: int = MINUTE_NS,
    periods_per_year: int = PERIODS_PER_YEAR,
) -> Metrics:
    """Metrics from the sampled path (ts, mid, position, equity) and the fills.

    ``fill_fee``: each fill's fee (tick-lots, negative for a rebate), for the
    decomposition (without it the fills pay nothing there). ``rejected_ts``:
    when each refused quote was refused; the interval between two marks in
    which one was is not counted as quoted. ``final_spread``: the market's
    spread at the end, for ``liquidation_cost``. ``orders_sent`` defaults to
    ``quotes_placed``; ``max_live_orders`` is ``{"bid": n, "ask": n}``. The bootstrap interval is
    seeded with ``bootstrap_seed`` (same inputs, same interval).
    """
    t = np.asarray(ts, dtype=np.int64)
    m = np.asarray(mid, dtype=np.float64)
    pos = np.asarray(position, dtype=np.int64)
    eq = np.asarray(equity, dtype=np.float64)
    up = np.asarray(quoted_both, dtype=bool)
    if not (t.shape == m.shape == pos.shape == eq.shape == up.shape) or t.size < 2:
        msg = (
            "invalid path, `ts`, `mid`, `position`, `equity` and `quoted_both` need one length >= 2"
        )
        raise ConfigError(msg)
    ft = np.asarray(fill_ts, dtype=np.int64)
    fs = np.asarray(fill_side, dtype=np.int64)
    fp = np.asarray(fill_price, dtype=np.float64)
    fq = np.asarray(fill_qty, dtype=np.int64)
    rej = np.asarray(rejected_ts, dtype=np.int64)
    if rej.size:  # a refused quote is not quoting: its interval does not count
        up = up.copy()
        k_rej = np.searchsorted(t, rej, side="right") - 1
        up[k_rej[(k_rej >= 0) & (k_rej < t.size)]] = False
    per_fill: list[npt.NDArray[np.float64]] = []
    parts = pnl_decomposition(
        ts=t, mid=m, position=pos, fill_ts=ft, fill_side=fs, fill_price=fp, fill_qty=fq,
        fill_fee=fill_fee, per_fill=per_fill,
    )  # fmt: skip
    liquidation = None if final_spread is None else abs(int(pos[-1])) * final_spread / 2
    # PnL per period of market time, from the equity path
    edges = np.arange(t[0], t[-1] + period_ns, period_ns)
    at = np.searchsorted(t, edges, side="right") - 1
    per = np.diff(eq[np.maximum(at, 0)])
    # the edge per period: each fill's in the period its time falls in (as the equity's)
    slot = np.clip(np.searchsorted(edges, ft, side="left") - 1, 0, max(per.size - 1, 0))
    edge_per = np.bincount(slot, weights=per_fill[0], minlength=per.size)[: per.size]
    edge_ci = _bootstrap_ci(edge_per.astype(np.float64), bootstrap_seed)
    mean = float(per.mean()) if per.size else 0.0
    std = float(per.std(ddof=1)) if per.size > 1 else 0.0
    down = per[per < 0]
    dstd = float(np.sqrt((down**2).mean())) if down.size else 0.0
    scale = math.sqrt(periods_per_year)
    enough = per.size >= MIN_BUCKETS
    reason = None if enough else f"{per.size} buckets < {MIN_BUCKETS}: too few for a Sharpe ratio"
    levels = (5, 25, 50, 75, 95)
    quantiles = (
        {f"p{q}": float(v) for q, v in zip(levels, np.percentile(per, levels), strict=True)}
        if per.size
        else {}
    )
    peak = np.maximum.accumulate(eq)
    # realized: average-cost accounting over the fills
    realized, held, avg = 0.0, 0, 0.0
    for side, price, qty in zip(fs.tolist(), fp.tolist(), fq.tolist(), strict=True):
        signed = side * qty
        if held == 0 or (held > 0) == (signed > 0):
            avg = (avg * abs(held) + price * qty) / (abs(held) + qty)
            held += signed
            continue
        closing = min(qty, abs(held))
        realized += closing * (price - avg) * (1 if held > 0 else -1)
        before, held = held, held + signed
        if held == 0:
            avg = 0.0
        elif (held > 0) != (before > 0):
            avg = price  # flipped: the rest opened at this price
    # mark-outs: mid h after each fill, against its price
    markouts: dict[str, float] = {}
    marked_edge: dict[str, float] = {}
    marked_ci: dict[str, list[float]] = {}
    fee_each = np.zeros(ft.size) if fill_fee is None else np.asarray(fill_fee, dtype=np.float64)
    for h in markout_ns:
        j = np.searchsorted(t, ft + h, side="right") - 1
        ok = (j >= 0) & (ft + h <= t[-1])
        if ok.any():
            gain = fs[ok] * (m[j[ok]] - fp[ok])
            markouts[_label(h)] = float((gain * fq[ok]).sum() / fq[ok].sum())
            each = -fee_each.copy()
            each[ok] += gain * fq[ok]
            by_period = np.bincount(slot, weights=each, minlength=per.size)[: per.size]
            marked_edge[_label(h)] = float(each.sum())
            ci = _bootstrap_ci(by_period.astype(np.float64), bootstrap_seed)
            if ci is not None:
                marked_ci[_label(h)] = [ci[0] * per.size, ci[1] * per.size]
    k = np.searchsorted(t, ft, side="right") - 1
    mid_at_fill = m[np.maximum(k, 0)]
    dt = np.diff(t).astype(np.float64)
    weights = dt / dt.sum() if dt.sum() > 0 else np.full(dt.shape, 1 / max(dt.size, 1))
    volume = int(fq.sum())
    return Metrics(
        pnl_total=parts["pnl_total"],
        pnl_spread=parts["pnl_spread"],
        pnl_adverse=parts["pnl_adverse"],
        pnl_inventory=parts["pnl_inventory"],
        pnl_fees=parts["pnl_fees"],
        edge=parts["pnl_spread"] + parts["pnl_adverse"] + parts["pnl_fees"],
        edge_ci95=None if edge_ci is None else [edge_ci[0] * per.size, edge_ci[1] * per.size],
        liquidation_cost=liquidation,
        pnl_realized=realized,
        pnl_unrealized=parts["pnl_total"] - realized + fees,
        fees=fees,
        pnl_per_period_mean=mean,
        pnl_per_period_median=float(np.median(per)) if per.size else 0.0,
        pnl_per_period_std=std,
        pnl_per_period_quantiles=quantiles,
        sharpe=(mean / std * scale if std > 0 else 0.0) if enough else None,
        sortino=(mean / dstd * scale if dstd > 0 else 0.0) if enough else None,
        sharpe_reason=reason,
        buckets=int(per.size),
        pnl_per_bucket_mean=mean,
        pnl_per_bucket_ci95=_bootstrap_ci(per.astype(np.float64), bootstrap_seed),
        annualisation=f"per {_label(period_ns)} of market time x sqrt({periods_per_year})",
        max_drawdown=float((peak - eq).max()),
        fills=int(ft.size),
        fill_rate=ft.size / quotes_placed if quotes_placed else 0.0,
        fill_imbalance=float((fs * fq).sum() / volume) if volume else 0.0,
        volume=volume,
        turnover=float((fp * fq).sum()),
        avg_abs_inventory=float((np.abs(pos[:-1]) * weights).sum()),
        max_abs_inventory=int(np.abs(pos).max()),
        spread_captured=float((fs * (mid_at_fill - fp) * fq).sum()),
        markouts=markouts,
        markout_edge=marked_edge,
        markout_edge_ci95=marked_ci,
        quote_uptime=float((up[:-1] * weights).sum()),
        final_position=int(pos[-1]),
        rejected_quotes=int(rej.size if rejected_quotes is None else rejected_quotes),
        orders_sent=int(quotes_placed if orders_sent is None else orders_sent),
        max_live_orders=dict(max_live_orders or {"bid": 0, "ask": 0}),
    )


def as_dict(metrics: Metrics) -> dict[str, Any]:
    """Plain builtins (for JSON)."""
    out: dict[str, Any] = msgspec.to_builtins(metrics)
    return out
