"""Backtests over catalog ranges: streamed a day at a time beside the range loaded whole.

Same as ``makerkit bench catalog``; the JSON goes to benchmarks/results/bench_catalog.json.
Peak resident memory and events/s of GLFT (queue=l3) over 1, 5 and 30 simulated days.

    python benchmarks/bench_catalog.py [--days 1,5,30] [--events-per-day 200000] [--json]
"""

from __future__ import annotations

import sys
from pathlib import Path

from makerkit.cli import app

if __name__ == "__main__":
    out = Path(__file__).parent / "results" / "bench_catalog.json"
    out.parent.mkdir(exist_ok=True)
    args = ["bench", "catalog", *sys.argv[1:]]
    if "--output" not in args and "-o" not in args:
        args += ["--output", str(out)]
    app(args)
