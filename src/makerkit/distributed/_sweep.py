"""A sweep: the planned tasks run on an executor, the rows written as Parquet and HTML."""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Callable
from typing import Any

import msgspec

from makerkit.backtest import (
    MarketEvents,
    MultiMarket,
    StreamedMarket,
    load_market,
    load_markets,
    parse_data_spec,
    run_on_spec,
)
from makerkit.core.clock import monotonic_ns
from makerkit.core.errors import ConfigError
from makerkit.distributed._config import BacktestTask, RLTask, SweepPlan
from makerkit.distributed._executor import run_tasks
from makerkit.strategies import make_strategy

__all__ = ["DAYS", "SweepResult", "backtest_row", "in_window", "is_days", "judge_best", "run_sweep"]

Row = dict[str, Any]
# a window of catalog days, DAY[..DAY] (else a window is times of one day, HH:MM-HH:MM)
DAYS = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:\.\.(\d{4}-\d{2}-\d{2}))?$")


def is_days(window: tuple[str, str]) -> bool:
    """Whether a window is a range of catalog days rather than times of one day."""
    return bool(DAYS.match(window[0]))


Trainer = Callable[[dict[str, Any]], Row]
# the metrics a sweep's table keeps (markouts are flattened to markout_<horizon>)
_METRICS = ("pnl_total", "pnl_spread", "pnl_adverse", "pnl_inventory", "pnl_fees",
            "liquidation_cost", "pnl_realized", "sharpe", "sortino", "buckets",
            "pnl_per_bucket_mean", "max_drawdown", "fills", "fill_rate", "rejected_quotes",
            "avg_abs_inventory", "max_abs_inventory", "spread_captured", "fees", "quote_uptime",
            "final_position", "volume")  # fmt: skip


class SweepResult(msgspec.Struct, frozen=True, kw_only=True):
    """Every task's row, in task order, and how the sweep ran."""

    name: str
    rows: list[Row]
    info: dict[str, Any]
    seconds: float

    @property
    def failed(self) -> list[Row]:
        """Rows of tasks that raised or whose worker was lost for good."""
        return [r for r in self.rows if r.get("error")]


@functools.lru_cache(maxsize=4)
def _market(data: str) -> MarketEvents | StreamedMarket | MultiMarket | None:
    """A recorded day, loaded once per worker process (tasks on the same day share it).

    A range of catalog days streams: the worker keeps the first day and reads
    the others from the catalog as each task's replay reaches them.
    """
    spec = parse_data_spec(data)
    return load_markets(spec) if spec.several else load_market(spec, stream=True)


def backtest_row(task: BacktestTask) -> Row:
    """Run one backtest of the grid; its metrics as one flat row."""
    started = monotonic_ns()
    spec = parse_data_spec(task.data)
    strategy = make_strategy(task.strategy, **task.params)
    result = run_on_spec(strategy, spec, None if spec.synthetic else _market(task.data))
    metrics = msgspec.to_builtins(result.metrics)
    row: Row = {k: metrics[k] for k in _METRICS}
    row.update({f"markout_{h}": v for h, v in metrics["markouts"].items()})
    row.update({f"markout_edge_{h}": v for h, v in metrics["markout_edge"].items()})
    row["stopped"] = result.stopped
    row["seconds"] = (monotonic_ns() - started) / 1e9
    return row


def _run(job: tuple[BacktestTask | RLTask, Trainer | None]) -> Row:
    """What a worker runs: one task (module level, so workers can import it)."""
    task, trainer = job
    row: Row = {"worker": os.getpid()}
    if isinstance(task, BacktestTask):
        row.update(backtest_row(task))
    else:
        assert trainer is not None  # noqa: S101 - run_sweep checks it before submitting
        row.update(trainer(msgspec.to_builtins(task)))
    return row


def _head(task: BacktestTask | RLTask) -> Row:
    """The task's identity columns, before its results."""
    if isinstance(task, BacktestTask):
        head: Row = {
            "task_id": task.task_id, "kind": "backtest", "strategy": task.strategy,
            "data": task.data, "market": task.market, "seed": task.seed,
            "params": json.dumps(task.params),
        }  # fmt: skip
        head.update({f"p_{k}": v for k, v in task.params.items()})
        return head
    return {"task_id": task.task_id, "kind": "rl", "strategy": f"ppo-{task.env}",
            "data": f"{task.env}:eval_seed={task.eval_seed}", "market": task.env, "seed": task.seed,
            "params": json.dumps({"timesteps": task.timesteps, "gamma": task.gamma})}  # fmt: skip


def run_sweep(
    plan: SweepPlan, *, workers: int = 1, runner: str = "local", ray_address: str | None = None,
    retries: int = 2, rl_trainer: Trainer | None = None,
    on_result: Callable[[Row], None] | None = None,
) -> SweepResult:  # fmt: skip
    """Run every task of ``plan``; ``rl_trainer`` trains one [rl] seed (``makerkit.rl``)."""
    if plan.rl and rl_trainer is None:
        msg = "this sweep has an [rl] section: it needs a trainer (pip install makerkit[rl])"
        raise ConfigError(msg)
    tasks = plan.tasks
    heads = [_head(t) for t in tasks]

    def done(i: int, row: Row) -> None:
        if on_result is not None:
            on_result({**heads[i], **row})

    started = monotonic_ns()
    rows, info = run_tasks(
        _run, [(t, rl_trainer if isinstance(t, RLTask) else None) for t in tasks],
        workers=workers, runner=runner, ray_address=ray_address, retries=retries,
        on_result=done,
    )  # fmt: skip
    seconds = (monotonic_ns() - started) / 1e9
    merged = [{**h, **r} for h, r in zip(heads, rows, strict=True)]
    return SweepResult(name=plan.name, rows=merged, info=dict(info), seconds=seconds)


def in_window(plan: SweepPlan, window: tuple[str, str], *, name: str) -> SweepPlan:
    """The plan's backtests on one window of their market (``name``: train or test).

    The grouping key (``market``) is kept, so the same configuration on the
    train and the test window can be matched.
    """
    tasks = []
    for task in plan.backtests:
        spec = parse_data_spec(task.data)
        if not spec.window.empty:
            msg = (f"invalid sweep: market {task.market!r} has its own start=/end=, give the "
                   f"windows with --train and --test only")  # fmt: skip
            raise ConfigError(msg)
        if is_days(window):  # days of a catalog: the market's range becomes the window's
            if spec.kind != "catalog":
                msg = f"invalid sweep: --{name} as days needs catalog markets, not {task.market!r}"
                raise ConfigError(msg)
            options = "".join(f",{o}" for o in task.data.split(",")[1:])
            data = f"catalog:{spec.venue}:{spec.symbol}:{window[0]}..{window[1]}{options}"
            parse_data_spec(data)
            tasks.append(msgspec.structs.replace(task, data=data))
            continue
        if spec.kind == "catalog" and spec.until not in (None, spec.day):
            msg = (
                f"invalid sweep: market {task.market!r} is a range of days, and --{name} is a "
                "time of one day (start= would be on its first day, end= on its last); give "
                "--train and --test as days (DAY..DAY)"
            )
            raise ConfigError(msg)
        data = f"{task.data},start={window[0]},end={window[1]}"
        parse_data_spec(data)  # a bad window is refused before anything runs
        tasks.append(msgspec.structs.replace(task, data=data))
    return msgspec.structs.replace(plan, backtests=tasks, name=f"{plan.name} ({name})")


def judge_best(plan: SweepPlan, best: Row, test: tuple[str, str], **run: Any) -> list[Row]:
    """The train window's best configuration run on the test window: its out-of-sample rows.

    Every seed it had is run once more; nothing else ever sees the test window.
    """
    chosen = [t for t in plan.backtests
              if (t.strategy, t.market, json.dumps(t.params)) ==
              (best["strategy"], best["data"], best["params"])]  # fmt: skip
    if not chosen:
        msg = f"the best configuration {best['strategy']} {best['params']} has no task to rerun"
        raise ConfigError(msg)
    judged = in_window(msgspec.structs.replace(plan, backtests=chosen, rl=[]), test, name="test")
    return run_sweep(judged, **run).rows
