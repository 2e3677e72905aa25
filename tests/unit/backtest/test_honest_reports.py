"""Honest reports on real runs: the PnL parts add up exactly, rejections are counted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import pytest

from makerkit.backtest import (
    BacktestConfig,
    BacktestResult,
    ReplayConfig,
    run_replay_backtest,
    run_synthetic_backtest,
)
from makerkit.backtest._events import MarketEvents, lobster_events
from makerkit.book import available_backends
from makerkit.core import QuoteIntent, StrategyContext
from makerkit.data import load_lobster
from makerkit.strategies import make_strategy

NATIVE = "native" in available_backends()
AMZN = "AMZN_2012-06-21_34200000_57600000_{}_5.csv.gz"


@pytest.fixture(scope="module")
def amzn(data_root: Path) -> MarketEvents:
    lob = data_root / "lobster"
    return lobster_events(
        load_lobster(lob / AMZN.format("message"), lob / AMZN.format("orderbook"))
    )


def head(ev: MarketEvents, n: int) -> MarketEvents:
    cut = {f: getattr(ev, f)[:n] for f in ("ts", "kind", "side", "price", "qty")}
    return msgspec.structs.replace(ev, **cut)


def assert_adds_up(r: BacktestResult, *, fees: bool) -> None:
    m = r.metrics
    assert m.pnl_spread + m.pnl_adverse + m.pnl_inventory + m.pnl_fees == m.pnl_total
    for part in (m.pnl_spread, m.pnl_adverse, m.pnl_inventory):
        assert (2 * part).is_integer()  # half tick-lots: exact
    eq = r.path["equity"]
    if fees:
        assert m.pnl_fees != 0.0
        assert m.pnl_total == pytest.approx(eq[-1] - eq[0], rel=1e-12, abs=1e-6)
    else:
        assert m.pnl_fees == 0.0
        assert m.pnl_total == eq[-1] - eq[0]  # the equity path itself, to the last bit
    # the parts by their definitions, from the path and the fills
    t = np.asarray(r.path["ts"], dtype=np.int64)
    mid = np.asarray(r.path["mid"])
    pos = np.asarray(r.path["position"], dtype=np.int64)
    assert m.pnl_inventory == float((pos[:-1] * np.diff(mid)).sum())
    f = np.asarray(r.fills, dtype=np.int64).reshape(-1, 4)
    j = np.searchsorted(t, f[:, 0], side="left")
    on = (j >= 1) & (j < t.size)
    signed = (f[:, 1] * f[:, 3])[on]
    assert m.pnl_spread == float((signed * (mid[j[on] - 1] - f[on, 2])).sum())
    assert m.pnl_adverse == float((signed * (mid[j[on]] - mid[j[on] - 1])).sum())
    assert m.fills > 0


@pytest.mark.parametrize("name", ["symmetric", "glft", "avellaneda_stoikov"])
def test_decomposition_adds_up_on_the_synthetic_market(name: str) -> None:
    r = run_synthetic_backtest(make_strategy(name), BacktestConfig(events=60_000, seed=3))
    assert_adds_up(r, fees=False)
    rebate = BacktestConfig(events=60_000, seed=3, maker_fee=-0.2, taker_fee=0.3)
    assert_adds_up(run_synthetic_backtest(make_strategy(name), rebate), fees=True)


@pytest.mark.skipif(not NATIVE, reason="the native engine is not built")
@pytest.mark.parametrize("name", ["symmetric", "glft"])
def test_decomposition_adds_up_on_a_lobster_day(amzn: MarketEvents, name: str) -> None:
    r = run_replay_backtest(make_strategy(name), amzn, ReplayConfig())
    assert_adds_up(r, fees=False)
    assert r.metrics.buckets == 390 and r.metrics.sharpe is not None  # 09:30 to 16:00
    lo, hi = r.metrics.pnl_per_bucket_ci95 or (0.0, 0.0)
    assert lo <= r.metrics.pnl_per_bucket_mean <= hi
    assert r.metrics.liquidation_cost is not None and r.metrics.liquidation_cost >= 0
    fees = ReplayConfig(maker_fee=-0.0002, taker_fee=0.0003)
    assert_adds_up(run_replay_backtest(make_strategy(name), amzn, fees), fees=True)


def test_decomposition_adds_up_in_the_python_engine(amzn: MarketEvents) -> None:
    ev = head(amzn, 30_000)
    cfg = ReplayConfig(engine="python", native_strategy=False, maker_fee=-0.0002)
    assert_adds_up(run_replay_backtest(make_strategy("glft"), ev, cfg), fees=True)


class Crossing:
    """Quotes through the touch every time: with post-only, every quote is refused."""

    wants_features = False
    name = "crossing"

    def quote(self, ctx: StrategyContext) -> QuoteIntent:
        if ctx.best_bid is None or ctx.best_ask is None:
            return QuoteIntent.none()
        return QuoteIntent(bid_price=ctx.best_ask + 50, bid_size=1,
                           ask_price=ctx.best_bid - 50, ask_size=1)  # fmt: skip

    def on_fill(self, side: int, price: int, qty: int, ctx: StrategyContext) -> None:
        return None


def assert_all_refused(r: BacktestResult) -> None:
    m = r.metrics
    assert m.fills == 0 and m.rejected_quotes > 0
    assert m.quote_uptime == 0.0  # it "quoted" at every decision, but nothing ever rested
    assert m.pnl_total == 0.0


@pytest.mark.parametrize("engine", ["python", "native"])
def test_every_quote_refused_on_a_replay(amzn: MarketEvents, engine: str) -> None:
    if engine == "native" and not NATIVE:
        pytest.skip("the native engine is not built")
    r = run_replay_backtest(Crossing(), head(amzn, 20_000), ReplayConfig(engine=engine))
    assert_all_refused(r)
    decisions = len(r.path["ts"])
    assert r.metrics.rejected_quotes >= 2 * (decisions - 1)  # both sides, every decision


def test_every_quote_refused_on_the_synthetic_market() -> None:
    r = run_synthetic_backtest(Crossing(), BacktestConfig(events=20_000, seed=5))
    assert_all_refused(r)


@pytest.mark.skipif(not NATIVE, reason="the native engine is not built")
def test_native_and_python_cores_refuse_the_same_quotes(amzn: MarketEvents) -> None:
    ev = head(amzn, 20_000)
    runs: dict[str, Any] = {}
    for engine in ("python", "native"):
        cfg = ReplayConfig(engine=engine, native_strategy=False)
        runs[engine] = run_replay_backtest(make_strategy("glft"), ev, cfg).metrics
    assert runs["python"].rejected_quotes == runs["native"].rejected_quotes > 0
    assert runs["python"].quote_uptime == runs["native"].quote_uptime < 1.0


@pytest.mark.skipif(not NATIVE, reason="the native engine is not built")
def test_native_strategy_reports_rejections_like_the_python_loop(amzn: MarketEvents) -> None:
    ev = head(amzn, 20_000)
    kernel = run_replay_backtest(make_strategy("glft"), ev, ReplayConfig()).metrics
    loop = run_replay_backtest(make_strategy("glft"), ev, ReplayConfig(native_strategy=False))
    assert kernel.rejected_quotes == loop.metrics.rejected_quotes > 0
    assert kernel.quote_uptime == pytest.approx(loop.metrics.quote_uptime)
