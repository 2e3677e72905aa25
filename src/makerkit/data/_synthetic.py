"""A seeded synthetic order stream: a simple, fast mix of book commands.

This is the default input of ``makerkit demo`` and of the engine benchmarks:
passive limit orders around a random-walk mid, some marketable limits and
market orders, cancels and modifies of recent orders. It is not a market
model (that is the order-flow simulator); it exercises every command path.
"""

from __future__ import annotations

import msgspec
import numpy as np
import numpy.typing as npt

from makerkit.core.errors import ConfigError

__all__ = [
    "ACTION_ADD",
    "ACTION_CANCEL",
    "ACTION_MARKET",
    "ACTION_MODIFY",
    "OrderStream",
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
