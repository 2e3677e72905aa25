"""Order-book benchmark: every engine on the same inputs in one run (medians and ratios)."""

from __future__ import annotations

import importlib.util
import platform
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from makerkit.backtest import apply_stream, replay_lobster
from makerkit.book import available_backends, make_book
from makerkit.core.clock import monotonic_ns
from makerkit.data import load_lobster, lobster_pairs, synthetic_stream

__all__ = ["run_book_bench"]

PEERS = ("hftbacktest", "nautilus_trader")


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


def _replay_modes() -> list[tuple[str, str, bool, bool]]:
    """(name, engine, batch, check) for every mode this install can run."""
    modes = [("python", "python", False, True)]
    if "native" in available_backends():
        modes += [
            ("native_percall", "native", False, True),
            ("native_batch", "native", True, True),
            ("native_batch_nocheck", "native", True, False),
        ]
    return modes


def _percall_latency(backend: str, pairs: int = 200_000) -> dict[str, float]:
    """Add+cancel round trips from Python; each sample includes one timer read (~30-60 ns)."""
    book = make_book(backend, fill_history=16)
    for oid in range(1, 201):  # a realistic resting book around the quotes
        book.submit(oid, 1, 1000 - oid % 20, 5)
        book.submit(1000 + oid, -1, 1001 + oid % 20, 5)
    submit, cancel, now = book.submit, book.cancel, monotonic_ns
    samples = np.empty(pairs, dtype=np.int64)
    for i in range(pairs):
        oid = 10_000 + i
        started = now()
        submit(oid, 1, 990, 1)
        cancel(oid)
        samples[i] = now() - started
    p50, p99, p999 = np.percentile(samples[pairs // 10 :], [50, 99, 99.9]) / 1000.0
    return {"p50_us": float(p50), "p99_us": float(p99), "p999_us": float(p999)}


def run_book_bench(
    *,
    repeat: int = 5,
    mix_events: int = 300_000,
    data: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Measure LOBSTER replay, a synthetic command mix and per-call latency per engine."""
    say = progress or (lambda _msg: None)
    modes = _replay_modes()
    result: dict[str, Any] = {
        "machine": {"python": platform.python_version(), "cpu": _cpu_name()},
        "repeat": repeat,
        "backends": available_backends(),
        "modes": [name for name, *_ in modes],
        "lobster": [],
        "mix": {},
        "latency": {},
        "peers": {},
    }
    medians: dict[str, list[float]] = {}
    for message, orderbook in lobster_pairs(data):
        day = load_lobster(message, orderbook)
        row: dict[str, Any] = {"file": message.name, "messages": len(day), "levels": day.levels}
        for name, engine, batch, check in modes:
            say(f"replaying {message.name}: {name}")

            def once(
                day: Any = day, engine: str = engine, batch: bool = batch, check: bool = check
            ) -> float:
                report, _ = replay_lobster(day, engine=engine, batch=batch, check=check)
                if report.mismatched_rows:
                    msg = f"benchmark replay mismatched: {report.first_mismatch}"
                    raise RuntimeError(msg)
                return report.seconds

            median, rates = _median_rate(repeat, len(day), once)
            row[f"{name}_msgs_per_sec"] = median
            row[f"{name}_runs"] = rates
            medians.setdefault(name, []).append(median)
        if "native_batch_msgs_per_sec" in row:
            row["native_vs_python"] = row["native_batch_msgs_per_sec"] / row["python_msgs_per_sec"]
        result["lobster"].append(row)

    stream = synthetic_stream(mix_events, seed=11)
    mix_modes: list[tuple[str, Callable[[], float]]] = []
    for backend in available_backends():

        def per_call(backend: str = backend) -> float:
            book = make_book(backend)
            started = monotonic_ns()
            apply_stream(book, stream)
            return (monotonic_ns() - started) / 1e9

        mix_modes.append((backend if backend == "python" else f"{backend}_percall", per_call))
    if "native" in available_backends():

        def native_batch() -> float:
            book = make_book("native")
            started = monotonic_ns()
            book.apply_stream_batch(
                stream.action, stream.order_id, stream.side, stream.price,
                stream.qty, stream.tif, stream.ts,
            )  # fmt: skip
            return (monotonic_ns() - started) / 1e9

        mix_modes.append(("native_batch", native_batch))
    for name, once_mix in mix_modes:
        say(f"synthetic mix of {mix_events:,} commands: {name}")
        median, rates = _median_rate(repeat, mix_events, once_mix)
        result["mix"][name] = {"ops_per_sec": median, "runs": rates}
        result[f"{name}_mix_ops_per_sec"] = median

    for backend in available_backends():
        say(f"per-call add+cancel latency: {backend}")
        result["latency"][backend] = _percall_latency(backend)

    for peer in PEERS:
        installed = importlib.util.find_spec(peer) is not None
        result["peers"][peer] = None if not installed else "installed; driver not wired yet"

    # headline figures: the slowest file, so none is flattered
    for name, values in medians.items():
        result[f"{name}_msgs_per_sec"] = min(values)
    if "native_batch_msgs_per_sec" in result:
        result["native_vs_python"] = min(row["native_vs_python"] for row in result["lobster"])
    if "native" in result["latency"]:
        result["percall_add_cancel_p50_us"] = result["latency"]["native"]["p50_us"]
        result["percall_add_cancel_p99_us"] = result["latency"]["native"]["p99_us"]
    return result
