"""Time seam: the only module allowed to read the wall clock.

Everything else takes a :class:`Clock`, so a backtest and a live run execute
the same code with different clocks.
"""

from __future__ import annotations

import time
from typing import Protocol, runtime_checkable

from makerkit.core.errors import ConfigError

__all__ = ["Clock", "LiveClock", "SimClock", "monotonic_ns"]


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

    def advance_by(self, delta_ns: int) -> None:
        """Move time forward by ``delta_ns``."""
        self.advance_to(self._now + delta_ns)


def monotonic_ns() -> int:
    """Return a monotonic timer reading for measuring durations (not timestamps)."""
    return time.perf_counter_ns()
