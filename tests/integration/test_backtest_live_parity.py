"""One strategy, two worlds: the synthetic backtest and the live venue on loopback.

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
from makerkit.core import QuoteIntent, StrategyContext  # noqa: E402
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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def params() -> SimParams:
    # the venue's instrument has a 0.01 tick: the driver opens at 100.00 = 10000 ticks
    base = SimParams.default()
    fields = {f: getattr(base, f) for f in SimParams.__struct_fields__ if f != "start_price"}
    return SimParams(**fields, start_price=10_000)


def backtest(strategy: Recorder) -> None:
    cfg = BacktestConfig(
        events=EVENTS, seed=SEED, params=params(), decision_ms=DECISION_MS, engine="python"
    )
    run_synthetic_backtest(strategy, cfg)


def live(strategy: Recorder, tmp_path: Path) -> None:
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
                runner = LiveRunner(strategy, client, "AAA")
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
