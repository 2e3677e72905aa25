"""Time seam: the only module allowed to read the wall clock.

Everything else takes a :class:`Clock`, so a backtest and a live run execute
the same code with different clocks.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol, runtime_checkable

from makerkit.core.errors import ConfigError

__all__ = ["Clock", "LiveClock", "LoopTimer", "ManualTimer", "SimClock", "Timer", "monotonic_ns"]


@runtime_checkable
class Clock(Protocol):
    """Source of nanosecond timestamps."""

    def now_ns(self) -> int:
        """Return the current time in nanoseconds since the epoch."""
        ...


class LiveClock:
    """Wall-clock time for live trading."""

    def now_ns(self) -> int:
        """Return the wall-clock time in nanoseconds."""
        return time.time_ns()


class SimClock:
    """Simulated time that moves only when told to; never goes backwards."""

    def __init__(self, start_ns: int = 0) -> None:
        self._now = start_ns

    def now_ns(self) -> int:
        """Return the simulated time."""
        return self._now

    def advance_to(self, ts_ns: int) -> None:
        """Move time forward to ``ts_ns``."""
        if ts_ns < self._now:
            msg = f"invalid `ts_ns`, must be >= current time {self._now}, was {ts_ns}"
            raise ConfigError(msg)
        self._now = ts_ns

    def catch_up(self, ts_ns: int) -> int:
        """Move time forward to ``ts_ns`` unless it is already later; return the time now.

        For a clock that follows another, never going backwards: one call where
        ``advance_to(max(ts_ns, now_ns()))`` takes three.
        """
        if ts_ns > self._now:
            self._now = ts_ns
        return self._now

    def advance_by(self, delta_ns: int) -> None:
        """Move time forward by ``delta_ns``."""
        self.advance_to(self._now + delta_ns)


@runtime_checkable
class Timer(Protocol):
    """What paces a loop in an event loop: elapsed seconds, and a sleep.

    The venue's market and replay drivers take one, so a test steps time
    (``ManualTimer``) instead of sleeping and hoping the loop ran.
    """

    def elapsed_s(self) -> float:
        """Seconds since the timer started."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of this timer's time."""
        ...


class LoopTimer:
    """Real time: the monotonic clock and ``asyncio.sleep``."""

    def __init__(self) -> None:
        self._start = time.monotonic()

    def elapsed_s(self) -> float:
        """Seconds since it was made."""
        return time.monotonic() - self._start

    async def sleep(self, seconds: float) -> None:
        """``asyncio.sleep``."""
        await asyncio.sleep(seconds)


class ManualTimer:
    """Time that moves only when a test calls ``advance``; sleepers wake exactly then.

    Time is kept in integer nanoseconds, so sixty 5 ms ticks are exactly 0.3 s.
    ``advance`` returns once every task it woke has run to its next sleep (or
    ended), so what the paced loop did is visible right after it.
    """

    def __init__(self) -> None:
        self._now = 0  # ns
        self._sleepers: list[tuple[int, asyncio.Future[None]]] = []

    def elapsed_s(self) -> float:
        """The time advanced so far."""
        return self._now / 1e9

    async def sleep(self, seconds: float) -> None:
        """Wait until ``advance`` has moved time ``seconds`` on."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        # at least 1 ns: a zero sleep would be due again at once and never let time move
        self._sleepers.append((self._now + max(round(seconds * 1e9), 1), future))
        await future

    async def advance(self, seconds: float, *, settle_turns: int = 50) -> None:
        """Move time on by ``seconds``, in the sleepers' own steps, and let them run."""
        if seconds < 0:
            msg = f"invalid `seconds`, must be >= 0, was {seconds}"
            raise ConfigError(msg)
        target = self._now + round(seconds * 1e9)
        await self._settle(settle_turns)  # tasks just started reach their first sleep
        while True:
            due = [t for t, f in self._sleepers if t <= target and not f.done()]
            if not due:
                break
            self._now = max(self._now, min(due))  # the next wake-up: one loop turn at a time
            woken = [(t, f) for t, f in self._sleepers if t <= self._now]
            self._sleepers = [(t, f) for t, f in self._sleepers if t > self._now]
            asleep = len(self._sleepers)
            for _, future in woken:
                if not future.done():
                    future.set_result(None)
            for _ in range(settle_turns):  # until each woken task sleeps again (or ends)
                await asyncio.sleep(0)
                if len(self._sleepers) >= asleep + len(woken):
                    break
        self._now = target

    async def _settle(self, turns: int) -> None:
        """Yield to the loop until the number of sleepers stops changing."""
        count, still = len(self._sleepers), 0
        for _ in range(turns):
            await asyncio.sleep(0)
            still = still + 1 if len(self._sleepers) == count else 0
            count = len(self._sleepers)
            if still >= 2:
                return


def monotonic_ns() -> int:
    """Return a monotonic timer reading for measuring durations (not timestamps)."""
    return time.perf_counter_ns()
