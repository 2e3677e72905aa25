from __future__ import annotations

import pytest

from makerkit.core import Clock, ConfigError, LiveClock, SimClock


def test_sim_clock_moves_only_forward() -> None:
    clock = SimClock(10)
    clock.advance_by(5)
    assert clock.now_ns() == 15
    clock.advance_to(20)
    with pytest.raises(ConfigError, match="ts_ns"):
        clock.advance_to(19)
    assert isinstance(clock, Clock) and isinstance(LiveClock(), Clock)
    assert LiveClock().now_ns() > 1_600_000_000 * 10**9


def test_catch_up_follows_a_later_time_and_keeps_an_earlier_one() -> None:
    clock = SimClock(100)
    assert clock.catch_up(150) == 150
    assert clock.catch_up(120) == 150  # never backwards: the time stays
    assert clock.now_ns() == 150
    assert clock.catch_up(150) == 150
