"""The day's shape, real and simulated: the stylised facts a market simulator must reproduce.

Measured the same way on a LOBSTER day (message + orderbook file) and on a
simulated run:

* mid-price returns in ticks, sampled on a 1 s and a 10 s grid of market time
  (the last mid at or before each grid point): their excess kurtosis
  (population moments, 0 for a normal law) and the autocorrelation of the
  returns and of their absolute values at lags 1-10;
* the spread in ticks, weighted by the time it lasted: quantiles p10, p50,
  p90, p99 (the smallest spread with at least that share of the time at or
  below it) and the share of time at one tick;
* market orders: the share of inter-arrival times under 10 ms (on LOBSTER,
  visible executions of one side at one timestamp in consecutive rows are one
  market order);
* depth: the mean size at the first three price levels with orders, both
  sides averaged, weighted by time (sampled every second on a simulation).

``compare_market_facts`` puts the two side by side with ``ratio = sim / real``.
Where the real value is close to 0 the ratio is unstable, so both values are
first raised to a floor, the smallest value the measurement tells apart from
0: two standard errors for a kurtosis (sqrt(24/n)) or an autocorrelation
(1/sqrt(n)) of n returns, one percentage point for a share. Two values both
below the floor compare as equal (ratio 1); a negative value counts as 0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import numpy.typing as npt

from makerkit.core.errors import ConfigError, DataError
from makerkit.data._lobster import LobsterDay, load_lobster, lobster_tick
from makerkit.data._simulator import MarketSimulator, SimParams

__all__ = [
    "FACT_TARGETS",
    "FactComparison",
    "FactsReport",
    "MarketFacts",
    "autocorrelation",
    "compare_market_facts",
    "excess_kurtosis",
    "forward_fill",
    "load_lobster_beside",
    "lobster_market_facts",
    "market_order_times",
    "sampled_returns",
    "share_under",
    "simulated_market_facts",
    "weighted_quantiles",
]

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

FACT_TARGETS = (
    "kurtosis_1s",
    "kurtosis_10s",
    "spread_p10",
    "spread_p50",
    "spread_p90",
    "spread_p99",
    "spread_one_tick_share",
    "mo_interarrival_under_10ms",
    "abs_ret_acf_10s_lag2",
)
"""The facts a calibrated simulation is held to (within a factor of 1.5 of the real day)."""

TOLERANCE = 1.5
_LAGS = 10
_SHARE_FLOOR = 0.01
_FAST_NS = 10_000_000  # 10 ms
_NS = 1_000_000_000
_CHUNK = 50_000  # commands per call while simulating up to the next second


class MarketFacts(msgspec.Struct, frozen=True, kw_only=True):
    """One market's stylised facts (spreads in ticks, depth in lots, ACFs at lags 1-10)."""

    kurtosis_1s: float
    kurtosis_10s: float
    ret_acf_1s: tuple[float, ...]
    ret_acf_10s: tuple[float, ...]
    abs_ret_acf_1s: tuple[float, ...]
    abs_ret_acf_10s: tuple[float, ...]
    spread_p10: float
    spread_p50: float
    spread_p90: float
    spread_p99: float
    spread_one_tick_share: float
    mo_interarrival_under_10ms: float
    depth: tuple[float, ...]  # levels 1..3
    returns_1s: int  # how many returns each grid gave (the floors depend on it)
    returns_10s: int
    market_orders: int
    seconds: float

    @property
    def abs_ret_acf_10s_lag2(self) -> float:
        """Autocorrelation of |10 s returns| at lag 2 (a named target)."""
        return self.abs_ret_acf_10s[1]

    def value(self, name: str) -> float:
        """The fact called ``name`` (a target, or ``depth_l1``..``depth_l3``)."""
        if name.startswith("depth_l"):
            k = int(name[7:]) - 1
            return self.depth[k] if k < len(self.depth) else math.nan
        return float(getattr(self, name))


class FactComparison(msgspec.Struct, frozen=True, kw_only=True):
    """One fact, real and simulated; ``ratio`` is sim / real after the floor.

    Over several simulated days ``sim`` is the median of ``sim_seeds`` (one
    value a seed) and ``seeds_within`` counts the seeds within the tolerance
    alone: a heavy-tailed fact (a kurtosis) moves by 3x from seed to seed, so
    one simulated day says little about the model.
    """

    real: float
    sim: float
    ratio: float
    within_1_5x: bool
    floor: float
    sim_seeds: tuple[float, ...] = ()
    seeds_within: int = 0

    def to_builtins(self) -> dict[str, Any]:
        """JSON fields (NaN and infinity as null); the per-seed ones only over several seeds."""
        out: dict[str, Any] = {
            f: _finite(getattr(self, f)) for f in ("real", "sim", "ratio", "within_1_5x", "floor")
        }
        if self.sim_seeds:
            out["sim_seeds"] = [_finite(v) for v in self.sim_seeds]
            out["seeds_within"] = self.seeds_within
        return out


class FactsReport(msgspec.Struct, frozen=True, kw_only=True):
    """Real vs simulated: the facts, the ACFs at lags 1-10 and how many targets are met."""

    facts: dict[str, FactComparison]
    acf: dict[str, dict[str, tuple[float, ...]]]
    targets: int
    within_1_5x: int
    real_seconds: float
    sim_seconds: float
    seeds: int = 1  # simulated days compared (each fact's sim is their median)

    def to_builtins(self) -> dict[str, Any]:
        """The ``--json`` shape: ``facts``, ``acf`` and ``summary`` (NaN and infinity as null)."""
        return {
            "facts": {k: v.to_builtins() for k, v in self.facts.items()},
            "acf": {
                k: {side: [_finite(x) for x in v] for side, v in d.items()}
                for k, d in self.acf.items()
            },
            "summary": {
                "targets": self.targets,
                "within_1_5x": self.within_1_5x,
                "all_within_1_5x": self.within_1_5x == self.targets,
                "tolerance": TOLERANCE,
                "real_seconds": self.real_seconds,
                "sim_seconds": self.sim_seconds,
                "seeds": self.seeds,
            },
        }


def _finite(x: float | bool) -> float | bool | None:
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


# ---------------------------------------------------------------- the measures


def excess_kurtosis(x: npt.ArrayLike) -> float:
    """Excess kurtosis m4 / m2^2 - 3 (population moments); 0 for constant or tiny samples."""
    a = np.asarray(x, dtype=np.float64)
    if a.size < 4:
        return 0.0
    d = a - a.mean()
    m2 = float(np.mean(d * d))
    if m2 <= 0.0:
        return 0.0
    return float(np.mean(d**4) / (m2 * m2) - 3.0)


def autocorrelation(x: npt.ArrayLike, lags: int = _LAGS) -> tuple[float, ...]:
    """Sample autocorrelation at lags 1..``lags`` (0 where undefined)."""
    a = np.asarray(x, dtype=np.float64)
    d = a - a.mean() if a.size else a
    denom = float(np.dot(d, d))
    if denom <= 0.0:
        return (0.0,) * lags
    return tuple(
        float(np.dot(d[:-k], d[k:]) / denom) if k < d.size else 0.0 for k in range(1, lags + 1)
    )


def weighted_quantiles(
    values: npt.ArrayLike, weights: npt.ArrayLike, qs: tuple[float, ...]
) -> tuple[float, ...]:
    """The smallest value with at least share q of the weight at or below it, for each q."""
    v = np.asarray(values, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    if v.shape != w.shape:
        msg = f"invalid `weights`, must match `values` in shape, was {w.shape} vs {v.shape}"
        raise ConfigError(msg)
    ok = w > 0
    v, w = v[ok], w[ok]
    if v.size == 0:
        return (math.nan,) * len(qs)
    order = np.argsort(v, kind="stable")
    v, cum = v[order], np.cumsum(w[order])
    total = cum[-1]
    idx = [min(int(np.searchsorted(cum, q * total * (1 - 1e-12), side="left")), v.size - 1)
           for q in qs]  # fmt: skip
    return tuple(float(v[i]) for i in idx)


def share_under(times_ns: npt.ArrayLike, limit_ns: int = _FAST_NS) -> float:
    """Share of the gaps between consecutive times that are shorter than ``limit_ns``."""
    t = np.asarray(times_ns, dtype=np.int64)
    if t.size < 2:
        return 0.0
    gaps = np.diff(t)
    return float(np.mean(gaps < limit_ns))


def sampled_returns(ts_ns: I64, mid: F64, step_ns: int, start_ns: int, end_ns: int) -> F64:
    """Changes of ``mid`` between grid points ``start_ns + k * step_ns`` (last value at or before).

    Grid points before the first finite mid are dropped.
    """
    if step_ns <= 0:
        msg = f"invalid `step_ns`, must be > 0, was {step_ns}"
        raise ConfigError(msg)
    grid = np.arange(start_ns, end_ns + 1, step_ns, dtype=np.int64)
    idx = np.searchsorted(ts_ns, grid, side="right") - 1
    grid_mid = np.where(idx >= 0, mid[np.maximum(idx, 0)], np.nan)
    grid_mid = grid_mid[np.isfinite(grid_mid)]
    out: F64 = np.diff(grid_mid)
    return out


def forward_fill(x: F64) -> F64:
    """Each NaN replaced by the last finite value before it (leading NaNs stay)."""
    ok = np.isfinite(x)
    idx = np.where(ok, np.arange(x.size), 0)
    np.maximum.accumulate(idx, out=idx)
    filled: F64 = x[idx]
    return filled


def _facts(
    *,
    ts: I64,
    mid: F64,
    spread: F64,
    mo_ts: I64,
    depth: tuple[float, ...],
    start_ns: int,
    end_ns: int,
) -> MarketFacts:
    """Every fact from row-aligned times, mids and spreads (ticks; NaN where one-sided)."""
    mid = forward_fill(mid)
    r1 = sampled_returns(ts, mid, _NS, start_ns, end_ns)
    r10 = sampled_returns(ts, mid, 10 * _NS, start_ns, end_ns)
    dwell = np.diff(np.append(ts, end_ns)).astype(np.float64).clip(0, None)
    ok = np.isfinite(spread)
    p10, p50, p90, p99 = weighted_quantiles(spread[ok], dwell[ok], (0.1, 0.5, 0.9, 0.99))
    total = float(dwell[ok].sum())
    one_tick = float(dwell[ok & (spread <= 1)].sum()) / total if total > 0 else 0.0
    return MarketFacts(
        kurtosis_1s=excess_kurtosis(r1),
        kurtosis_10s=excess_kurtosis(r10),
        ret_acf_1s=autocorrelation(r1),
        ret_acf_10s=autocorrelation(r10),
        abs_ret_acf_1s=autocorrelation(np.abs(r1)),
        abs_ret_acf_10s=autocorrelation(np.abs(r10)),
        spread_p10=p10,
        spread_p50=p50,
        spread_p90=p90,
        spread_p99=p99,
        spread_one_tick_share=one_tick,
        mo_interarrival_under_10ms=share_under(mo_ts),
        depth=depth,
        returns_1s=int(r1.size),
        returns_10s=int(r10.size),
        market_orders=int(mo_ts.size),
        seconds=(end_ns - start_ns) / 1e9,
    )


# ------------------------------------------------------------ real and simulated


def market_order_times(day: LobsterDay) -> I64:
    """Times of the day's market orders: visible executions of one side at one timestamp."""
    m = day.messages
    ex = np.flatnonzero(m.type == 4)
    if ex.size == 0:
        return np.zeros(0, dtype=np.int64)
    ts, side = m.ts_ns[ex], m.direction[ex]
    new = np.ones(ex.size, dtype=bool)
    new[1:] = (ts[1:] != ts[:-1]) | (side[1:] != side[:-1]) | (ex[1:] != ex[:-1] + 1)
    out: I64 = ts[new]
    return out


def lobster_market_facts(day: LobsterDay, *, levels: int = 3) -> MarketFacts:
    """The stylised facts of a LOBSTER day (its orderbook file gives spread, mid and depth)."""
    m, b = day.messages, day.book
    if len(m) < 2:
        msg = f"cannot measure facts: {len(m)} messages, need >= 2"
        raise DataError(msg, path=m.path)
    tick = lobster_tick(day)
    ts = m.ts_ns
    start, end = int(ts[0]), int(ts[-1])
    ask, bid = b[:, 0].astype(np.float64), b[:, 2].astype(np.float64)
    both = (b[:, 1] > 0) & (b[:, 3] > 0)
    mid = np.where(both, (ask + bid) / 2 / tick, np.nan)
    spread = np.where(both, (ask - bid) / tick, np.nan)
    dwell = np.diff(np.append(ts, end)).astype(np.float64)
    weight = dwell.sum()
    depth = tuple(
        float((dwell * (b[:, 4 * k + 1] + b[:, 4 * k + 3])).sum() / (2 * weight))
        if weight > 0
        else math.nan
        for k in range(min(levels, day.levels))
    )
    return _facts(
        ts=ts, mid=mid, spread=spread, mo_ts=market_order_times(day), depth=depth,
        start_ns=start, end_ns=end,
    )  # fmt: skip


def simulated_market_facts(
    params: SimParams,
    *,
    seconds: float,
    seed: int = 1,
    warmup_s: float = 300.0,
    backend: str | None = None,
    levels: int = 3,
) -> MarketFacts:
    """Simulate ``seconds`` of market from ``params.start_ns`` and measure the same facts.

    The market runs ``warmup_s`` (rounded up to whole profile steps) before
    the start to forget its seeded book, in the conditions of the first
    profile step. Deterministic for a fixed ``seed``. Depth is sampled from
    the book once a simulated second, both sides, at the first ``levels``
    price levels (none at 0, and faster).
    """
    if not (math.isfinite(seconds) and seconds > 0):
        msg = f"invalid `seconds`, must be > 0, was {seconds}"
        raise ConfigError(msg)
    if not (math.isfinite(warmup_s) and warmup_s >= 0):
        msg = f"invalid `warmup_s`, must be >= 0, was {warmup_s}"
        raise ConfigError(msg)
    if levels < 0:
        msg = f"invalid `levels`, must be >= 0, was {levels}"
        raise ConfigError(msg)
    steps = math.ceil(warmup_s / params.profile_step)
    early = steps * params.profile_step
    warm = msgspec.structs.replace(
        params,
        start_ns=params.start_ns - int(early * 1e9),
        activity_profile=params.activity_profile[:1] * steps + params.activity_profile,
        price_profile=params.price_profile[:1] * steps + params.price_profile,
    )
    sim = MarketSimulator(warm, seed=seed, backend=backend)
    start = params.start_ns
    sim.advance(1 << 40, until_ns=start)
    # the book the warm-up left is the state at the start (action -1: no command)
    bid, ask = sim.book.best_bid() or (0, 0), sim.book.best_ask() or (0, 0)
    streams = [np.array([[start], [-1]], dtype=np.int64)]
    l1s = [np.array([[bid[0], bid[1], ask[0], ask[1]]], dtype=np.int64)]
    end = start + int(seconds * 1e9)
    totals, samples = np.zeros(levels), np.zeros(levels)
    t = start
    while t < end:
        # with no depth to sample, one stretch to the end (the draws do not depend on it)
        t = min(t + _NS, end) if levels else end
        while True:  # a full chunk may stop short of t
            run = sim.run(_CHUNK, until_ns=t)
            streams.append(np.stack([run.stream.ts, run.stream.action]))
            l1s.append(run.l1)
            if len(run) < _CHUNK:
                break
        for side in (1, -1):
            _, sizes = sim.book.top(side, levels)
            k = len(sizes)
            totals[:k] += np.asarray(sizes, dtype=np.float64)
            samples[:k] += 1
    ts, action = np.concatenate(streams, axis=1)
    l1 = np.concatenate(l1s).astype(np.float64)
    both = (l1[:, 0] > 0) & (l1[:, 2] > 0)
    mid = np.where(both, (l1[:, 0] + l1[:, 2]) / 2, np.nan)
    spread = np.where(both, l1[:, 2] - l1[:, 0], np.nan)
    depth = tuple(float(x) for x in totals / np.maximum(samples, 1))
    return _facts(
        ts=ts, mid=mid, spread=spread, mo_ts=ts[action == 3], depth=depth,
        start_ns=start, end_ns=end,
    )  # fmt: skip


# ------------------------------------------------------------------- comparison


def _floor(name: str, real: MarketFacts) -> float:
    if name.startswith("kurtosis_"):
        n = real.returns_1s if name.endswith("_1s") else real.returns_10s
        return 2.0 * math.sqrt(24.0 / max(n, 1))
    if "acf" in name:
        n = real.returns_1s if "_1s" in name else real.returns_10s
        return 2.0 / math.sqrt(max(n, 1))
    if name.endswith("share") or name.startswith("mo_"):
        return _SHARE_FLOOR
    return 0.0  # spreads (>= 1 tick) and depths


def _compare(real: float, sim: float, floor: float) -> FactComparison:
    if not (math.isfinite(real) and math.isfinite(sim)):
        return FactComparison(real=real, sim=sim, ratio=math.nan, within_1_5x=False, floor=floor)
    r, s = max(real, floor), max(sim, floor)
    if r <= 0.0:
        ratio = 1.0 if s <= 0.0 else math.inf
    else:
        ratio = s / r
    ok = 1.0 / TOLERANCE <= ratio <= TOLERANCE
    return FactComparison(real=real, sim=sim, ratio=ratio, within_1_5x=ok, floor=floor)


def compare_market_facts(
    real: MarketFacts, sim: MarketFacts | Sequence[MarketFacts]
) -> FactsReport:
    """Real vs simulated, fact by fact (targets first, then depth at levels 1-3).

    ``sim`` may be several simulated days (one a seed): each fact is then
    judged on its median over them, and every seed's value is kept.
    """
    sims = [sim] if isinstance(sim, MarketFacts) else list(sim)
    if not sims:
        msg = "invalid `sim`, must hold at least one simulated day"
        raise ConfigError(msg)
    names = [*FACT_TARGETS, *(f"depth_l{k + 1}" for k in range(len(real.depth)))]
    facts: dict[str, FactComparison] = {}
    for n in names:
        floor, values = _floor(n, real), tuple(s.value(n) for s in sims)
        one = _compare(real.value(n), _median(values), floor)
        if len(sims) > 1:
            alone = sum(_compare(one.real, v, floor).within_1_5x for v in values)
            one = msgspec.structs.replace(one, sim_seeds=values, seeds_within=alone)
        facts[n] = one
    acf = {
        name: {"real": getattr(real, name),
               "sim": tuple(_median(lag) for lag in zip(*(getattr(s, name) for s in sims),
                                                        strict=True))}
        for name in ("ret_acf_1s", "ret_acf_10s", "abs_ret_acf_1s", "abs_ret_acf_10s")
    }  # fmt: skip
    within = sum(facts[n].within_1_5x for n in FACT_TARGETS)
    return FactsReport(
        facts=facts, acf=acf, targets=len(FACT_TARGETS), within_1_5x=within,
        real_seconds=real.seconds, sim_seconds=sims[0].seconds, seeds=len(sims),
    )  # fmt: skip


def _median(values: Sequence[float]) -> float:
    """The median of the finite values; NaN when there are none."""
    finite = [v for v in values if math.isfinite(v)]
    return float(np.median(finite)) if finite else math.nan


def load_lobster_beside(message: str | Path) -> LobsterDay:
    """Load a LOBSTER message file and the orderbook file named like it, beside it.

    Raises :class:`~makerkit.core.DataError` naming the file when the message
    file is missing, is not named like one, or has no orderbook file beside it.
    """
    message = Path(message)
    if not message.is_file():
        msg = "no such message file"
        raise DataError(msg, path=str(message))
    if "_message_" not in message.name:
        msg = "not a LOBSTER message file name (expected `..._message_N.csv[.gz]`)"
        raise DataError(msg, path=str(message))
    book = message.with_name(message.name.replace("_message_", "_orderbook_"))
    if not book.is_file():
        msg = (
            f"no orderbook file beside it (looked for {book.name}); the spread, mid and depth "
            "come from the book"
        )
        raise DataError(msg, path=str(message))
    return load_lobster(message, book)
