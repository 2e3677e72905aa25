"""Time windows in market time: ``start=HH:MM[:SS]`` and ``end=`` on any data spec.

A window is what makes an in-sample / out-of-sample split possible: fit and
choose on one window, judge on the next. The book is still rebuilt from the
start of the data (depth streams are diffs, the simulator needs its warm-up);
the strategy's first decision is at ``start`` and the run stops at ``end``.
Market time is the time of day of the data's own clock: nanoseconds after
midnight for LOBSTER and the simulator, UTC for exchange captures.
"""

from __future__ import annotations

import msgspec
import numpy as np

from makerkit.backtest._events import MarketEvents
from makerkit.core.errors import ConfigError

__all__ = ["DAY_NS", "Window", "clock", "events_before", "parse_time_of_day", "window_events"]

DAY_NS = 86_400 * 10**9


def parse_time_of_day(text: str, *, name: str = "start") -> int:
    """``HH:MM`` or ``HH:MM:SS`` (seconds may have a fraction) -> ns after midnight."""
    parts = str(text).split(":")
    try:
        if len(parts) not in (2, 3):
            raise ValueError
        hours, minutes = int(parts[0]), int(parts[1])
        seconds = float(parts[2]) if len(parts) == 3 else 0.0
    except ValueError:
        msg = f"invalid `{name}` {text!r}, must be HH:MM or HH:MM:SS in market time"
        raise ConfigError(msg) from None
    if not (0 <= hours < 24 and 0 <= minutes < 60 and 0 <= seconds < 60):
        msg = f"invalid `{name}` {text!r}, must be a time of day (00:00 to 23:59:59)"
        raise ConfigError(msg)
    return (hours * 3600 + minutes * 60) * 10**9 + round(seconds * 1e9)


class Window(msgspec.Struct, frozen=True):
    """[start, end) in ns after midnight; None: from the data's start / to its end."""

    start: int | None = None
    end: int | None = None

    @classmethod
    def parse(cls, start: str | None, end: str | None, *, same_day: bool = True) -> Window:
        """A window from the spec's ``start=`` and ``end=`` texts, checked.

        ``same_day=False`` (a range of days: ``end`` is on the last) lets ``end`` be
        earlier in the day than ``start``.
        """
        s = parse_time_of_day(start, name="start") if start is not None else None
        e = parse_time_of_day(end, name="end") if end is not None else None
        if same_day and s is not None and e is not None and e <= s:
            msg = f"invalid window, `end` {end} must be after `start` {start}"
            raise ConfigError(msg)
        return cls(s, e)

    @property
    def empty(self) -> bool:
        """No window: the whole data."""
        return self.start is None and self.end is None


def clock(ns: int) -> str:
    """A time of day for messages, HH:MM:SS.mmm."""
    tod = ns % DAY_NS
    return f"{tod // 3_600_000_000_000:02d}:{tod // 60_000_000_000 % 60:02d}:{tod / 1e9 % 60:06.3f}"


def events_before(events: MarketEvents, stop: int) -> MarketEvents:
    """The first ``stop`` events (all of them when ``stop`` reaches the end)."""
    if stop >= len(events):
        return events
    cut = slice(0, stop)
    return msgspec.structs.replace(
        events, ts=events.ts[cut], kind=events.kind[cut], side=events.side[cut],
        price=events.price[cut], qty=events.qty[cut],
        ref=events.ref[cut] if events.ref is not None else None,
    )  # fmt: skip


def window_events(
    events: MarketEvents, window: Window, *, first_day_ns: int | None = None,
    last_day_ns: int | None = None,
) -> MarketEvents:  # fmt: skip
    """``events`` replayed to ``window.end``, with the first decision at ``window.start``.

    Everything before the start still rebuilds the book. A window outside the
    data is refused with the data's own time range. ``start`` is a time of the
    day at ``first_day_ns`` and ``end`` of the day at ``last_day_ns`` (a range of
    days); by default both are the day of the first event.
    """
    if window.empty or len(events) == 0:
        return events
    ts = events.ts
    base = int(ts[0]) - int(ts[0]) % DAY_NS  # midnight of the data's first day
    first_base = base if first_day_ns is None else first_day_ns
    last_base = base if last_day_ns is None else last_day_ns
    first, last = int(ts[0]), int(ts[-1])
    start = first_base + window.start if window.start is not None else events.start_ns
    end = last_base + window.end if window.end is not None else last + 1
    if start >= last or end <= max(first, events.start_ns) or end <= start:
        msg = (
            f"invalid window {clock(start)}-{clock(end)}: the data "
            f"({events.source} {events.symbol}) runs from {clock(first)} to {clock(last)}"
            f" and its book is complete from {clock(events.start_ns)}"
        )
        raise ConfigError(msg)
    cut = events_before(events, int(np.searchsorted(ts, end, side="left")))
    return msgspec.structs.replace(cut, start_ns=max(events.start_ns, start))
