"""Tune on one window, judge on the next: parameters chosen in sample, reported out of sample.

``tune`` searches a strategy's parameters on the train window only (Optuna's
TPE sampler, seeded, or a grid), ranks settings by an objective that ignores
inventory drift by default (``edge``: spread + adverse selection + fees) and
never lets a setting without fills win, then runs the chosen setting once on
the test window. Both windows are reported the same way: total PnL with a
bootstrap 95% interval (the per-minute PnL's interval times the number of
minutes), fills, and the PnL decomposition. The test window is never looked at
while choosing.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping
from typing import Any

import msgspec
import numpy as np

from makerkit.backtest import (
    DataSpec,
    load_market,
    load_markets,
    parse_data_spec,
    parse_time_of_day,
    run_on_spec,
)
from makerkit.core.errors import ConfigError
from makerkit.distributed._executor import run_tasks
from makerkit.distributed._sweep import DAYS, _market, is_days
from makerkit.metrics import OBJECTIVES, objective_value
from makerkit.strategies import make_strategy

__all__ = [
    "DEFAULT_SPACES",
    "Dimension",
    "TuneResult",
    "WalkForward",
    "parse_dimension",
    "parse_window",
    "tune",
    "walk_forward",
]


class Dimension(msgspec.Struct, frozen=True):
    """One tuned parameter: a float range, log-spaced when ``log``."""

    name: str
    low: float
    high: float
    log: bool = False

    def grid(self, num: int) -> list[float]:
        """``num`` values from low to high (inclusive)."""
        if num == 1:
            return [self.low]
        if self.log:
            return [float(v) for v in np.geomspace(self.low, self.high, num)]
        return [float(v) for v in np.linspace(self.low, self.high, num)]


# what is worth searching for each built-in (ticks, per tick, per sqrt second)
DEFAULT_SPACES: dict[str, tuple[Dimension, ...]] = {
    "symmetric": (Dimension("half_spread", 0.5, 8.0),),
    "inventory_skew": (Dimension("half_spread", 0.5, 8.0), Dimension("phi", 0.01, 2.0, log=True)),
    "adaptive_spread": (Dimension("base_half_spread", 0.5, 6.0), Dimension("vol_mult", 0.0, 4.0)),
    "avellaneda_stoikov": (
        Dimension("gamma", 0.01, 1.0, log=True),
        Dimension("k", 0.1, 5.0, log=True),
    ),
    "glft": (Dimension("gamma", 0.01, 1.0, log=True), Dimension("k", 0.1, 5.0, log=True)),
}


def _default_space(strategy: str, fitted: Mapping[str, Any]) -> tuple[Dimension, ...] | None:
    """The built-in space; with k fitted on the market, only gamma, on k's own scale.

    A fitted k (per tick) sets the price scale: gamma far above it quotes at the
    touch whatever the inventory, far below it never skews. Six decades under k
    cover a small tick with large lot counts (a crypto spot book) as well as a stock.
    """
    k = fitted.get("k")
    if strategy in ("glft", "avellaneda_stoikov") and isinstance(k, (int, float)) and k > 0:
        return (Dimension("gamma", k * 1e-6, float(k), log=True),)
    return DEFAULT_SPACES.get(strategy)


class TuneResult(msgspec.Struct, kw_only=True):
    """What ``tune`` chose and how it did on each window."""

    strategy: str
    data: str
    train: str
    test: str
    search: str
    objective: str
    seed: int
    best_params: dict[str, Any]
    in_sample: dict[str, Any]
    out_of_sample: dict[str, Any]
    trials: list[dict[str, Any]]  # every setting tried on train: params, objective, fills


def parse_dimension(text: str) -> Dimension:
    """``name=low:high`` or ``name=low:high:log``."""
    name, sep, rest = text.partition("=")
    bits = rest.split(":")
    try:
        if not sep or not name or len(bits) not in (2, 3) or bits[2:] not in ([], ["log"]):
            raise ValueError
        low, high = float(bits[0]), float(bits[1])
    except ValueError:
        msg = f"invalid --space {text!r}, must be NAME=LOW:HIGH or NAME=LOW:HIGH:log"
        raise ConfigError(msg) from None
    log = bits[2:] == ["log"]
    if not low < high or (log and low <= 0):
        msg = f"invalid --space {text!r}, need LOW < HIGH (and LOW > 0 with log)"
        raise ConfigError(msg)
    return Dimension(name, low, high, log)


def parse_window(text: str, *, name: str) -> tuple[str, str]:
    """``HH:MM[:SS]-HH:MM[:SS]`` -> (start, end); or days of a catalog, ``DAY[..DAY]``."""
    days = DAYS.match(text)
    if days:
        first, last = days[1], days[2] or days[1]
        if last < first:
            msg = f"invalid --{name} {text!r}, its last day is before its first"
            raise ConfigError(msg)
        return first, last
    start, sep, end = text.partition("-")
    if not sep:
        msg = f"invalid --{name} {text!r}, must be START-END in market time (HH:MM-HH:MM)"
        raise ConfigError(msg)
    if parse_time_of_day(end, name=f"{name} end") <= parse_time_of_day(start, name=f"{name} start"):
        msg = f"invalid --{name} {text!r}, its end must be after its start"
        raise ConfigError(msg)
    return start, end


def _summary(result: Any) -> dict[str, Any]:
    """PnL with its interval, fills and the decomposition of one run."""
    m = result.metrics
    ci = m.pnl_per_bucket_ci95
    n = m.buckets
    return {
        "pnl": m.pnl_total,
        # the mean per-minute PnL's bootstrap interval, times the minutes: the total's
        "pnl_ci95": [ci[0] * n, ci[1] * n] if ci is not None else None,
        "fills": m.fills,
        "pnl_spread": m.pnl_spread,
        "pnl_adverse": m.pnl_adverse,
        "pnl_inventory": m.pnl_inventory,
        "pnl_fees": m.pnl_fees,
        "edge": m.edge,
        "edge_ci95": m.edge_ci95,  # the same bootstrap on the per-minute edge
        # adverse selection past the next mark lands in inventory: the mark-outs show it
        # (mean side x (mid h later - price) per lot; times volume, plus fees: the edge at h)
        "markouts": m.markouts,
        "markout_edge": m.markout_edge,
        "markout_edge_ci95": m.markout_edge_ci95,
        "volume": m.volume,
        "buckets": n,
        "sharpe": m.sharpe,
        "stopped": result.stopped,
        # several instruments: each one's split; the objective sums them (see _score)
        **({"legs": result.legs} if result.legs else {}),
    }


# objectives that add up over the instruments of a run: a pair is ranked by the legs' sum
_SUMMED = {"edge": "edge", "pnl": "pnl_total"}


def _score(result: Any, objective: str) -> float:
    """Higher is better; a run without fills (or without the objective) ranks last.

    With several instruments the objective is the legs' sum, so a hedge's cost counts.
    """
    if result.legs:
        if not any(leg["fills"] for leg in result.legs.values()):
            return -math.inf
        key = _SUMMED[objective]
        return float(sum(leg[key] for leg in result.legs.values()))
    if result.metrics.fills == 0:
        return -math.inf
    value = objective_value(msgspec.to_builtins(result.metrics), objective)
    return -math.inf if value is None else float(value)


def tune(
    strategy: str,
    data: str,
    train: tuple[str, str],
    test: tuple[str, str],
    *,
    search: str = "optuna",
    space: tuple[Dimension, ...] | None = None,
    fixed: Mapping[str, Any] | None = None,
    trials: int = 30,
    grid_points: int = 4,
    objective: str = "edge",
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
    fitted: Mapping[str, Any] | None = None,
    runner: str | None = None,
    workers: int = 1,
    ray_address: str | None = None,
) -> TuneResult:
    """Choose ``strategy``'s parameters on ``train``, report them on ``test`` (see the module).

    ``fitted``: parameters measured on the market (``makerkit fit``); they hold
    where a parameter is neither searched nor fixed. ``runner`` ``local`` or
    ``ray`` runs the train trials on ``workers`` processes (Optuna then asks for
    ``workers`` settings at a time); None runs them here, one by one.
    """
    if search not in ("optuna", "grid"):
        msg = f"invalid search {search!r}, must be optuna or grid"
        raise ConfigError(msg)
    if objective not in OBJECTIVES:
        msg = f"invalid objective {objective!r}, must be one of {sorted(OBJECTIVES)}"
        raise ConfigError(msg)
    if trials < 1 or grid_points < 1:
        msg = f"invalid budget, trials and grid points must be >= 1, were {trials}, {grid_points}"
        raise ConfigError(msg)
    dims = space if space else _default_space(strategy, fitted or {})
    if not dims:
        msg = (
            f"no search space for {strategy!r}: give --space NAME=LOW:HIGH[:log] "
            f"(built-in spaces exist for {sorted(DEFAULT_SPACES)})"
        )
        raise ConfigError(msg)
    searched = {d.name for d in dims}
    fixed_by_hand = dict(fixed or {})
    fixed = {k: v for k, v in (fitted or {}).items() if k not in searched} | fixed_by_hand
    clash = [d.name for d in dims if d.name in fixed_by_hand]
    if clash:
        msg = f"invalid parameters, {clash} are both searched (--space) and fixed (--param)"
        raise ConfigError(msg)
    base = parse_data_spec(data)
    if base.several and objective not in _SUMMED:
        msg = (
            f"invalid --objective {objective!r} with several instruments ({base.symbol}): "
            f"a pair is ranked by what adds up over its legs, one of {sorted(_SUMMED)}"
        )
        raise ConfigError(msg)
    if not base.window.empty:
        msg = f"invalid --data {data!r}: give the windows with --train and --test, not start=/end="
        raise ConfigError(msg)
    if is_days(train) != is_days(test):
        msg = "invalid windows: --train and --test must both be times (HH:MM-HH:MM) or both days"
        raise ConfigError(msg)
    if is_days(train):
        train_spec_text, test_spec_text = _day_windows(data, base, train, test)
    else:
        train_spec_text, test_spec_text = _time_windows(data, base, train, test)
    train_spec = parse_data_spec(train_spec_text)
    test_spec = parse_data_spec(test_spec_text)
    # refused here if a window is outside the data; a range of days streams
    train_market = _load(train_spec)
    test_market = _load(test_spec)
    return _search(
        strategy, data, train, test, train_spec_text, train_spec, train_market, test_spec,
        test_market, dims=dims, fixed=fixed, search=search, trials=trials,
        grid_points=grid_points, objective=objective, seed=seed, progress=progress,
        runner=runner, workers=workers, ray_address=ray_address,
    )  # fmt: skip


def _load(spec: DataSpec) -> Any:
    """A spec's events: one instrument (a range of days streams), or several of one day."""
    return load_markets(spec) if spec.several else load_market(spec, stream=True)


def _day_windows(
    data: str, base: DataSpec, train: tuple[str, str], test: tuple[str, str]
) -> tuple[str, str]:
    """Train and test specs on days of the catalog: the train days all before the test's."""
    if base.kind != "catalog":
        msg = f"invalid --data {data!r}: --train/--test as days need a catalog spec"
        raise ConfigError(msg)
    if train[1] >= test[0]:
        msg = (
            f"invalid windows, the train days {train[0]}..{train[1]} must end before the test "
            f"days {test[0]}..{test[1]} start (never tune on what you judge on)"
        )
        raise ConfigError(msg)
    options = "".join(f",{o}" for o in data.split(",")[1:])
    where = f"catalog:{base.venue}:{base.symbol}"
    return f"{where}:{train[0]}..{train[1]}{options}", f"{where}:{test[0]}..{test[1]}{options}"


def _time_windows(
    data: str, base: DataSpec, train: tuple[str, str], test: tuple[str, str]
) -> tuple[str, str]:
    """Train and test specs on times of the data's day: train ends before test starts."""
    if base.kind == "catalog" and base.until not in (None, base.day):
        # on a range, start= is on its first day and end= on its last: a train window of
        # 09:30-12:00 would run into a test window of 12:00-16:00 on the days between
        msg = (
            f"invalid --data {data!r}: on a range of days --train and --test are days "
            "(DAY..DAY), not times of one day"
        )
        raise ConfigError(msg)
    train_start = parse_time_of_day(train[0], name="train start")
    train_end = parse_time_of_day(train[1], name="train end")
    test_start = parse_time_of_day(test[0], name="test start")
    if train_start >= test_start or train_end > test_start:
        msg = (
            f"invalid windows, the train window {train[0]}-{train[1]} must end before the test "
            f"window {test[0]}-{test[1]} starts (never tune on what you judge on)"
        )
        raise ConfigError(msg)
    return f"{data},start={train[0]},end={train[1]}", f"{data},start={test[0]},end={test[1]}"


def _search(
    strategy: str, data: str, train: tuple[str, str], test: tuple[str, str],
    train_spec_text: str, train_spec: DataSpec, train_market: Any, test_spec: DataSpec,
    test_market: Any, *, dims: tuple[Dimension, ...],
    fixed: dict[str, Any], search: str, trials: int, grid_points: int, objective: str,
    seed: int, progress: Any, runner: Any, workers: int, ray_address: Any,
) -> TuneResult:  # fmt: skip
    """Search on the train spec, then judge the best setting once on the test spec."""
    make_strategy(strategy, **fixed, **{d.name: d.low for d in dims})  # bad names fail now

    def run(params: Mapping[str, Any], spec: DataSpec, market: Any) -> Any:
        return run_on_spec(make_strategy(strategy, **fixed, **params), spec, market)

    tried: list[dict[str, Any]] = []
    total = 0  # trials planned, for the progress bar

    def record(params: dict[str, Any], value: float, fills: int) -> float:
        tried.append({"params": params, "objective": None if math.isinf(value) else value,
                      "fills": fills})  # fmt: skip
        if progress is not None:
            progress(len(tried), total)
        return value

    def evaluate(batch: list[dict[str, Any]]) -> list[float]:
        """Each setting's objective on train: here, or on workers (processes or Ray)."""
        if runner is None:
            out = []
            for params in batch:
                result = run(params, train_spec, train_market)
                out.append(record(params, _score(result, objective), result.metrics.fills))
            return out
        jobs = [(strategy, fixed, params, train_spec_text, objective) for params in batch]
        rows, _ = run_tasks(_train_trial, jobs, workers=workers, runner=runner,
                            ray_address=ray_address, retries=1)  # fmt: skip
        for row in rows:
            if row.get("error"):
                msg = f"a tuning trial failed on its worker: {row['error']}"
                raise ConfigError(msg)
        return [record(params, -math.inf if row["objective"] is None else row["objective"],
                       row["fills"]) for params, row in zip(batch, rows, strict=True)]  # fmt: skip

    if search == "grid":
        axes = [d.grid(grid_points) for d in dims]
        total = math.prod(len(a) for a in axes)
        evaluate([dict(zip((d.name for d in dims), values, strict=True))
                  for values in itertools.product(*axes)])  # fmt: skip
    else:
        total = trials
        _optuna_search(dims, trials, seed, evaluate, batch=1 if runner is None else workers)
    ranked = sorted(range(len(tried)), key=lambda i: (
        tried[i]["objective"] is None, -(tried[i]["objective"] or 0.0), i))  # fmt: skip
    best = tried[ranked[0]]["params"]
    in_sample = _summary(run(best, train_spec, train_market))
    out_of_sample = _summary(run(best, test_spec, test_market))
    sep = ".." if is_days(train) else "-"
    return TuneResult(
        strategy=strategy, data=data, train=f"{train[0]}{sep}{train[1]}",
        test=f"{test[0]}{sep}{test[1]}", search=search, objective=objective, seed=seed,
        best_params={**fixed, **best}, in_sample=in_sample, out_of_sample=out_of_sample,
        trials=tried,
    )  # fmt: skip


def _optuna_search(
    dims: tuple[Dimension, ...], trials: int, seed: int,
    evaluate: Callable[[list[dict[str, Any]]], list[float]], *, batch: int,
) -> None:  # fmt: skip
    """Optuna's TPE, seeded: ``batch`` settings asked at a time, told together.

    The same seed and batch give the same trials, wherever they run.
    """
    try:
        import optuna
    except ImportError as exc:
        msg = f"--search optuna needs `pip install makerkit[tune]` ({exc}); or use --search grid"
        raise ConfigError(msg) from exc
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = optuna.samplers.TPESampler(seed=seed)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    done = 0
    while done < trials:
        asked = [study.ask() for _ in range(min(batch, trials - done))]
        params = [{d.name: t.suggest_float(d.name, d.low, d.high, log=d.log) for d in dims}
                  for t in asked]  # fmt: skip
        for t, value in zip(asked, evaluate(params), strict=True):
            study.tell(t, value if math.isfinite(value) else -1e300)  # optuna wants a number
        done += len(asked)


def _train_trial(job: tuple[str, dict[str, Any], dict[str, Any], str, str]) -> dict[str, Any]:
    """One setting on the train window, in a worker (the window's events loaded once there)."""
    strategy, fixed, params, spec_text, objective = job
    spec = parse_data_spec(spec_text)
    market = None if spec.synthetic and spec.options.get("queue") != "l3" else _market(spec_text)
    result = run_on_spec(make_strategy(strategy, **fixed, **params), spec, market)
    value = _score(result, objective)
    return {"objective": None if math.isinf(value) else value, "fills": result.metrics.fills}


class WalkForward(msgspec.Struct, kw_only=True):
    """Tune-then-judge rolled across the data: one fold per test window, never overlapping."""

    strategy: str
    data: str
    folds: list[TuneResult]
    # the test windows together: sums, and how many folds earned an edge out of sample
    out_of_sample: dict[str, Any]


def _fmt(ns: int) -> str:
    s = ns // 10**9
    hhmm = f"{s // 3600:02d}:{s // 60 % 60:02d}"
    return hhmm if s % 60 == 0 else f"{hhmm}:{s % 60:02d}"


def walk_forward(
    strategy: str, data: str, train: tuple[str, str], test: tuple[str, str], *,
    until: str, **options: Any,
) -> WalkForward:  # fmt: skip
    """``tune`` on (train, test), both windows then moved on by the test's length.

    Folds run until a test window would end after ``until``; each chooses on its
    own train window. Every out-of-sample window is judged once with a setting chosen before it; the
    sums over the folds are the walk-forward's out-of-sample result.
    """
    if is_days(train) or is_days(test):
        msg = "invalid walk-forward: --until rolls times of one day; with days, tune each fold"
        raise ConfigError(msg)
    a, b = (parse_time_of_day(t, name="train") for t in train)
    c, d = (parse_time_of_day(t, name="test") for t in test)
    stop = parse_time_of_day(until, name="until")
    step = d - c
    if d > stop:
        msg = f"invalid --until {until!r}, the first test window {test[0]}-{test[1]} ends after it"
        raise ConfigError(msg)
    folds: list[TuneResult] = []
    while d <= stop:
        folds.append(tune(strategy, data, (_fmt(a), _fmt(b)), (_fmt(c), _fmt(d)), **options))
        a, b, c, d = a + step, b + step, c + step, d + step
    rows = [f.out_of_sample for f in folds]
    total = {
        key: float(sum(r[key] for r in rows))
        for key in ("pnl", "pnl_spread", "pnl_adverse", "pnl_inventory", "pnl_fees", "edge")
    }
    lows = [r["edge_ci95"][0] for r in rows if r.get("edge_ci95")]
    return WalkForward(
        strategy=strategy, data=data, folds=folds,
        out_of_sample=total | {
            "fills": sum(int(r["fills"]) for r in rows), "folds": len(folds),
            "folds_with_positive_edge": sum(1 for r in rows if r["edge"] > 0),
            "folds_with_edge_ci_above_zero": sum(1 for lo in lows if lo > 0),
        },
    )  # fmt: skip
