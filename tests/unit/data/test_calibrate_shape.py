"""Calibrating the day's shape on the real LOBSTER data: what it reads, and that it fits."""

from __future__ import annotations

import gzip
import math
from pathlib import Path

import msgspec
import pytest

from makerkit.core import ConfigError
from makerkit.data import (
    FACT_TARGETS,
    MarketFacts,
    SimParams,
    calibrate_lobster,
    calibrate_shape,
    compare_market_facts,
    load_lobster_beside,
    lobster_market_facts,
    simulated_market_facts,
)

AMZN = "AMZN_2012-06-21_34200000_57600000_{}_5.csv.gz"
GOOG_L1 = "GOOG_2012-06-21_34200000_57600000_{}_1.csv.gz"


def lobster_window(data_root: Path, name: str, minutes: float, folder: Path) -> Path:
    """Write the first ``minutes`` of a real day as a message/orderbook pair; the message file."""
    lines = gzip.decompress((data_root / "lobster" / name.format("message")).read_bytes())
    messages = lines.decode().splitlines()
    end = 34_200 + 60 * minutes
    rows = sum(1 for line in messages if float(line.split(",", 1)[0]) < end)
    book = gzip.decompress((data_root / "lobster" / name.format("orderbook")).read_bytes())
    book_rows = book.decode().splitlines()
    stem = name.replace("57600000", str(int(end * 1000))).removesuffix(".gz")
    message = folder / stem.format("message")
    message.write_text("\n".join(messages[:rows]) + "\n")
    (folder / stem.format("orderbook")).write_text("\n".join(book_rows[:rows]) + "\n")
    return message


def test_what_the_calibration_reads_from_a_day(data_root: Path) -> None:
    day = load_lobster_beside(data_root / "lobster" / AMZN.format("message"))
    p = calibrate_shape(day, fit=False)
    assert len(p.improve_ratio) == 40 and all(0 < r <= 1 for r in p.improve_ratio)
    assert p.improve_ratio[20] == pytest.approx(0.88, abs=0.05)  # an improver keeps ~88%
    # takers cross far more often when the spread is one or two ticks
    wide = sorted(p.market_rate_by_spread)[len(p.market_rate_by_spread) // 2]
    assert p.market_rate_by_spread[0] > 10 * wide
    assert p.touch_cancel_by_spread[0] > 2 * p.touch_cancel_by_spread[9]
    assert 0.9 < p.market_within_touch < 1.0
    branching = p.hawkes_alpha / p.hawkes_beta
    assert 0.35 < branching < 0.55 and 100 < p.hawkes_beta < 500  # a few milliseconds
    assert 60 <= p.activity_tau <= 3600
    # the file hides orders beyond its five levels: deeper arrivals are counted over the
    # time they were visible, so they are not the raw per-day counts
    assert len(p.limit_rate) == len(p.cancel_rate) >= 13
    assert p.limit_rate[12] > 3 * calibrate_lobster(day, fit=False).limit_rate[12]


def test_a_level_one_file_gets_a_book_behind_the_touch(data_root: Path, tmp_path: Path) -> None:
    day = load_lobster_beside(lobster_window(data_root, GOOG_L1, 30, tmp_path))
    p = calibrate_shape(day, fit=False)
    assert len(p.limit_rate) >= 10
    assert all(r > 0 for r in p.limit_rate[1:])  # inferred from how far an emptied touch recedes


def test_the_fit_meets_the_days_spread_and_clustering(data_root: Path, tmp_path: Path) -> None:
    day = load_lobster_beside(lobster_window(data_root, AMZN, 20, tmp_path))
    params = calibrate_shape(day)
    assert params == calibrate_shape(day)  # deterministic
    # a minute's profile: the price scale and the clock's speed, the opening wider than later
    assert params.profile_step == 60.0
    assert len(params.activity_profile) == len(params.price_profile) == 20
    assert params.price_profile[0] > 1.5 * sum(params.price_profile[-5:]) / 5
    real = lobster_market_facts(day)
    report = compare_market_facts(real, simulated_market_facts(params, seconds=real.seconds))
    for name in ("spread_p10", "spread_p50", "spread_p90", "mo_interarrival_under_10ms"):
        assert report.facts[name].within_1_5x, (name, report.facts[name])


def worst_fact(real: MarketFacts, params: SimParams, seeds: range) -> float:
    """The largest |log(sim / real)| over the targets, each the median over ``seeds``."""
    days = [simulated_market_facts(params, seconds=real.seconds, seed=s, levels=0) for s in seeds]
    report = compare_market_facts(real, days)
    return max(abs(math.log(report.facts[name].ratio)) for name in FACT_TARGETS)


@pytest.mark.slow
def test_the_fit_keeps_the_price_scale_that_holds_on_days_it_never_saw(data_root: Path) -> None:
    """On AMZN the root of the spread ratio: its tails are nearer the day's on the report's days."""
    day = load_lobster_beside(data_root / "lobster" / AMZN.format("message"))
    real = lobster_market_facts(day)
    whole = calibrate_shape(day, exponents=(1.0,))
    root = calibrate_shape(day)  # chooses between the whole ratio and its root
    assert root.price_profile == pytest.approx([k**0.5 for k in whole.price_profile], abs=1e-5)
    # judged on the days `data facts` shows by default (seeds 1-27), which the choice never saw
    assert worst_fact(real, root, range(1, 28)) < worst_fact(real, whole, range(1, 28))


def test_a_bad_exponent_or_depth_is_refused_before_any_work(data_root: Path) -> None:
    day = load_lobster_beside(data_root / "lobster" / AMZN.format("message"))
    for bad in ((), (1.0, -1.0), (float("inf"),)):
        with pytest.raises(ConfigError, match="exponents"):
            calibrate_shape(day, exponents=bad)
    with pytest.raises(ConfigError, match="levels"):
        simulated_market_facts(SimParams.default(), seconds=10, levels=-1)


def test_facts_without_depth_are_the_same_days() -> None:
    """The fit skips the once-a-second depth samples; every other fact must not move."""
    params = msgspec.structs.replace(SimParams.default(), activity_sigma=0.3, activity_tau=60.0)
    full = simulated_market_facts(params, seconds=600, seed=3, warmup_s=60)
    quick = simulated_market_facts(params, seconds=600, seed=3, warmup_s=60, levels=0)
    assert full.depth and not quick.depth
    assert msgspec.structs.replace(full, depth=()) == quick
