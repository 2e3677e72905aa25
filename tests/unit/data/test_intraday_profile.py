"""The day's intraday shape: a wide, jumpy opening read from a day and replayed by the simulator."""

from __future__ import annotations

import msgspec
import numpy as np
import pytest

from makerkit.core import ConfigError
from makerkit.data import LobsterDay, LobsterMessages, MarketSimulator, SimParams
from makerkit.data._calibrate import intraday_profiles

STEP = 60.0
OPENING = (4.0, 2.0)  # the price scale of the first two minutes; 1 after them
MINUTES = 10
LOBSTER_TYPE = np.array([1, 3, 0, 4])  # add, cancel, -, market order (an execution)


def shaped(**changes: object) -> SimParams:
    """The default market improving by ratios of the spread (as calibrated ones do), busy
    enough that each minute forgets the last one's book."""
    busy = {
        "activity_profile": (4.0,) * MINUTES,
        "profile_step": STEP,
        "improve_ratio": (0.6, 0.8, 0.9),
    }
    return msgspec.structs.replace(SimParams.default(), **{**busy, **changes})


def simulated_minutes(params: SimParams, seed: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """(times ns, L1 rows) of ``MINUTES`` simulated minutes, one chunk per call."""
    sim = MarketSimulator(params, seed=seed)
    end = params.start_ns + int(MINUTES * STEP * 1e9)
    ts, l1 = [], []
    while True:
        run = sim.run(50_000, until_ns=end)
        ts.append(run.stream.ts)
        l1.append(run.l1)
        if len(run) < 50_000:
            break
    return np.concatenate(ts), np.concatenate(l1)


def as_lobster_day(params: SimParams, seed: int = 5) -> LobsterDay:
    """A simulated market written as a level-1 LOBSTER day (prices in cents of a 1-cent tick)."""
    sim = MarketSimulator(params, seed=seed)
    end = params.start_ns + int(MINUTES * STEP * 1e9)
    runs = []
    while True:
        run = sim.run(50_000, until_ns=end)
        runs.append(run)
        if len(run) < 50_000:
            break
    cols = {
        f: np.concatenate([getattr(r.stream, f) for r in runs]) for f in ("action", "ts", "qty")
    }
    side = np.concatenate([r.stream.side for r in runs])
    l1 = np.concatenate([r.l1 for r in runs])
    keep = (l1[:, 1] > 0) & (l1[:, 3] > 0)
    n = int(keep.sum())
    messages = LobsterMessages(
        ts_ns=cols["ts"][keep], type=LOBSTER_TYPE[cols["action"][keep]],
        order_id=np.arange(n, dtype=np.int64), size=cols["qty"][keep],
        price=l1[keep, 0] * 100, direction=side[keep],
    )  # fmt: skip
    book = np.stack([l1[keep, 2] * 100, l1[keep, 3], l1[keep, 0] * 100, l1[keep, 1]], axis=1)
    return LobsterDay(messages=messages, book=book.astype(np.int64), levels=1)


def test_the_profile_recovers_a_known_opening() -> None:
    day = as_lobster_day(shaped(price_profile=OPENING))
    scale, speed = intraday_profiles(day, STEP)
    assert scale.size == speed.size == MINUTES
    later = float(np.median(scale[2:]))
    # each window's scale over the later ones: the opening the day was built with
    assert scale[0] / later == pytest.approx(OPENING[0], rel=0.3)
    assert scale[1] / later == pytest.approx(OPENING[1], rel=0.3)
    assert np.all(np.abs(scale[2:] / later - 1) < 0.45)
    # the opening's larger moves are its scale, not a faster clock
    assert np.all((speed > 0.5) & (speed < 2.0))
    assert speed.mean() == pytest.approx(1.0)


def test_a_root_scale_leaves_the_rest_of_the_variance_to_the_clock() -> None:
    day = as_lobster_day(shaped(price_profile=OPENING))
    whole, whole_speed = intraday_profiles(day, STEP)
    root, root_speed = intraday_profiles(day, STEP, exponent=0.5)
    flat, _ = intraday_profiles(day, STEP, exponent=0.0)
    np.testing.assert_allclose(root, np.sqrt(whole), rtol=1e-12)
    np.testing.assert_array_equal(flat, np.ones(MINUTES))
    # the opening's variance the root scale leaves out is read as a faster clock
    assert root_speed[0] / root_speed[5] > 1.3 * whole_speed[0] / whole_speed[5]
    for bad in (-0.5, 2.5, float("nan")):
        with pytest.raises(ConfigError, match="exponent"):
            intraday_profiles(day, STEP, exponent=bad)


def test_a_day_without_an_opening_reads_flat() -> None:
    scale, _ = intraday_profiles(as_lobster_day(shaped()), STEP)
    assert np.all(np.abs(scale / np.median(scale) - 1) < 0.45)


def test_the_simulated_opening_is_wider_and_jumpier_than_later() -> None:
    for profile in (OPENING, ()):
        ts, l1 = simulated_minutes(shaped(price_profile=profile))
        minute = (ts - ts[0]) // int(STEP * 1e9)
        both = (l1[:, 0] > 0) & (l1[:, 2] > 0)
        ts, minute, l1 = ts[both], minute[both], l1[both]
        spread = (l1[:, 2] - l1[:, 0]).astype(np.float64)
        moves = np.abs(np.diff((l1[:, 0] + l1[:, 2]) / 2))
        first, rest = minute == 0, minute >= 2
        wide = spread[first].mean() / spread[rest].mean()
        moved = moves > 0
        jumpy = moves[first[1:] & moved].mean() / moves[rest[1:] & moved].mean()
        if profile:
            assert wide > 2.5 and jumpy > 2.5, (wide, jumpy)
        else:
            assert 0.7 < wide < 1.4 and 0.7 < jumpy < 1.4, (wide, jumpy)


def test_older_parameter_files_load_without_a_price_profile() -> None:
    old = msgspec.json.encode(SimParams.default())
    legacy = msgspec.json.encode(
        {k: v for k, v in msgspec.to_builtins(SimParams.default()).items() if k != "price_profile"}
    )
    assert b"price_profile" in old and b"price_profile" not in legacy
    assert msgspec.json.decode(legacy, type=SimParams) == SimParams.default()


def test_a_window_under_a_second_is_refused() -> None:
    with pytest.raises(ConfigError, match="step_s"):
        intraday_profiles(as_lobster_day(shaped()), 0.5)
