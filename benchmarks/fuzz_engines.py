"""Long differential run: the native engine against the reference on random commands.

    python benchmarks/fuzz_engines.py --ops 10000000 [--seed 1] [--block 100000]

Stops at the first difference with the command that caused it; prints a
summary line (and JSON with --json) when every step matched.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from makerkit.book import available_backends, make_book
from makerkit.testing import random_commands, run_differential


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--block", type=int, default=100_000, help="commands per fresh book pair")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if "native" not in available_backends():
        print("the native engine is not built; nothing to compare", file=sys.stderr)
        return 2
    started = time.perf_counter()
    done = 0
    with Progress(
        TextColumn("differential"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn()
    ) as bar:
        task = bar.add_task("ops", total=args.ops)
        block = 0
        while done < args.ops:
            n = min(args.block, args.ops - done)
            # each block starts from empty books with its own seed: deep and shallow books alike
            run_differential(
                make_book("python", fill_history=1000),
                make_book("native", fill_history=1000),
                random_commands(
                    n, seed=args.seed * 1_000_003 + block, max_id=200 + 50 * (block % 20)
                ),
                full_every=5_000,
            )
            done += n
            block += 1
            bar.update(task, completed=done)
    seconds = time.perf_counter() - started
    summary = {"ops": done, "differences": 0, "seconds": round(seconds, 1), "seed": args.seed}
    print(f"{done:,} operations, 0 differences, {seconds:.1f} s")
    if args.json:
        print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
