"""Market driver throughput: simulated flow on 3 symbols through a journaled venue.

    python benchmarks/bench_market.py [--seconds 5] [--rates 1000,3000,10000] [--json]

For each target rate (commands per second per symbol) the driver runs for
``--seconds`` against a fresh venue (journal, group commit, no subscribers);
the table shows the book updates per second actually published per symbol
(public sequence numbers) and the process CPU used.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from makerkit.core import Instrument
from makerkit.server._driver import MarketDriver
from makerkit.server._service import VenueService

SYMBOLS = ("AAA", "BBB", "CCC")


async def measure(rate: float, seconds: float) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        svc = VenueService(
            [Instrument(symbol=s) for s in SYMBOLS], journal_path=str(Path(tmp) / "v.db")
        )
        await svc.start()
        driver = MarketDriver(svc, rate=rate)
        await driver.start()
        await asyncio.sleep(0.5)  # warm up
        seqs = {s: svc.venue.public_seq(s) for s in SYMBOLS}
        wall, cpu = time.perf_counter(), time.process_time()
        await asyncio.sleep(seconds)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        updates = [(svc.venue.public_seq(s) - seqs[s]) / wall for s in SYMBOLS]
        await driver.stop()
        await svc.stop()
    return {
        "rate": rate,
        "updates_per_sec_per_symbol": statistics.median(updates),
        "min_updates_per_sec": min(updates),
        "cpu_fraction": cpu / wall,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rates", default="1000,3000,10000")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = [asyncio.run(measure(float(r), args.seconds)) for r in args.rates.split(",")]
    print(f"{'target/s/sym':>13}{'updates/s/sym':>15}{'min':>10}{'cpu':>7}")
    for row in rows:
        print(
            f"{row['rate']:>13,.0f}{row['updates_per_sec_per_symbol']:>15,.0f}"
            f"{row['min_updates_per_sec']:>10,.0f}{row['cpu_fraction']:>7.0%}"
        )
    out = Path(__file__).parent / "results" / "bench_market.json"
    out.write_text(json.dumps(rows, indent=2))
    if args.json:
        print(json.dumps({"symbols": len(SYMBOLS), "runs": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
