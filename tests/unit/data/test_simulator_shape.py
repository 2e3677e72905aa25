"""The simulator's day-shape options: off by default, one algorithm in both engines."""

from __future__ import annotations

import msgspec
import pytest

from makerkit.book import available_backends
from makerkit.core import ConfigError
from makerkit.data import MarketSimulator, SimParams, simulate
from tests.unit.data.test_simulator import same_run

SHAPED = {
    "improve_ratio": (0.3, 0.6, 0.8, 0.9, 0.95),
    "market_rate_by_spread": (3.0, 1.0, 0.5, 0.2),
    "touch_cancel_by_spread": (1.0, 0.5, 0.3, 0.2, 0.1),
    "market_within_touch": 0.9,
    "hawkes_alpha": 50.0,
    "hawkes_beta": 200.0,
    "activity_sigma": 0.7,
    "activity_tau": 50.0,
    "activity_step": 0.5,
    "profile_step": 30.0,
    "activity_profile": (3.0, 0.5, 1.5),
    "price_profile": (3.5, 0.6, 1.4),
}


@pytest.mark.skipif("native" not in available_backends(), reason="needs the native engine")
@pytest.mark.parametrize(
    "change",
    [
        SHAPED,
        {"activity_profile": (2.0, 0.7), "profile_step": 20.0},
        {"activity_sigma": 0.3},
        {"price_profile": (4.2, 0.5, 2.0), "profile_step": 15.0},
    ],
    ids=["all", "profile-only", "clock-only", "price-scale-only"],
)
def test_native_and_python_draw_the_same_shaped_market(change: dict[str, object]) -> None:
    params = msgspec.structs.replace(SimParams.default(), **change)
    native = MarketSimulator(params, seed=3, backend="native")
    python = MarketSimulator(params, seed=3, backend="python")
    for chunk in (4000, 1, 9000):
        assert same_run(native.run(chunk), python.run(chunk))
    assert native.seconds == python.seconds


def test_the_defaults_are_the_original_model(backend: str) -> None:
    # each option set to its default value draws the same market as leaving it out
    neutral = msgspec.structs.replace(
        SimParams.default(), improve_ratio=(), market_rate_by_spread=(),
        touch_cancel_by_spread=(), market_within_touch=0.0, activity_sigma=0.0,
        activity_profile=(), price_profile=(1.0, 1.0),
    )  # fmt: skip
    assert same_run(
        simulate(neutral, 5000, seed=2, backend=backend),
        simulate(SimParams.default(), 5000, seed=2, backend=backend),
    )


def test_each_option_changes_the_market(backend: str) -> None:
    base = simulate(SimParams.default(), 8000, seed=2, backend=backend)
    for name in SHAPED:
        if name.startswith(("hawkes", "activity_t")) or name in ("activity_step", "profile_step"):
            continue  # older options, or ones that shape an option, not the market on their own
        params = msgspec.structs.replace(SimParams.default(), **{name: SHAPED[name]})
        assert not same_run(simulate(params, 8000, seed=2, backend=backend), base), name


def test_a_busy_clock_runs_calendar_time_faster(backend: str) -> None:
    busy = msgspec.structs.replace(SimParams.default(), activity_profile=(4.0,), profile_step=1e6)
    slow = simulate(SimParams.default(), 20_000, seed=1, backend=backend).seconds
    fast = simulate(busy, 20_000, seed=1, backend=backend).seconds
    assert fast == pytest.approx(slow / 4, rel=0.1)


def test_market_orders_within_the_touch_never_walk_the_book(backend: str) -> None:
    params = msgspec.structs.replace(
        SimParams.default(), market_within_touch=1.0, market_sizes=(500,), market_size_cdf=(1.0,)
    )
    sim = MarketSimulator(params, seed=4, backend=backend)
    sim.run(2000)
    for _ in range(200):
        before = sim.book.best_bid(), sim.book.best_ask()
        run = sim.run(1)
        if run.stream.action[0] == 3 and all(before):
            touch = before[1] if run.stream.side[0] == 1 else before[0]
            assert touch is not None
            assert run.stream.qty[0] == min(500, touch[1])


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"improve_ratio": (0.5, 1.5)}, "improve_ratio"),
        ({"market_rate_by_spread": (1.0, -1.0)}, "market_rate_by_spread"),
        ({"touch_cancel_by_spread": (float("nan"),)}, "touch_cancel_by_spread"),
        ({"market_within_touch": 1.2}, "market_within_touch"),
        ({"activity_sigma": -0.1}, "activity_sigma"),
        ({"activity_tau": 0.0}, "activity_tau"),
        ({"activity_step": float("inf")}, "activity_step"),
        ({"profile_step": -5.0}, "profile_step"),
        ({"activity_profile": (1.0, 0.0)}, "activity_profile"),
        ({"price_profile": (2.0, -1.0)}, "price_profile"),
        ({"price_profile": (float("inf"),)}, "price_profile"),
    ],
)
def test_bad_shape_parameters_name_the_field(change: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        msgspec.structs.replace(SimParams.default(), **change)
