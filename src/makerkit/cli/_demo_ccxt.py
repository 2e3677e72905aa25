"""A demo participant written against ccxt's Binance class: a Binance user's bot, unchanged.

It knows nothing of makerkit. It speaks ccxt's unified API (``load_markets``,
``fetch_order_book``, ``fetch_open_orders``, ``create_order`` post-only,
``cancel_order``, ``fetch_my_trades``) to ``ccxt.binance`` with only the
exchange's ``urls`` pointed at the demo venue, which answers through its Binance
facade (``/api/v3/...``, HMAC-signed with the account's ``api_secret``). The
quoting is the plain symmetric one with an inventory skew, in ticks and lots;
ccxt's floats are converted at the edge.

ccxt is not a core dependency (it comes with the ``test`` extra): it is imported
when the participant is built, and ``--ccxt`` without it says what to install.
"""

from __future__ import annotations

import asyncio
import math
import re
import time
from decimal import Decimal
from typing import Any

import msgspec

from makerkit.core import ConfigError

__all__ = ["CcxtMaker", "CcxtSummary", "binance_exchange", "require_ccxt", "venue_urls"]

CCXT_EXTRA = "test"


def require_ccxt() -> Any:
    """The asyncio build of ccxt, or a ``ConfigError`` naming the extra that brings it."""
    try:
        import ccxt.async_support as ccxt_async  # type: ignore[import-untyped,import-not-found,unused-ignore]
    except ImportError as exc:
        msg = (
            "--ccxt needs the ccxt package: pip install 'makerkit[" + CCXT_EXTRA + "]' "
            "(or pip install ccxt)"
        )
        raise ConfigError(msg) from exc
    return ccxt_async


def venue_urls(api: dict[str, Any], venue: str) -> dict[str, Any]:
    """The endpoint table of ccxt with every Binance host replaced by the venue's (paths kept)."""
    host = re.compile(r"^https?://[^/]+")
    return {
        name: host.sub(venue.rstrip("/"), url) if isinstance(url, str) else url
        for name, url in api.items()
    }


def binance_exchange(venue: str, api_key: str, secret: str) -> Any:
    """``ccxt.binance`` (asyncio) with its ``urls`` on the venue: nothing else changed."""
    ccxt_async = require_ccxt()
    exchange = ccxt_async.binance({"apiKey": api_key, "secret": secret,
                                   "options": {"defaultType": "spot"}})  # fmt: skip
    exchange.urls["api"] = venue_urls(exchange.urls["api"], venue)
    return exchange


class CcxtSummary(msgspec.Struct, kw_only=True):
    """What the bot did, under the names the demo's table reads (as ``LiveSummary``'s)."""

    decisions: int = 0
    placed: int = 0
    cancelled: int = 0
    fills: int = 0
    position: int = 0  # lots
    refused: int = 0  # orders the exchange refused (a post-only that would cross, funds)
    stopped: str | None = None


class CcxtMaker:
    """Quote ``half_spread`` ticks around the mid, skewed against the inventory.

    ``symbol`` is the venue's instrument (``AAA``); ccxt's market (``AAA/USD``) is
    the one ``load_markets`` lists with that base asset or id.
    """

    name = "ccxt"

    def __init__(
        self, exchange: Any, symbol: str, *, decision_ms: float = 250.0, half_spread: int = 3,
        skew: float = 0.5, size: int = 1, max_position: int = 10,
    ) -> None:  # fmt: skip
        self.exchange = exchange
        self.symbol = symbol
        self.decision_s = decision_ms / 1000
        self.half_spread, self.skew, self.size = half_spread, skew, size
        self.max_position = max_position
        self.summary = CcxtSummary()
        self.market: str = ""
        self._tick = Decimal(0)
        self._lot = Decimal(0)
        self._last_trade: int | None = None  # the newest trade id counted

    def _ticks(self, price: Any) -> int:
        return int(Decimal(str(price)) / self._tick)

    def _lots(self, amount: Any) -> int:
        return int(Decimal(str(amount)) / self._lot)

    async def setup(self) -> None:
        """Find the market, its tick and lot; trades from before this run do not count."""
        markets = await self.exchange.load_markets()
        found = [m for m in markets.values()
                 if m.get("spot") and self.symbol in (m.get("base"), m.get("id"))]  # fmt: skip
        if not found:
            msg = f"ccxt lists no spot market for {self.symbol!r} on the venue"
            raise ConfigError(msg)
        market = found[0]
        self.market = market["symbol"]
        # ccxt's binance uses TICK_SIZE precision: the precisions are the tick and the lot
        self._tick = Decimal(str(market["precision"]["price"]))
        self._lot = Decimal(str(market["precision"]["amount"]))
        before = await self.exchange.fetch_my_trades(self.market)
        self._last_trade = max((int(t["id"]) for t in before), default=None)

    async def _new_fills(self) -> None:
        """Trades after the newest counted (Binance's ``fromId``: ids only increase)."""
        last = self._last_trade
        params = {} if last is None else {"fromId": last + 1}
        for trade in await self.exchange.fetch_my_trades(self.market, params=params):
            tid = int(trade["id"])
            if last is not None and tid <= last:
                continue
            self._last_trade = max(tid, self._last_trade if self._last_trade is not None else tid)
            self.summary.fills += 1
            lots = self._lots(trade["amount"])
            self.summary.position += lots if trade["side"] == "buy" else -lots

    def quotes(self, best_bid: int, best_ask: int) -> dict[str, int]:
        """The bid and ask wanted (ticks) for this book and the position held."""
        centre = (best_bid + best_ask) / 2 - self.skew * self.summary.position
        bid = math.floor(centre - self.half_spread)
        ask = math.ceil(centre + self.half_spread)
        bid, ask = min(bid, best_ask - 1), max(ask, best_bid + 1)  # post-only: never crossing
        out = {}
        if self.summary.position < self.max_position:
            out["buy"] = bid
        if self.summary.position > -self.max_position:
            out["sell"] = ask
        return out

    async def step(self) -> None:
        """Read the book, the fills and the open orders; move the quotes that are off."""
        ccxt_async = require_ccxt()
        await self._new_fills()
        book = await self.exchange.fetch_order_book(self.market, 5)
        if not book["bids"] or not book["asks"]:
            return
        want = self.quotes(self._ticks(book["bids"][0][0]), self._ticks(book["asks"][0][0]))
        for order in await self.exchange.fetch_open_orders(self.market):
            side, price = order["side"], self._ticks(order["price"])
            if want.get(side) == price:
                del want[side]  # resting where it should: keep its queue place
                continue
            try:
                await self.exchange.cancel_order(order["id"], self.market)
                self.summary.cancelled += 1
            except ccxt_async.OrderNotFound:  # it traded since we looked
                pass
        for side, price in want.items():
            try:
                await self.exchange.create_order(
                    self.market, "limit", side, float(self.size * self._lot),
                    float(price * self._tick), {"postOnly": True},
                )  # fmt: skip
                self.summary.placed += 1
            except (ccxt_async.InvalidOrder, ccxt_async.InsufficientFunds):
                self.summary.refused += 1  # it would have crossed, or no funds: not this time

    async def run(self, *, seconds: float | None = None) -> CcxtSummary:
        """Decide every ``decision_ms`` until ``seconds`` pass (or forever); then pull quotes."""
        deadline = None if seconds is None else time.monotonic() + seconds
        try:
            await self.setup()
            while deadline is None or time.monotonic() < deadline:
                started = time.monotonic()
                await self.step()
                self.summary.decisions += 1
                await asyncio.sleep(max(0.0, self.decision_s - (time.monotonic() - started)))
        except Exception as exc:  # the exchange failed (or refused us): stop cleanly
            self.summary.stopped = f"{type(exc).__name__}: {exc}"
        finally:
            await self._pull_quotes()
        return self.summary

    async def _pull_quotes(self) -> None:
        """Cancel what is left (its cancels counted), then close ccxt's session."""
        ccxt_async = require_ccxt()
        try:
            if self.market:
                open_now = await self.exchange.fetch_open_orders(self.market)
                if open_now:
                    await self.exchange.cancel_all_orders(self.market)
                    self.summary.cancelled += len(open_now)
        except ccxt_async.BaseError as exc:
            self.summary.stopped = self.summary.stopped or f"{type(exc).__name__}: {exc}"
        finally:
            await self.exchange.close()
