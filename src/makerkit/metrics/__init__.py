"""Performance of a market maker from its fills and its equity path.

Units: prices in ticks, sizes in lots, so PnL is in tick-lots (multiply by
tick size x lot size for money). Sharpe and Sortino are computed on PnL
changes per ``period_ns`` of market time (default one minute) and annualised
with ``periods_per_year`` (default 252 days x 390 minutes), as stated in the
result, and only from at least 30 periods (otherwise None, and
``sharpe_reason`` says why); the mean PnL per period comes with a seeded
bootstrap 95% interval. ``pnl_total`` is split into spread capture, adverse
selection (the mark-out to the next mark), inventory and fees, which add up to
it exactly; ``liquidation_cost`` (crossing the half-spread for the final
position) is reported beside it, not inside it.
"""

from __future__ import annotations

from makerkit.metrics._metrics import Metrics, compute_metrics, pnl_decomposition
from makerkit.metrics._plots import REPORT_STYLE, png, pyplot
from makerkit.metrics._rank import OBJECTIVES, objective_value, rank_runs

__all__ = [
    "OBJECTIVES",
    "REPORT_STYLE",
    "Metrics",
    "compute_metrics",
    "objective_value",
    "png",
    "pnl_decomposition",
    "pyplot",
    "rank_runs",
]
