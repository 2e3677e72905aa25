"""The day's shape: each stylised fact on inputs whose answer is known by hand."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from makerkit.core import ConfigError, DataError
from makerkit.data import (
    FACT_TARGETS,
    LobsterDay,
    LobsterMessages,
    MarketFacts,
    SimParams,
    autocorrelation,
    compare_market_facts,
    excess_kurtosis,
    fit_hawkes,
    load_lobster_beside,
    lobster_market_facts,
    market_order_times,
    sampled_returns,
    share_under,
    simulated_market_facts,
    weighted_quantiles,
)

S = 1_000_000_000
MS = 1_000_000


def test_kurtosis_of_iid_normal_is_zero_and_of_laplace_three() -> None:
    rng = np.random.default_rng(1)
    assert excess_kurtosis(rng.standard_normal(400_000)) == pytest.approx(0.0, abs=0.05)
    assert excess_kurtosis(rng.laplace(size=400_000)) == pytest.approx(3.0, abs=0.15)
    # two equally likely values: m4 / m2^2 = 1, excess -2
    assert excess_kurtosis([1.0, -1.0] * 50) == pytest.approx(-2.0)
    assert excess_kurtosis([5.0] * 100) == 0.0  # no variance
    assert excess_kurtosis([1.0, 2.0]) == 0.0  # too few


def test_autocorrelation_known_cases() -> None:
    alternating = np.array([1.0, -1.0] * 500)
    acf = autocorrelation(alternating, 4)
    assert acf == pytest.approx((-0.999, 0.998, -0.997, 0.996))  # (n - k) / n
    rng = np.random.default_rng(2)
    x = np.zeros(200_000)
    noise = rng.standard_normal(x.size)
    for i in range(1, x.size):
        x[i] = 0.5 * x[i - 1] + noise[i]
    ar = autocorrelation(x, 3)
    assert ar == pytest.approx((0.5, 0.25, 0.125), abs=0.01)
    assert max(abs(a) for a in autocorrelation(noise)) < 0.01
    assert autocorrelation(np.ones(50), 10) == (0.0,) * 10
    assert len(autocorrelation(np.arange(5.0), 10)) == 10  # lags past the data are 0


def test_weighted_quantiles_are_the_smallest_value_reaching_the_share() -> None:
    # a spread of 1, 2, 3, 4 ticks held for 10, 40, 40 and 10 seconds
    qs = weighted_quantiles([3, 1, 4, 2], [40, 10, 10, 40], (0.1, 0.5, 0.9, 0.99))
    assert qs == (1.0, 2.0, 3.0, 4.0)
    assert weighted_quantiles([7, 9], [0, 5], (0.1,)) == (9.0,)  # no time, no weight
    assert all(math.isnan(q) for q in weighted_quantiles([], [], (0.5, 0.9)))
    with pytest.raises(ConfigError, match="weights"):
        weighted_quantiles([1, 2], [1.0], (0.5,))


def test_share_under_10ms() -> None:
    times = np.array([0, 5, 20, 21, 1000]) * MS  # gaps 5, 15, 1, 979 ms
    assert share_under(times) == 0.5
    assert share_under(times, 2 * MS) == 0.25
    assert share_under(times[:1]) == 0.0


def test_sampled_returns_take_the_last_mid_at_each_grid_point() -> None:
    ts = np.array([0, S // 2, S, 3 * S], dtype=np.int64)
    mid = np.array([10.0, 11.0, 12.5, 9.0])
    # grid 0, 1, 2, 3 s: mids 10, 12.5, 12.5, 9
    assert sampled_returns(ts, mid, S, 0, 3 * S).tolist() == [2.5, 0.0, -3.5]
    assert sampled_returns(ts, mid, 2 * S, 0, 3 * S).tolist() == [2.5]
    with pytest.raises(ConfigError, match="step_ns"):
        sampled_returns(ts, mid, 0, 0, S)


def facts(**changes: object) -> MarketFacts:
    base: dict[str, object] = {
        "kurtosis_1s": 30.0, "kurtosis_10s": 6.0, "ret_acf_1s": (0.0,) * 10,
        "ret_acf_10s": (0.0,) * 10, "abs_ret_acf_1s": (0.1,) * 10,
        "abs_ret_acf_10s": (0.15, 0.13, *(0.1,) * 8), "spread_p10": 7.0, "spread_p50": 12.0,
        "spread_p90": 18.0, "spread_p99": 35.0, "spread_one_tick_share": 0.002,
        "mo_interarrival_under_10ms": 0.4, "depth": (180.0, 110.0, 100.0),
        "returns_1s": 23_400, "returns_10s": 2_340, "market_orders": 6_600, "seconds": 23_400.0,
    }  # fmt: skip
    return MarketFacts(**(base | changes))  # type: ignore[arg-type]


def test_comparison_ratios_flags_and_floors() -> None:
    real = facts()
    sim = facts(
        kurtosis_1s=60.0, spread_p50=15.0, spread_one_tick_share=0.006,
        abs_ret_acf_10s=(0.1, -0.02, *(0.0,) * 8), depth=(120.0, 110.0, 100.0),
    )  # fmt: skip
    report = compare_market_facts(real, sim)
    assert set(FACT_TARGETS) <= set(report.facts)
    assert {"depth_l1", "depth_l2", "depth_l3"} <= set(report.facts)
    k = report.facts["kurtosis_1s"]
    assert (k.real, k.sim, k.ratio, k.within_1_5x) == (30.0, 60.0, 2.0, False)
    assert report.facts["spread_p50"].ratio == pytest.approx(1.25)
    assert report.facts["spread_p50"].within_1_5x
    # 0.2% and 0.6% are both under the 1-point floor of a share: equal
    one_tick = report.facts["spread_one_tick_share"]
    assert (one_tick.floor, one_tick.ratio, one_tick.within_1_5x) == (0.01, 1.0, True)
    # a negative autocorrelation counts as the floor (2 / sqrt(2,340) returns)
    acf = report.facts["abs_ret_acf_10s_lag2"]
    assert acf.floor == pytest.approx(2 / math.sqrt(2340))
    assert acf.ratio == pytest.approx(acf.floor / 0.13)
    assert not acf.within_1_5x
    assert report.facts["depth_l1"].ratio == pytest.approx(120 / 180)
    assert report.targets == 9 and report.within_1_5x == 7
    out = report.to_builtins()
    assert out["summary"]["within_1_5x"] == 7 and not out["summary"]["all_within_1_5x"]
    assert set(out["facts"]["spread_p99"]) == {"real", "sim", "ratio", "within_1_5x", "floor"}


def test_several_simulated_days_are_judged_on_their_median() -> None:
    real = facts()  # kurtosis_1s 30
    days = [facts(kurtosis_1s=k) for k in (20.0, 100.0, 40.0, math.nan)]
    report = compare_market_facts(real, days)
    k = report.facts["kurtosis_1s"]
    assert k.sim == 40.0 and k.within_1_5x  # the median of the finite values
    assert k.sim_seeds[:3] == (20.0, 100.0, 40.0) and math.isnan(k.sim_seeds[3])
    assert k.seeds_within == 2  # 20 and 40 alone are within 1.5x of 30
    assert report.seeds == 4
    out = report.to_builtins()
    assert out["facts"]["kurtosis_1s"]["sim_seeds"] == [20.0, 100.0, 40.0, None]
    assert out["summary"]["seeds"] == 4
    one = compare_market_facts(real, [days[1]]).to_builtins()
    assert "sim_seeds" not in one["facts"]["kurtosis_1s"]  # one day: the fields as before
    with pytest.raises(ConfigError, match="at least one"):
        compare_market_facts(real, [])


def test_a_missing_value_is_never_within_and_encodes_as_null() -> None:
    report = compare_market_facts(facts(), facts(spread_p99=math.nan))
    assert not report.facts["spread_p99"].within_1_5x
    assert report.to_builtins()["facts"]["spread_p99"]["ratio"] is None


def tiny_day() -> LobsterDay:
    """Five rows by hand: spread 1, 3, 3, 2, 2 ticks (tick 100) held 1, 2, 1, 1 s."""
    ts = np.array([0, 1, 3, 4, 5], dtype=np.int64) * S + 34_200 * S
    typ = np.array([1, 1, 4, 4, 1], dtype=np.int64)
    messages = LobsterMessages(
        ts_ns=ts, type=typ, order_id=np.arange(5, dtype=np.int64),
        size=np.full(5, 10, dtype=np.int64), price=np.full(5, 10_000, dtype=np.int64),
        direction=np.array([1, -1, 1, 1, -1], dtype=np.int64),
    )  # fmt: skip
    ask = np.array([10_100, 10_300, 10_300, 10_300, 10_300])
    bid = np.array([10_000, 10_000, 10_000, 10_100, 10_100])
    sizes = np.array([10, 20, 30, 40, 50])
    book = np.stack([ask, sizes, bid, sizes], axis=1).astype(np.int64)
    return LobsterDay(messages=messages, book=book, levels=1)


def test_facts_of_a_day_built_by_hand() -> None:
    f = lobster_market_facts(tiny_day())
    # time at each spread: 1 tick 1 s, 3 ticks 3 s, 2 ticks 1 s (the last row lasts 0 s)
    assert (f.spread_p10, f.spread_p50, f.spread_p90, f.spread_p99) == (1.0, 3.0, 3.0, 3.0)
    assert f.spread_one_tick_share == pytest.approx(0.2)
    # depth weighted by time: (10*1 + 20*2 + 30*1 + 40*1) / 5 s
    assert f.depth == (pytest.approx(24.0),)
    # mids 100.5, 101.5, 101.5, 102, 102 ticks on the 1 s grid 0..5 s
    assert f.returns_1s == 5 and f.seconds == 5.0
    # executions at 3 s and 4 s on the same side but apart in time: two market orders
    assert market_order_times(tiny_day()).tolist() == [34_203 * S, 34_204 * S]
    assert f.mo_interarrival_under_10ms == 0.0


def test_simulation_facts_are_deterministic_per_seed() -> None:
    params = SimParams.default()
    first = simulated_market_facts(params, seconds=600, seed=3, warmup_s=60)
    assert first == simulated_market_facts(params, seconds=600, seed=3, warmup_s=60)
    assert first != simulated_market_facts(params, seconds=600, seed=4, warmup_s=60)
    assert first.seconds == 600 and first.returns_1s == 600 and first.returns_10s == 60
    assert len(first.depth) == 3 and all(d > 0 for d in first.depth)
    with pytest.raises(ConfigError, match="seconds"):
        simulated_market_facts(params, seconds=0)
    with pytest.raises(ConfigError, match="warmup_s"):
        simulated_market_facts(params, seconds=10, warmup_s=-1)


def hawkes_times(mu: float, n: float, beta: float, horizon: float, seed: int) -> np.ndarray:
    """Ogata thinning for a Hawkes process with kernel n * beta * exp(-beta t)."""
    rng = np.random.default_rng(seed)
    t, excitation, out = 0.0, 0.0, []
    while True:
        bound = mu + excitation
        dt = rng.exponential(1 / bound)
        t += dt
        if t > horizon:
            return np.asarray(out)
        excitation *= math.exp(-beta * dt)
        if rng.random() * bound < mu + excitation:
            out.append(t)
            excitation += n * beta


def test_fit_hawkes_recovers_the_branching_ratio_and_decay() -> None:
    times = hawkes_times(mu=0.5, n=0.5, beta=200.0, horizon=6_000, seed=5)
    n, beta = fit_hawkes((times * 1e9).astype(np.int64))
    assert n == pytest.approx(0.5, abs=0.05)
    assert beta == pytest.approx(200.0, rel=0.15)
    poisson = np.sort(np.random.default_rng(6).uniform(0, 6_000, 3_000))
    assert fit_hawkes((poisson * 1e9).astype(np.int64))[0] < 0.05
    with pytest.raises(ConfigError, match="times_ns"):
        fit_hawkes(np.arange(5))
    with pytest.raises(ConfigError, match="must not decrease"):
        fit_hawkes(np.arange(20)[::-1])


def test_a_message_file_without_its_orderbook_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such message file"):
        load_lobster_beside(tmp_path / "AMZN_2012-06-21_0_1_message_5.csv")
    lonely = tmp_path / "AMZN_2012-06-21_0_1_message_5.csv"
    lonely.write_text("34200.1,1,1,100,2200000,1\n")
    with pytest.raises(DataError, match="no orderbook file beside it"):
        load_lobster_beside(lonely)
    odd = tmp_path / "quotes.csv"
    odd.write_text("1\n")
    with pytest.raises(DataError, match="not a LOBSTER message file name"):
        load_lobster_beside(odd)


def test_the_real_days_facts(data_root: Path) -> None:
    day = load_lobster_beside(
        data_root / "lobster" / "AMZN_2012-06-21_34200000_57600000_message_5.csv.gz"
    )
    f = lobster_market_facts(day)
    # what the issue measured on AMZN (time-weighted spreads here)
    assert f.kurtosis_1s == pytest.approx(35.6, abs=0.1)
    assert f.abs_ret_acf_10s_lag2 == pytest.approx(0.137, abs=0.001)
    assert f.mo_interarrival_under_10ms == pytest.approx(0.40, abs=0.005)
    assert (f.spread_p10, f.spread_p50, f.spread_p90, f.spread_p99) == (7, 12, 18, 35)
    assert f.spread_one_tick_share == pytest.approx(0.0024, abs=0.0002)
