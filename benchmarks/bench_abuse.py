"""Reliability benchmark (same as ``makerkit bench abuse``); JSON to benchmarks/results/.

python benchmarks/bench_abuse.py [--seconds 5] [--cycles 5] [--slow-readers 100] [--json]

Floods a venue at 10x an account's message-rate limit, holds never-reading
market-data sockets, kill -9s it mid-stream, and damages its snapshots;
reports lost and duplicated orders, another account's latency, peak RSS and
how recovery answered.
"""

from __future__ import annotations

import sys
from pathlib import Path

from makerkit.cli import app

if __name__ == "__main__":
    out = Path(__file__).parent / "results" / "bench_abuse.json"
    out.parent.mkdir(exist_ok=True)
    args = ["bench", "abuse", *sys.argv[1:]]
    if "--output" not in args and "-o" not in args:
        args += ["--output", str(out)]
    app(args)
