"""Calibration: a simulation fitted to a LOBSTER day reproduces its stylised facts."""

from __future__ import annotations

from pathlib import Path

import pytest

from makerkit.core import DataError
from makerkit.data import load_lobster
from makerkit.data._calibrate import calibrate_lobster, lobster_facts, simulate_facts

AMZN = "AMZN_2012-06-21_34200000_57600000_{}_5.csv.gz"
GOOG = "GOOG_2012-06-21_34200000_57600000_{}_10.csv.gz"


def facts_of(data_root: Path, name: str) -> tuple[object, object]:
    day = load_lobster(
        data_root / "lobster" / name.format("message"),
        data_root / "lobster" / name.format("orderbook"),
    )
    return lobster_facts(day), simulate_facts(calibrate_lobster(day), 200_000)


@pytest.mark.parametrize("name", [AMZN, GOOG])
def test_calibrated_day_within_tolerance(data_root: Path, name: str) -> None:
    data, sim = facts_of(data_root, name)
    assert sim.mean_spread_ticks == pytest.approx(data.mean_spread_ticks, rel=0.25)
    # the depth profile at the first levels, not only the touch
    for level in range(3):
        assert sim.depth[level] == pytest.approx(data.depth[level], rel=0.25)
    for share in ("add_share", "cancel_share", "market_share"):
        assert getattr(sim, share) == pytest.approx(getattr(data, share), abs=0.05)
    assert sim.mean_trade_size == pytest.approx(data.mean_trade_size, rel=0.1)


def test_the_fit_only_scales_what_the_counts_cannot_pin_down(data_root: Path) -> None:
    day = load_lobster(
        data_root / "lobster" / AMZN.format("message"),
        data_root / "lobster" / AMZN.format("orderbook"),
    )
    raw, fitted = calibrate_lobster(day, fit=False), calibrate_lobster(day)
    assert raw.limit_rate == fitted.limit_rate and raw.market_rate == fitted.market_rate
    assert raw.cancel_rate[1:] == fitted.cancel_rate[1:]
    ratios = {
        round(f / r, 6) for f, r in zip(fitted.improve_rate, raw.improve_rate, strict=True) if r
    }
    assert len(ratios) == 1  # one factor on the whole improvement profile


def test_too_short_a_day_is_refused(data_root: Path) -> None:
    day = load_lobster(
        data_root / "lobster" / AMZN.format("message"),
        data_root / "lobster" / AMZN.format("orderbook"),
    )
    short = type(day)(
        messages=type(day.messages)(
            **{
                f: getattr(day.messages, f)[:500]
                for f in ("ts_ns", "type", "order_id", "size", "price", "direction")
            }
        ),
        book=day.book[:500],
        levels=day.levels,
    )
    with pytest.raises(DataError, match="need >= 1000"):
        calibrate_lobster(short)
