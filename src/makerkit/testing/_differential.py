"""Drive two books with the same commands and report the first difference."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from makerkit.testing._strategies import BookCommand

__all__ = ["random_commands", "run_differential"]

_KINDS = (
    "submit",
    "submit",
    "submit",
    "submit",
    "market",
    "cancel",
    "cancel",
    "modify",
    "reduce",
    "execute",
)


def random_commands(
    n: int, seed: int, *, max_id: int = 400, width: int = 12
) -> Iterator[BookCommand]:
    """Yield ``n`` seeded random commands over small id/price spaces (many collisions).

    Every tenth block of 1,000 commands widens prices tenfold so deep sweeps
    and sparse books happen too.
    """
    rng = np.random.default_rng(seed)
    kinds = rng.integers(0, len(_KINDS), size=n)
    ids = rng.integers(1, max_id + 1, size=n)
    sides = rng.choice(np.array([1, -1]), size=n)
    qtys = rng.integers(1, 30, size=n)
    tifs = rng.choice(np.array([0, 0, 0, 0, 1, 2, 3]), size=n)
    accounts = rng.choice(np.array([0, 0, 1, 2, 3]), size=n)
    stps = rng.integers(0, 4, size=n)
    keep = rng.random(size=n) < 0.4
    offsets = rng.integers(-width, width + 1, size=n)
    for i in range(n):
        spread = 10 if (i // 1000) % 10 == 9 else 1
        kind = _KINDS[int(kinds[i])]
        price = 1000 + int(offsets[i]) * spread
        yield BookCommand(
            kind=kind,
            order_id=int(ids[i]),
            side=int(sides[i]),
            price=0 if (kind == "modify" and keep[i]) else price,
            qty=0 if (kind == "modify" and not keep[i] and i % 3 == 0) else int(qtys[i]),
            tif=int(tifs[i]) if kind != "market" else int(tifs[i]) % 3,
            account=int(accounts[i]),
            stp=int(stps[i]),
        )


def run_differential(
    reference: Any, candidate: Any, commands: Iterator[BookCommand], *, full_every: int = 500
) -> int:
    """Apply every command to both books; raise AssertionError at the first difference.

    Results (with fills and STP cancels) and the top ten levels are compared
    after every command, the whole L3 book and fill history every
    ``full_every`` commands and at the end. Returns the number of commands.
    """
    count = 0
    cmd: BookCommand | None = None
    for count, cmd in enumerate(commands, start=1):
        want = cmd.apply(reference)
        got = cmd.apply(candidate)
        if want != got:
            msg = f"command {count} {cmd}: results differ\n reference {want}\n candidate {got}"
            raise AssertionError(msg)
        for side in (1, -1):
            if reference.top(side, 10) != candidate.top(side, 10):
                msg = f"command {count} {cmd}: top of side {side} differs"
                raise AssertionError(msg)
        if count % full_every == 0:
            _compare_full(reference, candidate, count, cmd)
    if cmd is not None:
        _compare_full(reference, candidate, count, cmd)
    return count


def _compare_full(reference: Any, candidate: Any, count: int, cmd: BookCommand) -> None:
    checks = (
        ("L3 book", lambda b: b.l3(1_000_000)),
        ("fill history", lambda b: b.fills()),
        ("live orders", lambda b: list(b.orders())),
        ("sequence", lambda b: b.seq),
        ("order count", len),
    )
    for name, view in checks:
        if view(reference) != view(candidate):
            msg = f"after command {count} {cmd}: {name} differs"
            raise AssertionError(msg)
