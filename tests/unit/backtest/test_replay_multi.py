"""Several recorded instruments replayed together: a maker on one, IOC hedges on another."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from makerkit.backtest import (
    MultiMarket,
    ReplayConfig,
    load_market,
    load_markets,
    parse_data_spec,
    run_replay_backtest,
)
from makerkit.book import available_backends
from makerkit.core import (
    ConfigError,
    FillReport,
    Immediate,
    MarketContext,
    MarketMakerBase,
    Orders,
)
from makerkit.strategies import make_strategy

HEDGED = f"{Path(__file__).parents[3] / 'examples' / 'strategies' / 'hedged_maker.py'}:HedgedMaker"
ENGINES = ["python"] + (["native"] if "native" in available_backends() else [])
SPEC = "lobster:GOOG+AMZN,start=10:00,end=10:20"


def _hedger() -> Any:
    return make_strategy(HEDGED, quote_symbol="GOOG", hedge_symbol="AMZN", hedge_at=2)


def _recording(strategy: Any) -> tuple[Any, list[FillReport]]:
    """The same strategy, keeping every fill report it hears."""
    fills: list[FillReport] = []

    class Recording(type(strategy)):  # type: ignore[misc]
        def on_fill(self, fill: FillReport, ctx: MarketContext) -> None:
            fills.append(fill)

    strategy.__class__ = Recording
    return strategy, fills


@pytest.fixture(scope="module")
def day(data_root: Path) -> MultiMarket:
    return load_markets(parse_data_spec(SPEC))


def test_a_spec_names_several_instruments_of_one_day_and_refuses_repeats() -> None:
    spec = parse_data_spec("lobster:GOOG+AMZN:2012-06-21,queue=conservative,start=10:00")
    assert spec.symbols == ("GOOG", "AMZN") and spec.several and spec.day == "2012-06-21"
    assert not parse_data_spec("lobster:GOOG").several
    for bad, why in (("lobster:GOOG+GOOG", "named twice"), ("lobster:GOOG+", "must name")):
        with pytest.raises(ConfigError, match=why):
            parse_data_spec(bad)
    with pytest.raises(ConfigError, match="names several instruments"):
        load_market(spec)  # the one-instrument paths (fit, replay, tune) say so


@pytest.mark.parametrize("engine", ENGINES)
def test_the_hedger_quotes_one_day_and_hedges_on_the_other_with_taker_fills(
    day: MultiMarket, engine: str
) -> None:
    strategy, fills = _recording(_hedger())
    cfg = ReplayConfig(decision_ms=100.0, backend=engine, taker_fee=0.0002)
    result = run_replay_backtest(strategy, day, cfg)
    pos = result.positions
    assert set(pos) == {"GOOG", "AMZN"} and strategy.hedges > 10
    quoted = [f for f in fills if f.symbol == "GOOG"]
    hedged = [f for f in fills if f.symbol == "AMZN"]
    assert all(f.maker for f in quoted) and not any(f.maker for f in hedged)  # IOCs take
    assert sum(f.qty for f in quoted) > 10 and sum(f.qty for f in hedged) > 5
    # the hedges took back what the quotes left, to within one fill of the trigger
    net = 0
    for f in sorted(fills, key=lambda f: f.ts_ns):
        net += f.side * f.qty
    assert net == pos["GOOG"] + pos["AMZN"] and abs(net) <= 3
    # the path and the metrics are the quoted instrument's; each instrument has its PnL
    legs, m = result.legs, result.metrics
    parts = ("pnl_total", "pnl_spread", "pnl_adverse", "pnl_inventory", "pnl_fees", "edge")
    assert {k: legs["GOOG"][k] for k in parts} == {k: getattr(m, k) for k in parts}
    for leg in legs.values():  # each leg splits exactly, over its own path
        assert leg["pnl_total"] == pytest.approx(
            leg["pnl_spread"] + leg["pnl_adverse"] + leg["pnl_inventory"] + leg["pnl_fees"]
        )
    # the quotes earn the spread, the hedges pay it (and the taker fee)
    assert legs["GOOG"]["pnl_spread"] > 0 > legs["AMZN"]["pnl_spread"]
    assert legs["AMZN"]["pnl_fees"] < 0 and legs["GOOG"]["pnl_fees"] == 0
    assert legs["AMZN"]["fills"] == len(hedged) and legs["AMZN"]["position"] == pos["AMZN"]
    assert result.config.requote_on_fill is False  # one decision grid for both books
    assert result.stopped is None and result.metrics.fills > 20


def test_both_engines_replay_the_pair_identically(day: MultiMarket) -> None:
    if "native" not in ENGINES:
        pytest.skip("needs the native engine")
    runs = [
        run_replay_backtest(_hedger(), day, ReplayConfig(backend=e, order_latency_ms=1.0))
        for e in ("python", "native")
    ]
    assert runs[0].fills == runs[1].fills and runs[0].metrics == runs[1].metrics
    assert runs[0].positions == runs[1].positions
    assert runs[0].legs == runs[1].legs


class _Probe(MarketMakerBase):
    """Buys 3 lots of the second instrument at market once; records what it saw and got."""

    def __init__(self) -> None:
        self.symbols = ("GOOG", "AMZN")
        self.seen: list[tuple[int, int | None]] = []  # decision time, AMZN's ask then
        self.fills: list[FillReport] = []

    def decide(self, ctx: MarketContext) -> Orders:
        ask = ctx["AMZN"].book.best_ask
        self.seen.append((ctx.ts_ns, ask))
        if len(self.seen) > 1 or ask is None:
            return Orders()
        return Orders(immediate=(Immediate(symbol="AMZN", side=1, size=3),))

    def on_fill(self, fill: FillReport, ctx: MarketContext) -> None:
        self.fills.append(fill)


@pytest.mark.parametrize("engine", ENGINES)
def test_a_market_order_takes_the_recorded_ask_on_arrival_on_a_shared_clock(
    day: MultiMarket, engine: str
) -> None:
    probe = _Probe()
    cfg = ReplayConfig(backend=engine, order_latency_ms=0.001, taker_fee=0.001)  # 1 us
    result = run_replay_backtest(probe, day, cfg)
    assert result.positions == {"GOOG": 0, "AMZN": 3}
    times = [t for t, _ in probe.seen]
    assert len(times) > 1000 and np.all(np.diff(times) == 100_000_000)  # one grid, both books
    # sent at the first decision, 1 us away: it took the ask it saw, then up the book
    ask = probe.seen[0][1]
    assert ask is not None and probe.fills[0].price == ask
    assert [f.symbol for f in probe.fills] == ["AMZN"] * len(probe.fills)
    assert not any(f.maker for f in probe.fills) and sum(f.qty for f in probe.fills) == 3
    prices = [f.price for f in probe.fills]
    assert prices == sorted(prices)
    # the hedge leg's split: it paid the spread and the fee, then held 3 lots
    leg = result.legs["AMZN"]
    assert leg["position"] == 3 and leg["fills"] == len(probe.fills)
    assert leg["pnl_spread"] < 0 and leg["pnl_fees"] == pytest.approx(
        -0.001 * sum(f.price * f.qty for f in probe.fills)
    )
    assert result.legs["GOOG"]["fills"] == 0 and result.legs["GOOG"]["pnl_total"] == 0


def test_instruments_the_strategy_does_not_trade_or_lacks_are_refused(day: MultiMarket) -> None:
    with pytest.raises(ConfigError, match=r"also names \['AMZN'\], which it does not trade"):
        run_replay_backtest(make_strategy("glft"), day)
    lone = MultiMarket({"GOOG": day.markets["GOOG"]})
    with pytest.raises(ConfigError, match=r"no events for \['AMZN'\]"):
        run_replay_backtest(_hedger(), lone)


def test_backtest_cli_replays_the_pair_and_writes_each_instruments_position(
    tmp_path: Path, data_root: Path
) -> None:
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "makerkit", "backtest", "--strategy", HEDGED,
           "--param", "quote_symbol=GOOG", "--param", "hedge_symbol=AMZN",
           "--data", "lobster:GOOG+AMZN,start=10:00,end=10:05",
           "--out", str(out), "--json"]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=300)
    assert proc.returncode == 0, proc.stderr
    payload: dict[str, Any] = json.loads((out / "metrics.json").read_text())
    assert set(payload["positions"]) == set(payload["legs"]) == {"GOOG", "AMZN"}
    assert payload["legs"]["GOOG"]["pnl_total"] == payload["metrics"]["pnl_total"]
    assert payload["data_quality"]["events"] > 10_000  # both instruments' events
