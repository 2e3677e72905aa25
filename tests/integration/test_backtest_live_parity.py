"""One strategy, two worlds: the synthetic backtest and the live venue on loopback.

Both a one-level strategy and a ``MarketMaker`` (the 5-level GLFT ladder of
``examples/strategies``) are checked; the live runner's clock is the
simulated market's, so a strategy that reads the time sees the same times.

The same simulated market (same parameters, same seed) drives the backtester's
book and, through the market driver, the venue's book; the strategy runs in
the backtester and, through the client SDK over HTTP, in the live runner.
Both run the market to each decision time (every 2 s of simulated time) and
then decide, so they see the same events: the test asserts they make the
same decisions on the same books and end with the same fills.
"""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any

import msgspec
import pytest

uvicorn = pytest.importorskip("uvicorn")

from makerkit.backtest import BacktestConfig, run_synthetic_backtest  # noqa: E402
from makerkit.client import LiveRunner, VenueClient  # noqa: E402
from makerkit.core import (  # noqa: E402
    FillReport,
    MarketContext,
    MarketMakerBase,
    Orders,
    QuoteIntent,
    StrategyContext,
)
from makerkit.data import SimParams  # noqa: E402
from makerkit.server import Settings, create_app  # noqa: E402
from makerkit.server._driver import MarketDriver  # noqa: E402
from makerkit.strategies import make_strategy  # noqa: E402

ADMIN = "admin-key"
SEED = 11
EVENTS = 6_000  # simulated commands in both worlds
DECISION_MS = 2_000.0  # of simulated market time


class Recorder:
    """Delegates to a strategy and writes down what it saw and what it decided."""

    wants_features = False

    def __init__(self, inner: Any) -> None:
        self.inner, self.name = inner, inner.name
        self.log: list[tuple[Any, ...]] = []
        self.fills: list[tuple[int, int, int]] = []

    def quote(self, ctx: StrategyContext) -> QuoteIntent:
        intent = self.inner.quote(ctx)
        self.log.append((ctx.best_bid, ctx.best_ask, ctx.position, intent))
        return intent

    def on_fill(self, side: int, price: int, qty: int, ctx: StrategyContext) -> None:
        self.fills.append((side, price, qty))


class LadderRecorder(MarketMakerBase):
    """The same for a MarketMaker: what it saw of its instrument and every order it wanted."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.name, self.symbols = inner, inner.name, inner.symbols
        self.log: list[tuple[Any, ...]] = []
        self.fills: list[tuple[int, int, int]] = []

    def decide(self, ctx: MarketContext) -> Orders:
        orders: Orders = self.inner.decide(ctx)
        view = ctx[self.symbols[0]]
        prices = sorted((o.side, o.price) for o in view.orders)
        self.log.append((view.book.best_bid, view.book.best_ask, view.position, prices,
                         msgspec.to_builtins(orders)))  # fmt: skip
        return orders

    def on_fill(self, fill: FillReport, ctx: MarketContext) -> None:
        self.fills.append((fill.side, fill.price, fill.qty))


class SimTime:
    """The live runner's clock: the simulated market's time, as the backtester's."""

    def __init__(self, sim: Any, start_ns: int) -> None:
        self.sim, self.start_ns = sim, start_ns

    def now_ns(self) -> int:
        return self.start_ns + int(self.sim.seconds * 1e9)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def params() -> SimParams:
    # the venue's instrument has a 0.01 tick: the driver opens at 100.00 = 10000 ticks
    base = SimParams.default()
    fields = {f: getattr(base, f) for f in SimParams.__struct_fields__ if f != "start_price"}
    return SimParams(**fields, start_price=10_000)


def backtest(strategy: Any) -> None:
    cfg = BacktestConfig(
        events=EVENTS, seed=SEED, params=params(), decision_ms=DECISION_MS, engine="python"
    )
    run_synthetic_backtest(strategy, cfg)


def live(strategy: Any, tmp_path: Path) -> None:
    async def scenario() -> None:
        port = free_port()
        settings = Settings(journal=str(tmp_path / "v.db"), admin_key=ADMIN, symbols="AAA")
        app = create_app(settings)
        server = uvicorn.Server(uvicorn.Config(app, port=port, log_level="error"))
        task = asyncio.create_task(server.serve())
        while not server.started:
            await asyncio.sleep(0.02)
        base = f"http://127.0.0.1:{port}"
        try:
            async with VenueClient(base, ADMIN) as admin:
                key = (await admin.create_account("mm")).api_key
            driver = MarketDriver(app.state.service, ["AAA"], params=params(), seed=SEED)
            await driver.start(pace=False)  # the test steps the market itself
            sim = driver.sims["AAA"]
            step_ns, start_ns = int(DECISION_MS * 1e6), params().start_ns
            async with VenueClient(base, key) as client:
                runner = LiveRunner(strategy, client, "AAA", clock=SimTime(sim, start_ns))
                await runner.setup()
                # the backtester's clock: run the market to each decision time, then decide
                done, due = 0, start_ns
                while done < EVENTS:
                    n = sim.advance(min(4096, EVENTS - done), until_ns=due)
                    done += n
                    now = start_ns + int(sim.seconds * 1e9)
                    if n == 0 and now < due:
                        break
                    if now < due:
                        continue
                    due = now + step_ns
                    await runner.step()
                await client.cancel_all("AAA")
        finally:
            server.should_exit = True
            await task

    asyncio.run(scenario())


@pytest.mark.parametrize(
    ("name", "params"),
    [("symmetric", {"half_spread": 1.0}), ("inventory_skew", {"half_spread": 1.0, "phi": 0.5})],
)
def test_backtest_and_live_make_the_same_decisions(
    tmp_path: Path, name: str, params: dict[str, Any]
) -> None:
    in_backtest = Recorder(make_strategy(name, **params))
    backtest(in_backtest)
    in_live = Recorder(make_strategy(name, **params))
    live(in_live, tmp_path)
    assert len(in_backtest.log) == len(in_live.log) > 100
    quoted = [d for d in in_backtest.log if d[3] != QuoteIntent.none()]
    assert len(quoted) > len(in_backtest.log) // 2  # the strategy was in the market
    for k, (b, lv) in enumerate(zip(in_backtest.log, in_live.log, strict=True)):
        assert msgspec.to_builtins(b) == msgspec.to_builtins(lv), f"decision {k} differs"
    assert in_backtest.fills and in_backtest.fills == in_live.fills


def test_a_ladder_market_maker_makes_the_same_decisions_in_backtest_and_live(
    tmp_path: Path,
) -> None:
    ladder = f"{Path(__file__).parents[2] / 'examples/strategies/glft_ladder.py'}:GLFTLadder"
    in_backtest = LadderRecorder(make_strategy(ladder, symbol="AAA", sigma=2.0))
    backtest(in_backtest)
    in_live = LadderRecorder(make_strategy(ladder, symbol="AAA", sigma=2.0))
    live(in_live, tmp_path)
    assert len(in_backtest.log) == len(in_live.log) > 100
    assert max(len(d[3]) for d in in_backtest.log) == 10  # five rungs a side rested
    for k, (b, lv) in enumerate(zip(in_backtest.log, in_live.log, strict=True)):
        assert b == lv, f"decision {k} differs"
    # one market order may fill several rungs: the two worlds may tell them in another order
    assert in_backtest.fills and sorted(in_backtest.fills) == sorted(in_live.fills)
