"""Recorded markets replayed into the live venue: history others can trade against."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from makerkit.core import Instrument, ManualTimer, Side
from makerkit.data import load_binance_capture, load_lobster, replay_binance
from makerkit.server._replay import ReplayDriver
from makerkit.server._service import VenueService
from makerkit.venue import NewOrder

GOOG = "lobster/GOOG_2012-06-21_34200000_57600000_{}_1.csv.gz"
SPOT = "crypto/binance_spot_btcusdt_20240808_stream.gz"


def service(tmp_path: Path, **inst: str) -> VenueService:
    return VenueService([Instrument(symbol="X", **inst)], journal_path=str(tmp_path / "v.db"))


def test_binance_capture_rebuilds_the_same_book_in_the_venue(
    data_root: Path, tmp_path: Path
) -> None:
    capture = load_binance_capture(data_root / SPOT)
    want = replay_binance(capture)

    async def scenario() -> None:
        svc = service(tmp_path, tick_size="0.01", lot_size="0.00001")
        await svc.start()
        driver = ReplayDriver(svc, "X", capture)
        await driver.start(pace=False)
        driver.step(len(driver))
        book = svc.venue.book("X")
        # 1e-8 units -> ticks of 0.01 (1e6 units) and lots of 0.00001 (1e3 units)
        assert want.final_bid is not None and want.final_ask is not None
        assert book.best_bid() == (want.final_bid[0] // 10**6, want.final_bid[1] // 10**3)
        assert book.best_ask() == (want.final_ask[0] // 10**6, want.final_ask[1] // 10**3)
        assert driver.done and driver.skipped == 0
        await svc.stop()

    asyncio.run(scenario())


def test_lobster_day_replays_and_a_strategy_order_joins_its_queue(
    data_root: Path, tmp_path: Path
) -> None:
    day = load_lobster(data_root / GOOG.format("message"), data_root / GOOG.format("orderbook"))

    async def scenario() -> None:
        svc = service(tmp_path)
        await svc.start()
        driver = ReplayDriver(svc, "X", day)
        await driver.start(pace=False)
        driver.step(200)
        trader, _ = svc.jv.add_account("trader")
        bid = svc.venue.book("X").best_bid()
        assert bid is not None
        svc.jv.submit(trader.account_id, NewOrder(symbol="X", side=Side.BUY, price=bid[0], qty=1))
        driver.step(len(driver))
        # history's sellers reached our order in the queue
        assert svc.venue.fills(trader.account_id)
        ask = svc.venue.book("X").best_ask()
        assert ask is not None and ask[0] * 100 == day.book[-1][0]  # the day closes where it did
        await svc.stop()

    asyncio.run(scenario())


def test_paced_replay_off_grid_prices_and_bad_speed(data_root: Path, tmp_path: Path) -> None:
    day = load_lobster(data_root / GOOG.format("message"), data_root / GOOG.format("orderbook"))

    async def scenario() -> None:
        svc = service(tmp_path, tick_size="0.25")  # most GOOG prices are off this grid
        await svc.start()
        timer = ManualTimer()
        driver = ReplayDriver(svc, "X", day, speed=10_000.0, tick_s=0.005, timer=timer)
        await driver.start()
        await timer.advance(0.3)  # 3,000 s of the day at 10,000x
        await driver.stop()
        assert driver.applied > 0 and driver.skipped > 0  # counted, never rounded
        # exactly the events up to 3,000 s after the first, whatever the machine's speed
        assert driver.replayed == driver.events_until(driver.first_ns + 3_000 * 10**9)
        assert 0 < driver.replayed < len(driver)
        await svc.stop()

    asyncio.run(scenario())
    with pytest.raises(ValueError, match="speed"):
        ReplayDriver(service(tmp_path / "b"), "X", day, speed=0)
