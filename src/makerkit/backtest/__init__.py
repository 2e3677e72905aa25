"""Drive books with recorded or simulated data and report what happened.

For now: exact, row-checked LOBSTER replay and synthetic command streams.
"""

from __future__ import annotations

from makerkit.backtest._lobster_replay import ReplayReport, replay_lobster
from makerkit.backtest._stream import StreamStats, apply_stream
from makerkit.backtest._synthetic import BacktestConfig, BacktestResult, run_synthetic_backtest

__all__ = [
    "BacktestConfig",
    "BacktestResult",
    "ReplayReport",
    "StreamStats",
    "apply_stream",
    "replay_lobster",
    "run_synthetic_backtest",
]
