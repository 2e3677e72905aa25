"""A sweep of 32 backtests on 1 worker and on 2 (local processes, then Ray): its speed-up.

Same as ``makerkit bench sweep``; the JSON goes to benchmarks/results/bench_sweep.json.
The target is >= 1.8x on 2 workers (this machine has 2 cores).

    python benchmarks/bench_sweep.py [--tasks 32] [--events 300000] [--no-ray] [--json]
"""

from __future__ import annotations

import sys
from pathlib import Path

from makerkit.cli import app

if __name__ == "__main__":
    out = Path(__file__).parent / "results" / "bench_sweep.json"
    out.parent.mkdir(exist_ok=True)
    args = ["bench", "sweep", *sys.argv[1:]]
    if "--output" not in args and "-o" not in args:
        args += ["--output", str(out)]
    app(args)
