"""Drive books with recorded or simulated data and report what happened.

Exact, row-checked LOBSTER replay; strategy backtests on the simulated market
(our orders in the engine) and on recorded data (a queue model fills them).
"""

from __future__ import annotations

from makerkit.backtest._calibrate import MarketFit, fit_recorded, fit_synthetic
from makerkit.backtest._catalog_events import catalog_events, catalog_stream, events_table
from makerkit.backtest._core_protocol import NativeReplayCore, ReplayCore
from makerkit.backtest._databento_replay import (
    DatabentoReplayReport,
    databento_events,
    databento_tick,
    replay_databento,
)
from makerkit.backtest._events import (
    DEPTH,
    TRADE,
    MarketEvents,
    StreamedMarket,
    binance_events,
    book_levels,
    data_quality,
    lobster_events,
    recorded_events,
)
from makerkit.backtest._fit import (
    EXCHANGE_FILTERS,
    InstrumentFacts,
    MarketParams,
    check_instrument,
    check_live,
    fit_market,
    load_params,
    params_for,
)
from makerkit.backtest._gateways import OUR_IDS, ReplayGateway, SimGateway, book_view
from makerkit.backtest._l3 import lobster_l3_events, stream_l3_events
from makerkit.backtest._lobster_replay import ReplayReport, replay_lobster
from makerkit.backtest._replay import make_replay_core, native_kernel, run_replay_backtest
from makerkit.backtest._replay_config import ReplayConfig, backend_of
from makerkit.backtest._replay_core import (
    NOTICE_FILL,
    NOTICE_REJECTED,
    RUN_BUDGET,
    RUN_DECISION,
    RUN_END,
    RUN_NOTICE,
)
from makerkit.backtest._replay_multi import MultiMarket
from makerkit.backtest._report import (
    markout_curve,
    report_figures,
    write_comparison,
    write_report,
)
from makerkit.backtest._samples import FeatureSamples, feature_samples
from makerkit.backtest._spec import (
    DATA_HELP,
    DataSpec,
    check_market,
    load_market,
    load_markets,
    parse_data_spec,
    run_on_spec,
)
from makerkit.backtest._stream import StreamStats, apply_stream
from makerkit.backtest._synthetic import BacktestConfig, BacktestResult, run_synthetic_backtest
from makerkit.backtest._window import Window, parse_time_of_day, window_events

__all__ = [
    "DATA_HELP",
    "DEPTH",
    "EXCHANGE_FILTERS",
    "NOTICE_FILL",
    "NOTICE_REJECTED",
    "OUR_IDS",
    "RUN_BUDGET",
    "RUN_DECISION",
    "RUN_END",
    "RUN_NOTICE",
    "TRADE",
    "BacktestConfig",
    "BacktestResult",
    "DataSpec",
    "DatabentoReplayReport",
    "FeatureSamples",
    "InstrumentFacts",
    "MarketEvents",
    "MarketFit",
    "MarketParams",
    "MultiMarket",
    "NativeReplayCore",
    "ReplayConfig",
    "ReplayCore",
    "ReplayGateway",
    "ReplayReport",
    "SimGateway",
    "StreamStats",
    "StreamedMarket",
    "Window",
    "apply_stream",
    "backend_of",
    "binance_events",
    "book_levels",
    "book_view",
    "catalog_events",
    "catalog_stream",
    "check_instrument",
    "check_live",
    "check_market",
    "data_quality",
    "databento_events",
    "databento_tick",
    "events_table",
    "feature_samples",
    "fit_market",
    "fit_recorded",
    "fit_synthetic",
    "load_market",
    "load_markets",
    "load_params",
    "lobster_events",
    "lobster_l3_events",
    "make_replay_core",
    "markout_curve",
    "native_kernel",
    "params_for",
    "parse_data_spec",
    "parse_time_of_day",
    "recorded_events",
    "replay_databento",
    "replay_lobster",
    "report_figures",
    "run_on_spec",
    "run_replay_backtest",
    "run_synthetic_backtest",
    "stream_l3_events",
    "window_events",
    "write_comparison",
    "write_report",
]
