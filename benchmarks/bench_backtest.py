"""Backtest speed beside hftbacktest: one GLFT market maker on one Binance capture.

Same as ``makerkit bench backtest``; the JSON goes to benchmarks/results/bench_backtest.json.
hftbacktest runs from .venv-bench (``make bench-peers`` creates it).

    python benchmarks/bench_backtest.py [--repeat 5] [--queue probabilistic] [--json]
"""

from __future__ import annotations

import sys
from pathlib import Path

from makerkit.cli import app

if __name__ == "__main__":
    out = Path(__file__).parent / "results" / "bench_backtest.json"
    out.parent.mkdir(exist_ok=True)
    args = ["bench", "backtest", *sys.argv[1:]]
    if "--output" not in args and "-o" not in args:
        args += ["--output", str(out)]
    app(args)
