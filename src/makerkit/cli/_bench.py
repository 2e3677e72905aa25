"""Order-book benchmark: every engine on the same inputs in one run (medians and ratios)."""

from __future__ import annotations

import platform
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

from makerkit.backtest import apply_stream, replay_lobster
from makerkit.book import available_backends, make_book
from makerkit.core.clock import monotonic_ns
from makerkit.data import load_lobster, lobster_pairs, synthetic_stream

__all__ = ["run_book_bench"]


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _median_rate(runs: int, count: int, once: Callable[[], float]) -> tuple[float, list[float]]:
    rates = [count / once() for _ in range(runs)]
    return statistics.median(rates), rates


def run_book_bench(
    *,
    repeat: int = 5,
    mix_events: int = 300_000,
    data: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Measure LOBSTER replay (checked) and a synthetic command mix per engine."""
    say = progress or (lambda _msg: None)
    result: dict[str, Any] = {
        "machine": {"python": platform.python_version(), "cpu": _cpu_name()},
        "repeat": repeat,
        "backends": available_backends(),
        "lobster": [],
        "mix": {},
    }
    pairs = lobster_pairs(data)
    totals: dict[str, list[float]] = {}
    for message, orderbook in pairs:
        day = load_lobster(message, orderbook)
        row: dict[str, Any] = {"file": message.name, "messages": len(day), "levels": day.levels}
        for backend in available_backends():
            say(f"replaying {message.name} with the {backend} engine")

            def once(backend: str = backend, day: Any = day) -> float:
                report, _ = replay_lobster(day, engine=backend, check=True)
                if report.mismatched_rows:
                    msg = f"benchmark replay mismatched: {report.first_mismatch}"
                    raise RuntimeError(msg)
                return report.seconds

            median, rates = _median_rate(repeat, len(day), once)
            row[f"{backend}_msgs_per_sec"] = median
            row[f"{backend}_runs"] = rates
            totals.setdefault(backend, []).append(median)
        result["lobster"].append(row)
    stream = synthetic_stream(mix_events, seed=11)
    for backend in available_backends():
        say(f"synthetic mix of {mix_events:,} commands with the {backend} engine")

        def once_mix(backend: str = backend) -> float:
            book = make_book(backend)
            started = monotonic_ns()
            apply_stream(book, stream)
            return (monotonic_ns() - started) / 1e9

        median, rates = _median_rate(repeat, mix_events, once_mix)
        result["mix"][backend] = {"ops_per_sec": median, "runs": rates}
    for backend, medians in totals.items():
        # the slowest file is the honest headline figure
        result[f"{backend}_msgs_per_sec"] = min(medians)
    for backend, mix in result["mix"].items():
        result[f"{backend}_mix_ops_per_sec"] = mix["ops_per_sec"]
    return result
