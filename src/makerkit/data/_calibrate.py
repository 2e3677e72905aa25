"""Fit the simulator to a LOBSTER day, and the stylised facts to compare them by.

Rates are counted per second of the day; distances in ticks from the best
quotes *before* each message (the previous orderbook row):

* limit arrivals by distance behind their own best (type 1), and the rate
  and depth of those that improve it from inside the spread;
* cancellations by distance from the order's own best (types 2 and 3), per
  resting order: counts over (time x average orders resting there), the
  orders estimated as average depth / average order size;
* market orders: executions (type 4) of one side at one timestamp are one
  market order; their count gives the rate and their summed sizes the table;
* Hawkes excitation from the over-dispersion of market orders per minute
  (a Hawkes process of branching ratio n has variance/mean -> 1/(1-n)^2);
* the fundamental value's move rate from the variance of the mid's 1 s changes;
* the improvement rates by spread; then the improvement and touch-cancel
  rates are scaled by simulated moments to meet the day's mean spread and
  level-1 depth (``_fit_moments``).
"""

from __future__ import annotations

import math
import statistics
from typing import Any

import msgspec
import numpy as np
import numpy.typing as npt

from makerkit.core.errors import DataError
from makerkit.data._lobster import LobsterDay, lobster_tick
from makerkit.data._simulator import MarketSimulator, SimParams, SimRun

__all__ = [
    "StylisedFacts",
    "calibrate_lobster",
    "lobster_facts",
    "simulate_facts",
    "simulated_facts",
]

F64 = npt.NDArray[np.float64]
_MIN_DWELL_S = 60.0
I64 = npt.NDArray[np.int64]


class StylisedFacts(msgspec.Struct, frozen=True, kw_only=True):
    """What a realistic simulation must reproduce (per event; sizes in lots).

    ``depth`` is the first level's size, averaged over both sides; the event
    mix counts orders: adds, cancels (partial or full) and market orders.
    """

    mean_spread_ticks: float
    depth: tuple[float, ...]  # mean size at levels 1..n from the best, both sides averaged
    add_share: float
    cancel_share: float
    market_share: float
    mean_trade_size: float
    median_trade_size: float


def _market_orders(day: LobsterDay) -> tuple[I64, I64]:
    """(timestamps, sizes) of market orders: visible executions grouped by time and side."""
    m = day.messages
    ex = np.flatnonzero(m.type == 4)
    if ex.size == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    ts, side, size = m.ts_ns[ex], m.direction[ex], m.size[ex]
    new = np.ones(ex.size, dtype=bool)
    new[1:] = (ts[1:] != ts[:-1]) | (side[1:] != side[:-1]) | (ex[1:] != ex[:-1] + 1)
    starts = np.flatnonzero(new)
    return ts[starts], np.add.reduceat(size, starts)


def _table(values: I64, max_entries: int = 40) -> tuple[tuple[int, ...], tuple[float, ...]]:
    """An empirical size table: every size when few, else equal-probability quantiles."""
    values = values[values > 0]
    if values.size == 0:
        return (1,), (1.0,)
    sizes, counts = np.unique(values, return_counts=True)
    if sizes.size > max_entries:
        # the median of each of max_entries equally likely slices keeps mean and shape
        mids = (np.arange(max_entries) + 0.5) / max_entries
        qs = np.quantile(values, mids, method="nearest").astype(np.int64)
        sizes, counts = np.unique(qs, return_counts=True)
    cdf = np.cumsum(counts) / counts.sum()
    return tuple(int(s) for s in sizes), tuple(round(float(c), 9) for c in cdf)


def _depth_by_distance(day: LobsterDay, tick: int, k: int) -> F64:
    """Mean resting size at 0..k-1 ticks from the own best, both sides averaged."""
    b = day.book
    asks_p, asks_s = b[:, 0::4], b[:, 1::4]
    bids_p, bids_s = b[:, 2::4], b[:, 3::4]
    total = np.zeros(k)
    for prices, sizes, sign in ((asks_p, asks_s, 1), (bids_p, bids_s, -1)):
        d = sign * (prices - prices[:, :1]) // tick
        ok = (d >= 0) & (d < k) & (sizes > 0)
        total += np.bincount(d[ok], weights=sizes[ok], minlength=k)[:k]
    depth: F64 = total / (2 * b.shape[0])
    return depth


def _improvement_by_spread(
    day: LobsterDay, tick: int, improving: npt.NDArray[np.bool_]
) -> tuple[float, ...]:
    """Improvements per side per second at each spread (ticks), from time spent there.

    Spreads the day spent at least ``_MIN_DWELL_S`` at are estimated directly;
    between them the rate is interpolated, beyond the widest it is held, and
    narrower than the narrowest it is 0 (the day rarely went there, and
    leaving it at 0 keeps the simulated spread in the range the day showed).
    """
    b, ts = day.book, day.messages.ts_ns
    spread = ((b[:, 0] - b[:, 2]) // tick).clip(1, None)
    dwell = np.diff(ts).astype(np.float64) / 1e9  # row i holds until message i+1
    width = int(np.percentile(spread, 99))
    s_row = np.minimum(spread[:-1], width)
    time_at = np.bincount(s_row - 1, weights=dwell, minlength=width)[:width]
    # message i saw the book of row i-1
    hits = np.bincount(s_row[improving] - 1, minlength=width)[:width]
    rates = np.zeros(width)
    enough = np.flatnonzero(time_at >= _MIN_DWELL_S)
    if enough.size:
        observed = hits[enough] / (2 * time_at[enough])
        # between well-observed spreads interpolate, beyond the widest hold its rate;
        # narrower than any well-observed spread stays 0 (the day rarely went there)
        idx = np.arange(width)
        rates = np.where(idx >= enough[0], np.interp(idx, enough, observed), 0.0)
    rates[0] = 0.0  # at one tick nothing fits inside
    return tuple(round(float(r), 9) for r in rates)


def calibrate_lobster(
    day: LobsterDay,
    *,
    levels: int | None = None,
    informed: float = 1.0,
    fit: bool = True,
) -> SimParams:
    """Fit ``SimParams`` to a LOBSTER day (prices in ticks of the day's price grid).

    ``levels`` (distances modelled) defaults to the 99th percentile of the
    distance at which limit orders arrive. ``fit`` then meets the day's mean
    spread and level-1 depth by simulated moments (``_fit_moments``).
    """
    m = day.messages
    n = len(m)
    if n < 1000:
        msg = f"cannot calibrate from {day.messages.path or 'this day'}: {n} messages, need >= 1000"
        raise DataError(msg)
    tick = lobster_tick(day)
    seconds = (int(m.ts_ns[-1]) - int(m.ts_ns[0])) / 1e9
    if seconds <= 0:
        msg = "cannot calibrate: the messages span no time"
        raise DataError(msg)
    prev = day.book[:-1]  # row i-1 is the book before message i
    ask1, bid1 = prev[:, 0], prev[:, 2]
    typ, side, price = m.type[1:], m.direction[1:], m.price[1:]

    adds = typ == 1
    # ticks behind the own best (negative: inside the spread, improving it)
    behind = np.where(side == 1, bid1 - price, price - ask1) // tick
    if levels is None:
        seen = behind[adds & (behind >= 0)]
        levels = int(np.clip(np.percentile(seen, 99), 10, 400)) if seen.size else 30
    ok = adds & (behind >= 0) & (behind < levels)
    limit_rate = np.bincount(behind[ok], minlength=levels)[:levels] / (2 * seconds)
    better = -behind[adds & (behind < 0)]
    improve_rate = _improvement_by_spread(day, tick, adds & (behind < 0))
    if better.size:
        counts = np.bincount(better)[1:]
        improve_cdf = tuple(round(float(c), 9) for c in np.cumsum(counts) / counts.sum())
    else:
        improve_cdf = (1.0,)

    cancels = (typ == 2) | (typ == 3)
    own = np.where(side == 1, bid1 - price, price - ask1) // tick
    ok = cancels & (own >= 0)
    cancel_counts = np.bincount(np.minimum(own[ok], levels - 1), minlength=levels)[:levels]
    mean_add = float(m.size[m.type == 1].mean()) if (m.type == 1).any() else 1.0
    orders = _depth_by_distance(day, tick, levels) / mean_add
    observed = orders > 1e-3
    cancel_rate = np.zeros(levels)
    cancel_rate[observed] = cancel_counts[observed] / (seconds * 2 * orders[observed])
    # beyond what the file shows, keep the deepest observed rate
    last = float(cancel_rate[observed][-1]) if observed.any() else 0.1
    cancel_rate[~observed] = last
    cancel_rate = np.maximum(cancel_rate, 1e-4)

    mo_ts, mo_size = _market_orders(day)
    market_rate = mo_ts.size / seconds
    minutes = np.bincount(((mo_ts - m.ts_ns[0]) // 60_000_000_000).astype(np.int64))
    vmr = float(minutes.var() / minutes.mean()) if minutes.size > 2 and minutes.mean() > 0 else 1.0
    branching = min(max(1.0 - 1.0 / math.sqrt(max(vmr, 1.0)), 0.0), 0.8)
    beta = 1.0
    # 1 s mid changes in ticks: a +-1 tick walk at rate r has variance r per second
    mids = (day.book[:, 0] + day.book[:, 2]) / 2 / tick
    second = ((m.ts_ns - m.ts_ns[0]) // 1_000_000_000).astype(np.int64)
    last_per_second = np.flatnonzero(np.r_[second[1:] != second[:-1], True])
    value_rate = float(np.var(np.diff(mids[last_per_second]))) if last_per_second.size > 2 else 0.0

    limit_sizes, limit_cdf = _table(m.size[m.type == 1])
    market_sizes, market_cdf = _table(mo_size)
    params = SimParams(
        limit_rate=tuple(round(float(r), 9) for r in limit_rate),
        cancel_rate=tuple(round(float(r), 9) for r in cancel_rate),
        market_rate=round(market_rate * (1 - branching), 9),
        hawkes_alpha=round(branching * beta, 9),
        hawkes_beta=beta,
        value_rate=round(value_rate, 9),
        informed=informed,
        limit_sizes=limit_sizes,
        limit_size_cdf=limit_cdf,
        market_sizes=market_sizes,
        market_size_cdf=market_cdf,
        improve_rate=improve_rate,
        improve_cdf=improve_cdf,
        start_price=round(float(mids[0])),
        start_ns=int(m.ts_ns[0]),
    )
    if not fit:
        return params
    spread = float(((day.book[:, 0] - day.book[:, 2]) / tick).mean())
    depth = float((day.book[:, 1].mean() + day.book[:, 3].mean()) / 2)
    return _fit_moments(params, spread, depth)


def _sim_moments(params: SimParams, events: int, seed: int) -> tuple[float, float]:
    """Mean spread (ticks) and level-1 depth of a short simulation."""
    sim = MarketSimulator(params, seed=seed)
    sim.run(events // 4, record=False)
    l1 = sim.run(events).l1
    both = (l1[:, 0] > 0) & (l1[:, 2] > 0)
    if not both.any():
        return math.inf, 0.0
    return float((l1[both, 2] - l1[both, 0]).mean()), float((l1[both, 1] + l1[both, 3]).mean() / 2)


def _fit_moments(
    params: SimParams, spread: float, depth: float, *, events: int = 60_000
) -> SimParams:
    """Meet the day's mean spread and level-1 depth by simulated moments.

    Two rates the counts cannot pin down well are scaled: how often the touch
    is improved (it depends on states the day seldom visits; more improvements,
    narrower spread) and how fast orders at the touch are cancelled (the order
    count there is only estimated from sizes; faster cancels, thinner touch).
    Each is a bisection on a log factor with fixed seeds, alternated twice.
    """
    seeds = (1, 2, 3)

    def moment(p: SimParams, which: int) -> float:
        return statistics.median(_sim_moments(p, events, s)[which] for s in seeds)

    def improve(k: float, p: SimParams) -> SimParams:
        rates = tuple(round(r * k, 9) for r in params.improve_rate)
        return msgspec.structs.replace(p, improve_rate=rates)

    def cancel(k: float, p: SimParams) -> SimParams:
        rates = (round(params.cancel_rate[0] * k, 9), *p.cancel_rate[1:])
        return msgspec.structs.replace(p, cancel_rate=rates)

    def bisect(p: SimParams, scale: Any, which: int, target: float) -> SimParams:
        lo, hi = -4.0, 4.0  # log2 of the factor; both moments fall as it rises
        for _ in range(10):
            mid = (lo + hi) / 2
            if moment(scale(2.0**mid, p), which) > target:
                lo = mid
            else:
                hi = mid
        return scale(2.0 ** ((lo + hi) / 2), p)  # type: ignore[no-any-return]

    fitted = params
    for _ in range(2):
        fitted = bisect(fitted, improve, 0, spread)
        fitted = bisect(fitted, cancel, 1, depth)
    return bisect(fitted, improve, 0, spread)


def lobster_facts(day: LobsterDay, depth_levels: int = 5) -> StylisedFacts:
    """The stylised facts of a LOBSTER day."""
    tick = lobster_tick(day)
    b, m = day.book, day.messages
    levels = min(depth_levels, day.levels)
    depth = tuple(
        float((b[:, 4 * k + 1].mean() + b[:, 4 * k + 3].mean()) / 2) for k in range(levels)
    )
    _, mo_size = _market_orders(day)
    adds = int((m.type == 1).sum())
    cancels = int(((m.type == 2) | (m.type == 3)).sum())
    markets = int(mo_size.size)
    total = max(adds + cancels + markets, 1)
    return StylisedFacts(
        mean_spread_ticks=float(((b[:, 0] - b[:, 2]) / tick).mean()),
        depth=depth,
        add_share=adds / total,
        cancel_share=cancels / total,
        market_share=markets / total,
        mean_trade_size=float(mo_size.mean()) if mo_size.size else 0.0,
        median_trade_size=float(np.median(mo_size)) if mo_size.size else 0.0,
    )


def simulated_facts(run: SimRun, depth_profile: list[float] | None = None) -> StylisedFacts:
    """The same facts of a simulation (``depth_profile``: mean size by level, when sampled)."""
    l1, s = run.l1, run.stream
    both = (l1[:, 0] > 0) & (l1[:, 2] > 0)
    markets = s.action == 3
    counts = np.bincount(s.action, minlength=4)
    total = max(int(counts[0] + counts[1] + counts[3]), 1)
    sizes = s.qty[markets]
    depth = (
        tuple(depth_profile)
        if depth_profile
        else (float((l1[both, 1].mean() + l1[both, 3].mean()) / 2),)
    )
    return StylisedFacts(
        mean_spread_ticks=float((l1[both, 2] - l1[both, 0]).mean()) if both.any() else math.nan,
        depth=depth,
        add_share=float(counts[0]) / total,
        cancel_share=float(counts[1]) / total,
        market_share=float(counts[3]) / total,
        mean_trade_size=float(sizes.mean()) if sizes.size else 0.0,
        median_trade_size=float(np.median(sizes)) if sizes.size else 0.0,
    )


def simulate_facts(
    params: SimParams,
    events: int = 200_000,
    *,
    seed: int = 1,
    warmup: int = 50_000,
    levels: int = 5,
    every: int = 200,
) -> StylisedFacts:
    """Simulate ``events`` commands after ``warmup`` and measure the same facts.

    The depth profile (levels 1..``levels``) is sampled from the book every
    ``every`` commands, both sides, whenever a side has that many levels.
    """
    sim = MarketSimulator(params, seed=seed)
    sim.run(warmup, record=False)
    runs, totals, samples = [], np.zeros(levels), 0
    for _ in range(max(events // every, 1)):
        runs.append(sim.run(every))
        for side in (1, -1):
            _, sizes = sim.book.top(side, levels)
            if len(sizes) == levels:
                totals += np.asarray(sizes, dtype=np.float64)
                samples += 1
    stream = runs[0].stream
    merged = SimRun(
        stream=type(stream)(
            **{
                f: np.concatenate([getattr(r.stream, f) for r in runs])
                for f in stream.__struct_fields__
            }
        ),
        l1=np.concatenate([r.l1 for r in runs]),
        fills=sum(r.fills for r in runs),
        volume=sum(r.volume for r in runs),
        rejected=sum(r.rejected for r in runs),
        proposals=sum(r.proposals for r in runs),
        seconds=sim.seconds,
    )
    profile = [float(d) for d in totals / max(samples, 1)]
    return simulated_facts(merged, profile)
