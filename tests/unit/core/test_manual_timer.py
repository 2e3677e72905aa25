"""The injected timer: a paced loop steps exactly with the time a test gives it."""

from __future__ import annotations

import asyncio

import pytest

from makerkit.core import ConfigError, LoopTimer, ManualTimer, Timer


def test_sleepers_wake_in_order_and_exactly_at_their_time() -> None:
    async def scenario() -> None:
        timer = ManualTimer()
        woke: list[tuple[str, float]] = []

        async def ticker(name: str, period: float, times: int) -> None:
            for _ in range(times):
                await timer.sleep(period)
                woke.append((name, timer.elapsed_s()))

        tasks = [asyncio.create_task(ticker("a", 0.010, 5)),
                 asyncio.create_task(ticker("b", 0.025, 2))]  # fmt: skip
        await timer.advance(0.02)
        assert woke == [("a", 0.01), ("a", 0.02)]
        await timer.advance(0.04)
        # at 0.05 both are due: the one that went to sleep first wakes first
        assert woke[2:] == [("b", 0.025), ("a", 0.03), ("a", 0.04), ("b", 0.05), ("a", 0.05)]
        assert timer.elapsed_s() == pytest.approx(0.06)
        await asyncio.gather(*tasks)

    asyncio.run(scenario())


def test_time_never_goes_back_and_both_timers_are_timers() -> None:
    async def scenario() -> None:
        with pytest.raises(ConfigError, match="seconds"):
            await ManualTimer().advance(-1.0)

    asyncio.run(scenario())
    assert isinstance(ManualTimer(), Timer) and isinstance(LoopTimer(), Timer)
    assert LoopTimer().elapsed_s() >= 0.0
