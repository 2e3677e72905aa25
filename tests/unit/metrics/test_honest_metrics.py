"""Honest statistics: the PnL decomposition, Sharpe only with enough buckets, the bootstrap CI."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from makerkit.metrics import compute_metrics, pnl_decomposition

S = 1_000_000_000
M = 60 * S

# buy 2 @ 99, buy 1 @ 102, sell 3 @ 104 on a path of four one-minute marks
PATH: dict[str, Any] = {
    "ts": [0, M, 2 * M, 3 * M],
    "mid": [100.0, 101.0, 103.0, 104.0],
    "position": [0, 2, 3, 0],
}
FILLS: dict[str, Any] = {
    "fill_ts": [10, M + 10, 2 * M + 10],
    "fill_side": [1, 1, -1],
    "fill_price": [99, 102, 104],
    "fill_qty": [2, 1, 3],
}


def test_decomposition_by_hand() -> None:
    parts = pnl_decomposition(**PATH, **FILLS, fill_fee=[0.5, 0.25, -0.75])
    # spread against the mid before the fill: 1x(100-99)x2 + 1x(101-102)x1 - 1x(103-104)x3
    assert parts["pnl_spread"] == 2 - 1 + 3
    # to the next mark: 1x(101-100)x2 + 1x(103-101)x1 - 1x(104-103)x3
    assert parts["pnl_adverse"] == 2 + 2 - 3
    # position x mid change: 0x1 + 2x2 + 3x1
    assert parts["pnl_inventory"] == 0 + 4 + 3
    assert parts["pnl_fees"] == -(0.5 + 0.25 - 0.75)
    assert parts["pnl_total"] == 12.0  # the equity path: 0 -> 12
    total = parts["pnl_spread"] + parts["pnl_adverse"] + parts["pnl_inventory"] + parts["pnl_fees"]
    assert total == parts["pnl_total"]


def test_fills_outside_the_path_are_not_part_of_it() -> None:
    # a fill at the first mark is already in its position; one after the last never shows
    parts = pnl_decomposition(
        ts=[0, 10, 20], mid=[100.0, 100.5, 101.0], position=[1, 1, 1],
        fill_ts=[0, 21], fill_side=[1, -1], fill_price=[99, 100], fill_qty=[1, 1],
    )  # fmt: skip
    assert parts == {"pnl_spread": 0.0, "pnl_adverse": 0.0, "pnl_inventory": 1.0,
                     "pnl_fees": 0.0, "pnl_total": 1.0}  # fmt: skip


def test_metrics_carry_the_decomposition_and_the_liquidation_cost() -> None:
    m = compute_metrics(
        **PATH, equity=[0.0, 10.0, 4.0, 12.0], quoted_both=[True] * 4, **FILLS,
        final_spread=3.0,
    )  # fmt: skip
    assert (m.pnl_spread, m.pnl_adverse, m.pnl_inventory, m.pnl_fees) == (4.0, 1.0, 7.0, 0.0)
    assert m.pnl_total == 12.0
    assert m.liquidation_cost == 0.0  # flat at the end
    short = compute_metrics(
        ts=[0, M], mid=[100.0, 100.5], position=[0, -3], equity=[0.0, -1.5],
        quoted_both=[True, True], fill_ts=[5], fill_side=[-1], fill_price=[100], fill_qty=[3],
        final_spread=2.0,
    )  # fmt: skip
    assert short.liquidation_cost == 3.0  # 3 lots x half the spread
    # sold 3 at the mid (no spread), then the mid rose half a tick against us
    assert (short.pnl_spread, short.pnl_adverse, short.pnl_total) == (0.0, -1.5, -1.5)
    assert compute_metrics(**PATH, equity=[0.0, 10.0, 4.0, 12.0], quoted_both=[True] * 4,
                           **FILLS).liquidation_cost is None  # fmt: skip


def _flat_path(n_minutes: int, seed: int = 3) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    steps = rng.normal(1.0, 5.0, n_minutes).round()
    equity = np.concatenate([[0.0], np.cumsum(steps)])
    ts = np.arange(n_minutes + 1) * M
    return {
        "ts": ts, "mid": np.full(ts.size, 100.0), "position": np.zeros(ts.size, dtype=np.int64),
        "equity": equity, "quoted_both": np.ones(ts.size, dtype=bool),
        "fill_ts": [], "fill_side": [], "fill_price": [], "fill_qty": [],
    }  # fmt: skip


def test_sharpe_is_null_with_fewer_than_30_buckets() -> None:
    m = compute_metrics(**_flat_path(29))
    assert m.buckets == 29 and m.sharpe is None and m.sortino is None
    assert m.sharpe_reason == "29 buckets < 30: too few for a Sharpe ratio"
    assert m.pnl_per_bucket_ci95 is not None  # the interval is still shown (and wide)
    enough = compute_metrics(**_flat_path(30))
    assert enough.buckets == 30 and enough.sharpe_reason is None
    per = np.diff(np.asarray(_flat_path(30)["equity"]))
    want = per.mean() / per.std(ddof=1) * (252 * 390) ** 0.5
    assert enough.sharpe == pytest.approx(want, rel=1e-9)


def test_bootstrap_ci_contains_the_mean_and_is_seeded() -> None:
    path = _flat_path(200)
    a = compute_metrics(**path, bootstrap_seed=11)
    b = compute_metrics(**path, bootstrap_seed=11)
    c = compute_metrics(**path, bootstrap_seed=12)
    assert a.pnl_per_bucket_ci95 is not None and c.pnl_per_bucket_ci95 is not None
    lo, hi = a.pnl_per_bucket_ci95
    assert lo < a.pnl_per_bucket_mean < hi
    assert a.pnl_per_bucket_mean == pytest.approx(np.diff(np.asarray(path["equity"])).mean())
    assert a.pnl_per_bucket_ci95 == b.pnl_per_bucket_ci95  # same seed, same interval
    assert c.pnl_per_bucket_ci95 != a.pnl_per_bucket_ci95
    # about mean +- 1.96 standard errors
    se = 5.0 / 200**0.5
    assert hi - lo == pytest.approx(2 * 1.96 * se, rel=0.25)


def test_a_rejected_quote_is_not_quoting() -> None:
    base = {**PATH, "equity": [0.0, 10.0, 4.0, 12.0], "quoted_both": [True] * 4, **FILLS}
    m = compute_metrics(**base)
    assert m.quote_uptime == 1.0 and m.rejected_quotes == 0
    # refused just after the second mark: the minute from it on was not quoted
    r = compute_metrics(**base, rejected_ts=[M + 300_000, M + 400_000])
    assert r.rejected_quotes == 2 and r.quote_uptime == pytest.approx(2 / 3)
    every = compute_metrics(**base, rejected_ts=[1, M, 2 * M + 5])
    assert every.quote_uptime == 0.0 and every.rejected_quotes == 3


def test_the_edge_is_spread_adverse_and_fees_with_its_own_interval() -> None:
    fees = [0.5, 0.25, -0.75]
    m = compute_metrics(**PATH, equity=[0.0, 10.0, 4.0, 12.0], quoted_both=[True] * 4,
                        **FILLS, fill_fee=fees)  # fmt: skip
    assert m.edge == m.pnl_spread + m.pnl_adverse + m.pnl_fees == 4 + 1 + 0
    # per minute: fill 1 earns 2x(101-99) - 0.5, fill 2 1x(103-102) - 0.25, fill 3 -3x(104-104)+0.75
    per = np.array([3.5, 0.75, 0.75])
    assert m.edge_ci95 is not None
    lo, hi = m.edge_ci95
    assert per.min() * 3 <= lo <= m.edge <= hi <= per.max() * 3
    # many minutes of a steady edge of 1 tick-lot with noise: the interval holds the truth
    rng = np.random.default_rng(5)
    n = 400
    ts = np.arange(n + 1) * M
    fill_ts = ts[:-1] + 7
    gain = rng.normal(1.0, 2.0, n).round()  # ticks under the mid each minute's fill bought at
    mid = np.full(n + 1, 1000.0)
    long = compute_metrics(
        ts=ts, mid=mid, position=np.zeros(n + 1, dtype=np.int64), equity=np.zeros(n + 1),
        quoted_both=np.ones(n + 1, dtype=bool), fill_ts=fill_ts, fill_side=np.ones(n),
        fill_price=1000.0 - gain, fill_qty=np.ones(n, dtype=np.int64),
    )  # fmt: skip
    assert long.edge_ci95 is not None
    lo, hi = long.edge_ci95
    assert lo < long.edge < hi and lo > 0  # 400 x 1 = 400, se 2 x sqrt(400) = 40
    assert hi - lo == pytest.approx(2 * 1.96 * 2.0 * n**0.5, rel=0.25)


def test_the_edge_at_a_mark_out_is_summed_fill_by_fill_with_its_interval() -> None:
    # marks every 100 ms for 3 minutes; a fill each minute, then the mid moves 2 ticks against it
    ts = np.arange(0, 3 * M + 1, 100_000_000)
    mid = np.full(ts.size, 1000.0)
    fill_ts = np.array([5 * S, M + 5 * S, 2 * M + 5 * S])
    for f in fill_ts:
        mid[ts >= f + 2 * S] -= 2.0  # the buyer is picked off 2 s after each fill
    m = compute_metrics(
        ts=ts, mid=mid, position=np.zeros(ts.size, dtype=np.int64), equity=np.zeros(ts.size),
        quoted_both=np.ones(ts.size, dtype=bool), fill_ts=fill_ts, fill_side=[1, 1, 1],
        fill_price=[999, 997, 995], fill_qty=[2, 2, 2], fill_fee=[0.5, 0.5, 0.5],
    )  # fmt: skip
    # 1 s later each fill is still 1 tick up (x 2 lots), 5 s and 30 s later 1 tick down
    assert m.markout_edge == {"1s": 3 * (2 - 0.5), "5s": 3 * (-2 - 0.5), "30s": 3 * (-2 - 0.5)}
    assert m.edge == 3 * (2 - 0.5)  # the next mark, 100 ms later, sees none of it
    lo, hi = m.markout_edge_ci95["5s"]
    assert lo == hi == -7.5  # the same every minute: no spread to the interval
