"""Market specs: the one string that names a backtest's market, for the CLI and sweeps.

``synthetic[:seed=N,events=N]`` is the simulator; ``lobster:SYMBOL[:YYYY-MM-DD]``
and ``binance:SYMBOL[:YYYY-MM-DD]`` are recorded days, and
``catalog:VENUE:SYMBOL:FROM[..TO]`` is a range of days from the catalog
(``catalog=DIR`` or ``MAKERKIT_CATALOG``, default ``./catalog``;
``missing=skip`` passes over days without data), with replay options
after commas (``queue=probabilistic,order_latency_ms=5``, any ``ReplayConfig``
field). Every spec takes a window in market time, ``start=HH:MM[:SS]`` and
``end=HH:MM[:SS]``: the strategy trades from ``start`` to ``end`` (the book is
built from the data's beginning).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, overload

import msgspec

from makerkit.backtest._catalog_events import catalog_events, catalog_plan, catalog_stream
from makerkit.backtest._events import MarketEvents, StreamedMarket, recorded_events
from makerkit.backtest._l3 import stream_l3_events
from makerkit.backtest._replay import run_replay_backtest
from makerkit.backtest._replay_config import ReplayConfig
from makerkit.backtest._replay_multi import MultiMarket
from makerkit.backtest._synthetic import BacktestConfig, BacktestResult, run_synthetic_backtest
from makerkit.backtest._window import Window, window_events
from makerkit.core.errors import ConfigError
from makerkit.data import BinanceFiles, LobsterFiles, catalog_dir, simulate

__all__ = [
    "DATA_HELP",
    "DataSpec",
    "check_market",
    "load_market",
    "load_markets",
    "parse_data_spec",
    "run_on_spec",
]

DATA_HELP = (
    "Market: synthetic[:seed=N,events=N] (the simulator; queue=l3 replays its order-level "
    "stream instead), or a recorded day, "
    "lobster:SYMBOL[:YYYY-MM-DD] or binance:SYMBOL[:YYYY-MM-DD] (SYM1+SYM2: several of one "
    "day, replayed together for a strategy that trades them all), or days from the catalog, "
    "catalog:VENUE:SYMBOL:YYYY-MM-DD[..YYYY-MM-DD] (catalog=DIR, else MAKERKIT_CATALOG or "
    "./catalog; missing=skip passes over days without data), with replay options after "
    "commas (queue=conservative|probabilistic|l3, order_latency_ms=, feed_latency_ms=, "
    "decision_ms=, maker_fee=, taker_fee=, ...). Any spec takes a window in market time: "
    "start=HH:MM[:SS],end=HH:MM[:SS]."
)


class DataSpec(msgspec.Struct, frozen=True):
    """A parsed spec: the simulator's settings, or a recorded day and how to replay it."""

    kind: str  # "synthetic", "lobster", "binance" or "catalog"
    options: dict[str, Any]
    symbol: str = ""
    day: str | None = None  # the first day
    venue: str = ""  # catalog only
    until: str | None = None  # catalog only: the last day (None: ``day`` alone)
    window: Window = Window()  # in market time; the strategy trades inside it

    @property
    def symbols(self) -> tuple[str, ...]:
        """The instruments named (``lobster:GOOG+AMZN`` replays two of one day together)."""
        return tuple(self.symbol.split("+")) if self.symbol else ()

    @property
    def several(self) -> bool:
        """Whether the spec names several instruments (one replay core each)."""
        return len(self.symbols) > 1

    @property
    def synthetic(self) -> bool:
        """Whether this is the simulator (seeds apply) rather than a recorded day."""
        return self.kind == "synthetic"


def _number(value: str) -> Any:
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(value.lower(), value)


def parse_data_spec(spec: str) -> DataSpec:
    """``synthetic[:seed=7,...]`` or ``lobster:GOOG[:2012-06-21][,queue=...]`` -> a DataSpec."""
    head, *parts = spec.split(",")
    kind, _, rest = head.partition(":")
    symbol = day = venue = ""
    until: str | None = None
    extra: tuple[str, ...] = ()
    if kind == "synthetic":
        parts = [*filter(None, rest.split(",")), *parts]
        valid: tuple[str, ...] = ("seed", "events", "queue")
    elif kind in ("lobster", "binance"):
        symbol, _, day = rest.partition(":")
        names = symbol.split("+")
        if not all(names):
            msg = (
                f"invalid --data {spec!r}, must name a symbol: {kind}:SYMBOL[:YYYY-MM-DD] "
                f"(several of one day: {kind}:SYM1+SYM2)"
            )
            raise ConfigError(msg)
        if len(set(names)) < len(names):
            msg = f"invalid --data {spec!r}: a symbol is named twice"
            raise ConfigError(msg)
        valid = ReplayConfig.__struct_fields__
    elif kind == "catalog":
        venue, _, rest = rest.partition(":")
        symbol, _, days = rest.rpartition(":")
        day, _, last = days.partition("..")
        if not (venue and symbol and day):
            msg = f"invalid --data {spec!r}, must be catalog:VENUE:SYMBOL:YYYY-MM-DD[..YYYY-MM-DD]"
            raise ConfigError(msg)
        for d in (day, last):
            if d and not _is_date(d):
                msg = f"invalid --data {spec!r}: {d!r} is not a date (YYYY-MM-DD)"
                raise ConfigError(msg)
        if last and last < day:
            msg = f"invalid --data {spec!r}: the range ends before it starts"
            raise ConfigError(msg)
        until = last or None
        extra = ("catalog", "missing")
        valid = (*ReplayConfig.__struct_fields__, *extra)
    else:
        msg = (
            f"invalid --data {spec!r}, must be synthetic[:...], lobster:SYMBOL, binance:SYMBOL "
            "or catalog:VENUE:SYMBOL:DAY[..DAY]"
        )
        raise ConfigError(msg)
    options: dict[str, Any] = {}
    bounds: dict[str, str] = {}  # start=, end=: the window, for every kind
    for part in filter(None, parts):
        key, _, value = part.partition("=")
        if key in ("start", "end") and value:
            bounds[key] = value
            continue
        if key not in valid or not value:
            msg = f"invalid --data option {part!r}, valid: {', '.join((*valid, 'start', 'end'))}"
            raise ConfigError(msg)
        options[key] = _number(value) if key not in ("queue", "engine", *extra) else value
    several = kind == "catalog" and until not in (None, day)  # `end` is on the last day
    window = Window.parse(bounds.get("start"), bounds.get("end"), same_day=not several)
    if kind == "synthetic":
        queue = options.pop("queue", None)
        if any(not isinstance(v, int) for v in options.values()):
            msg = f"invalid --data {spec!r}: seed and events must be integers"
            raise ConfigError(msg)
        if queue not in (None, "l3"):
            msg = (
                f"invalid --data {spec!r}: the simulator takes queue=l3 only (its own "
                "order-level stream replayed with our order in the FIFO queue)"
            )
            raise ConfigError(msg)
        try:
            BacktestConfig(**options)
        except ConfigError as exc:
            msg = f"invalid --data {spec!r}: {exc}"
            raise ConfigError(msg) from exc
        return DataSpec(kind, options | ({"queue": queue} if queue else {}), window=window)
    if options.get("missing", "error") not in ("error", "skip"):
        msg = f"invalid --data {spec!r}: missing= must be error or skip"
        raise ConfigError(msg)
    try:
        msgspec.convert({k: v for k, v in options.items() if k not in extra}, ReplayConfig)
    except msgspec.ValidationError as exc:
        msg = f"invalid --data option: {exc}"
        raise ConfigError(msg) from exc
    return DataSpec(
        kind, options, symbol=symbol, day=day or None, window=window, venue=venue, until=until
    )


def _is_date(text: str) -> bool:
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return False
    return len(text) == 10


def check_market(spec: DataSpec) -> None:
    """Refuse now a recorded spec whose data is not there (a sweep checks before any task)."""
    if spec.kind == "lobster":
        for symbol in spec.symbols:
            LobsterFiles().file(symbol.upper(), spec.day)
    elif spec.kind == "binance":
        for symbol in spec.symbols:
            BinanceFiles().file(symbol.lower(), spec.day)
    elif spec.kind == "catalog":
        assert spec.day is not None  # noqa: S101 - parse_data_spec requires it
        catalog_plan(
            catalog_dir(spec.options.get("catalog")), spec.venue, spec.symbol, spec.day,
            spec.until or spec.day, str(spec.options.get("missing", "error")),
        )  # fmt: skip


@overload
def load_market(spec: DataSpec) -> MarketEvents | None: ...


@overload
def load_market(spec: DataSpec, *, stream: bool) -> MarketEvents | StreamedMarket | None: ...
def load_market(spec: DataSpec, *, stream: bool = False) -> MarketEvents | StreamedMarket | None:
    """The events of a replay spec (None for the simulator's own backtester).

    ``synthetic:...,queue=l3`` is the simulator's order-level stream, replayed.
    With ``stream``, a catalog range of several days is read one day at a time
    as the replay goes (memory holds a day, not the range).
    """
    if spec.several:
        msg = (
            f"{spec.kind}:{spec.symbol} names several instruments: backtest, compare, tune and "
            "sweep replay them together (for a strategy that trades them all); this takes one"
        )
        raise ConfigError(msg)
    if spec.synthetic:
        if spec.options.get("queue") != "l3":
            return None
        sim = simulate(events=spec.options.get("events", 1_000_000),
                       seed=spec.options.get("seed", 7))  # fmt: skip
        return window_events(stream_l3_events(sim.stream), spec.window)
    l3 = spec.options.get("queue") == "l3"
    if spec.kind == "catalog":
        assert spec.day is not None  # noqa: S101 - parse_data_spec requires it
        if stream and spec.until not in (None, spec.day):
            return catalog_stream(
                catalog_dir(spec.options.get("catalog")), spec.venue, spec.symbol, spec.day,
                spec.until, window=spec.window, order_level=l3,
                missing=str(spec.options.get("missing", "error")),
            )  # fmt: skip
        return catalog_events(
            catalog_dir(spec.options.get("catalog")), spec.venue, spec.symbol, spec.day,
            spec.until, window=spec.window, order_level=l3,
            missing=str(spec.options.get("missing", "error")),
        )  # fmt: skip
    events = recorded_events(spec.kind, spec.symbol, spec.day, order_level=l3)
    return window_events(events, spec.window)


def load_markets(spec: DataSpec) -> MultiMarket:
    """Each instrument of a recorded spec, in its window (``lobster:GOOG+AMZN``: two).

    The catalog's ranges are one instrument each: name one catalog symbol.
    """
    if spec.kind not in ("lobster", "binance"):
        msg = f"several instruments replay from lobster: or binance: days, not {spec.kind}:"
        raise ConfigError(msg)
    l3 = spec.options.get("queue") == "l3"
    return MultiMarket({
        symbol: window_events(
            recorded_events(spec.kind, symbol, spec.day, order_level=l3), spec.window
        )
        for symbol in spec.symbols
    })  # fmt: skip


def run_on_spec(
    strategy: Any, spec: DataSpec,
    market: MarketEvents | StreamedMarket | MultiMarket | None = None, *,
    progress: Callable[[int], None] | None = None, total: Callable[[int], None] | None = None,
) -> BacktestResult:  # fmt: skip
    """Backtest ``strategy`` on ``spec`` (``market``: its events, when already loaded).

    ``total`` is told the run's length (events) before it starts, for a progress bar.
    """
    if spec.synthetic and spec.options.get("queue") != "l3":
        w = spec.window
        cfg = BacktestConfig(**spec.options, start_ns=w.start, end_ns=w.end)
        if total is not None:
            total(cfg.events)
        return run_synthetic_backtest(strategy, cfg, progress=progress)
    if market is None:
        market = load_markets(spec) if spec.several else load_market(spec)
    events = market
    assert events is not None  # noqa: S101 - a recorded spec always has events
    if total is not None:
        total(len(events))
    fields = ReplayConfig.__struct_fields__
    replay = msgspec.convert({k: v for k, v in spec.options.items() if k in fields}, ReplayConfig)
    return run_replay_backtest(strategy, events, replay, progress=progress)
