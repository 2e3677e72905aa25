"""Catalog benchmark: peak memory and events/s of a backtest over 1, 5 and 30 days.

The simulator writes one day of order-level events per date into a fresh
catalog (each day its own seed, so each day starts from an empty book). For
each length, GLFT is backtested with ``queue=l3`` twice, each in a process of
its own so the peak resident memory (``VmHWM``) is that run's alone:

* ``stream`` — the range read a day at a time as the replay goes
  (``load_market(spec, stream=True)``, what ``makerkit backtest`` does);
* ``memory`` — the whole range loaded first (``catalog_events``), then replayed.

The strategy decides once a minute of market time by default: the days lie
24 h apart, and the backtest keeps one path row per decision, so at 100 ms a
range's memory is its decisions' (about 350 bytes each: 1.7 GB over five
days), whatever the events; ``--decision-ms 100`` shows it.

events/s is the events replayed over the wall time of load and replay
together (both read the same Parquet). The stream's memory should stay flat
as the range grows, and its speed within 20% of the in-memory run's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["run_catalog_bench", "write_simulated_days"]

_VENUE, _SYMBOL, _FIRST = "sim", "SIM", "2024-01-01"

# one run in a child process: prints {"events", "seconds", "fills", "pnl", "peak_rss_mb"}
_CHILD = """
import json, sys
from makerkit.backtest import catalog_events, load_market, parse_data_spec, run_on_spec
from makerkit.core.clock import monotonic_ns
from makerkit.strategies import make_strategy
def peak_mb():
    # VmHWM starts anew with the process image (ru_maxrss would carry the parent's over exec)
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
spec_text, mode = sys.argv[1], sys.argv[2]
spec = parse_data_spec(spec_text)
t0 = monotonic_ns()
if mode == "stream":
    market = load_market(spec, stream=True)
else:
    market = catalog_events(spec.options["catalog"], spec.venue, spec.symbol, spec.day,
                            spec.until, order_level=True)
result = run_on_spec(make_strategy("glft"), spec, market)
seconds = (monotonic_ns() - t0) / 1e9
from makerkit.backtest import data_quality
events = data_quality(market)["events"] if mode == "memory" else None
print(json.dumps({
    "seconds": seconds, "fills": result.metrics.fills, "pnl": result.metrics.pnl_total,
    "events": events, "peak_rss_mb": peak_mb(),
}))
"""


def _date(k: int) -> str:
    import datetime as dt

    return (dt.date.fromisoformat(_FIRST) + dt.timedelta(days=k)).isoformat()


def write_simulated_days(catalog: Path, days: int, events_per_day: int) -> int:
    """``days`` simulated days of order-level events in ``catalog``; returns the event count."""
    import msgspec

    from makerkit.backtest import events_table, stream_l3_events
    from makerkit.data import add_tables, day_start_ns, simulate

    total = 0
    for k in range(days):
        ev = stream_l3_events(simulate(events=events_per_day, seed=1000 + k).stream)
        base = day_start_ns(_date(k))
        ev = msgspec.structs.replace(ev, ts=ev.ts + base, start_ns=ev.start_ns + base)
        add_tables(catalog, [events_table(ev, _VENUE, _SYMBOL)], source_id=f"sim-{k:03d}",
                   name=f"simulated day {k}")  # fmt: skip
        total += len(ev)
    return total


def _child(spec: str, mode: str) -> dict[str, Any]:
    env = dict(os.environ)
    done = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", _CHILD, spec, mode], capture_output=True, text=True, env=env,
        check=False,
    )  # fmt: skip
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr else "failed"}
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def run_catalog_bench(
    lengths: list[int], events_per_day: int, say: Callable[[str], None], decision_ms: float = 60_000
) -> dict[str, Any]:
    """Peak RSS and events/s of streamed and in-memory runs over each length of days."""
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="makerkit-catalog-bench-") as tmp:
        catalog = Path(tmp) / "catalog"
        say(f"simulating {max(lengths)} days of {events_per_day:,} events into the catalog")
        write_simulated_days(catalog, max(lengths), events_per_day)
        for days in lengths:
            spec = (
                f"catalog:{_VENUE}:{_SYMBOL}:{_FIRST}..{_date(days - 1)},catalog={catalog},"
                f"queue=l3,decision_ms={decision_ms}"
            )
            say(f"{days} day(s): in memory")
            memory = _child(spec, "memory")
            say(f"{days} day(s): streamed")
            stream = _child(spec, "stream")
            events = memory.get("events") or 0
            row: dict[str, Any] = {"days": days, "events": events, "memory": memory,
                                   "stream": stream}  # fmt: skip
            for mode in ("memory", "stream"):
                r = row[mode]
                if "seconds" in r and events:
                    r["events_per_sec"] = events / r["seconds"]
            if "events_per_sec" in memory and "events_per_sec" in stream:
                row["speed_ratio"] = stream["events_per_sec"] / memory["events_per_sec"]
                row["same_result"] = (memory["fills"], memory["pnl"]) == (
                    stream["fills"], stream["pnl"],
                )  # fmt: skip
            rows.append(row)
    flat = [r["stream"].get("peak_rss_mb", 0.0) for r in rows]
    return {
        "strategy": "glft", "queue": "l3", "events_per_day": events_per_day,
        "decision_ms": decision_ms, "runs": rows,
        "stream_rss_growth": (max(flat) / min(flat)) if flat and min(flat) > 0 else None,
    }  # fmt: skip
