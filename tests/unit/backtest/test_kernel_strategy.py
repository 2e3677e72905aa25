"""Compiled strategies: the kernel inside the core decides as the same kernel called from Python."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import pytest

from makerkit.backtest import ReplayConfig, run_replay_backtest
from makerkit.backtest._events import MarketEvents, binance_events, lobster_events
from makerkit.book import available_backends
from makerkit.core import StrategyContext
from makerkit.core.errors import ConfigError
from makerkit.data import load_binance_capture, load_lobster
from makerkit.strategies import (
    MID,
    OUT_ASK,
    OUT_ASK_SIZE,
    OUT_BID,
    OUT_BID_SIZE,
    POSITION,
    TIME_S,
    KernelStrategy,
    make_strategy,
    quote_from_out,
)
from makerkit.strategies import _kernel as kernel_module
from tests.unit.backtest.conftest import head

NATIVE = "native" in available_backends()
HAS_NUMBA = kernel_module.numba_available()
EXAMPLE = f"{Path(__file__).parents[3] / 'examples' / 'strategies' / 'glft_kernel.py'}:GLFTKernel"
SPOT = "crypto/binance_spot_btcusdt_20240808_stream.gz"
GOOG = "GOOG_2012-06-21_34200000_57600000_{}_10.csv.gz"
GLFT_PARAMS: dict[str, Any] = {"gamma": 0.05, "A": 2.0, "k": 4.0, "sigma": 30.0, "max_position": 5}
needs_core = pytest.mark.skipif(not (NATIVE and HAS_NUMBA), reason="needs the core and numba")


@pytest.fixture(scope="module")
def markets(data_root: Path) -> list[MarketEvents]:
    lob = data_root / "lobster"
    goog = load_lobster(lob / GOOG.format("message"), lob / GOOG.format("orderbook"))
    spot = binance_events(load_binance_capture(data_root / SPOT))
    return [spot, lobster_events(head(goog, 30_000))]


def same_run(a: Any, b: Any) -> bool:
    """Fills, metrics and path equal (NaN equal to NaN: an unquoted side)."""
    return bool(
        a.fills == b.fills
        and msgspec.json.encode(a.metrics) == msgspec.json.encode(b.metrics)
        and msgspec.json.encode(a.path) == msgspec.json.encode(b.path)
    )


def out(bid: float, bid_size: float, ask: float, ask_size: float) -> np.ndarray[Any, Any]:
    return np.array([bid, bid_size, ask, ask_size], dtype=np.float64)


def test_quotes_are_read_from_out_by_one_rule() -> None:
    q = quote_from_out(out(99.7, 2.9, 101.2, 1.0))
    assert (q.bid_price, q.bid_size, q.ask_price, q.ask_size) == (99, 2, 102, 1)
    q = quote_from_out(out(math.nan, 1.0, 101.0, 0.5))  # no price; a size under 1
    assert (q.bid_price, q.bid_size, q.ask_price, q.ask_size) == (None, 0, None, 0)
    q = quote_from_out(out(-3.0, 1.0, 100.2, 1.0))  # a price must be above 0
    assert (q.bid_price, q.ask_price) == (None, 101)
    q = quote_from_out(out(100.0, 1.0, 99.0, 1.0))  # the ask stays above the bid
    assert (q.bid_price, q.ask_price) == (100, 101)
    q = quote_from_out(out(math.inf, math.nan, 100.0, 1.0))  # an unquoted side is not read
    assert (q.bid_price, q.ask_price) == (None, 100)
    with pytest.raises(ConfigError, match=r"out\[OUT_ASK\] = inf"):
        quote_from_out(out(99.0, 1.0, math.inf, 1.0))
    with pytest.raises(ConfigError, match=r"out\[OUT_BID_SIZE\] = 1e\+16"):
        quote_from_out(out(99.0, 1e16, 100.0, 1.0))


class _Stateful(KernelStrategy, kw_only=True):
    """Counts its decisions and quotes wider with each fill it sees (via the position)."""

    name: str = "stateful"
    half_spread: float = 1.0
    state_size = 3

    @staticmethod
    def kernel(view, params, state, out):  # type: ignore[no-untyped-def]
        state[0] += 1.0
        if view[POSITION] != state[1]:
            state[2] += 1.0  # position changes seen
            state[1] = view[POSITION]
        m = view[MID]
        if m == m:
            h = params[0] + 0.1 * state[2]
            out[OUT_BID], out[OUT_ASK] = m - h - 0.5 * view[POSITION], m + h - 0.5 * view[POSITION]
            out[OUT_BID_SIZE], out[OUT_ASK_SIZE] = 1.0, 1.0


def _paths(make: Any, ev: MarketEvents, cfg: dict[str, Any], monkeypatch: Any) -> dict[str, Any]:
    """The same strategy in the core, called from Python by the core's manager, via the
    session, and as plain Python (no numba): each run and the strategy's state after it."""
    runs: dict[str, Any] = {}
    for path in ("core", "managed", "session", "plain"):
        with monkeypatch.context() as m:
            if path == "managed":
                m.setattr(KernelStrategy, "compiled", lambda self: None)
            if path == "plain":
                m.setattr(kernel_module, "_numba", lambda: None)
            strategy = make()
            cfg_path = ReplayConfig(native_strategy=path != "session", **cfg)
            runs[path] = (run_replay_backtest(strategy, ev, cfg_path), strategy.buffers()[1].copy())
    return runs


@needs_core
@pytest.mark.parametrize(
    ("make", "cfg"),
    [
        (lambda: make_strategy(EXAMPLE, **GLFT_PARAMS), {"requote_on_fill": False}),
        (
            lambda: make_strategy(EXAMPLE, **GLFT_PARAMS, sigma_halflife_s=20.0),
            {"min_quote_life_ms": 50.0, "price_tolerance": 1},
        ),
        (lambda: _Stateful(half_spread=1.0), {"order_latency_ms": 1.0}),
    ],
)
def test_a_kernel_decides_the_same_in_the_core_from_python_and_without_numba(
    markets: list[MarketEvents], make: Any, cfg: dict[str, Any], monkeypatch: Any
) -> None:
    for ev in markets:
        runs = _paths(make, ev, cfg, monkeypatch)
        core, core_state = runs["core"]
        assert core.metrics.fills > 5, ev.source
        for path in ("managed", "session", "plain"):
            other, state = runs[path]
            assert same_run(core, other), (path, ev.source)
            assert core.metrics.orders_sent == other.metrics.orders_sent > 0
            np.testing.assert_array_equal(core_state, state)  # the state ends where it did
        assert core.stopped is None


@needs_core
def test_the_example_kernel_quotes_as_the_built_in_glft(markets: list[MarketEvents]) -> None:
    """The same formula compiled from a user's file and built into the core: the same run."""
    for ev in markets:
        cfg = ReplayConfig(order_latency_ms=1.0, requote_on_fill=False)
        kernel = run_replay_backtest(make_strategy(EXAMPLE, **GLFT_PARAMS), ev, cfg)
        built_in = run_replay_backtest(make_strategy("glft", **GLFT_PARAMS), ev, cfg)
        assert kernel.metrics.fills > 5
        assert kernel.fills == built_in.fills
        assert kernel.path["position"] == built_in.path["position"]


class _Diverges(KernelStrategy, kw_only=True):
    """Quotes around the mid, then (from `at` seconds) fails: raises, or writes inf."""

    name: str = "diverges"
    at: float = 0.0
    how: float = 0.0  # 0: an index out of range (raises), 1: an infinite ask

    @staticmethod
    def kernel(view, params, state, out):  # type: ignore[no-untyped-def]
        m = view[MID]
        if m != m:
            return
        out[OUT_BID], out[OUT_ASK], out[OUT_BID_SIZE], out[OUT_ASK_SIZE] = m - 1, m + 1, 1.0, 1.0
        if view[TIME_S] >= params[0]:
            if params[1] == 0:
                out[7] = 0.0
            else:
                out[OUT_ASK] = math.inf


@needs_core
@pytest.mark.parametrize("how", [0.0, 1.0])
# numba reports the kernel's IndexError as an unraisable exception (and the core stops)
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_failing_kernel_stops_the_run_with_its_quotes_pulled_on_both_paths(
    markets: list[MarketEvents], how: float, monkeypatch: Any
) -> None:
    ev = markets[0]
    at = float(ev.ts[len(ev.ts) // 2]) / 1e9
    runs = _paths(lambda: _Diverges(at=at, how=how), ev, {}, monkeypatch)
    core = runs["core"][0]
    assert core.stopped is not None
    if how == 1.0:  # the same words on every path
        assert "out[OUT_ASK] = inf" in core.stopped
        assert {r.stopped for r, _ in runs.values()} == {core.stopped}
    else:
        assert "_Diverges.kernel raised" in core.stopped
        assert "IndexError" in runs["managed"][0].stopped
    assert core.path["ts"][-1] < ev.ts[-1]  # it ended early, quotes pulled
    assert math.isnan(core.path["bid"][-1]) and math.isnan(core.path["ask"][-1])
    for path in ("managed", "session", "plain"):
        run = runs[path][0]
        assert run.fills == core.fills, path
        assert run.path["ts"] == core.path["ts"], path


def test_a_kernel_is_an_ordinary_strategy_elsewhere() -> None:
    s = make_strategy(EXAMPLE, gamma=0.1, A=1.0, k=1.5, sigma=2.0, max_position=1)
    ctx = StrategyContext(ts_ns=1_000_000_000, best_bid=100, best_ask=102, bid_size=3,
                          ask_size=4, position=1)  # fmt: skip
    q = s.quote(ctx)
    assert q.bid_price is None and q.bid_size == 0  # at the limit: no room to buy
    assert q.ask_price is not None and q.ask_price > 101 and q.ask_size == 1
    none = s.quote(StrategyContext(ts_ns=0, best_bid=None, best_ask=102, ask_size=4))
    assert none.bid_price is None and none.ask_price is None


def test_bad_kernel_classes_are_refused_with_the_reason() -> None:
    class NoKernel(KernelStrategy, kw_only=True):
        x: float = 1.0

    with pytest.raises(ConfigError, match="must define kernel"):
        NoKernel()

    class Words(KernelStrategy, kw_only=True):
        label: str = "x"

        @staticmethod
        def kernel(view, params, state, out):  # type: ignore[no-untyped-def]
            out[0] = 1.0

    with pytest.raises(ConfigError, match=r"field 'label'.*numbers"):
        Words()
    with pytest.raises(ConfigError, match="invalid parameter"):
        make_strategy(EXAMPLE, gamma=0.1, typo=2.0)


@pytest.mark.skipif(not HAS_NUMBA, reason="needs numba")
def test_a_kernel_numba_cannot_compile_is_refused_by_name() -> None:
    class Untyped(KernelStrategy, kw_only=True):
        name: str = "untyped"

        @staticmethod
        def kernel(view, params, state, out):  # type: ignore[no-untyped-def]
            out[0] = {"a dict": 1}["a dict"] + "text"

    with pytest.raises(ConfigError, match=r"Untyped\.kernel cannot be compiled by numba"):
        Untyped().compiled()
