"""Metrics against a path small enough to check by hand."""

from __future__ import annotations

import pytest

from makerkit.core import ConfigError
from makerkit.metrics import compute_metrics

S = 1_000_000_000
M = 60 * S


def test_hand_computed_path() -> None:
    # buy 2 @ 99, buy 1 @ 102, sell 3 @ 104: average cost 100, realized 3 x 4 = 12
    m = compute_metrics(
        ts=[0, M, 2 * M, 3 * M],
        mid=[100.0, 101.0, 103.0, 104.0],
        position=[0, 2, 3, 0],
        equity=[0.0, 10.0, 4.0, 12.0],
        quoted_both=[True, True, False, True],
        fill_ts=[10, M + 10, 2 * M + 10],
        fill_side=[1, 1, -1],
        fill_price=[99.0, 102.0, 104.0],
        fill_qty=[2, 1, 3],
        quotes_placed=6,
        markout_ns=(M,),
    )
    assert m.pnl_total == 12.0 and m.pnl_realized == pytest.approx(12.0)
    assert m.pnl_unrealized == pytest.approx(0.0)
    assert m.max_drawdown == 6.0  # 10 -> 4
    assert m.fills == 3 and m.volume == 6 and m.fill_rate == 0.5
    assert m.fill_imbalance == 0.0 and m.final_position == 0 and m.max_abs_inventory == 3
    assert m.avg_abs_inventory == pytest.approx((0 + 2 + 3) / 3)
    assert m.quote_uptime == pytest.approx(2 / 3)
    # per-minute PnL changes +10, -6, +8
    assert m.pnl_per_period_mean == pytest.approx(4.0)
    # three buckets: no annualised Sharpe (it used to be 143.8 from these three numbers)
    assert m.sharpe is None and m.sortino is None and m.buckets == 3
    assert m.sharpe_reason == "3 buckets < 30: too few for a Sharpe ratio"
    # mark-out one minute on: (101-99)x2 at mid 101, (103-102)x1, -(104... past the end: dropped)
    assert m.markouts == {"60s": pytest.approx((2 * 2 + 1 * 1) / 3)}
    # spread captured at fill: 1 x (100-99) x 2 + 1 x (101-102) + -1 x (103-104) x 3
    assert m.spread_captured == pytest.approx(2 - 1 + 3)


def test_too_short_a_path_is_refused() -> None:
    with pytest.raises(ConfigError, match="length >= 2"):
        compute_metrics(ts=[0], mid=[1.0], position=[0], equity=[0.0], quoted_both=[True],
                        fill_ts=[], fill_side=[], fill_price=[], fill_qty=[])  # fmt: skip
