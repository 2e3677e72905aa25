"""Strategies on the simulated market with informed flow: Sharpe over several seeds.

Same as ``makerkit bench strategies``; the JSON goes to benchmarks/results/bench_strategies.json.

    python benchmarks/bench_strategies.py [--seeds 5] [--events 1000000] [--json]
"""

from __future__ import annotations

import sys
from pathlib import Path

from makerkit.cli import app

if __name__ == "__main__":
    out = Path(__file__).parent / "results" / "bench_strategies.json"
    out.parent.mkdir(exist_ok=True)
    args = ["bench", "strategies", *sys.argv[1:]]
    if "--output" not in args and "-o" not in args:
        args += ["--output", str(out)]
    app(args)
