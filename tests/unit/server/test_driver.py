"""The market driver: simulated flow through the venue, real orders others can trade with."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from makerkit.core import Instrument, ManualTimer, OrderStatus, OrderType, Side
from makerkit.server._driver import MARKET_ACCOUNT, MarketDriver
from makerkit.server._service import VenueService
from makerkit.venue import NewOrder

SYMBOLS = ("AAA", "BBB", "CCC")


def service(tmp_path: Path, backend: str) -> VenueService:
    return VenueService(
        [Instrument(symbol=s) for s in SYMBOLS],
        journal_path=str(tmp_path / "v.db"),
        backend=backend,
    )


def test_flow_is_real_venue_orders_on_every_symbol(tmp_path: Path, backend: str) -> None:
    async def scenario() -> None:
        svc = service(tmp_path, backend)
        await svc.start()
        driver = MarketDriver(svc, rate=1000)
        await driver.start(pace=False)
        seqs = {s: svc.venue.public_seq(s) for s in SYMBOLS}
        driver.step(3000)
        market = next(a for a in svc.venue.accounts() if a.name == MARKET_ACCOUNT)
        for symbol in SYMBOLS:
            book = svc.venue.book(symbol)
            bid, ask = book.best_bid(), book.best_ask()
            assert bid is not None and ask is not None and bid[0] < ask[0]
            assert svc.venue.public_seq(symbol) - seqs[symbol] > 1000  # book updates published
            resting = svc.venue.open_orders(market.account_id, symbol)
            assert len(resting) == len(book)  # every resting order is the market's, none lost
        # a trader's marketable order trades against the simulated flow
        trader, _ = svc.jv.add_account("trader")
        out = svc.jv.submit(
            trader.account_id,
            NewOrder(symbol="AAA", side=Side.BUY, qty=1, order_type=OrderType.MARKET),
        )
        assert out.update.status is OrderStatus.FILLED
        # and the flow goes on around what the trader did
        driver.step(500)
        assert svc.venue.fills(trader.account_id)
        await driver.stop()
        await svc.stop()

    asyncio.run(scenario())


def test_a_restart_takes_a_clean_slate_and_anchors_move_the_value(tmp_path: Path) -> None:
    async def scenario() -> None:
        svc = service(tmp_path, "python")
        await svc.start()
        first = MarketDriver(svc)
        await first.start(pace=False)
        first.step(2000)
        market = next(a for a in svc.venue.accounts() if a.name == MARKET_ACCOUNT)
        assert svc.venue.open_orders(market.account_id)
        await first.stop()
        second = MarketDriver(svc)
        await second.start(pace=False)  # the old flow's orders are cancelled, not orphaned
        assert svc.venue.open_orders(market.account_id) == []
        assert [a.name for a in svc.venue.accounts()].count(MARKET_ACCOUNT) == 1

        async def quote() -> float:
            return 123.456

        assert await second.follow_once("BBB", quote) == 12346
        assert second.sims["BBB"].value == 12346
        await svc.stop()

    asyncio.run(scenario())


def test_the_paced_driver_runs_at_its_rate_on_an_injected_timer_and_stops(tmp_path: Path) -> None:
    async def scenario() -> None:
        svc = service(tmp_path, "python")
        await svc.start()
        timer = ManualTimer()
        driver = MarketDriver(svc, rate=500, tick_s=0.005, timer=timer)
        await driver.start()
        assert driver.commands == 0  # nothing runs until time moves
        await timer.advance(0.3)  # 60 ticks of 5 ms at 500 commands/s a symbol
        assert driver.commands == 150 * len(driver.sims)
        await timer.advance(0.0999)  # the 20th tick is not due yet: 19 more
        assert driver.commands == (150 + 47) * len(driver.sims)
        await driver.stop()
        await timer.advance(1.0)  # stopped: time moves, the market does not
        assert driver.commands == (150 + 47) * len(driver.sims)
        await svc.stop()

    asyncio.run(scenario())


def test_bad_rate_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="rate"):
        MarketDriver(service(tmp_path, "python"), rate=0)


def test_serve_settings_anchor_each_symbol_on_its_ticker(tmp_path: Path) -> None:
    from makerkit.server import Settings
    from makerkit.server._app import _anchors

    settings = Settings(journal=str(tmp_path / "v.db"), market=True, market_source="yahoo")
    anchors = _anchors(settings, ["AAPL", "MSFT"])
    assert sorted(anchors) == ["AAPL", "MSFT"] and all(callable(a) for a in anchors.values())
    assert _anchors(Settings(journal=str(tmp_path / "v.db")), ["AAPL"]) == {}
    with pytest.raises(ValueError, match="market_source"):
        _anchors(Settings(journal=str(tmp_path / "v.db"), market_source="reuters"), ["AAPL"])


def test_an_anchored_market_opens_at_the_real_price(tmp_path: Path) -> None:
    async def scenario() -> None:
        svc = service(tmp_path, "python")
        await svc.start()

        async def quote() -> float:
            return 250.0

        driver = MarketDriver(svc, symbols=["AAA"], anchors={"AAA": quote})
        await driver.start(pace=False)
        driver.step(3000)
        bid, ask = svc.venue.book("AAA").best_bid(), svc.venue.book("AAA").best_ask()
        assert bid is not None and ask is not None
        assert abs((bid[0] + ask[0]) / 2 - 25_000) < 100  # ticks of 0.01 around 250.00
        await svc.stop()

    asyncio.run(scenario())
