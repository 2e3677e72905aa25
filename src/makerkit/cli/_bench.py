"""Order-book benchmark: every engine on the same inputs in one run (medians and ratios)."""

from __future__ import annotations

import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from makerkit.backtest import apply_stream, replay_lobster
from makerkit.book import available_backends, make_book
from makerkit.core.clock import monotonic_ns
from makerkit.core.errors import DataError
from makerkit.data import (
    L3EventStream,
    load_lobster,
    lobster_pairs,
    synthetic_l3_events,
    synthetic_stream,
)

__all__ = ["run_book_bench", "run_peer_driver"]

PEERS = ("hftbacktest", "nautilus_trader")
PEER_DRIVER = Path("benchmarks") / "peers" / "drive_peers.py"


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
    peer_events: int = 1_000_000,
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
                report, _ = replay_lobster(day, backend=engine, batch=batch, check=check)
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
            book: Any = make_book("native")  # the batch call is the native book's own
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

    say(f"peer stream: {peer_events:,} L3 events")
    result["peers"] = _peer_stream_bench(repeat, peer_events, say)
    for peer in PEERS:
        result[f"{peer}_per_sec"] = result["peers"].get(peer, {}).get("per_sec")

    # headline figures: the slowest file, so none is flattered
    for name, values in medians.items():
        result[f"{name}_msgs_per_sec"] = min(values)
    if "native_batch_msgs_per_sec" in result:
        result["native_vs_python"] = min(row["native_vs_python"] for row in result["lobster"])
    if "native" in result["latency"]:
        result["percall_add_cancel_p50_us"] = result["latency"]["native"]["p50_us"]
        result["percall_add_cancel_p99_us"] = result["latency"]["native"]["p99_us"]
    return result


def _peers_python() -> tuple[str | None, Path | None]:
    """The interpreter that has the peers, and the driver script, when both exist."""
    here = Path.cwd().resolve()
    driver = next(
        (base / PEER_DRIVER for base in (here, *here.parents) if (base / PEER_DRIVER).is_file()),
        None,
    )
    if driver is None:
        return None, None
    env = os.environ.get("MAKERKIT_PEERS_PYTHON")
    if env:  # "none" turns the peers off
        return (None if env.lower() == "none" else env), driver
    venv = driver.parents[2] / ".venv-bench" / "bin" / "python"
    if venv.is_file():
        return str(venv), driver
    if all(importlib.util.find_spec(p) is not None for p in PEERS):
        return sys.executable, driver
    return None, driver


def run_peer_driver(
    python: str, driver: Path, events: Path, repeat: int
) -> tuple[dict[str, Any], str]:
    """Run a peer driver script on an events file: its last JSON line (or {}) and its stderr."""
    proc = subprocess.run(  # noqa: S603 - our own script, fixed arguments
        [python, str(driver), str(events), "--repeat", str(repeat), "--json"],
        capture_output=True, text=True, check=False, timeout=1800,
    )  # fmt: skip
    lines = proc.stdout.strip().splitlines()
    try:
        found = json.loads(lines[-1]) if lines else {}
    except json.JSONDecodeError:
        found = {}
    return (found if isinstance(found, dict) else {}), proc.stderr.strip()


def _time_l3(book_factory: Callable[[], Any], events: L3EventStream) -> float:
    """Seconds to apply the feed to a fresh book, per call from Python or in one batch."""
    book = book_factory()
    cols = (events.type, events.order_id, events.side, events.price, events.qty, events.ts)
    if hasattr(book, "apply_l3_batch"):
        started = monotonic_ns()
        rejected = book.apply_l3_batch(*cols)
        seconds = (monotonic_ns() - started) / 1e9
    else:
        lists = [c.tolist() for c in cols]
        submit, cancel, execute = book.submit, book.cancel, book.execute
        rejected = 0
        started = monotonic_ns()
        for kind, oid, side, price, qty, ts in zip(*lists, strict=True):
            if kind == 1:
                res = submit(oid, side, price, qty, ts=ts)
            elif kind == 3:
                res = cancel(oid, ts=ts)
            else:
                res = execute(oid, qty, ts=ts)
            rejected += res.status == 4
        seconds = (monotonic_ns() - started) / 1e9
    if rejected:
        msg = f"{rejected} events of the benchmark feed were rejected"
        raise RuntimeError(msg)
    return seconds


def _peer_stream_bench(repeat: int, n: int, say: Callable[[str], None]) -> dict[str, Any]:
    """Our engines and the peers on one generated L3 feed (PEERS.md's workload)."""
    events = synthetic_l3_events(n, seed=5)
    out: dict[str, Any] = {"events": n}
    for backend in available_backends():
        name = "native_batch" if backend == "native" else backend
        say(f"L3 feed: {name}")

        def once(backend: str = backend) -> float:
            return _time_l3(lambda: make_book(backend), events)

        median, rates = _median_rate(repeat, n, once)
        out[name] = {"per_sec": median, "runs": rates}
    python, driver = _peers_python()
    if python is None or driver is None:
        for peer in PEERS:
            out[peer] = {"per_sec": None, "note": "not installed (make bench-peers)"}
        return out
    final = make_book()
    _time_l3(lambda: final, events)
    bid, ask = final.best_bid(), final.best_ask()
    if bid is None or ask is None:
        msg = "the synthetic L3 feed ended with an empty side: no final touch to compare"
        raise DataError(msg)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "l3_events.npz"
        np.savez(
            path, type=events.type, order_id=events.order_id, side=events.side,
            price=events.price, qty=events.qty, remaining=events.remaining, ts=events.ts,
            final_bid_price=bid[0], final_bid_size=bid[1],
            final_ask_price=ask[0], final_ask_size=ask[1],
        )  # fmt: skip
        say(f"L3 feed: peers through {python}")
        peers, stderr = run_peer_driver(python, driver, path, repeat)
    ours = out.get("native_batch", {}).get("per_sec")
    for peer in PEERS:
        info = peers.get(peer) or {"error": stderr[-500:] or "no output"}
        rate = info.get("updates_per_sec") or info.get("events_per_sec")
        entry = {"per_sec": rate, **info}
        if rate and ours:
            entry["native_batch_vs_peer"] = ours / rate
        out[peer] = entry
    return out
