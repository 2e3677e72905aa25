"""The metrics (see the package docstring for units and annualisation)."""

from __future__ import annotations

import math
from typing import Any

import msgspec
import numpy as np
import numpy.typing as npt

from makerkit.core.errors import ConfigError

__all__ = ["Metrics", "compute_metrics"]

MINUTE_NS = 60_000_000_000
PERIODS_PER_YEAR = 252 * 390  # trading minutes


class Metrics(msgspec.Struct, frozen=True, kw_only=True):
    """A backtest's numbers; PnL in tick-lots."""

    pnl_total: float
    pnl_realized: float
    pnl_unrealized: float
    fees: float
    pnl_per_period_mean: float
    pnl_per_period_median: float
    pnl_per_period_std: float
    pnl_per_period_quantiles: dict[str, float]  # p5, p25, p50, p75, p95
    sharpe: float
    sortino: float
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
    quote_uptime: float  # share of time with both sides quoted
    final_position: int


def _label(ns: int) -> str:
    for unit, size in (("s", 10**9), ("ms", 10**6)):
        if ns % size == 0:
            return f"{ns // size}{unit}"
    return f"{ns}ns"


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
    markout_ns: tuple[int, ...] = (1_000_000_000, 5_000_000_000, 30_000_000_000),
    period_ns: int = MINUTE_NS,
    periods_per_year: int = PERIODS_PER_YEAR,
) -> Metrics:
    """Metrics from the sampled path (ts, mid, position, equity) and the fills."""
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
    # PnL per period of market time, from the equity path
    edges = np.arange(t[0], t[-1] + period_ns, period_ns)
    at = np.searchsorted(t, edges, side="right") - 1
    per = np.diff(eq[np.maximum(at, 0)])
    mean = float(per.mean()) if per.size else 0.0
    std = float(per.std(ddof=1)) if per.size > 1 else 0.0
    down = per[per < 0]
    dstd = float(np.sqrt((down**2).mean())) if down.size else 0.0
    scale = math.sqrt(periods_per_year)
    quantiles = (
        {f"p{q}": float(np.percentile(per, q)) for q in (5, 25, 50, 75, 95)} if per.size else {}
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
    for h in markout_ns:
        j = np.searchsorted(t, ft + h, side="right") - 1
        ok = (j >= 0) & (ft + h <= t[-1])
        if ok.any():
            gain = fs[ok] * (m[j[ok]] - fp[ok])
            markouts[_label(h)] = float((gain * fq[ok]).sum() / fq[ok].sum())
    k = np.searchsorted(t, ft, side="right") - 1
    mid_at_fill = m[np.maximum(k, 0)]
    dt = np.diff(t).astype(np.float64)
    weights = dt / dt.sum() if dt.sum() > 0 else np.full(dt.shape, 1 / max(dt.size, 1))
    volume = int(fq.sum())
    return Metrics(
        pnl_total=float(eq[-1] - eq[0]),
        pnl_realized=realized,
        pnl_unrealized=float(eq[-1] - eq[0]) - realized + fees,
        fees=fees,
        pnl_per_period_mean=mean,
        pnl_per_period_median=float(np.median(per)) if per.size else 0.0,
        pnl_per_period_std=std,
        pnl_per_period_quantiles=quantiles,
        sharpe=mean / std * scale if std > 0 else 0.0,
        sortino=mean / dstd * scale if dstd > 0 else 0.0,
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
        quote_uptime=float((up[:-1] * weights).sum()),
        final_position=int(pos[-1]),
    )


def as_dict(metrics: Metrics) -> dict[str, Any]:
    """Plain builtins (for JSON)."""
    out: dict[str, Any] = msgspec.to_builtins(metrics)
    return out
