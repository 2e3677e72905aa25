"""Memory of the native engine over a long run: RSS after each million commands.

    python benchmarks/memory_native.py [--ops 10000000] [--json]

The book is fed the synthetic mix in batches of one million commands (a new
seed per batch, ids offset so they never collide); a flat RSS line after the
first batches means nothing grows per command in steady state.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from makerkit.book import available_backends, make_book
from makerkit.data import synthetic_stream


def rss_mib() -> float:
    """Resident set size of this process in MiB (Linux)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * 4096 / 2**20


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=10_000_000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if "native" not in available_backends():
        print("the native engine is not built", file=sys.stderr)
        return 2
    book = make_book("native", fill_history=100_000)
    batch = 1_000_000
    samples = []
    for k in range(max(1, args.ops // batch)):
        s = synthetic_stream(batch, seed=100 + k)
        # keep ids unique across batches; cancels still target this batch's adds
        offset = k * 2 * batch
        book.apply_stream_batch(s.action, s.order_id + offset, s.side, s.price, s.qty, s.tif, s.ts)
        del s
        samples.append(
            {"ops": (k + 1) * batch, "rss_mib": round(rss_mib(), 1), "orders": len(book)}
        )
        print(
            f"{(k + 1) * batch:>11,} commands  rss {samples[-1]['rss_mib']:8.1f} MiB  "
            f"resting orders {len(book):,}"
        )
    if args.json:
        print(json.dumps({"samples": samples}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
