"""Order-flow simulator speed: commands generated and matched per second, per engine.

Same as ``makerkit bench sim``; the JSON goes to benchmarks/results/bench_sim.json.

    python benchmarks/bench_sim.py [--events 2000000] [--repeat 3] [--json]
"""

from __future__ import annotations

import sys
from pathlib import Path

from makerkit.cli import app

if __name__ == "__main__":
    out = Path(__file__).parent / "results" / "bench_sim.json"
    out.parent.mkdir(exist_ok=True)
    args = ["bench", "sim", *sys.argv[1:]]
    if "--output" not in args and "-o" not in args:
        args += ["--output", str(out)]
    app(args)
