"""Instruments with base and quote assets, the smallest order, balances and signing secrets."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from makerkit.core import (
    ConfigError,
    Instrument,
    OrderStatus,
    OrderType,
    RejectReason,
    Side,
    SimClock,
    UnknownAccount,
)
from makerkit.risk import RiskManager
from makerkit.venue import FeeSchedule, Journal, JournaledVenue, NewOrder, Venue

T0 = 1_700_000_000_000_000_000
BTC = Instrument(
    symbol="BTCUSDT",
    base="BTC",
    quote="USDT",
    tick_size="0.01",
    lot_size="0.00001",
    min_qty="0.0001",
    min_notional="5",
)
ETH = Instrument(symbol="ETHUSDT", base="ETH", quote="USDT", tick_size="0.01", lot_size="0.0001")


def make(backend: str, **kw: Any) -> tuple[Venue, int, int]:
    venue = Venue(
        [BTC, ETH],
        clock=SimClock(T0),
        risk=RiskManager(),
        fees=FeeSchedule(maker_ppm=-100, taker_ppm=1000),
        backend=backend,
        **kw,
    )
    a, _ = venue.add_account("a")
    b, _ = venue.add_account("b")
    return venue, a.account_id, b.account_id


def order(side: Side, price: int | None, qty: int, symbol: str = "BTCUSDT", **kw: Any) -> NewOrder:
    return NewOrder(symbol=symbol, side=side, price=price, qty=qty, **kw)


def by_asset(venue: Venue, account: int) -> dict[str, tuple[Decimal, Decimal]]:
    return {b.asset: (b.free, b.locked) for b in venue.balances(account)}


def test_instrument_assets_and_minimums() -> None:
    assert (BTC.base_asset, BTC.quote_asset, BTC.exchange_symbol) == ("BTC", "USDT", "BTCUSDT")
    assert BTC.min_lots == 10
    assert BTC.min_notional_units == 5 * 100 * 100_000  # 5 USDT in (0.01 x 0.00001) units
    plain = Instrument(symbol="AAA")
    assert (plain.base_asset, plain.quote_asset, plain.exchange_symbol) == ("AAA", "USD", "AAAUSD")
    assert (plain.min_lots, plain.min_notional_units) == (1, 0)
    odd = Instrument(symbol="X", tick_size="0.03", lot_size="0.7", min_notional="1")
    assert odd.min_notional_units == 48  # 1 / 0.021 = 47.6..., rounded up
    for bad in (
        {"min_qty": "0.000015"},  # off the lot grid
        {"min_qty": "-1"},
        {"min_notional": "-1"},
        {"min_notional": "nan"},
        {"quote": ""},
        {"base": "B-C"},
    ):
        with pytest.raises(ConfigError):
            Instrument(symbol="X", lot_size="0.00001", **bad)


def test_orders_below_the_smallest_size_or_notional_are_refused(backend: str) -> None:
    venue, a, b = make(backend)
    # 9 lots < min_qty 10 lots
    assert venue.submit(a, order(Side.BUY, 5_000_000, 9)).update.reason is RejectReason.MIN_QTY
    # 10 lots x 0.00001 x 40,000.00 = 4 USDT < 5
    small = venue.submit(a, order(Side.BUY, 4_000_000, 10))
    assert small.update.reason is RejectReason.MIN_NOTIONAL
    ok = venue.submit(a, order(Side.BUY, 5_000_000, 10))  # exactly 5 USDT
    assert ok.update.status is OrderStatus.NEW
    # a market sell is judged at the bid it would hit: 10 lots at 50,000 passes, at 4.99 USDT not
    sell = venue.submit(b, order(Side.SELL, None, 10, order_type=OrderType.MARKET))
    assert sell.update.status is OrderStatus.FILLED
    venue.submit(a, order(Side.BUY, 4_990_000, 100))  # 0.001 BTC at 49,900: 10 lots are 4.99 USDT
    market = venue.submit(b, order(Side.SELL, None, 10, order_type=OrderType.MARKET))
    assert market.update.reason is RejectReason.MIN_NOTIONAL
    assert not venue.fills(b)[1:]  # the refusal changed nothing


def test_balances_follow_fills_fees_and_open_orders(backend: str) -> None:
    venue, a, b = make(backend)
    venue.deposit(a, "USDT", Decimal(1000))
    venue.deposit(b, "BTC", Decimal("0.5"))
    assert by_asset(venue, a)["USDT"] == (Decimal(1000), 0)
    # a bids 0.001 BTC at 50,000: 50 USDT locked
    venue.submit(a, order(Side.BUY, 5_000_000, 100))
    assert by_asset(venue, a)["USDT"] == (Decimal(950), Decimal(50))
    # b sells 0.0004 into it: a pays 20 USDT and earns the 0.01% rebate (0.002 USDT)
    venue.submit(b, order(Side.SELL, 5_000_000, 40))
    bal_a, bal_b = by_asset(venue, a), by_asset(venue, b)
    assert bal_a["BTC"] == (Decimal("0.0004"), 0)
    assert bal_a["USDT"] == (Decimal("950.002"), Decimal(30))
    assert bal_b["BTC"] == (Decimal("0.4996"), 0)
    assert bal_b["USDT"] == (Decimal("19.98"), 0)  # 20 less the 0.1% taker fee
    # every asset of every listing is shown, held or not
    assert set(bal_a) == {"BTC", "ETH", "USDT"}


def test_without_shorting_an_order_must_be_covered(backend: str) -> None:
    venue, a, b = make(backend)
    venue.set_allow_short(False)
    venue.deposit(a, "USDT", Decimal(100))
    venue.deposit(b, "BTC", Decimal("0.001"))
    # 0.002 BTC at 50,000 = 100 USDT, plus the worst taker fee: more than a holds
    refused = venue.submit(a, order(Side.BUY, 5_000_000, 200))
    assert refused.update.reason is RejectReason.INSUFFICIENT_BALANCE
    assert venue.open_orders(a) == []
    assert venue.submit(a, order(Side.BUY, 4_900_000, 200)).accepted
    # the open bid holds 98 USDT: a second one does not fit
    again = venue.submit(a, order(Side.BUY, 4_900_000, 20))
    assert again.update.reason is RejectReason.INSUFFICIENT_BALANCE
    # b holds 0.001 BTC: selling 0.0011 is refused, 0.001 passes
    short = venue.submit(b, order(Side.SELL, 4_900_000, 110))
    assert short.update.reason is RejectReason.INSUFFICIENT_BALANCE
    assert venue.submit(b, order(Side.SELL, 4_900_000, 100)).update.status is OrderStatus.FILLED
    assert by_asset(venue, b)["BTC"] == (Decimal(0), 0)
    # a market buy is priced at the asks it would take, 60,000 a BTC here
    none = venue.submit(b, order(Side.SELL, 6_000_000, 10))
    assert none.update.reason is RejectReason.INSUFFICIENT_BALANCE  # b holds no BTC now
    venue.deposit(b, "BTC", Decimal("0.002"))
    venue.submit(b, order(Side.SELL, 6_000_000, 200))
    venue.deposit(a, "USDT", Decimal(70))  # a: about 72 USDT free
    market = venue.submit(a, order(Side.BUY, None, 130, order_type=OrderType.MARKET))  # 78
    assert market.update.reason is RejectReason.INSUFFICIENT_BALANCE
    fits = venue.submit(a, order(Side.BUY, None, 110, order_type=OrderType.MARKET))  # 66
    assert fits.update.status is OrderStatus.FILLED
    with pytest.raises(ConfigError, match="free"):
        venue.deposit(b, "BTC", Decimal("-0.00001"))
    venue.set_allow_short(True)
    assert venue.submit(b, order(Side.SELL, 6_000_000, 110)).accepted


def test_deposits_refuse_bad_input_and_change_nothing(backend: str) -> None:
    venue, a, _ = make(backend)
    for asset, amount, error in (
        ("DOGE", Decimal(1), ConfigError),
        ("USDT", Decimal(0), ConfigError),
        ("USDT", Decimal("Infinity"), ConfigError),
    ):
        with pytest.raises(error):
            venue.deposit(a, asset, amount)
    with pytest.raises(UnknownAccount):
        venue.deposit(99, "USDT", Decimal(1))
    assert all(free == locked == 0 for free, locked in by_asset(venue, a).values())


def test_secrets_and_deposits_survive_recovery(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    jv = JournaledVenue([BTC, ETH], journal=Journal(path), clock=SimClock(T0))
    acc, key = jv.add_account("a", api_key="key-a", api_secret="secret-a")
    other, _ = jv.add_account("b")
    jv.deposit(acc.account_id, "USDT", Decimal("12.5"))
    jv.set_allow_short(False)
    jv.flush()
    secret_b = jv.venue.api_secret(other.account_id)
    assert jv.venue.api_secret(acc.account_id) == "secret-a"
    assert secret_b and secret_b != "secret-a" and secret_b != key
    jv.close()
    again = JournaledVenue([BTC, ETH], journal=Journal(path), clock=SimClock(T0))
    assert again.venue.api_secret(acc.account_id) == "secret-a"
    assert again.venue.api_secret(other.account_id) == secret_b
    assert by_asset(again.venue, acc.account_id)["USDT"] == (Decimal("12.5"), 0)
    assert again.venue.allow_short is False
    again.close()
