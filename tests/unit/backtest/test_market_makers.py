"""Strategy API v2 in the backtesters: the two examples, timers, and the metrics they add."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from makerkit.backtest import (
    BacktestConfig,
    ReplayConfig,
    recorded_events,
    run_replay_backtest,
    run_synthetic_backtest,
)
from makerkit.core import ConfigError, Ladder, Level, MarketContext, MarketMakerBase, Orders
from makerkit.strategies import make_strategy

EXAMPLES = Path(__file__).parents[3] / "examples" / "strategies"
LADDER = f"{EXAMPLES / 'glft_ladder.py'}:GLFTLadder"
HEDGED = f"{EXAMPLES / 'hedged_maker.py'}:HedgedMaker"


def test_the_ladder_rests_five_orders_a_side_on_the_simulator_and_never_crosses_itself() -> None:
    cfg = BacktestConfig(events=60_000, seed=3)
    result = run_synthetic_backtest(make_strategy(LADDER), cfg)
    m = result.metrics
    assert m.max_live_orders == {"bid": 5, "ask": 5}
    assert m.fills > 20 and m.orders_sent >= 10
    bids, asks = result.path["bid"], result.path["ask"]
    assert all(b < a for b, a in zip(bids, asks, strict=True) if b == b and a == a)
    again = run_synthetic_backtest(make_strategy(LADDER), cfg)  # deterministic
    assert again.fills == result.fills and again.metrics == m


def test_the_hedger_keeps_its_net_position_small_with_immediate_orders() -> None:
    cfg = BacktestConfig(events=60_000, seed=5)
    strategy = make_strategy(HEDGED, hedge_at=2, size=1)
    result = run_synthetic_backtest(strategy, cfg)
    pos = result.positions
    assert set(pos) == {"SIM", "HEDGE"} and strategy.hedges > 5
    assert abs(pos["SIM"]) > 3  # the quoted market moved the maker's inventory ...
    assert abs(pos["SIM"] + pos["HEDGE"]) <= 3  # ... and the hedges took it back out
    # each leg's PnL split over its own path; the quoted one's is the metrics'
    legs, m = result.legs, result.metrics
    parts = ("pnl_total", "pnl_spread", "pnl_adverse", "pnl_inventory", "pnl_fees", "edge")
    assert {k: legs["SIM"][k] for k in parts} == {k: getattr(m, k) for k in parts}
    assert legs["SIM"]["pnl_spread"] > 0 > legs["HEDGE"]["pnl_spread"]  # IOCs cross the spread
    assert legs["HEDGE"]["position"] == pos["HEDGE"] and legs["HEDGE"]["fills"] > 5


def test_the_ladder_runs_on_a_recorded_day_and_the_hedger_needs_the_day_of_each_symbol(
    data_root: Path,
) -> None:
    events = recorded_events("lobster", "GOOG", None)
    cfg = ReplayConfig(decision_ms=1000.0)
    result = run_replay_backtest(make_strategy(LADDER, levels=3), events, cfg)
    assert result.metrics.max_live_orders == {"bid": 3, "ask": 3} and result.metrics.fills > 50
    assert result.strategy == "GLFTLadder"
    with pytest.raises(ConfigError, match=r"are one instrument \(GOOG\).*lobster:GOOG\+AMZN"):
        run_replay_backtest(make_strategy(HEDGED), events, cfg)


class Timed(MarketMakerBase):
    timer_ms = 250.0

    def __init__(self) -> None:
        self.decisions: list[int] = []
        self.timers: list[int] = []

    def decide(self, ctx: MarketContext) -> Orders:
        self.decisions.append(ctx.ts_ns)
        return Orders()  # says nothing about the quotes: they stay as they are

    def on_timer(self, ctx: MarketContext) -> Orders | None:
        self.timers.append(ctx.ts_ns)
        mid = ctx["SIM"].book.mid
        if mid is None:
            return None
        return Orders(quotes={"SIM": Ladder(bids=(Level(int(mid) - 3, 1),),
                                            asks=(Level(int(mid) + 4, 1),))})  # fmt: skip


def test_timers_run_at_their_own_period_and_only_they_quote() -> None:
    strategy = Timed()
    result = run_synthetic_backtest(strategy, BacktestConfig(events=30_000, decision_ms=100.0))
    gaps = [b - a for a, b in zip(strategy.timers, strategy.timers[1:], strict=False)]
    assert len(strategy.timers) > 20 and min(gaps) >= 250_000_000
    ratio = len(strategy.decisions) / len(strategy.timers)
    assert 1.5 < ratio < 3.0  # every 100 ms against every 250 ms (each wakes a little late)
    assert result.metrics.orders_sent > 0 and result.metrics.max_live_orders["bid"] == 1


def test_backtest_cli_writes_orders_sent_and_max_live_orders(tmp_path: Path) -> None:
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "makerkit", "backtest", "--strategy", LADDER, "--param",
           "levels=3", "--data", "synthetic:events=20000", "--out", str(out), "--json"]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=300)
    assert proc.returncode == 0, proc.stderr
    payload: dict[str, Any] = json.loads((out / "metrics.json").read_text())
    assert payload["max_live_orders"] == {"bid": 3, "ask": 3}
    assert payload["metrics"]["max_live_orders"] == payload["max_live_orders"]
    assert payload["orders_sent"] == payload["metrics"]["orders_sent"] > 0


def test_the_hedger_asks_a_fill_that_sets_off_a_hedge_to_pay_for_it() -> None:
    from makerkit.core import BookView, InstrumentView, MarketContext

    def ctx(net: int) -> MarketContext:
        quoted = InstrumentView(book=BookView.from_columns([1000], [5], [1004], [5]),
                                position=net)  # fmt: skip
        hedge = InstrumentView(book=BookView.from_columns([500], [5], [506], [5]))
        return MarketContext(ts_ns=0, instruments={"SIM": quoted, "HEDGE": hedge})

    free = make_strategy(HEDGED, hedge_at=3, half_spread=2.0, skew=0.0)
    paid = make_strategy(HEDGED, hedge_at=3, half_spread=2.0, skew=0.0, taker_fee_ticks=1.5)
    for net, bid_cost, ask_cost in ((0, 0.0, 0.0), (2, 3.0, 0.0), (-2, 0.0, 3.0)):
        quote = free.decide(ctx(net)).quotes["SIM"]
        # a fill on the side that reaches hedge_at pays half the hedge spread (3 ticks)
        assert quote.bids[0].price == math.floor(1002 - 2 - bid_cost)
        assert quote.asks[0].price == math.ceil(1002 + 2 + ask_cost)
        with_fee = paid.decide(ctx(net)).quotes["SIM"]
        assert with_fee.bids[0].price == math.floor(1002 - 2 - (bid_cost + 1.5 if bid_cost else 0))
        assert with_fee.asks[0].price == math.ceil(1002 + 2 + (ask_cost + 1.5 if ask_cost else 0))


class TimedOn(Timed):
    timer_ms = 100.0

    def __init__(self, symbol: str) -> None:
        super().__init__()
        self.symbols = (symbol,)

    def on_timer(self, ctx: MarketContext) -> Orders | None:
        self.timers.append(ctx.ts_ns)
        return None


def test_replay_timers_keep_their_own_schedule_on_a_coarser_decision_grid(
    data_root: Path,
) -> None:
    events = recorded_events("lobster", "GOOG", None)
    from makerkit.backtest import Window, window_events

    events = window_events(events, Window.parse("10:00", "10:01"))
    strategy = TimedOn("GOOG")
    run_replay_backtest(strategy, events, ReplayConfig(decision_ms=30.0))
    first = strategy.decisions[0]
    # each fires at the first decision at or after first + 100 ms x i: never pushed back
    want = []
    for i in range(1, 1000):
        due = first + 100_000_000 * i
        later = [d for d in strategy.decisions if d >= due]
        if not later:
            break
        if not want or later[0] != want[-1]:
            want.append(later[0])
    assert strategy.timers == want
    # one per 100 ms of the span the decisions cover, not one per 120 ms (30 ms steps)
    assert len(want) == (strategy.decisions[-1] - first) // 100_000_000
