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

``calibrate_shape`` fits the extended model that reproduces the day's shape,
not only its means (``makerkit data facts`` compares them):

* arrivals and cancellations by distance, corrected for what a level-N file
  hides: an order d ticks behind the best is seen only while d is inside the
  file's N levels, so each distance is counted over the time it was visible
  (a level-1 file shows none: the rates behind the touch come from how far
  the best recedes when the touch empties);
* where improving orders land, as a ratio of the spread they improve;
* market orders' base rate and the touch's cancellation rate by spread (both
  far higher at a narrow spread), and the share of market orders that stay
  at the opposite best (nearly all);
* millisecond clustering of market orders: a Hawkes process with an
  exponential kernel fitted by expectation-maximisation (``fit_hawkes``),
  over a baseline that may change every five minutes;
* the intraday shape, minute by minute: a price scale (the minute's spread
  over the day's, or its square root: a wide opening moves on a coarser
  grid) and the business clock's speed (the minute's return variance left
  once the scale is out);
* volatility clustering: a business clock whose log speed mean-reverts at the
  decay of the day's |10 s return| autocorrelation;
* then by simulated moments, with fixed seeds: one factor on the improvement
  rates so that the spread quantiles meet the day's (in log terms), and the
  business clock's dispersion so that the |10 s return| autocorrelation at
  lags 1-5 (over five simulated days) meets the day's; fitted at both
  price-scale exponents, the one whose simulated days (never those a report
  shows) come nearest the day's facts is kept.
"""

from __future__ import annotations

import math
import os
import statistics
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import msgspec
import numpy as np
import numpy.typing as npt

from makerkit.core.errors import ConfigError, DataError
from makerkit.data._facts import (
    FACT_TARGETS,
    MarketFacts,
    compare_market_facts,
    forward_fill,
    lobster_market_facts,
    market_order_times,
    simulated_market_facts,
    weighted_quantiles,
)
from makerkit.data._lobster import LobsterDay, lobster_tick
from makerkit.data._simulator import MarketSimulator, SimParams, SimRun

__all__ = [
    "StylisedFacts",
    "calibrate_lobster",
    "calibrate_shape",
    "fit_hawkes",
    "intraday_profiles",
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


# ------------------------------------------------------------- the day's shape

_RATIOS = 40  # equally likely improvement ratios kept
_MIN_VISIBLE_S = 60.0  # a distance seen for less than this is interpolated
_MIN_SPREAD_S = 20.0  # a spread held for less than this is interpolated
_HAWKES_BUCKET_S = 300.0
_FIT_SPREAD_S = 1800.0  # simulated seconds per run of the spread fit
_PROFILE_S = 60.0  # the intraday profiles' window
_ACF_LAGS = 5  # the clock's dispersion meets the mean |10 s return| autocorrelation at lags 1-5
_MIN_SCALE = 1 / 16  # price scales are kept within [1/16, 16] of the day's
# the price scale's exponents a fit chooses between: the whole spread ratio, or its root.
# Two far apart: a middle one (0.75) is within the noise of the judging days
PRICE_EXPONENTS = (1.0, 0.5)
# simulated days that judge each exponent (with nine, GOOG's level-1 file went by chance)
_JUDGE_DAYS = 27
_ACF_DAYS = 5  # simulated days whose mean |10 s return| ACF the clock's dispersion meets
_ACF_SEED = 500  # their seeds start here past the fit's: not the days a report shows
_JUDGE_SEED = 1000  # their seeds start here past the fit's: never the days a report shows


def fit_hawkes(
    times_ns: npt.ArrayLike, *, bucket_s: float = _HAWKES_BUCKET_S, max_iter: int = 200
) -> tuple[float, float]:
    """Fit a Hawkes process with kernel n * beta * exp(-beta t) to event times.

    Expectation-maximisation (each event's parent, background or an earlier
    event, is the hidden variable) over a background rate that is constant
    within each ``bucket_s`` window, so that slow swings of activity are not
    read as self-excitation. Returns (branching ratio n, decay beta per second).
    """
    t = np.asarray(times_ns, dtype=np.float64)
    if t.ndim != 1 or t.size < 10:
        msg = f"invalid `times_ns`, need >= 10 event times to fit, was {t.size}"
        raise ConfigError(msg)
    if np.any(np.diff(t) < 0):
        msg = "invalid `times_ns`, must not decrease"
        raise ConfigError(msg)
    if not (math.isfinite(bucket_s) and bucket_s > 0):
        msg = f"invalid `bucket_s`, must be > 0, was {bucket_s}"
        raise ConfigError(msg)
    t = (t - t[0]) / 1e9
    n_ev = t.size
    bucket = (t // bucket_s).astype(np.int64)
    buckets = int(bucket[-1]) + 1
    length = np.full(buckets, bucket_s)
    tail = float(t[-1]) - bucket_s * (buckets - 1)
    length[-1] = max(tail, bucket_s / 10)
    gaps = np.diff(t).tolist()
    n, beta = 0.3, 100.0
    mu = np.bincount(bucket, minlength=buckets) / length * (1 - n)
    s_arr, d_arr = np.zeros(n_ev), np.zeros(n_ev)
    for _ in range(max_iter):
        # S_i = sum_j<i e^(-beta (t_i - t_j)), D_i = sum_j<i (t_i - t_j) e^(-beta (t_i - t_j))
        s_acc = d_acc = 0.0
        for i, gap in enumerate(gaps, start=1):
            decay = math.exp(-beta * gap)
            d_acc = decay * (d_acc + gap * (s_acc + 1.0))
            s_acc = decay * (s_acc + 1.0)
            s_arr[i], d_arr[i] = s_acc, d_acc
        alpha = n * beta
        lam = mu[bucket] + alpha * s_arr
        children = float(np.sum(alpha * s_arr / lam))
        lag_sum = float(np.sum(alpha * d_arr / lam))
        mu = np.bincount(bucket, weights=mu[bucket] / lam, minlength=buckets) / length
        if children <= 0 or lag_sum <= 0:
            return 0.0, 1.0
        new_beta, n = children / lag_sum, min(children / n_ev, 0.95)
        done = abs(new_beta - beta) <= 1e-6 * beta
        beta = new_beta
        if done:
            break
    return float(n), float(beta)


def _visible_profiles(day: LobsterDay, tick: int, levels: int) -> tuple[F64, F64]:
    """Limit arrivals per side per second and cancellations per resting order, by distance.

    Each distance is counted over the time it lay inside the file's levels;
    distances seen for less than ``_MIN_VISIBLE_S`` are interpolated, or hold
    the last well-seen value beyond it.
    """
    m, prev = day.messages, day.book[:-1]
    deepest = day.levels - 1
    ask1, bid1 = prev[:, 0], prev[:, 2]
    seen_ask = (prev[:, 4 * deepest] - ask1) // tick
    seen_bid = (bid1 - prev[:, 4 * deepest + 2]) // tick
    dwell = np.diff(m.ts_ns).astype(np.float64) / 1e9
    visible = np.zeros(levels)
    for seen in (seen_ask, seen_bid):
        at = np.bincount(np.clip(seen, 0, levels - 1), weights=dwell, minlength=levels)[:levels]
        visible += np.cumsum(at[::-1])[::-1]  # time with the window reaching at least d
    typ, side, price = m.type[1:], m.direction[1:], m.price[1:]
    behind = np.where(side == 1, bid1 - price, price - ask1) // tick
    inside = (behind >= 0) & (behind < levels)
    adds = np.bincount(behind[(typ == 1) & inside], minlength=levels)[:levels].astype(np.float64)
    cancels = ((typ == 2) | (typ == 3)) & inside
    cancel_counts = np.bincount(behind[cancels], minlength=levels)[:levels].astype(np.float64)
    size_time = np.zeros(levels)
    for pcol, sign in ((0, 1), (2, -1)):
        prices, sizes = prev[:, pcol::4], prev[:, pcol + 1 :: 4]
        d = sign * (prices - prices[:, :1]) // tick
        ok = (d >= 0) & (d < levels) & (sizes > 0)
        weights = sizes * dwell[:, None]
        size_time += np.bincount(d[ok], weights=weights[ok], minlength=levels)[:levels]
    mean_add = float(m.size[m.type == 1].mean()) if (m.type == 1).any() else 1.0
    well = visible >= _MIN_VISIBLE_S
    idx = np.arange(levels)
    with np.errstate(divide="ignore", invalid="ignore"):
        arrivals = adds / visible
        orders = size_time / visible / mean_add
        cancel = cancel_counts / (visible * orders)
    arrivals = np.interp(idx, idx[well], arrivals[well]) if well.any() else np.zeros(levels)
    known = well & (orders > 1e-3) & np.isfinite(cancel)
    cancel = np.interp(idx, idx[known], cancel[known]) if known.any() else np.full(levels, 0.1)
    return arrivals, np.maximum(cancel, 1e-4)


def _touch_gaps(day: LobsterDay, tick: int) -> float:
    """Mean ticks the best price recedes by when its level empties (how sparse the book is)."""
    b = day.book
    gaps = []
    for col, sign in ((0, 1), (2, -1)):
        move = sign * np.diff(b[:, col]) // tick
        gaps.append(move[move > 0])
    both = np.concatenate(gaps)
    return float(both.mean()) if both.size else 1.0


def _by_spread(counts: F64, time_at: F64, per: float) -> tuple[float, ...]:
    """Rates per unit at each spread; spreads held under ``_MIN_SPREAD_S`` are interpolated."""
    idx = np.arange(time_at.size)
    well = time_at >= _MIN_SPREAD_S
    if not well.any():
        rate = float(counts.sum() / max(float(time_at.sum()) * per, 1e-9))
        return (round(rate, 9),)
    rates = np.interp(idx, idx[well], counts[well] / (time_at[well] * per))
    return tuple(round(float(r), 9) for r in rates)


def _shape_tables(
    day: LobsterDay, tick: int
) -> tuple[tuple[float, ...], tuple[float, ...], tuple[float, ...], float]:
    """Improvement ratios, market-order and touch-cancel rates by spread, within-touch share."""
    m, b = day.messages, day.book
    prev, cur = b[:-1], b[1:]
    before = ((prev[:, 0] - prev[:, 2]) // tick).clip(1, None)
    after = ((cur[:, 0] - cur[:, 2]) // tick).clip(1, None)
    typ, side, price = m.type[1:], m.direction[1:], m.price[1:]
    own = np.where(side == 1, prev[:, 2] - price, price - prev[:, 0]) // tick
    improving = (typ == 1) & (own < 0)
    if improving.any():
        qs = (np.arange(_RATIOS) + 0.5) / _RATIOS
        ratio = np.quantile(after[improving] / before[improving], qs)
        ratios = tuple(round(float(r), 6) for r in ratio)
    else:
        ratios = ()
    width = max(int(np.percentile(before, 99)), 1)
    dwell = np.diff(m.ts_ns).astype(np.float64) / 1e9
    s_row = np.minimum(before, width) - 1
    time_at = np.bincount(s_row, weights=dwell, minlength=width)[:width].astype(np.float64)
    # market orders: visible executions of one side at one timestamp in consecutive rows
    ex = np.flatnonzero(m.type == 4)
    ts, direction = m.ts_ns[ex], m.direction[ex]
    new = np.ones(ex.size, dtype=bool)
    new[1:] = (ts[1:] != ts[:-1]) | (direction[1:] != direction[:-1]) | (ex[1:] != ex[:-1] + 1)
    first = ex[new]
    first = first[first > 0] - 1  # the message index in ``prev`` terms
    mo_counts = np.bincount(s_row[first], minlength=width)[:width].astype(np.float64)
    market = _by_spread(mo_counts, time_at, 1.0)
    touch_cancels = ((typ == 2) | (typ == 3)) & (own == 0)
    tc_counts = np.bincount(s_row[touch_cancels], minlength=width)[:width].astype(np.float64)
    mean_add = float(m.size[m.type == 1].mean()) if (m.type == 1).any() else 1.0
    touch_orders = (prev[:, 1] + prev[:, 3]) / 2 / mean_add
    order_time = np.bincount(s_row, weights=dwell * touch_orders, minlength=width)[:width]
    with np.errstate(divide="ignore", invalid="ignore"):
        orders_at = np.where(time_at > 0, order_time / time_at, 0.0)
    touch = _by_spread(tc_counts, time_at * orders_at, 2.0)
    group = np.cumsum(new) - 1
    prices = m.price[ex]
    walked = np.bincount(group, weights=(prices != prices[new][group]).astype(np.float64)) > 0
    within = round(1.0 - float(walked.mean()), 6) if walked.size else 1.0
    return ratios, market, touch, within


def _activity_tau(real: MarketFacts) -> float:
    """Seconds over which |10 s returns| stay correlated (log-linear fit over lags 1-10)."""
    acf = np.asarray(real.abs_ret_acf_10s)
    ok = acf > 0.01
    if ok.sum() < 3:
        return 600.0
    lags = 10.0 * np.arange(1, acf.size + 1)
    slope = float(np.polyfit(lags[ok], np.log(acf[ok]), 1)[0])
    return float(np.clip(-1.0 / slope, 60.0, 3600.0)) if slope < 0 else 3600.0


def calibrate_shape(
    day: LobsterDay,
    *,
    levels: int | None = None,
    informed: float = 1.0,
    fit: bool = True,
    seed: int = 1,
    exponents: tuple[float, ...] = PRICE_EXPONENTS,
) -> SimParams:
    """Fit the simulator to a LOBSTER day's shape: spread distribution, clustering, volatility.

    ``levels`` (distances modelled behind the best) defaults to the 99th
    percentile of how far the file's deepest level lay (of the spread, for a
    level-1 file), at least 10. ``fit``
    then meets the spread quantiles and the |10 s return| autocorrelation by
    simulated moments (seeds from ``seed``; deterministic), and keeps the
    price scale's exponent among ``exponents`` whose simulated days come
    nearest the day's facts.
    """
    if not exponents or any(not (math.isfinite(e) and 0 <= e <= 2) for e in exponents):
        msg = f"invalid `exponents`, must be one or more within [0, 2], was {exponents}"
        raise ConfigError(msg)
    base = calibrate_lobster(day, informed=informed, fit=False)
    b = day.book
    tick = lobster_tick(day)
    deepest = day.levels - 1
    if levels is None:
        reach = (
            np.r_[(b[:, 4 * deepest] - b[:, 0]) // tick, (b[:, 2] - b[:, 4 * deepest + 2]) // tick]
            if day.levels > 1
            else (b[:, 0] - b[:, 2]) // tick
        )
        levels = int(np.clip(np.percentile(reach, 99), 10, 400))
    elif levels < 1:
        msg = f"invalid `levels`, must be >= 1, was {levels}"
        raise ConfigError(msg)
    if day.levels > 1:
        arrivals, cancel = _visible_profiles(day, tick, levels)
    else:
        # a level-1 file hides everything behind the touch: spread the touch's own rates
        # behind it, dense enough that an emptied touch recedes by the day's mean gap
        arrivals, cancel = _visible_profiles(day, tick, 1)
        occupied = min(max(1.0 / _touch_gaps(day, tick), 0.05), 0.95)
        behind = -float(cancel[0]) * math.log1p(-occupied)
        arrivals = np.r_[arrivals, np.full(levels - 1, behind)]
        cancel = np.r_[cancel, np.full(levels - 1, float(cancel[0]))]
    ratios, market, touch, within = _shape_tables(day, tick)
    mo_ts = market_order_times(day)
    n, beta = fit_hawkes(mo_ts) if mo_ts.size >= 10 else (0.0, 1.0)
    real = lobster_market_facts(day)
    all_markets = base.market_rate / (1 - base.hawkes_alpha / base.hawkes_beta)
    params = msgspec.structs.replace(
        base,
        limit_rate=tuple(round(float(r), 9) for r in arrivals),
        cancel_rate=tuple(round(float(r), 9) for r in cancel),
        market_rate=round(all_markets * (1 - n), 9),
        market_rate_by_spread=tuple(round(r * (1 - n), 9) for r in market),
        touch_cancel_by_spread=touch,
        market_within_touch=within,
        hawkes_alpha=round(n * beta, 9),
        hawkes_beta=round(beta, 9),
        improve_ratio=ratios,
        activity_tau=round(_activity_tau(real), 3),
    )
    if not fit:
        return params
    return _fit_shape(params, real, day, seed, tuple(exponents))


def _log_spread(f: MarketFacts) -> float:
    qs = (f.spread_p10, f.spread_p50, f.spread_p90, f.spread_p99)
    return float(np.mean(np.log(np.maximum(qs, 1.0))))


def _mean_acf(f: MarketFacts) -> float:
    return float(np.mean(f.abs_ret_acf_10s[:_ACF_LAGS]))


def _day_grid(day: LobsterDay, step_s: float) -> tuple[F64, F64, I64]:
    """The day on a 1 s grid: mid returns (ticks), the log spread at each start, its window.

    Each window is ``step_s`` seconds of the grid. One-sided seconds hold the
    last two-sided mid and spread (before the first: no return, the day's
    mean spread).
    """
    m, b = day.messages, day.book
    tick = lobster_tick(day)
    both = (b[:, 1] > 0) & (b[:, 3] > 0)
    mid = np.where(both, (b[:, 0] + b[:, 2]) / 2 / tick, np.nan)
    spread = np.where(both, np.log(np.maximum((b[:, 0] - b[:, 2]) / tick, 1.0)), np.nan)
    grid = np.arange(int(m.ts_ns[0]), int(m.ts_ns[-1]) + 1, 1_000_000_000, dtype=np.int64)
    row = np.maximum(np.searchsorted(m.ts_ns, grid, side="right") - 1, 0)
    grid_mid, level = forward_fill(mid)[row], forward_fill(spread)[row]
    returns = np.nan_to_num(np.diff(grid_mid))
    known = np.isfinite(level)
    level = np.where(known, level, float(level[known].mean()) if known.any() else 0.0)[:-1]
    which = (np.arange(returns.size) // max(int(step_s), 1)).astype(np.int64)
    return returns, level, which


def intraday_profiles(
    day: LobsterDay, step_s: float = _PROFILE_S, exponent: float = 1.0
) -> tuple[F64, F64]:
    """The day's price scale and clock speed in each ``step_s`` window (both 1 on average).

    The price scale is the window's geometric-mean spread over the day's, to
    the power ``exponent`` (at 1 a window quoted three times as wide moves on
    a grid three times as coarse: the opening; at 0.5 on one 1.7 times as
    coarse, and more of its variance is more events); the speed is the square
    root of what is left of the window's 1 s return variance once the scale
    is taken out (returns on a grid k times as coarse have k^2 the variance
    at the same speed; the root shrinks a noisy estimate, and the clock's own
    swings carry the rest).
    """
    if not (math.isfinite(step_s) and step_s >= 1):
        msg = f"invalid `step_s`, must be >= 1 s, was {step_s}"
        raise ConfigError(msg)
    if not (math.isfinite(exponent) and 0 <= exponent <= 2):
        msg = f"invalid `exponent`, must be within [0, 2], was {exponent}"
        raise ConfigError(msg)
    r1, level, which = _day_grid(day, step_s)
    windows = max(int(which[-1]) + 1 if which.size else 1, 1)
    counts = np.maximum(np.bincount(which, minlength=windows), 1)
    ratio = np.bincount(which, weights=level, minlength=windows) / counts - level.mean()
    scale = np.exp(exponent * ratio)
    scale = np.clip(scale, _MIN_SCALE, 1 / _MIN_SCALE) if level.size else np.ones(windows)
    variance = np.bincount(which, weights=r1 * r1, minlength=windows) / counts
    residual = variance / (scale * scale)
    if residual.mean() > 0:
        speed = np.clip(np.sqrt(residual / residual.mean()), 0.25, 4.0)
    else:
        speed = np.ones(windows)
    return scale, speed / speed.mean()


def _scaled_spreads(day: LobsterDay, scale: F64, step_s: float) -> F64:
    """The day's time-weighted spread quantiles (p10, p50, p90, p99) in each window's scale."""
    m, b = day.messages, day.book
    tick = lobster_tick(day)
    both = (b[:, 1] > 0) & (b[:, 3] > 0)
    dwell = np.diff(np.append(m.ts_ns, m.ts_ns[-1])).astype(np.float64)
    which = ((m.ts_ns - m.ts_ns[0]) // int(step_s * 1e9)).astype(np.int64)
    k = scale[np.minimum(which, scale.size - 1)]
    spread = (b[:, 0] - b[:, 2]) / tick / k
    qs = weighted_quantiles(spread[both], dwell[both], (0.1, 0.5, 0.9, 0.99))
    return np.asarray(qs, dtype=np.float64)


def _fit_shape(
    params: SimParams,
    real: MarketFacts,
    day: LobsterDay,
    seed: int,
    exponents: tuple[float, ...] = PRICE_EXPONENTS,
    judge_days: int = _JUDGE_DAYS,
) -> SimParams:
    """Meet the spread quantiles, the intraday shape and the volatility clustering.

    * the intraday profile, each minute (``intraday_profiles``): the price
      scale (the minute's spread over the day's, to an exponent) and the
      business clock's speed (what is left of its 1 s return variance);
    * the improvement factor: short runs of the base market (scale 1, without
      the business clock: a time change does not move the spread's
      distribution) at factors 1/16 .. 8 map factor to spread; the factor whose
      spread quantiles meet the day's, each spread read in its minute's scale,
      in log terms is interpolated;
    * then the clock's dispersion: a bisection over runs as long as the day,
      so that the |10 s return| autocorrelation at lags 1-5, the mean over
      five simulated days (seeds from ``seed + 500``), meets the day's;
    * with several ``exponents``, each is fitted so, and the one whose worst
      target fact (the median over ``judge_days`` simulated days, seeds from
      ``seed + 1000``, none of them the days a report is judged on) lies
      nearest the day's, in log ratio, is kept; a tie keeps the first.
    """
    short = min(real.seconds, _FIT_SPREAD_S)
    still = msgspec.structs.replace(
        params, activity_sigma=0.0, activity_profile=(), price_profile=()
    )
    factors = 2.0 ** np.arange(-4, 4)
    levels = []
    for k in factors:
        rates = tuple(round(r * k, 9) for r in params.improve_rate)
        facts = simulated_market_facts(
            msgspec.structs.replace(still, improve_rate=rates), seconds=short, seed=seed, levels=0
        )
        levels.append(_log_spread(facts))
    goal = _mean_acf(real)

    def fit_at(exponent: float) -> SimParams:
        scale, speed = intraday_profiles(day, _PROFILE_S, exponent)
        # the base market (scale 1) meets the day's spreads read in each window's own scale
        spreads = _scaled_spreads(day, scale, _PROFILE_S)
        target = float(np.mean(np.log(np.maximum(spreads, 1.0))))
        # the spread falls as the factor rises: interpolate on the reversed arrays
        log_k = np.interp(target, np.asarray(levels)[::-1], np.log(factors)[::-1])
        fitted = msgspec.structs.replace(
            params,
            improve_rate=tuple(round(r * math.exp(log_k), 9) for r in params.improve_rate),
            profile_step=_PROFILE_S,
            activity_profile=tuple(round(float(x), 6) for x in speed),
            price_profile=tuple(round(float(x), 6) for x in scale),
            activity_sigma=0.0,
        )

        def clustered(sigma: float) -> SimParams:
            return msgspec.structs.replace(fitted, activity_sigma=round(sigma, 6))

        def acf(p: SimParams) -> float:  # a mean over days: one day's ACF is noisy
            days = _days(p, real.seconds, seed + _ACF_SEED, _ACF_DAYS)
            return statistics.fmean(map(_mean_acf, days))

        if acf(fitted) >= goal:
            return fitted
        lo, hi = 0.0, 1.5
        for _ in range(7):
            mid = (lo + hi) / 2
            if acf(clustered(mid)) < goal:
                lo = mid
            else:
                hi = mid
        return clustered((lo + hi) / 2)

    candidates = [fit_at(e) for e in exponents]
    if len(candidates) == 1:
        return candidates[0]
    scores = [_worst_fact(real, c, seed + _JUDGE_SEED, judge_days) for c in candidates]
    return candidates[scores.index(min(scores))]


def _days(params: SimParams, seconds: float, seed: int, days: int) -> list[MarketFacts]:
    """``days`` simulated days (seeds from ``seed``) without depth samples, in seed order."""
    # the simulator leaves the GIL while it runs: the days share the cores
    with ThreadPoolExecutor(max_workers=min(os.cpu_count() or 1, 8)) as pool:
        return list(
            pool.map(
                lambda k: simulated_market_facts(params, seconds=seconds, seed=seed + k, levels=0),
                range(days),
            )
        )


def _worst_fact(real: MarketFacts, params: SimParams, seed: int, days: int) -> float:
    """The largest |log(sim / real)| over the target facts, sim the median over ``days`` days."""
    report = compare_market_facts(real, _days(params, real.seconds, seed, days))
    ratios = [report.facts[name].ratio for name in FACT_TARGETS]
    return max(abs(math.log(r)) if math.isfinite(r) and r > 0 else math.inf for r in ratios)
