"""Performance of a market maker from its fills and its equity path.

Units: prices in ticks, sizes in lots, so PnL is in tick-lots (multiply by
tick size x lot size for money). Sharpe and Sortino are computed on PnL
changes per ``period_ns`` of market time (default one minute) and annualised
with ``periods_per_year`` (default 252 days x 390 minutes), as stated in the
result.
"""

from __future__ import annotations

from makerkit.metrics._metrics import Metrics, compute_metrics

__all__ = ["Metrics", "compute_metrics"]
