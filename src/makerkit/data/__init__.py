"""Market data: file loaders, synthetic order streams and the order-flow simulator.

Loaders turn external formats into validated integer arrays. The simulator
is the one part that drives a book (its own): its flow must be matched by the
real engine to be realistic.
"""

from __future__ import annotations

from makerkit.data._alphavantage import AlphaVantage
from makerkit.data._binance import (
    SCALE,
    BinanceCapture,
    BinanceGap,
    BinanceReplay,
    BinanceSync,
    L2Book,
    capture_depth,
    load_binance_capture,
    replay_binance,
    sync_binance,
)
from makerkit.data._binance_archive import (
    BINANCE_ARCHIVE_KINDS,
    archive_day,
    read_binance_archive,
)
from makerkit.data._calibrate import (
    StylisedFacts,
    calibrate_lobster,
    calibrate_shape,
    fit_hawkes,
    lobster_facts,
    simulate_facts,
    simulated_facts,
)
from makerkit.data._catalog import (
    CatalogEntry,
    IngestReport,
    catalog_dir,
    catalog_entries,
    ingest,
    remove_source,
)
from makerkit.data._facts import (
    FACT_TARGETS,
    FactComparison,
    FactsReport,
    MarketFacts,
    autocorrelation,
    compare_market_facts,
    excess_kurtosis,
    load_lobster_beside,
    lobster_market_facts,
    market_order_times,
    sampled_returns,
    share_under,
    simulated_market_facts,
    weighted_quantiles,
)
from makerkit.data._files import BinanceFiles, LobsterFiles
from makerkit.data._lobster import (
    LOBSTER_DUMMY_ASK,
    LOBSTER_DUMMY_BID,
    LobsterDay,
    LobsterMessages,
    load_lobster,
    load_lobster_messages,
    load_lobster_orderbook,
    lobster_tick,
)
from makerkit.data._paths import data_dir, lobster_pairs
from makerkit.data._readers import read_source
from makerkit.data._simulator import MarketSimulator, SimParams, SimRun, simulate
from makerkit.data._store import (
    binance_l2_columns,
    binance_meta,
    binance_snapshot_columns,
    binance_trade_columns,
    lobster_book_columns,
    lobster_l3_columns,
    save_bars,
    save_table,
    stream_l3_columns,
)
from makerkit.data._synthetic import (
    ACTION_ADD,
    ACTION_CANCEL,
    ACTION_MARKET,
    ACTION_MODIFY,
    L3EventStream,
    OrderStream,
    synthetic_l3_events,
    synthetic_stream,
)
from makerkit.data._tables import TABLE_SCHEMAS, SourceTable
from makerkit.data._tardis import read_tardis
from makerkit.data._types import Bars, CorporateAction, EventSource, MarketDataSource, Quote
from makerkit.data._yahoo import YahooFinance

__all__ = [
    "ACTION_ADD",
    "ACTION_CANCEL",
    "ACTION_MARKET",
    "ACTION_MODIFY",
    "BINANCE_ARCHIVE_KINDS",
    "FACT_TARGETS",
    "LOBSTER_DUMMY_ASK",
    "LOBSTER_DUMMY_BID",
    "SCALE",
    "TABLE_SCHEMAS",
    "AlphaVantage",
    "Bars",
    "BinanceCapture",
    "BinanceFiles",
    "BinanceGap",
    "BinanceReplay",
    "BinanceSync",
    "CatalogEntry",
    "CorporateAction",
    "EventSource",
    "FactComparison",
    "FactsReport",
    "IngestReport",
    "L2Book",
    "L3EventStream",
    "LobsterDay",
    "LobsterFiles",
    "LobsterMessages",
    "MarketDataSource",
    "MarketFacts",
    "MarketSimulator",
    "OrderStream",
    "Quote",
    "SimParams",
    "SimRun",
    "SourceTable",
    "StylisedFacts",
    "YahooFinance",
    "archive_day",
    "autocorrelation",
    "binance_l2_columns",
    "binance_meta",
    "binance_snapshot_columns",
    "binance_trade_columns",
    "calibrate_lobster",
    "calibrate_shape",
    "capture_depth",
    "catalog_dir",
    "catalog_entries",
    "compare_market_facts",
    "data_dir",
    "excess_kurtosis",
    "fit_hawkes",
    "ingest",
    "load_binance_capture",
    "load_lobster",
    "load_lobster_beside",
    "load_lobster_messages",
    "load_lobster_orderbook",
    "lobster_book_columns",
    "lobster_facts",
    "lobster_l3_columns",
    "lobster_market_facts",
    "lobster_pairs",
    "lobster_tick",
    "market_order_times",
    "read_binance_archive",
    "read_source",
    "read_tardis",
    "remove_source",
    "replay_binance",
    "sampled_returns",
    "save_bars",
    "save_table",
    "share_under",
    "simulate",
    "simulate_facts",
    "simulated_facts",
    "simulated_market_facts",
    "stream_l3_columns",
    "sync_binance",
    "synthetic_l3_events",
    "synthetic_stream",
    "weighted_quantiles",
]
