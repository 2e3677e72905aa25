"""A seeded synthetic order stream: a simple, fast mix of book commands.

This is the default input of ``makerkit demo`` and of the engine benchmarks:
passive limit orders around a random-walk mid, some marketable limits and
market orders, cancels and modifies of recent orders. It is not a market
model (that is the order-flow simulator); it exercises every command path.
"""

from __future__ import annotations

import heapq
from collections import deque

import msgspec
import numpy as np
import numpy.typing as npt

from makerkit.core.errors import ConfigError

__all__ = [
    "ACTION_ADD",
    "ACTION_CANCEL",
    "ACTION_MARKET",
    "ACTION_MODIFY",
    "L3EventStream",
    "OrderStream",
    "synthetic_l3_events",
    "synthetic_stream",
]

ACTION_ADD = 0
ACTION_CANCEL = 1
ACTION_MODIFY = 2
ACTION_MARKET = 3

I64 = npt.NDArray[np.int64]


class OrderStream(msgspec.Struct, frozen=True, kw_only=True):
    """Columns of book commands; ``action`` uses the ACTION_* codes.

    For cancels and modifies ``order_id`` names the target; for modifies
    ``price``/``qty`` are the new price (0 keeps it) and remaining size.
    ``tif`` uses ``TimeInForce`` codes.
    """

    action: I64
    order_id: I64
    side: I64
    price: I64
    qty: I64
    tif: I64
    ts: I64

    def __len__(self) -> int:
        return int(self.action.shape[0])


def synthetic_stream(
    n: int,
    *,
    seed: int = 7,
    mid: int = 10_000,
    mix: tuple[float, float, float, float] = (0.55, 0.30, 0.10, 0.05),
    aggressive: float = 0.08,
    mean_gap_ns: int = 1_000_000,
    start_ns: int = 34_200_000_000_000,
) -> OrderStream:
    """Generate ``n`` commands, deterministic for a given ``seed``.

    ``mix`` is the share of (add, cancel, modify, market); ``aggressive`` the
    share of adds priced through the mid (they match on arrival).
    """
    if n <= 0:
        msg = f"invalid `n`, must be > 0, was {n}"
        raise ConfigError(msg)
    probs = np.asarray(mix, dtype=np.float64)
    if probs.shape != (4,) or (probs < 0).any() or not np.isclose(probs.sum(), 1.0):
        msg = f"invalid `mix`, must be 4 non-negative shares summing to 1, was {mix}"
        raise ConfigError(msg)
    rng = np.random.default_rng(seed)
    action = rng.choice(4, size=n, p=probs).astype(np.int64)
    action[0] = ACTION_ADD
    steps = rng.choice(np.array([-1, 0, 1]), size=n, p=[0.02, 0.96, 0.02])
    mids = mid + np.cumsum(steps)
    side = np.where(rng.random(n) < 0.5, 1, -1).astype(np.int64)
    offset = rng.geometric(0.25, size=n) - 1
    through = rng.random(n) < aggressive
    offset = np.where(through, -rng.integers(1, 4, size=n), offset + 1)
    price = np.maximum(1, mids - side * offset).astype(np.int64)
    qty = (rng.geometric(0.15, size=n)).astype(np.int64)
    tif = rng.choice(4, size=n, p=[0.85, 0.06, 0.03, 0.06]).astype(np.int64)

    is_add = action == ACTION_ADD
    adds_so_far = np.cumsum(is_add)  # number of adds up to and including row i
    order_id = np.zeros(n, dtype=np.int64)
    order_id[is_add] = adds_so_far[is_add]
    # cancels and modifies target one of the ~200 most recent adds
    targets = ~is_add & (action != ACTION_MARKET)
    back = rng.integers(0, 200, size=n)
    order_id[targets] = np.maximum(1, adds_so_far[targets] - back[targets])
    # market orders get ids above every add id so they never collide
    order_id[action == ACTION_MARKET] = n + 1 + np.flatnonzero(action == ACTION_MARKET)
    # half of the modifies only resize (price 0 = keep the price); the rest reprice passively
    is_mod = action == ACTION_MODIFY
    price[is_mod & (rng.random(n) < 0.5)] = 0
    price[action == ACTION_MARKET] = 0
    tif[~is_add] = 0
    gaps = rng.exponential(mean_gap_ns, size=n).astype(np.int64)
    ts = start_ns + np.cumsum(gaps)
    return OrderStream(
        action=action,
        order_id=order_id,
        side=side,
        price=price,
        qty=qty,
        tif=tif,
        ts=ts.astype(np.int64),
    )


class L3EventStream(msgspec.Struct, frozen=True, kw_only=True):
    """A market-by-order feed: ``type`` 1 add, 3 delete, 4 execute (LOBSTER codes).

    ``qty`` is the size added, removed or executed; ``remaining`` the order's
    size after the event (0 when it is gone). The book it builds never crosses.
    """

    type: I64
    order_id: I64
    side: I64
    price: I64
    qty: I64
    remaining: I64
    ts: I64

    def __len__(self) -> int:
        return int(self.type.shape[0])


def synthetic_l3_events(
    n: int,
    *,
    seed: int = 5,
    mid: int = 10_000,
    band: int = 50,
    mix: tuple[float, float, float] = (0.45, 0.40, 0.15),
    start_ns: int = 1_700_000_000_000_000_000,
) -> L3EventStream:
    """Generate a consistent, never-crossing L3 feed, deterministic for ``seed``.

    Adds land within ``band`` ticks of a random-walk mid, deletes hit random
    live orders, executions take the order at the front of a best level. It is
    the shared input of the engine benchmarks against the peers.
    """
    if n <= 0:
        msg = f"invalid `n`, must be > 0, was {n}"
        raise ConfigError(msg)
    rng = np.random.default_rng(seed)
    draws = rng.random(n).tolist()
    sides = rng.choice(np.array([1, -1]), size=n).tolist()
    offsets = (rng.geometric(0.15, size=n) - 1).tolist()
    sizes = rng.integers(1, 100, size=n).tolist()
    walk = rng.choice(np.array([-1, 0, 1]), size=n, p=[0.01, 0.98, 0.01]).tolist()
    picks = rng.random(n).tolist()
    gaps = rng.exponential(1_000_000.0, size=n).astype(np.int64).tolist()
    out = np.zeros((7, n), dtype=np.int64)
    live: list[int] = []  # ids, for O(1) random deletes
    where: dict[int, int] = {}  # id -> index in live
    orders: dict[int, list[int]] = {}  # id -> [side, price, remaining]
    levels: dict[tuple[int, int], deque[int]] = {}
    bid_heap: list[int] = []  # -price
    ask_heap: list[int] = []
    next_id = 0
    ts = start_ns
    add_cut, delete_cut = mix[0], mix[0] + mix[1]

    def best(side: int) -> int | None:
        heap = bid_heap if side == 1 else ask_heap
        while heap:
            price = -heap[0] if side == 1 else heap[0]
            if levels.get((side, price)):
                return price
            heapq.heappop(heap)
        return None

    def remove(oid: int) -> None:
        k = where.pop(oid)
        last = live.pop()
        if last != oid:
            live[k] = last
            where[last] = k
        side, price, _ = orders.pop(oid)
        level = levels[(side, price)]
        level.remove(oid)

    for i in range(n):
        mid += walk[i]
        ts += gaps[i] + 1
        u = draws[i]
        side = sides[i]
        if u < add_cut or not live:
            bb, ba = best(1), best(-1)
            offset = min(offsets[i], band)
            price = mid - 1 - offset if side == 1 else mid + 1 + offset
            if side == 1 and ba is not None and price >= ba:
                price = ba - 1
            if side == -1 and bb is not None and price <= bb:
                price = bb + 1
            price = max(1, price)
            next_id += 1
            oid = next_id
            qty = sizes[i]
            orders[oid] = [side, price, qty]
            where[oid] = len(live)
            live.append(oid)
            level = levels.get((side, price))
            if not level:
                level = levels[(side, price)] = deque()
                heapq.heappush(bid_heap if side == 1 else ask_heap, -price if side == 1 else price)
            level.append(oid)
            row = (1, oid, side, price, qty, qty)
        elif u < delete_cut:
            oid = live[int(picks[i] * len(live))]
            side, price, qty = orders[oid]
            remove(oid)
            row = (3, oid, side, price, qty, 0)
        else:
            price_opt = best(side)
            if price_opt is None:
                side = -side
                price_opt = best(side)
            if price_opt is None:  # impossible: live orders rest on some level
                msg = "internal error: live orders but an empty book"
                raise RuntimeError(msg)
            price = price_opt
            oid = levels[(side, price)][0]
            order = orders[oid]
            qty = 1 + int(picks[i] * order[2])
            order[2] -= qty
            left = order[2]
            if left == 0:
                remove(oid)
            row = (4, oid, side, price, qty, left)
        out[:6, i] = row
        out[6, i] = ts
    return L3EventStream(
        type=out[0].copy(),
        order_id=out[1].copy(),
        side=out[2].copy(),
        price=out[3].copy(),
        qty=out[4].copy(),
        remaining=out[5].copy(),
        ts=out[6].copy(),
    )
