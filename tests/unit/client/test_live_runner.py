"""A strategy runs live against a real venue on loopback, and leaves nothing behind."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

uvicorn = pytest.importorskip("uvicorn")

from makerkit.client import LiveRunner, VenueClient  # noqa: E402
from makerkit.server import Settings, create_app  # noqa: E402
from makerkit.strategies import make_strategy  # noqa: E402

ADMIN = "admin-key"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.asynccontextmanager
async def venue(journal: Path) -> AsyncIterator[str]:
    """A venue with a simulated market on AAA, on loopback: its base URL."""
    port = free_port()
    settings = Settings(journal=str(journal), admin_key=ADMIN, symbols="AAA",
                        market=True, market_rate=400.0)  # fmt: skip
    server = uvicorn.Server(uvicorn.Config(create_app(settings), port=port, log_level="error"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


class Broken:
    name = "broken"

    def __init__(self) -> None:
        self.inner, self.calls = make_strategy("symmetric", half_spread=1.0), 0

    def quote(self, ctx: Any) -> Any:
        self.calls += 1
        if self.calls > 5:
            msg = "lost the model"
            raise RuntimeError(msg)
        return self.inner.quote(ctx)

    def on_fill(self, *args: Any) -> None:
        return None


def test_live_run_quotes_trades_and_cleans_up(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with venue(tmp_path / "v.db") as base:
            async with VenueClient(base, ADMIN) as admin:
                key = (await admin.create_account("mm")).api_key
            await asyncio.sleep(0.5)  # let the simulated market build a book
            async with VenueClient(base, key) as client:
                strategy = make_strategy("symmetric", half_spread=1.0, size=2)
                summary = await LiveRunner(strategy, client, "AAA", decision_ms=50).run(seconds=2.0)
                assert summary.stopped is None and summary.decisions >= 10
                assert summary.placed >= 2 and await client.open_orders("AAA") == []
                broken = await LiveRunner(Broken(), client, "AAA", decision_ms=50).run(seconds=5.0)
                assert broken.stopped == "RuntimeError in Broken.quote: lost the model"
                assert await client.open_orders("AAA") == []  # its quotes were pulled
            # over its message rate the runner skips decisions, never stops, and still
            # pulls its quotes at the end
            async with VenueClient(base, ADMIN) as admin:
                tight = await admin.create_account("tight")
                await admin.set_limits(account_id=tight.account_id, max_msgs_per_sec=8, burst=8)
            async with VenueClient(base, tight.api_key) as client:
                strategy = make_strategy("symmetric", half_spread=1.0, size=2)
                slow = await LiveRunner(strategy, client, "AAA", decision_ms=20).run(seconds=2.0)
                assert slow.stopped is None and slow.throttled > 0
                await asyncio.sleep(1.0)  # a token back for the look
                assert await client.open_orders("AAA") == []

    asyncio.run(scenario())


class _Timed:
    """A MarketMaker with a 100 ms timer: it quotes only from on_timer."""

    symbols = ("AAA",)
    depth = 1
    timer_ms = 100.0
    wants_features = False
    name = "timed"

    def __init__(self) -> None:
        self.decisions: list[int] = []
        self.timers: list[int] = []

    def decide(self, ctx: Any) -> Any:
        from makerkit.core import Orders

        self.decisions.append(ctx.ts_ns)
        return Orders()

    def on_timer(self, ctx: Any) -> Any:
        from makerkit.core import Ladder, Level, Orders

        self.timers.append(ctx.ts_ns)
        mid = ctx["AAA"].book.mid
        if mid is None:
            return None
        return Orders(quotes={"AAA": Ladder(bids=(Level(int(mid) - 50, 1),),
                                            asks=(Level(int(mid) + 50, 1),))})  # fmt: skip

    def on_fill(self, fill: Any, ctx: Any) -> None:
        return None


class _Clock:
    def __init__(self) -> None:
        self.ns = 1_000_000_000

    def now_ns(self) -> int:
        return self.ns


def test_live_timers_fire_at_their_period_on_the_injected_clock(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with venue(tmp_path / "t.db") as base:
            async with VenueClient(base, ADMIN) as admin:
                key = (await admin.create_account("timed")).api_key
            while True:  # a two-sided book to quote around
                async with VenueClient(base, key) as probe:
                    book = await probe.book("AAA")
                if book.bids and book.asks:
                    break
                await asyncio.sleep(0.05)
            clock, strategy = _Clock(), _Timed()
            async with VenueClient(base, key) as client:
                runner = LiveRunner(strategy, client, "AAA", decision_ms=30, clock=clock)
                await runner.setup()
                for _ in range(34):  # 34 decisions, 30 ms of the injected clock apart
                    await runner.step()
                    clock.ns += 30_000_000
                # the first decision arms the timer; it fires at the first decision at or
                # after each 100 ms since (its own schedule, not pushed by late decisions)
                assert len(strategy.decisions) == 34
                fired = [(t - 1_000_000_000) // 1_000_000 for t in strategy.timers]
                assert fired == [120, 210, 300, 420, 510, 600, 720, 810, 900]
                assert len(await client.open_orders("AAA")) == 2  # the timer's quotes rest
                await runner._pull_quotes()

    asyncio.run(scenario())
