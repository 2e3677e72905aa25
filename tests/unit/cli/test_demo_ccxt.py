"""The demo's ccxt participant: a bot on ccxt's Binance class, only its urls on the venue."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import pytest
from typer.testing import CliRunner

from makerkit.cli import app
from makerkit.cli._demo_ccxt import CcxtMaker, binance_exchange, require_ccxt, venue_urls
from makerkit.core import ConfigError

ccxt = pytest.importorskip("ccxt.async_support")

MARKET = {"symbol": "AAA/USD", "id": "AAAUSD", "base": "AAA", "quote": "USD", "spot": True,
          "precision": {"price": 0.01, "amount": 1.0}}  # fmt: skip


class FakeBinance:
    """The unified calls the bot makes, on a book the test sets; what it was asked, kept."""

    def __init__(self, bid: float = 100.00, ask: float = 100.10) -> None:
        self.book = {"bids": [[bid, 5.0]], "asks": [[ask, 5.0]]}
        self.open: dict[str, dict[str, Any]] = {}
        self.trades: list[dict[str, Any]] = [{"id": "7", "side": "buy", "amount": 4.0}]
        self.created: list[tuple[str, float, dict[str, Any]]] = []
        self.cancelled: list[str] = []
        self.trade_params: list[dict[str, Any]] = []
        self.refuse: type[Exception] | None = None
        self.fail: Exception | None = None
        self.closed = False
        self._ids = 100

    async def load_markets(self) -> dict[str, Any]:
        other = {**MARKET, "symbol": "BBB/USD", "id": "BBBUSD", "base": "BBB"}
        return {"BBB/USD": other, "AAA/USD": MARKET}

    async def fetch_order_book(self, symbol: str, limit: int) -> dict[str, Any]:
        assert symbol == "AAA/USD"
        if self.fail is not None:
            raise self.fail
        return self.book

    async def fetch_my_trades(self, symbol: str, params: Any = None) -> list[dict[str, Any]]:
        self.trade_params.append(dict(params or {}))
        start = int((params or {}).get("fromId", 0))
        return [t for t in self.trades if int(t["id"]) >= start]

    async def fetch_open_orders(self, symbol: str) -> list[dict[str, Any]]:
        return list(self.open.values())

    async def create_order(self, symbol: str, kind: str, side: str, amount: float,
                           price: float, params: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
        assert (symbol, kind, amount) == ("AAA/USD", "limit", 1.0)
        if self.refuse is not None:
            msg = "Order would immediately match and take."
            raise self.refuse(msg)
        self._ids += 1
        order = {"id": str(self._ids), "side": side, "price": price}
        self.open[order["id"]] = order
        self.created.append((side, price, params))
        return order

    async def cancel_order(self, order_id: str, symbol: str) -> dict[str, Any]:
        self.cancelled.append(order_id)
        return self.open.pop(order_id)

    async def cancel_all_orders(self, symbol: str) -> list[Any]:
        gone = list(self.open.values())
        self.cancelled.extend(self.open)
        self.open.clear()
        return gone

    async def close(self) -> None:
        self.closed = True


def test_only_the_urls_point_at_the_venue_on_ccxts_own_binance_class() -> None:
    async def go() -> None:
        exchange = binance_exchange("http://127.0.0.1:8123/", "key", "secret")
        try:
            assert type(exchange) is ccxt.binance  # the class itself, not a subclass
            api = exchange.urls["api"]
            assert api["public"] == api["private"] == "http://127.0.0.1:8123/api/v3"
            assert api["sapi"] == "http://127.0.0.1:8123/sapi/v1"
            assert api["fapiPublic"] == "http://127.0.0.1:8123/fapi/v1"
            assert all(v.startswith("http://127.0.0.1:8123/") for v in api.values())
            assert exchange.apiKey == "key" and exchange.secret == "secret"
            stock = ccxt.binance()
            try:  # every other url and the endpoints' paths as ccxt ships them
                assert {k: v.split("/", 3)[3] for k, v in stock.urls["api"].items()} == {
                    k: v.split("/", 3)[3] for k, v in api.items()
                }
                assert exchange.urls["www"] == stock.urls["www"]
            finally:
                await stock.close()
        finally:
            await exchange.close()

    asyncio.run(go())
    assert venue_urls({"a": "https://x.com/api/v3", "n": None}, "http://v") == {
        "a": "http://v/api/v3", "n": None,
    }  # fmt: skip


def test_without_ccxt_the_option_names_the_extra_and_starts_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.setitem(sys.modules, "ccxt", None)
    monkeypatch.setitem(sys.modules, "ccxt.async_support", None)
    with pytest.raises(ConfigError, match=r"pip install 'makerkit\[test\]'"):
        require_ccxt()
    result = CliRunner().invoke(app, ["demo", "--ccxt", "--no-rl", "--duration", "1",
                                      "--port", "0", "--out", str(tmp_path)])  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "--ccxt needs the ccxt package" in result.output and "makerkit[test]" in result.output
    assert not (tmp_path / "server.log").exists()  # refused before the venue started


def test_the_bot_quotes_around_the_mid_keeps_good_quotes_and_moves_the_others() -> None:
    async def go() -> None:
        fake = FakeBinance()
        bot = CcxtMaker(fake, "AAA", half_spread=3, skew=0.5)
        await bot.setup()
        assert bot.market == "AAA/USD"
        assert fake.trade_params == [{}]  # the trade before the run: seen, not counted
        await bot.step()
        assert fake.trade_params[-1] == {"fromId": 8}
        # mid 100.05 = 10005 ticks: bid floor(10005 - 3), ask ceil(10005 + 3)
        assert sorted(fake.created) == [("buy", 100.02, {"postOnly": True}),
                                         ("sell", 100.08, {"postOnly": True})]  # fmt: skip
        await bot.step()  # nothing moved: both orders rest, keep their queue place
        assert len(fake.created) == 2 and fake.cancelled == []
        # two lots bought: the quotes lean one tick lower (skew 0.5 a lot)
        fake.trades.append({"id": "9", "side": "buy", "amount": 2.0})
        await bot.step()
        assert (bot.summary.fills, bot.summary.position) == (1, 2)
        assert sorted(p for s, p, _ in fake.created[2:]) == [100.01, 100.07]
        assert len(fake.cancelled) == 2 and bot.summary.cancelled == 2
        await bot.step()  # the same trade is not counted twice
        assert (bot.summary.fills, bot.summary.position) == (1, 2)

    asyncio.run(go())


def test_the_bot_stops_quoting_the_side_at_its_position_limit_and_never_crosses() -> None:
    bot = CcxtMaker(FakeBinance(), "AAA", half_spread=3, skew=0.0, max_position=2)
    assert bot.quotes(10_000, 10_001) == {"buy": 9997, "sell": 10004}
    bot.summary.position = 2
    assert bot.quotes(10_000, 10_001) == {"sell": 10004}
    bot.summary.position = -2
    assert bot.quotes(10_000, 10_001) == {"buy": 9997}
    wide = CcxtMaker(FakeBinance(), "AAA", half_spread=0, skew=5.0)
    wide.summary.position = -3  # pushed far up: the bid still sits below the ask
    assert wide.quotes(10_000, 10_004) == {"buy": 10_003, "sell": 10_017}


def test_a_refused_quote_is_counted_and_a_failure_stops_the_bot_with_its_quotes_pulled() -> None:
    async def go() -> None:
        fake = FakeBinance()
        fake.refuse = ccxt.OrderImmediatelyFillable
        bot = CcxtMaker(fake, "AAA", decision_ms=1)
        await bot.setup()
        await bot.step()
        assert bot.summary.refused == 2 and bot.summary.placed == 0
        fake.refuse = None
        await bot.step()
        assert bot.summary.placed == 2 and len(fake.open) == 2
        fake.fail = ccxt.ExchangeNotAvailable("the venue went away")
        summary = await bot.run(seconds=30)  # the failure ends it long before
        assert summary.stopped == "ExchangeNotAvailable: the venue went away"
        assert fake.open == {} and summary.cancelled == 2 and fake.closed

    asyncio.run(go())


def test_the_bot_refuses_a_symbol_ccxt_does_not_list() -> None:
    async def go() -> None:
        fake = FakeBinance()
        summary = await CcxtMaker(fake, "ZZZ").run(seconds=5)
        assert summary.stopped is not None and "no spot market for 'ZZZ'" in summary.stopped
        assert fake.closed

    asyncio.run(go())
