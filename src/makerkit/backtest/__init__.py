"""Drive books with recorded or simulated data and report what happened.

Exact, row-checked LOBSTER replay; strategy backtests on the simulated market
(our orders in the engine) and on recorded data (a queue model fills them).
"""

from __future__ import annotations

from makerkit.backtest._calibrate import MarketFit, fit_recorded, fit_synthetic
from makerkit.backtest._events import MarketEvents, binance_events, lobster_events
from makerkit.backtest._gateways import OUR_IDS, ReplayGateway, SimGateway, book_view
from makerkit.backtest._lobster_replay import ReplayReport, replay_lobster
from makerkit.backtest._replay import make_replay_core, run_replay_backtest
from makerkit.backtest._replay_config import ReplayConfig
from makerkit.backtest._samples import FeatureSamples, feature_samples
from makerkit.backtest._spec import DataSpec, load_market, parse_data_spec, run_on_spec
from makerkit.backtest._stream import StreamStats, apply_stream
from makerkit.backtest._synthetic import BacktestConfig, BacktestResult, run_synthetic_backtest

__all__ = [
    "OUR_IDS",
    "BacktestConfig",
    "BacktestResult",
    "DataSpec",
    "FeatureSamples",
    "MarketEvents",
    "MarketFit",
    "ReplayConfig",
    "ReplayGateway",
    "ReplayReport",
    "SimGateway",
    "StreamStats",
    "apply_stream",
    "binance_events",
    "book_view",
    "feature_samples",
    "fit_recorded",
    "fit_synthetic",
    "load_market",
    "lobster_events",
    "make_replay_core",
    "parse_data_spec",
    "replay_lobster",
    "run_on_spec",
    "run_replay_backtest",
    "run_synthetic_backtest",
]
