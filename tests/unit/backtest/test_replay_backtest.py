"""Replay backtests on the real LOBSTER and Binance files: events, engines, determinism."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import pytest

from makerkit.backtest import ReplayConfig, run_replay_backtest
from makerkit.backtest._events import DEPTH, TRADE, MarketEvents, binance_events, lobster_events
from makerkit.backtest._replay import make_replay_core
from makerkit.book import available_backends
from makerkit.core import QuoteIntent, StrategyContext
from makerkit.data import (
    LOBSTER_DUMMY_ASK,
    LobsterDay,
    load_binance_capture,
    load_lobster,
    replay_binance,
)
from makerkit.strategies import GLFT, InventorySkew, make_strategy
from tests.unit.backtest.conftest import head

NATIVE = "native" in available_backends()
GOOG = "GOOG_2012-06-21_34200000_57600000_{}_10.csv.gz"
SPOT = "crypto/binance_spot_btcusdt_20240808_stream.gz"


@pytest.fixture(scope="module")
def goog(data_root: Path) -> LobsterDay:
    lob = data_root / "lobster"
    return load_lobster(lob / GOOG.format("message"), lob / GOOG.format("orderbook"))


@pytest.fixture(scope="module")
def spot(data_root: Path) -> MarketEvents:
    return binance_events(load_binance_capture(data_root / SPOT))


def final_top(ev: MarketEvents, n: int) -> tuple[Any, ...]:
    core = make_replay_core(ev, ReplayConfig(decision_ms=1e12))
    while core.run(1 << 62) != 0:  # decisions come and go: nobody quotes
        pass
    return (*core.top(-1, n), *core.top(1, n))


@pytest.mark.parametrize("rows", [1_000, 20_000, 60_000])
def test_lobster_events_rebuild_the_orderbook_file(goog: LobsterDay, rows: int) -> None:
    day = head(goog, rows)
    ev = lobster_events(day)
    assert ev.symbol == "GOOG" and ev.tick == 100
    assert np.all(np.diff(ev.ts) >= 0)
    ask_p, ask_s, bid_p, bid_s = final_top(ev, day.levels)
    row = day.book[-1]
    real_asks = row[0::4] != LOBSTER_DUMMY_ASK
    assert ask_p == (row[0::4][real_asks] // ev.tick).tolist()
    assert ask_s == row[1::4][real_asks].tolist()
    assert bid_p == (row[2::4] // ev.tick).tolist()
    assert bid_s == row[3::4].tolist()
    # every visible execution is a trade, aggressor opposite the resting order
    m = day.messages
    executions = (m.type[1:] == 4).sum()
    assert (ev.kind == TRADE).sum() == executions


def test_binance_events_start_from_the_snapshot_and_end_on_its_book(data_root: Path) -> None:
    capture = load_binance_capture(data_root / SPOT)
    ev = binance_events(capture)
    assert (ev.tick, ev.lot) == (1_000_000, 100)  # 0.01 USDT, 0.000001 BTC
    assert ev.start_ns == capture.snapshot_ns
    assert int((ev.kind == DEPTH).sum()) >= len(capture.snapshot_bids) + len(capture.snapshot_asks)
    check = replay_binance(capture)
    assert check.final_bid is not None and check.final_ask is not None
    ask_p, ask_s, bid_p, bid_s = final_top(ev, 1)
    assert (bid_p[0] * ev.tick, bid_s[0] * ev.lot) == check.final_bid
    assert (ask_p[0] * ev.tick, ask_s[0] * ev.lot) == check.final_ask


@pytest.mark.skipif(not NATIVE, reason="needs the native engine")
@pytest.mark.parametrize("queue", ["conservative", "probabilistic"])
def test_native_and_python_cores_agree_on_binance(spot: MarketEvents, queue: str) -> None:
    results = [
        run_replay_backtest(make_strategy("glft", sigma=3.0), spot,
                            ReplayConfig(engine=engine, queue=queue, order_latency_ms=1.0))
        for engine in ("native", "python")
    ]  # fmt: skip
    native, python = results
    assert native.metrics.fills > 50
    assert native.fills == python.fills
    assert native.metrics == python.metrics
    assert native.path == python.path


@pytest.mark.skipif(not NATIVE, reason="needs the native engine")
def test_native_and_python_cores_agree_on_lobster(goog: LobsterDay) -> None:
    ev = lobster_events(head(goog, 40_000))
    cfg = {"queue": "probabilistic", "feed_latency_ms": 0.5, "maker_fee": -0.0002}
    native, python = (
        run_replay_backtest(make_strategy("inventory_skew", half_spread=1.0), ev,
                            ReplayConfig(engine=engine, **cfg))  # type: ignore[arg-type]
        for engine in ("native", "python")
    )  # fmt: skip
    assert native.metrics.fills > 20
    assert native.fills == python.fills and native.metrics == python.metrics


def test_queue_models_differ_and_the_conservative_fills_less(spot: MarketEvents) -> None:
    fills = {
        q: run_replay_backtest(make_strategy("symmetric", half_spread=0.5), spot,
                               ReplayConfig(queue=q)).metrics.fills
        for q in ("conservative", "probabilistic")
    }  # fmt: skip
    assert 0 < fills["conservative"] < fills["probabilistic"]


def test_two_runs_give_identical_metrics(spot: MarketEvents) -> None:
    def once() -> bytes:
        r = run_replay_backtest(make_strategy("adaptive_spread"), spot, ReplayConfig())
        return msgspec.json.encode(r.metrics)

    assert once() == once()


def test_latency_costs_fills_at_the_touch(spot: MarketEvents) -> None:
    def fills(ms: float) -> int:
        cfg = ReplayConfig(order_latency_ms=ms)
        return run_replay_backtest(
            make_strategy("symmetric", half_spread=0.5), spot, cfg
        ).metrics.fills

    assert fills(50.0) < fills(0.0)


class Boom:
    name = "boom"
    wants_features = False

    def __init__(self) -> None:
        self.calls = 0

    def quote(self, ctx: StrategyContext) -> QuoteIntent:
        self.calls += 1
        if self.calls == 30:
            msg = "model diverged"
            raise RuntimeError(msg)
        assert ctx.best_bid is not None and ctx.best_ask is not None
        return QuoteIntent(bid_price=ctx.best_bid - 1, bid_size=1, ask_price=ctx.best_ask + 1,
                           ask_size=1)  # fmt: skip

    def on_fill(self, side: int, price: int, qty: int, ctx: StrategyContext) -> None:
        return None


def test_a_strategy_that_raises_is_stopped_and_its_quotes_pulled(spot: MarketEvents) -> None:
    r = run_replay_backtest(Boom(), spot, ReplayConfig())
    assert r.stopped == "RuntimeError in Boom.quote: model diverged"
    assert np.isnan(r.path["bid"][-1]) and np.isnan(r.path["ask"][-1])
    assert not np.isnan(r.path["bid"][-2])


def same_run(a: Any, b: Any) -> bool:
    """Fills, metrics and path equal (NaN equal to NaN: an unquoted side)."""
    return bool(
        a.fills == b.fills
        and msgspec.json.encode(a.metrics) == msgspec.json.encode(b.metrics)
        and msgspec.json.encode(a.path) == msgspec.json.encode(b.path)
    )


@pytest.mark.skipif(not NATIVE, reason="needs the native engine")
@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("symmetric", {"half_spread": 1.5}),
        ("inventory_skew", {"phi": 0.3, "max_position": 4}),
        ("avellaneda_stoikov", {"sigma": 3.0, "size": 2}),
        ("glft", {"sigma": 30.0, "max_position": 5}),
    ],
)
def test_built_in_strategies_decide_the_same_inside_the_core(
    spot: MarketEvents, goog: LobsterDay, name: str, params: dict[str, Any]
) -> None:
    lobster = lobster_events(head(goog, 30_000))
    for ev in (spot, lobster):
        cfg = {"order_latency_ms": 1.0, "min_quote_life_ms": 50.0, "price_tolerance": 1}
        inside, called = (
            run_replay_backtest(make_strategy(name, **params), ev,
                                ReplayConfig(native_strategy=kernel, **cfg))  # type: ignore[arg-type]
            for kernel in (True, False)
        )  # fmt: skip
        assert inside.metrics.fills > 5, (name, ev.source)
        assert same_run(inside, called), (name, ev.source)


def test_a_subclass_is_called_from_python(spot: MarketEvents) -> None:
    from makerkit.strategies import GLFT

    calls = []

    class Logged(GLFT):
        def quote(self, ctx: StrategyContext) -> QuoteIntent:
            calls.append(ctx.ts_ns)
            return super().quote(ctx)

    r = run_replay_backtest(Logged(sigma=30.0), spot, ReplayConfig(requote_on_fill=False))
    assert len(calls) == len(r.path["ts"])
    base = run_replay_backtest(GLFT(sigma=30.0), spot, ReplayConfig(requote_on_fill=False))
    assert same_run(r, base)


class _UserGLFT(GLFT):  # not a built-in: decided in Python
    pass


class _Counting(InventorySkew, kw_only=True):  # listens to its fills and reads the context
    told: list[tuple[int, int, float]] = msgspec.field(default_factory=list)

    def on_fill(self, side: int, price: int, qty: int, ctx: StrategyContext) -> None:
        self.told.append((ctx.ts_ns, ctx.position, round(ctx.pnl, 6)))


@pytest.mark.skipif(not NATIVE, reason="needs the native engine")
@pytest.mark.parametrize(
    ("make", "cfg"),
    [
        (lambda: _UserGLFT(sigma=30.0, max_position=5), {"requote_on_fill": False}),
        (
            lambda: _Counting(half_spread=1.0, phi=0.3),
            {"min_quote_life_ms": 50.0, "price_tolerance": 1},
        ),
        (lambda: make_strategy("adaptive_spread"), {"maker_fee": -0.0001}),
    ],
)
def test_a_python_strategy_decides_the_same_through_the_cores_manager_and_the_session(
    spot: MarketEvents, goog: LobsterDay, make: Any, cfg: dict[str, Any]
) -> None:
    """native_strategy=True: Python quotes, the core's order manager places (the fast path);
    False: the execution layer's session does it. Same decisions, orders, fills and path."""
    for ev in (spot, lobster_events(head(goog, 30_000))):
        strategies = make(), make()
        fast, session = (
            run_replay_backtest(strategy, ev, ReplayConfig(native_strategy=managed,
                                                           order_latency_ms=1.0, **cfg))
            for strategy, managed in zip(strategies, (True, False), strict=True)
        )  # fmt: skip
        # a strategy that reads its context in on_fill is told the same thing on both paths
        told = [getattr(s, "told", None) for s in strategies]
        assert told[0] == told[1], ev.source
        assert told[0] is None or len(told[0]) == fast.metrics.fills  # told of every fill
        assert fast.metrics.fills > 5, ev.source
        assert same_run(fast, session), ev.source
        assert fast.metrics.orders_sent == session.metrics.orders_sent > 0


class _Sloppy:
    """Quotes a float price, then a size of None: refused on every path with one reason."""

    name = "sloppy"

    def __init__(self, bad: dict[str, Any]) -> None:
        self.bad, self.calls = bad, 0

    def quote(self, ctx: StrategyContext) -> QuoteIntent:
        self.calls += 1
        assert ctx.best_bid is not None and ctx.best_ask is not None
        fields: dict[str, Any] = {"bid_price": ctx.best_bid - 1, "bid_size": 1,
                                  "ask_price": ctx.best_ask + 1, "ask_size": 1}  # fmt: skip
        return QuoteIntent(**(fields | self.bad if self.calls == 5 else fields))

    def on_fill(self, side: int, price: int, qty: int, ctx: StrategyContext) -> None:
        return None


@pytest.mark.skipif(not NATIVE, reason="needs the native engine")
@pytest.mark.parametrize("bad", [{"bid_price": 100.5}, {"ask_size": None}, {"bid_size": True}])
def test_a_price_or_size_that_is_not_an_int_stops_both_paths_alike(
    spot: MarketEvents, bad: dict[str, Any]
) -> None:
    fast, session = (
        run_replay_backtest(_Sloppy(bad), spot, ReplayConfig(native_strategy=managed))
        for managed in (True, False)
    )
    assert fast.stopped == session.stopped
    assert fast.stopped is not None and "ticks and lots (ints)" in fast.stopped
    assert same_run(fast, session)
