"""Sweep configs: a grid of backtests (strategies x parameters x markets x seeds) and RL seeds.

A config is TOML (or JSON with the same keys)::

    [backtest]
    strategies = ["glft", "avellaneda_stoikov"]
    data = ["synthetic:events=200000", "lobster:GOOG"]   # --data specs
    seeds = [1, 2, 3, 4]        # the simulator only: one run per seed

    [backtest.params.glft]      # every combination is run
    gamma = [0.01, 0.05, 0.1]
    k = { start = 1.0, stop = 4.0, num = 4 }             # inclusive range

    [rl]                        # optional: PPO trained once per seed
    env = "model"
    seeds = [0, 1, 2]
    timesteps = 100000

Everything is checked before any work starts: unknown strategies and
parameters, empty grids, bad ranges and bad data specs are refused with what is
valid. Tasks are numbered in grid order, which is the order of the results.
"""

from __future__ import annotations

import itertools
import json
import tomllib
from pathlib import Path
from typing import Any

import msgspec

from makerkit.backtest import check_market, parse_data_spec
from makerkit.core.errors import ConfigError
from makerkit.strategies import STRATEGIES, make_strategy

__all__ = ["BacktestTask", "RLTask", "SweepPlan", "expand_range", "load_sweep", "plan_sweep"]


class BacktestTask(msgspec.Struct, frozen=True, kw_only=True):
    """One backtest of the grid."""

    task_id: int
    strategy: str
    params: dict[str, float | int]
    data: str  # the --data spec, seed applied for the simulator
    market: str  # the spec as the config gave it (the seeds of one market share it)
    seed: int | None = None


class RLTask(msgspec.Struct, frozen=True, kw_only=True):
    """One PPO training run of the grid, scored on held-out seeds."""

    task_id: int
    env: str
    seed: int
    timesteps: int
    gamma: float
    eval_episodes: int
    eval_seed: int
    out_dir: str


class SweepPlan(msgspec.Struct, frozen=True, kw_only=True):
    """The expanded grid."""

    name: str
    backtests: list[BacktestTask]
    rl: list[RLTask]

    @property
    def tasks(self) -> list[BacktestTask | RLTask]:
        """Every task, in id order."""
        return [*self.backtests, *self.rl]


def expand_range(name: str, value: Any) -> list[Any]:
    """A parameter's values: a scalar, a list, or ``{start, stop, num|step}`` (inclusive)."""
    if isinstance(value, list):
        if not value:
            msg = f"invalid `{name}`: an empty list, give at least one value"
            raise ConfigError(msg)
        return value
    if not isinstance(value, dict):
        return [value]
    keys = set(value)
    if keys not in ({"start", "stop", "num"}, {"start", "stop", "step"}):
        shapes = "{start, stop, num} or {start, stop, step}"
        msg = f"invalid range for `{name}`: {value}, must be {shapes}"
        raise ConfigError(msg)
    start, stop = value["start"], value["stop"]
    if not all(isinstance(v, int | float) for v in value.values()):
        msg = f"invalid range for `{name}`: {value}, the bounds must be numbers"
        raise ConfigError(msg)
    if stop < start:
        msg = f"invalid range for `{name}`: stop {stop} is below start {start}"
        raise ConfigError(msg)
    if "num" in value:
        num = value["num"]
        if not isinstance(num, int) or num < 1:
            msg = f"invalid range for `{name}`: num must be an integer >= 1, was {num}"
            raise ConfigError(msg)
        if num == 1:
            return [start]
        step = (stop - start) / (num - 1)
        values = [start + i * step for i in range(num)]
    else:
        step = value["step"]
        if step <= 0:
            msg = f"invalid range for `{name}`: step must be > 0, was {step}"
            raise ConfigError(msg)
        count = int((stop - start) / step + 1e-9) + 1
        values = [start + i * step for i in range(count)]
    if all(isinstance(v, int) for v in (start, stop)) and all(
        float(v).is_integer() for v in values
    ):
        return [int(v) for v in values]
    return [round(v, 12) for v in values]


def _list(section: dict[str, Any], key: str, where: str) -> list[Any]:
    value = section.get(key)
    if not isinstance(value, list) or not value:
        msg = f"invalid sweep: [{where}] needs a non-empty list `{key}`, was {value!r}"
        raise ConfigError(msg)
    return value


def _unknown(section: dict[str, Any], valid: tuple[str, ...], where: str) -> None:
    extra = sorted(set(section) - set(valid))
    if extra:
        msg = f"invalid sweep: unknown key(s) {extra} in [{where}], valid: {list(valid)}"
        raise ConfigError(msg)


def _backtests(section: dict[str, Any]) -> list[BacktestTask]:
    _unknown(section, ("strategies", "data", "seeds", "params"), "backtest")
    strategies = _list(section, "strategies", "backtest")
    for name in strategies:
        if name not in STRATEGIES and not name.partition(":")[0].endswith(".py"):
            msg = (
                f"invalid sweep: unknown strategy {name!r}, must be one of {sorted(STRATEGIES)} "
                "or path/to/file.py:ClassName"
            )
            raise ConfigError(msg)
    specs = [(d, parse_data_spec(d)) for d in _list(section, "data", "backtest")]
    for _, spec in specs:  # a missing recorded day is refused now, not in every task
        check_market(spec)
    seeds = section.get("seeds", [None])
    if seeds != [None]:
        seeds = _list(section, "seeds", "backtest")
        if not all(isinstance(s, int) for s in seeds):
            msg = f"invalid sweep: seeds must be integers, were {seeds}"
            raise ConfigError(msg)
    params = section.get("params", {})
    if not isinstance(params, dict):
        msg = "invalid sweep: [backtest.params] must be a table per strategy"
        raise ConfigError(msg)
    stray = sorted(set(params) - set(strategies))
    if stray:
        msg = f"invalid sweep: [backtest.params] names {stray}, which are not in `strategies`"
        raise ConfigError(msg)
    tasks: list[BacktestTask] = []
    for name in strategies:
        grid = {k: expand_range(f"{name}.{k}", v) for k, v in params.get(name, {}).items()}
        combos = [dict(zip(grid, vals, strict=True)) for vals in itertools.product(*grid.values())]
        for combo in combos:
            make_strategy(name, **combo)  # refuses unknown or bad parameters now, not mid-sweep
            for text, spec in specs:
                for seed in seeds if spec.synthetic else [None]:
                    data = text if seed is None else _with_seed(text, seed)
                    tasks.append(BacktestTask(task_id=len(tasks), strategy=name, params=combo,
                                              data=data, market=text, seed=seed))  # fmt: skip
    return tasks


def _with_seed(spec: str, seed: int) -> str:
    """The synthetic spec with its seed set (replacing one it had)."""
    head, _, rest = spec.partition(":")
    options = [o for o in rest.split(",") if o and not o.startswith("seed=")]
    return f"{head}:" + ",".join([f"seed={seed}", *options])


_RL_KEYS = ("env", "seeds", "timesteps", "gamma", "eval_episodes", "eval_seed")


def _rl_tasks(section: dict[str, Any], first_id: int, out_dir: Path) -> list[RLTask]:
    _unknown(section, _RL_KEYS, "rl")
    env = section.get("env", "model")
    if env != "model":
        msg = f"invalid sweep: [rl] env {env!r}, sweeps train on `model` (the AS market)"
        raise ConfigError(msg)
    seeds = _list(section, "seeds", "rl")
    timesteps = section.get("timesteps", 100_000)
    if not isinstance(timesteps, int) or timesteps < 1000:
        msg = f"invalid sweep: [rl] timesteps must be an integer >= 1000, was {timesteps!r}"
        raise ConfigError(msg)
    gamma = section.get("gamma", 0.1)
    episodes = section.get("eval_episodes", 1000)
    if not gamma > 0 or not isinstance(episodes, int) or episodes < 1:
        msg = "invalid sweep: [rl] gamma must be > 0 and eval_episodes an integer >= 1"
        raise ConfigError(msg)
    eval_seed = section.get("eval_seed", 10_000)
    if any(eval_seed <= s < eval_seed + episodes for s in seeds):
        msg = f"invalid sweep: [rl] eval_seed {eval_seed} overlaps the training seeds {seeds}"
        raise ConfigError(msg)
    return [
        RLTask(
            task_id=first_id + i,
            env=env,
            seed=s,
            timesteps=timesteps,
            gamma=float(gamma),
            eval_episodes=episodes,
            eval_seed=eval_seed,
            out_dir=str(out_dir / "rl" / f"seed-{s}"),
        )
        for i, s in enumerate(seeds)
    ]


def plan_sweep(config: dict[str, Any], out_dir: Path, name: str = "sweep") -> SweepPlan:
    """Expand a config (already parsed) into tasks; every problem is raised here."""
    _unknown(config, ("name", "backtest", "rl"), "top level")
    if "backtest" not in config and "rl" not in config:
        msg = "invalid sweep: empty grid, give a [backtest] and/or an [rl] section"
        raise ConfigError(msg)
    backtests = _backtests(config["backtest"]) if "backtest" in config else []
    rl = _rl_tasks(config["rl"], len(backtests), out_dir) if "rl" in config else []
    return SweepPlan(name=str(config.get("name", name)), backtests=backtests, rl=rl)


def load_sweep(path: Path, out_dir: Path) -> SweepPlan:
    """Read a TOML or JSON sweep config and expand it."""
    try:
        text = path.read_text()
    except OSError as exc:
        msg = f"cannot read the sweep config {path}: {exc.strerror}"
        raise ConfigError(msg) from exc
    try:
        config = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        msg = f"invalid sweep config {path}: {exc}"
        raise ConfigError(msg) from exc
    if not isinstance(config, dict):
        msg = f"invalid sweep config {path}: must be a table of sections"
        raise ConfigError(msg)
    return plan_sweep(config, out_dir, name=path.stem)
