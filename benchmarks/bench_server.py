"""Venue load benchmark (same as ``makerkit bench server``); JSON to benchmarks/results/.

python benchmarks/bench_server.py [--seconds 5] [--ws-clients 4] [--json]
"""

from __future__ import annotations

import sys
from pathlib import Path

from makerkit.cli import app

if __name__ == "__main__":
    out = Path(__file__).parent / "results" / "bench_server.json"
    out.parent.mkdir(exist_ok=True)
    args = ["bench", "server", *sys.argv[1:]]
    if "--output" not in args and "-o" not in args:
        args += ["--output", str(out)]
    app(args)
