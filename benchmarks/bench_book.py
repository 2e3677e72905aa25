"""Order-book benchmark: LOBSTER replay (every row checked) and a synthetic command mix.

Every available engine runs the same inputs in the same process; the table
shows medians and the JSON (benchmarks/results/bench_book.json) keeps every run.
Same as ``makerkit bench book``.

    python benchmarks/bench_book.py [--repeat 5] [--mix-events 300000] [--json]
"""

from __future__ import annotations

import sys
from pathlib import Path

from makerkit.cli import app

if __name__ == "__main__":
    out = Path(__file__).parent / "results" / "bench_book.json"
    out.parent.mkdir(exist_ok=True)
    args = ["bench", "book", *sys.argv[1:]]
    if "--output" not in args and "-o" not in args:
        args += ["--output", str(out)]
    app(args)
