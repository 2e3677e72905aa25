"""Venue recovery time with and without snapshots.

    python benchmarks/bench_recovery.py [--commands 200000] [--every 20000]
        [--history-limit 100000] [--json]

Writes the same journal of N order commands twice, once with no snapshots and
once with a snapshot every ``--every`` commands, then times a restart
(`JournaledVenue(...)` on the file) of each. Without snapshots a restart
replays all N commands; with them at most ``--every``, after loading a
snapshot whose size is bounded by ``--history-limit`` (finished orders and
fills per account kept in memory).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from makerkit.core import Instrument, Side, SimClock
from makerkit.venue import CancelOrder, Journal, JournaledVenue, NewOrder

INSTRUMENTS = [Instrument(symbol="AAA"), Instrument(symbol="BBB")]


def write(path: Path, commands: int, every: int, history_limit: int) -> int:
    clock = SimClock(1_700_000_000_000_000_000)
    jv = JournaledVenue(
        INSTRUMENTS,
        journal=Journal(path),
        clock=clock,
        snapshot_every=every,
        history_limit=history_limit,
    )
    accounts = [jv.add_account(f"a{i}")[0].account_id for i in range(4)]
    rng = random.Random(5)
    for i in range(commands):
        clock.advance_by(1000)
        who = rng.choice(accounts)
        sym = "AAA" if i % 2 else "BBB"
        if i % 3 == 2:
            jv.cancel(who, CancelOrder(symbol=sym, client_order_id=f"o{i - rng.randint(1, 50)}"))
        else:
            side = Side.BUY if rng.random() < 0.5 else Side.SELL
            price = 1000 + rng.randint(-20, 20)
            jv.submit(who, NewOrder(symbol=sym, side=side, price=price, qty=rng.randint(1, 9),
                                    client_order_id=f"o{i}"))  # fmt: skip
        if i % 64 == 0:
            jv.flush()  # group commits, as the server does
    jv.flush()
    jv.journal.close()
    return len(jv.venue.open_orders(accounts[0]))


def restart(path: Path, history_limit: int) -> tuple[float, int]:
    started = time.perf_counter()
    jv = JournaledVenue(
        INSTRUMENTS, journal=Journal(path), clock=SimClock(0), history_limit=history_limit
    )
    seconds = time.perf_counter() - started
    jv.journal.close()
    return seconds, jv.recovered


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=200_000)
    parser.add_argument("--every", type=int, default=20_000)
    parser.add_argument("--history-limit", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result: dict[str, object] = {
        "commands": args.commands,
        "snapshot_every": args.every,
        "history_limit": args.history_limit,
    }
    with tempfile.TemporaryDirectory() as tmp:
        for name, every in (("no_snapshots", 0), ("snapshots", args.every)):
            path = Path(tmp) / f"{name}.db"
            write(path, args.commands, every, args.history_limit)
            runs = [restart(path, args.history_limit) for _ in range(args.repeat)]
            result[f"{name}_restart_s"] = statistics.median(s for s, _ in runs)
            result[f"{name}_replayed"] = runs[0][1]
            result[f"{name}_journal_mib"] = path.stat().st_size / 2**20
    print(f"{'journal':<14}{'replayed':>10}{'restart (s)':>14}")
    for name in ("no_snapshots", "snapshots"):
        print(f"{name:<14}{result[f'{name}_replayed']:>10,}{result[f'{name}_restart_s']:>14.3f}")
    if args.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
