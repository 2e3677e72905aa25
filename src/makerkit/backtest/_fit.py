"""Strategies fitted to the market they trade: ``makerkit fit`` and the parameters file.

``fit_market`` measures, on one data spec (and its window), what the built-in
strategies need: sigma (ticks per sqrt second), the fill intensity
lambda(d) = A exp(-k d) from the depth each trade reached, the touch spread
and the depth at levels 1-3; and what an order on that instrument must look
like: its tick, lot and smallest valid order (the exchange's minimum quantity
and minimum notional, in lots). It writes one JSON file that ``backtest``,
``compare``, ``tune``, ``run-strategy`` and the demo read with ``--params``:
each built-in's parameters come from it (a ``--param`` still wins), and a file
fitted on another instrument is refused.
"""

from __future__ import annotations

import math
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import numpy as np

from makerkit.backtest._calibrate import MarketFit, fit_recorded, fit_synthetic
from makerkit.backtest._events import TRADE, MarketEvents
from makerkit.backtest._spec import DataSpec, load_market, parse_data_spec
from makerkit.backtest._window import clock
from makerkit.core.errors import ConfigError, DataError
from makerkit.data import BinanceFiles

__all__ = [
    "EXCHANGE_FILTERS",
    "InstrumentFacts",
    "MarketParams",
    "check_instrument",
    "check_live",
    "fit_market",
    "load_params",
    "params_for",
]

PARAMS_VERSION = 1


class _Filters(msgspec.Struct, frozen=True):
    """An exchange's order rules for one instrument, in its own decimals."""

    tick: str
    step: str  # quantity increment
    min_qty: str
    min_notional: str | None  # quote currency


# Binance's published filters (exchangeInfo PRICE_FILTER, LOT_SIZE, NOTIONAL /
# MIN_NOTIONAL) for the instruments of the shared captures, as of mid-2024.
# Instruments not listed get the grid inferred from the data, and say so.
EXCHANGE_FILTERS: dict[tuple[str, str], _Filters] = {
    ("binance-spot", "BTCUSDT"): _Filters("0.01", "0.00001", "0.00001", "5"),
    ("binance-spot", "ETHUSDT"): _Filters("0.01", "0.0001", "0.0001", "5"),
    ("binance-usdm", "BTCUSDT"): _Filters("0.1", "0.001", "0.001", "100"),
    ("binance-usdm", "ETHUSDT"): _Filters("0.01", "0.001", "0.001", "20"),
}


class InstrumentFacts(msgspec.Struct, frozen=True, kw_only=True):
    """What an order on the instrument must look like, in the data's ticks and lots."""

    source: str  # lobster, binance-spot, binance-usdm, synthetic
    symbol: str
    day: str | None
    tick: str  # one tick, in the price unit
    lot: str  # one lot, in the size unit
    price_unit: str
    step_lots: int  # an order's size is a multiple of this
    min_size: int  # the smallest valid order, lots (minimum quantity and notional)
    rules: str  # where the rules come from


class MarketParams(msgspec.Struct, kw_only=True):
    """The parameters file: the instrument, what was measured, each strategy's parameters."""

    version: int = PARAMS_VERSION
    data: str
    window: str | None
    instrument: InstrumentFacts
    market: MarketFit
    strategies: dict[str, dict[str, Any]]


def _units(value: str, unit: str) -> Decimal:
    """A decimal in the data's unit: ``"1e-8"`` or ``"1e-4 USD"`` -> its scale."""
    scale = Decimal(unit.split()[0]) if unit else Decimal(1)
    return Decimal(value) / scale


_CATALOG_MARKETS = {"binance": "binance-spot", "binance-futures": "binance-usdm"}


def _binance_market(spec: DataSpec) -> str:
    """``binance-spot`` or ``binance-usdm``, from the capture's file name."""
    try:
        name = BinanceFiles().file(spec.symbol.lower(), spec.day).name
    except DataError:
        return "binance"
    return "binance-usdm" if "_usdm_" in name or "_futures_" in name else "binance-spot"


def _instrument(spec: DataSpec, events: MarketEvents | None, mid: float | None) -> InstrumentFacts:
    if events is None or spec.synthetic:  # the simulator: any integer order is valid
        return InstrumentFacts(source="synthetic", symbol="SIM", day=None, tick="1", lot="1",
                               price_unit="tick", step_lots=1, min_size=1,
                               rules="the simulator: one tick, one lot")  # fmt: skip
    unit = events.price_unit or "1"
    tick = Decimal(events.tick) * Decimal(unit.split()[0])
    if spec.kind == "lobster" or spec.venue == "nasdaq":  # cent ticks, single shares
        return InstrumentFacts(source="lobster", symbol=events.symbol, day=spec.day,
                               tick=str(tick.normalize()), lot="1", price_unit="USD",
                               step_lots=1, min_size=1,
                               rules="Nasdaq: 0.01 USD tick, 1 share")  # fmt: skip
    market = _binance_market(spec) if spec.kind == "binance" else spec.kind
    if spec.kind == "catalog":  # the catalog names venues as tardis does
        market = _CATALOG_MARKETS.get(spec.venue, spec.venue)
    lot = Decimal(events.lot) * Decimal("1e-8")
    filters = EXCHANGE_FILTERS.get((market, events.symbol.upper()))
    if filters is None:
        return InstrumentFacts(source=market, symbol=events.symbol.upper(), day=spec.day,
                               tick=str(tick.normalize()), lot=str(lot.normalize()),
                               price_unit=unit, step_lots=1, min_size=1,
                               rules="not in EXCHANGE_FILTERS: tick and lot inferred from the "
                                     "data, no minimum order known")  # fmt: skip
    step_lots = max(1, math.ceil(Decimal(filters.step) / lot))
    min_size = max(step_lots, math.ceil(Decimal(filters.min_qty) / lot))
    if filters.min_notional is not None and mid is not None:
        price = Decimal(repr(mid)) * tick  # quote currency per unit of size
        needed = math.ceil(Decimal(filters.min_notional) / (price * lot))
        min_size = max(min_size, needed)
    min_size = -(-min_size // step_lots) * step_lots  # up to a whole step
    return InstrumentFacts(
        source=market, symbol=events.symbol.upper(), day=spec.day, tick=str(tick.normalize()),
        lot=str(lot.normalize()), price_unit=unit, step_lots=step_lots, min_size=min_size,
        rules=(f"{market} filters: tick {filters.tick}, step {filters.step}, min qty "
               f"{filters.min_qty}, min notional {filters.min_notional} at the mid"),
    )  # fmt: skip


def _strategy_params(fit: MarketFit, size: int) -> dict[str, dict[str, Any]]:
    """Each built-in's parameters from the fit; risk aversion stays the user's choice."""
    half = max(fit.spread.get("p50", 1.0) / 2, 0.5)  # quote at the typical touch
    return {
        "glft": {"A": fit.A, "k": fit.k, "sigma": fit.sigma, "size": size},
        "avellaneda_stoikov": {"k": fit.k, "sigma": fit.sigma, "size": size},
        "symmetric": {"half_spread": half, "size": size},
        "inventory_skew": {"half_spread": half, "size": size},
        "adaptive_spread": {"base_half_spread": half, "size": size},
    }


def fit_market(data: str, *, sample_s: float = 1.0) -> MarketParams:
    """Measure ``data`` (a spec, with its window) and derive every built-in's parameters."""
    spec = parse_data_spec(data)
    if spec.options.get("queue") == "l3":  # measured on the book's levels either way
        spec = msgspec.structs.replace(
            spec, options={k: v for k, v in spec.options.items() if k != "queue"}
        )
    events = None if spec.synthetic else load_market(spec)
    if events is None:
        seed, n = spec.options.get("seed", 7), spec.options.get("events", 300_000)
        fit = fit_synthetic(seed=seed, events=n, sample_s=sample_s)
        mid = None
    else:
        fit = fit_recorded(events, sample_s=sample_s)
        inside = events.ts >= events.start_ns
        trades = events.price[inside & (events.kind == TRADE)]
        mid = float(np.median(trades)) if trades.size else None
    instrument = _instrument(spec, events, mid)
    window = None
    if events is not None and not spec.window.empty:
        window = f"{clock(int(events.start_ns))}-{clock(int(events.ts[-1]))}"
    return MarketParams(data=data, window=window, instrument=instrument, market=fit,
                        strategies=_strategy_params(fit, instrument.min_size))  # fmt: skip


def load_params(path: str | Path, data: str | None = None) -> MarketParams:
    """A parameters file, checked; with ``data``, refused unless fitted on that instrument."""
    file = Path(path)
    try:
        params = msgspec.json.decode(file.read_bytes(), type=MarketParams)
    except FileNotFoundError:
        msg = f"invalid --params {str(file)!r}: no such file (write one with `makerkit fit`)"
        raise ConfigError(msg) from None
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        msg = f"invalid --params {str(file)!r}: not a parameters file from `makerkit fit`: {exc}"
        raise ConfigError(msg) from exc
    if params.version != PARAMS_VERSION:
        msg = (f"invalid --params {str(file)!r}: `version` is {params.version}, this "
               f"makerkit reads {PARAMS_VERSION}")  # fmt: skip
        raise ConfigError(msg)
    if data is not None:
        check_instrument(params, data, file)
    return params


def check_instrument(params: MarketParams, data: str, file: str | Path) -> None:
    """Refuse a file fitted on another instrument than ``data`` trades."""
    spec = parse_data_spec(data)
    have = params.instrument
    kind = "synthetic" if spec.synthetic else spec.kind
    if kind == "binance":  # spot and futures share symbols: the market must match too
        kind = _binance_market(spec)
    symbol = "SIM" if spec.synthetic else spec.symbol.upper()
    if have.source != kind:
        msg = (f"invalid --params {str(file)!r}: `instrument.source` is {have.source!r}, "
               f"but --data {data!r} is {kind}")  # fmt: skip
        raise ConfigError(msg)
    if have.symbol.upper() != symbol:
        msg = (f"invalid --params {str(file)!r}: `instrument.symbol` is {have.symbol!r}, "
               f"but --data {data!r} trades {symbol!r}")  # fmt: skip
        raise ConfigError(msg)


def check_live(params: MarketParams, symbols: tuple[str, ...], file: str | Path) -> None:
    """Refuse a file fitted on a recorded instrument the live run does not trade.

    A fit on the simulator describes the demo venue's simulated market, whatever
    its symbols are called.
    """
    have = params.instrument
    if have.source != "synthetic" and have.symbol.upper() not in {s.upper() for s in symbols}:
        msg = (f"invalid --params {str(file)!r}: `instrument.symbol` is {have.symbol!r}, "
               f"but this run trades {list(symbols)}")  # fmt: skip
        raise ConfigError(msg)


def params_for(params: MarketParams | None, strategy: str) -> dict[str, Any]:
    """``strategy``'s fitted parameters (empty for one the file does not fit)."""
    if params is None:
        return {}
    return dict(params.strategies.get(strategy, {}))
