"""Drive books with recorded or simulated data and report what happened.

Exact, row-checked LOBSTER replay; strategy backtests on the simulated market
(our orders in the engine) and on recorded data (a queue model fills them).
"""

from __future__ import annotations

from makerkit.backtest._calibrate import MarketFit, fit_recorded, fit_synthetic
from makerkit.backtest._events import MarketEvents, binance_events, lobster_events
from makerkit.backtest._lobster_replay import ReplayReport, replay_lobster
from makerkit.backtest._replay import run_replay_backtest
from makerkit.backtest._replay_config import ReplayConfig
from makerkit.backtest._samples import FeatureSamples, feature_samples
from makerkit.backtest._spec import DataSpec, load_market, parse_data_spec, run_on_spec
from makerkit.backtest._stream import StreamStats, apply_stream
from makerkit.backtest._synthetic import BacktestConfig, BacktestResult, run_synthetic_backtest

__all__ = [
    "BacktestConfig",
    "BacktestResult",
    "DataSpec",
    "FeatureSamples",
    "MarketEvents",
    "MarketFit",
    "ReplayConfig",
    "ReplayReport",
    "StreamStats",
    "apply_stream",
    "binance_events",
    "feature_samples",
    "fit_recorded",
    "fit_synthetic",
    "load_market",
    "lobster_events",
    "parse_data_spec",
    "replay_lobster",
    "run_on_spec",
    "run_replay_backtest",
    "run_synthetic_backtest",
]
