"""Sweeps: grids of backtests and multi-seed RL training, on local processes or Ray.

``makerkit sweep CONFIG`` expands a TOML config (``load_sweep``) into tasks,
runs them (``run_sweep``: a process pool by default, a Ray cluster with
``--ray-address``) and writes one table, ``results.parquet`` and
``report.html``. Lost workers are replaced and their tasks rerun.
"""

from __future__ import annotations

from makerkit.distributed._config import (
    BacktestTask,
    RLTask,
    SweepPlan,
    expand_range,
    load_sweep,
    plan_sweep,
)
from makerkit.distributed._executor import run_tasks
from makerkit.distributed._report import summarise, write_html, write_parquet
from makerkit.distributed._sweep import (
    SweepResult,
    backtest_row,
    in_window,
    is_days,
    judge_best,
    run_sweep,
)
from makerkit.distributed._tune import (
    DEFAULT_SPACES,
    Dimension,
    TuneResult,
    WalkForward,
    parse_dimension,
    parse_window,
    tune,
    walk_forward,
)

__all__ = [
    "DEFAULT_SPACES",
    "BacktestTask",
    "Dimension",
    "RLTask",
    "SweepPlan",
    "SweepResult",
    "TuneResult",
    "WalkForward",
    "backtest_row",
    "expand_range",
    "in_window",
    "is_days",
    "judge_best",
    "load_sweep",
    "parse_dimension",
    "parse_window",
    "plan_sweep",
    "run_sweep",
    "run_tasks",
    "summarise",
    "tune",
    "walk_forward",
    "write_html",
    "write_parquet",
]
