"""ccxt.pro's own ``binance``, only its URLs changed, streams from a real venue on loopback.

The venue runs as ``makerkit serve`` runs it (uvicorn with the venue's own
WebSocket protocol) with its simulated market on; the client is ccxt.pro's,
unmodified: it keeps its order book by Binance's diff-depth procedure, and
its book must end equal to the venue's, level by level, at the same sequence
number.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

ccxtpro = pytest.importorskip("ccxt.pro")
httpx = pytest.importorskip("httpx")
uvicorn = pytest.importorskip("uvicorn")

from makerkit.server import Settings, VenueWSProtocol, create_app  # noqa: E402
from makerkit.server._binance_ws import streams_of  # noqa: E402

ADMIN = "ccxt-ws-admin"
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.asynccontextmanager
async def venue(settings: Settings) -> AsyncIterator[tuple[str, Any]]:
    """The app served as ``makerkit serve`` serves it, on a free loopback port."""
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=free_port(),
        log_level="error",
        ws=VenueWSProtocol,
        ws_per_message_deflate=False,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    await until(lambda: server.started or None, timeout=20)
    try:
        yield f"http://127.0.0.1:{config.port}", app
    finally:
        server.should_exit = True
        await task


async def until(check: Callable[[], T | None], timeout: float = 20.0) -> T:
    """Poll until ``check`` answers: a condition decides, a timeout only fails."""
    async with asyncio.timeout(timeout):
        while (found := check()) is None:
            await asyncio.sleep(0.02)
        return found


async def watch_until(
    watch: Callable[[], Awaitable[T]], done: Callable[[T], bool], timeout: float = 20.0
) -> T:
    """Call a ccxt ``watch_*`` until ``done`` accepts what it returns."""
    async with asyncio.timeout(timeout):
        while True:
            value = await watch()
            if done(value):
                return value


def binance(base: str, key: str, secret: str) -> Any:
    """ccxt.pro's binance with its REST roots and WebSocket urls pointed at the venue."""
    exchange = ccxtpro.binance({"apiKey": key, "secret": secret})
    ws = base.replace("http", "ws", 1)
    api = exchange.urls["api"]
    for name, url in list(api.items()):
        if isinstance(url, str) and "binance.com" in url:
            api[name] = base + url.split("binance.com", 1)[1]
    api["ws"] = {"spot": f"{ws}/ws", "margin": f"{ws}/ws", "ws-api": {"spot": f"{ws}/ws-api/v3"}}
    return exchange


async def account(base: str, name: str) -> tuple[str, str]:
    async with httpx.AsyncClient(base_url=base, headers={"X-API-Key": ADMIN}) as admin:
        body = (
            await admin.post(
                "/admin/accounts",
                json={"name": name, "balances": {"USD": "1000000", "AAA": "1000"}},
            )
        ).json()
    return body["api_key"], body["api_secret"]


def book_levels(book: Any) -> tuple[list[list[float]], list[list[float]]]:
    return [list(lv[:2]) for lv in book["bids"]], [list(lv[:2]) for lv in book["asks"]]


def test_ccxt_pro_books_trades_and_orders_follow_the_venue(tmp_path: Path) -> None:
    settings = Settings(journal=str(tmp_path / "v.db"), admin_key=ADMIN, symbols="AAA,BBB",
                        market=True, market_rate=300.0, taker_fee_ppm=200)  # fmt: skip

    async def scenario() -> None:
        async with venue(settings) as (base, app):
            ex = binance(base, *(await account(base, "trader")))
            try:
                await ex.load_markets()
                # the book: subscribe, let the simulated market move it for a while
                book = await ex.watch_order_book("AAA/USD")
                first_nonce = book["nonce"]
                book = await watch_until(
                    lambda: ex.watch_order_book("AAA/USD"),
                    lambda b: b["nonce"] > first_nonce + 200 and bool(b["bids"] and b["asks"]),
                )
                assert ex.orderbooks["AAA/USD"] is book  # ccxt's own book, kept in place
                quotes = await ex.watch_bids_asks(["AAA/USD"])  # the bookTicker stream
                assert 0 < quotes["AAA/USD"]["bid"] < quotes["AAA/USD"]["ask"]
                trades_seen: dict[str, Any] = {}

                async def collect_trades() -> None:
                    while True:
                        for trade in await ex.watch_trades("AAA/USD"):
                            trades_seen[trade["id"]] = trade

                collector = asyncio.create_task(collect_trades())
                streams = streams_of(app)
                await until(lambda: streams.trades.get("AAA"))  # subscribed

                # our own orders: one rests (NEW, then CANCELED), one takes (FILLED); ccxt
                # returns what is new since its last answer, so the states add up here
                states: dict[str, list[str]] = {}
                filled: dict[str, float] = {}

                def record(updates: list[Any]) -> bool:
                    for o in updates:
                        states.setdefault(o["id"], []).append(o["status"])
                        filled[o["id"]] = o["filled"]
                    return {s for seen in states.values() for s in seen} >= {"canceled", "closed"}

                orders = asyncio.create_task(
                    watch_until(lambda: ex.watch_orders("AAA/USD"), record)
                )
                mine = asyncio.create_task(
                    watch_until(lambda: ex.watch_my_trades("AAA/USD"), lambda ts: len(ts) > 0)
                )
                await until(lambda: streams.users or None)  # the user data stream is on
                low = round(book["bids"][0][0] / 2, 2)
                resting = await ex.create_order("AAA/USD", "limit", "buy", 2, low)
                await ex.cancel_order(resting["id"], "AAA/USD")
                ask = book["asks"][0][0]
                taken = await ex.create_order("AAA/USD", "limit", "buy", 1, round(ask * 1.5, 2))
                await orders
                assert states[resting["id"]] == ["open", "canceled"]
                assert states[taken["id"]][0] == "open" and states[taken["id"]][-1] == "closed"
                assert filled[taken["id"]] == 1.0
                my_trades = await mine
                assert my_trades[0]["order"] == taken["id"] and my_trades[0]["side"] == "buy"
                assert my_trades[0]["takerOrMaker"] == "taker"

                # stop the flow; once ccxt's book reaches the venue's sequence, all levels agree
                await app.state.driver.stop()
                async with httpx.AsyncClient(base_url=base) as public:
                    final = (
                        await public.get(
                            "/api/v3/depth", params={"symbol": "AAAUSD", "limit": 5000}
                        )
                    ).json()
                target = final["lastUpdateId"]
                # ccxt applies each diff as it comes: its book is read, not waited on (a
                # watch would wait for a next diff, and none comes once the flow stops)
                await until(lambda: True if book["nonce"] >= target else None)
                assert ex.orderbooks["AAA/USD"] is book  # never dropped and synced again
                assert book["nonce"] == target
                want = (
                    [[float(p), float(q)] for p, q in final["bids"]],
                    [[float(p), float(q)] for p, q in final["asks"]],
                )
                assert book_levels(book) == want
                assert len(want[0]) > 3 and len(want[1]) > 3

                # the balances ccxt follows from outboundAccountPosition are the account's
                rest = await ex.fetch_balance()
                streamed = ex.balance["spot"]
                await until(
                    lambda: (
                        True if streamed.get("AAA", {}).get("free") == rest["AAA"]["free"] else None
                    )
                )
                assert streamed["USD"]["free"] == rest["USD"]["free"]
                assert (streamed["AAA"]["used"], streamed["USD"]["used"]) == (0.0, 0.0)

                # every trade of ours is among the public trades ccxt streamed
                await until(lambda: True if my_trades[0]["id"] in trades_seen else None)
                public_trade = trades_seen[my_trades[0]["id"]]
                assert public_trade["price"] == my_trades[0]["price"]
                assert public_trade["amount"] == my_trades[0]["amount"]
                collector.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await collector
            finally:
                await ex.close()

    asyncio.run(scenario())
