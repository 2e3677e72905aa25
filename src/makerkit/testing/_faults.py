"""Fault injection for executor tests: a task that kills its own worker once."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

__all__ = ["always_crash", "crash_once", "square"]


def crash_once(job: tuple[str, int]) -> dict[str, Any]:
    """The first call with a fresh marker path kills its process; later calls answer."""
    marker, value = Path(job[0]), job[1]
    if value == 3 and not marker.exists():
        marker.write_text("crashed")
        os._exit(17)  # a lost worker, not an exception: no cleanup, no result
    return {"value": value * value, "pid": os.getpid()}


def square(job: tuple[str, int]) -> dict[str, Any]:
    """Answers, or raises for negative values (a task's own failure)."""
    if job[1] < 0:
        msg = f"negative value {job[1]}"
        raise ValueError(msg)
    return {"value": job[1] * job[1]}


def always_crash(value: int) -> dict[str, Any]:
    """Kills its process for 5, every time; answers for anything else."""
    if value == 5:
        os._exit(17)
    return {"value": value * value}
