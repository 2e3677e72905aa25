"""What fsync'd commits cost: the journal with synchronous=FULL against NORMAL.

    python benchmarks/bench_journal_sync.py [--orders 20000] [--rounds 3] [--dir PATH] [--json]

Two loads through the venue service, as the server runs them, once per mode:

- burst: ``--orders`` orders pipelined (as WebSocket order entry sends them),
  acknowledged by group commit: one transaction, one fsync, per batch;
- one by one: 2,000 orders each awaited before the next (a REST client):
  one transaction per order, the worst case for fsync.

The modes alternate for ``--rounds`` rounds and the medians are reported
(a shared disk's fsync time varies a lot). The journal goes in ``--dir``
(default: a temporary folder); put it on the disk the venue uses, since a
tmpfs makes fsync free.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from makerkit.core import Instrument, LiveClock, Side
from makerkit.server._service import VenueService
from makerkit.venue import NewOrder


def order(i: int) -> NewOrder:
    side = Side.BUY if i % 2 else Side.SELL
    return NewOrder(symbol="AAA", side=side, price=1000 + i % 7 - 3, qty=1 + i % 3)


async def measure(folder: Path, sync: str, orders: int) -> dict[str, Any]:
    svc = VenueService(
        [Instrument(symbol="AAA")],
        journal_path=str(folder / f"{sync}.db"),
        clock=LiveClock(),
        snapshot_every=0,
        sync=sync,
    )
    await svc.start()
    account = (await svc.execute(lambda: svc.jv.add_account("a")))[0].account_id
    commits: list[float] = []
    flush = svc.jv.journal.flush

    def timed() -> int:
        start = time.perf_counter()
        seq = flush()
        commits.append(time.perf_counter() - start)
        return seq

    svc.jv.journal.flush = timed  # type: ignore[method-assign]
    # burst: pipelined, acknowledged in group commits
    acked = 0
    done = asyncio.Event()

    def ack(_: object) -> None:
        nonlocal acked
        acked += 1
        if acked == orders:
            done.set()

    start = time.perf_counter()
    for i in range(orders):
        svc.execute_then(functools.partial(svc.jv.submit, account, order(i)), ack)
        if i % 64 == 63:
            await asyncio.sleep(0)  # let the flusher run, as a socket read would
    await done.wait()
    burst_s = time.perf_counter() - start
    burst_commits = [c for c in commits if c > 0]
    commits.clear()
    # one by one: every order waits for its own commit
    start = time.perf_counter()
    singles = 2000
    latencies = []
    for i in range(singles):
        t = time.perf_counter()
        await svc.execute(functools.partial(svc.jv.submit, account, order(i)))
        latencies.append(time.perf_counter() - t)
    single_s = time.perf_counter() - start
    await svc.stop()
    ms = 1000
    return {
        "sync": sync,
        "burst_orders_per_s": round(orders / burst_s),
        "burst_batches": len(burst_commits),
        "burst_commit_p50_ms": round(statistics.median(burst_commits) * ms, 3),
        "burst_commit_p99_ms": round(statistics.quantiles(burst_commits, n=100)[98] * ms, 3),
        "single_orders_per_s": round(singles / single_s),
        "single_ack_p50_ms": round(statistics.median(latencies) * ms, 3),
        "single_ack_p99_ms": round(statistics.quantiles(latencies, n=100)[98] * ms, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    runs: dict[str, list[dict[str, Any]]] = {"normal": [], "full": []}
    for _ in range(args.rounds):
        for sync, found in runs.items():
            with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
                found.append(asyncio.run(measure(Path(tmp), sync, args.orders)))
    results = [
        {
            "sync": sync,
            **{k: statistics.median(r[k] for r in found) for k in found[0] if k != "sync"},
        }
        for sync, found in runs.items()
    ]
    if args.json:
        print(json.dumps(results))
        return
    keys = list(results[0])[1:]
    print(f"{'':24}" + "".join(f"{r['sync']:>12}" for r in results))
    for key in keys:
        print(f"{key:24}" + "".join(f"{r[key]:>12}" for r in results))


if __name__ == "__main__":
    main()
