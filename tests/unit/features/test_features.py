"""Microstructure features: hand-computed values, and streaming == vectorised on real flow."""

from __future__ import annotations

import math

import numpy as np
import pytest

from makerkit.core import ConfigError
from makerkit.data import MarketSimulator, SimParams
from makerkit.features import FeatureConfig, FeatureStream, compute_features, fit_microprice

S = 1_000_000_000
CFG = FeatureConfig(levels=2, horizons_ns=(S,), ofi_window_ns=2 * S, trade_window_ns=S,
                    vol_halflife_ns=S)  # fmt: skip

# three book states (two levels) and two trades, small enough to check by hand
TS = [0, S, 3 * S]
BID_PX, BID_SZ = [[100, 99], [101, 100], [101, 100]], [[4, 6], [2, 4], [5, 4]]
ASK_PX, ASK_SZ = [[102, 103], [102, 103], [103, 104]], [[6, 2], [3, 2], [1, 7]]
TRADES = ([S, 2 * S + 1], [102, 101], [3, 2], [1, -1])  # ts, price, qty, aggressor


def stream_all(cfg: FeatureConfig, ts, bp, bs, ap, asz, trades) -> dict[str, np.ndarray]:  # type: ignore[no-untyped-def]
    fs, rows = FeatureStream(cfg), []
    tts, tpx, tq, tside = trades
    j = 0
    for i, t in enumerate(ts):
        while j < len(tts) and tts[j] <= t:
            fs.on_trade(int(tts[j]), int(tpx[j]), int(tq[j]), int(tside[j]))
            j += 1
        rows.append(fs.on_book(int(t), bp[i], bs[i], ap[i], asz[i]))
    return {k: np.array([r[k] for r in rows]) for k in rows[0]}


def test_hand_computed_example() -> None:
    f = compute_features(TS, BID_PX, BID_SZ, ASK_PX, ASK_SZ, trade_ts=TRADES[0],
                         trade_qty=TRADES[2], trade_side=TRADES[3], config=CFG)  # fmt: skip
    assert f["mid"].tolist() == [101.0, 101.5, 102.0]
    assert f["spread_ticks"].tolist() == [2.0, 1.0, 2.0]
    assert f["rel_spread"][0] == pytest.approx(2 / 101)
    assert f["weighted_mid"][0] == pytest.approx((100 * 6 + 102 * 4) / 10)  # 100.8
    assert f["imbalance_1"].tolist() == pytest.approx([-0.2, -0.2, 4 / 6])
    assert f["imbalance_n"][0] == pytest.approx((10 - 8) / 18)
    # OFI at state 1: bid up (b >= b'): +2; ask unchanged: -3 + 6 -> e = 5
    # state 2: bid same: +5 - 2; ask up (a >= a'): +3 -> e = 6
    assert f["ofi"].tolist() == [0.0, 5.0, 6.0]
    assert f["ofi_window"].tolist() == [0.0, 5.0, 6.0]  # (t - 2 s, t]: state 1 at 1 s drops at 3 s
    assert math.isnan(f["ret_1s"][0]) and f["ret_1s"][1] == pytest.approx(math.log(101.5 / 101))
    assert f["ret_1s"][2] == pytest.approx(math.log(102 / 101.5))  # last state at or before 2 s
    tau = S / math.log(2)
    v1 = (1 - math.exp(-S / tau)) * math.log(101.5 / 101) ** 2
    v2 = math.exp(-2 * S / tau) * v1 + (1 - math.exp(-2 * S / tau)) * math.log(102 / 101.5) ** 2
    assert f["ewma_vol"].tolist() == pytest.approx([0.0, math.sqrt(v1), math.sqrt(v2)])
    assert f["trade_volume"].tolist() == [0.0, 3.0, 2.0]
    assert math.isnan(f["trade_imbalance"][0]) and f["trade_imbalance"][1:].tolist() == [1.0, -1.0]
    assert math.isnan(f["since_trade_ns"][0]) and f["since_trade_ns"][1:].tolist() == [0.0, S - 1.0]


def test_streaming_equals_vectorised_on_the_hand_example() -> None:
    want = compute_features(TS, BID_PX, BID_SZ, ASK_PX, ASK_SZ, trade_ts=TRADES[0],
                            trade_qty=TRADES[2], trade_side=TRADES[3], config=CFG)  # fmt: skip
    got = stream_all(CFG, TS, BID_PX, BID_SZ, ASK_PX, ASK_SZ, TRADES)
    for name, values in want.items():
        np.testing.assert_allclose(got[name], values, rtol=1e-12, equal_nan=True, err_msg=name)


def simulated_books(events: int = 30_000) -> tuple[list[int], ...]:
    """Book states (3 levels) and trades from the simulator on the reference engine."""
    sim = MarketSimulator(SimParams.default(), seed=5, engine="python")
    sim.run(2000, record=False)
    ts, bp, bs, ap, asz, trades = [], [], [], [], [], ([], [], [], [])
    for _ in range(events // 50):
        run = sim.run(50)
        t = int(run.stream.ts[-1])
        for k in np.flatnonzero(run.stream.action == 3):
            trades[0].append(int(run.stream.ts[k]))
            trades[1].append(0)
            trades[2].append(int(run.stream.qty[k]))
            trades[3].append(int(run.stream.side[k]))
        (bpx, bsz), (apx, asz_) = sim.book.top(1, 3), sim.book.top(-1, 3)
        if len(bsz) < 3 or len(asz_) < 3:
            continue
        ts.append(t)
        bp.append(bpx)
        bs.append(bsz)
        ap.append(apx)
        asz.append(asz_)
    return ts, bp, bs, ap, asz, trades


def test_streaming_equals_vectorised_on_simulated_flow() -> None:
    ts, bp, bs, ap, asz, trades = simulated_books()
    table = fit_microprice(ts, bp, bs, ap, asz)
    cfg = FeatureConfig(levels=3, horizons_ns=(S, 5 * S), microprice=table)
    want = compute_features(ts, bp, bs, ap, asz, trade_ts=trades[0], trade_qty=trades[2],
                            trade_side=trades[3], config=cfg)  # fmt: skip
    got = stream_all(cfg, ts, bp, bs, ap, asz, trades)
    assert set(got) == set(want) and len(want["mid"]) > 500
    for name, values in want.items():
        np.testing.assert_allclose(got[name], values, rtol=1e-9, atol=1e-15, equal_nan=True,
                                   err_msg=name)  # fmt: skip
    # the fitted micro-price leans with the imbalance, as it should
    assert table.adjust(0.95, 2) > 0 > table.adjust(0.05, 2)


def test_bad_configuration_and_inputs_are_refused() -> None:
    with pytest.raises(ConfigError, match="levels"):
        FeatureConfig(levels=0)
    with pytest.raises(ConfigError, match="horizons_ns"):
        FeatureConfig(horizons_ns=(0,))
    with pytest.raises(ConfigError, match="sorted"):
        compute_features([2, 1], [1, 1], [1, 1], [2, 2], [1, 1])
    with pytest.raises(ConfigError, match="bid_sz"):
        compute_features([1, 2], [1, 1], [1], [2, 2], [1, 1])
