"""ccxt's own ``binance`` class, only its URLs changed, trades on a real venue on loopback.

The client is ccxt's, unmodified: the facade is right when ccxt parses what it
answers, and each refusal arrives as the ccxt exception a Binance user catches.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

ccxt = pytest.importorskip("ccxt")
httpx = pytest.importorskip("httpx")
uvicorn = pytest.importorskip("uvicorn")

from makerkit.server import Settings, create_app  # noqa: E402

ADMIN = "ccxt-admin"
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def serve(settings: Settings) -> Iterator[str]:
    """The app under uvicorn on a free loopback port, in a thread: its base URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="error")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the venue did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)


def account(base: str, name: str, balances: dict[str, str]) -> tuple[str, str, int]:
    body = httpx.post(
        f"{base}/admin/accounts",
        json={"name": name, "balances": balances},
        headers={"X-API-Key": ADMIN},
    ).json()
    return body["api_key"], body["api_secret"], body["account_id"]


def binance(base: str, key: str, secret: str) -> Any:
    """ccxt's binance with every API root pointed at the venue (nothing else changed)."""
    exchange = ccxt.binance({"apiKey": key, "secret": secret})
    exchange.urls["api"] = {
        name: base + url.split("binance.com", 1)[1] for name, url in exchange.urls["api"].items()
    }
    return exchange


def wait_for(check: Callable[[], T | None], timeout: float = 20.0) -> T:
    """Poll until ``check`` answers (a condition, not a duration, decides the test)."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found is not None:
            return found
        assert time.monotonic() < deadline, "timed out waiting for the condition"
        time.sleep(0.05)


def test_ccxt_trades_on_a_simulated_market(tmp_path: Path) -> None:
    settings = Settings(journal=str(tmp_path / "v.db"), admin_key=ADMIN, symbols="AAA,BBB",
                        market=True, market_rate=200.0, taker_fee_ppm=200)  # fmt: skip
    with serve(settings) as base:
        key, secret, _ = account(base, "trader", {"USD": "100000", "AAA": "50"})
        ex = binance(base, key, secret)
        markets = ex.load_markets()
        assert sorted(markets) == ["AAA/USD", "BBB/USD"]
        aaa = markets["AAA/USD"]
        assert (aaa["id"], aaa["spot"], aaa["active"]) == ("AAAUSD", True, True)
        assert (aaa["precision"]["price"], aaa["precision"]["amount"]) == (0.01, 1.0)

        def two_sided() -> Any:
            book = ex.fetch_order_book("AAA/USD", 5)
            return book if book["bids"] and book["asks"] else None

        book = wait_for(two_sided)
        assert book["bids"][0][0] < book["asks"][0][0]
        assert isinstance(book["nonce"], int) and book["nonce"] > 0  # lastUpdateId
        ticker = ex.fetch_ticker("AAA/USD")
        assert ticker["symbol"] == "AAA/USD" and ticker["bid"] < ticker["ask"]
        balance = ex.fetch_balance()
        assert (balance["USD"]["free"], balance["AAA"]["total"]) == (100000.0, 50.0)

        # a bid far below the market rests: read, listed, cancelled
        low = round(book["bids"][0][0] / 2, 2)
        resting = ex.create_order("AAA/USD", "limit", "buy", 2, low)
        assert (resting["status"], resting["type"], resting["amount"]) == ("open", "limit", 2.0)
        fetched = ex.fetch_order(resting["id"], "AAA/USD")
        assert (fetched["price"], fetched["clientOrderId"]) == (low, resting["clientOrderId"])
        assert [o["id"] for o in ex.fetch_open_orders("AAA/USD")] == [resting["id"]]
        assert ex.fetch_balance()["USD"]["used"] == pytest.approx(2 * low)
        assert ex.cancel_order(resting["id"], "AAA/USD")["status"] == "canceled"

        # post-only: resting below the market, refused when it would take
        maker = ex.create_order("AAA/USD", "limit", "buy", 1, low, {"postOnly": True})
        assert (maker["status"], maker["postOnly"]) == ("open", True)
        with pytest.raises(ccxt.OrderImmediatelyFillable, match="would immediately match"):
            ex.create_order("AAA/USD", "limit", "buy", 1, round(book["asks"][0][0] * 2, 2),
                            {"postOnly": True})  # fmt: skip

        # a market order takes the simulated flow's liquidity
        bought = ex.create_order("AAA/USD", "market", "buy", 1)
        assert (bought["status"], bought["filled"], bought["type"]) == ("closed", 1.0, "market")
        assert bought["cost"] == pytest.approx(bought["average"]) and bought["cost"] > 0
        trades = ex.fetch_my_trades("AAA/USD")
        assert [(t["order"], t["side"], t["takerOrMaker"]) for t in trades] == [
            (bought["id"], "buy", "taker")
        ]
        assert trades[0]["fee"]["cost"] == pytest.approx(bought["cost"] * 0.0002)

        canceled = ex.cancel_all_orders("AAA/USD")
        assert [o["id"] for o in canceled] == [maker["id"]]
        assert ex.fetch_open_orders("AAA/USD") == []


def test_ccxt_sees_fills_between_accounts_and_binance_refusals(tmp_path: Path) -> None:
    settings = Settings(journal=str(tmp_path / "v.db"), admin_key=ADMIN, symbols="AAA", min_qty="2",
                        allow_short=False, maker_fee_ppm=-50, taker_fee_ppm=200)  # fmt: skip
    with serve(settings) as base:
        alice = binance(base, *account(base, "alice", {"USD": "10000", "AAA": "10"})[:2])
        bob = binance(base, *account(base, "bob", {"USD": "10000"})[:2])
        alice.load_markets()
        bob.load_markets()
        ask = alice.create_order("AAA/USD", "limit", "sell", 5, 100.0)
        hit = bob.create_order("AAA/USD", "limit", "buy", 3, 100.0, {"timeInForce": "IOC"})
        assert (hit["status"], hit["filled"], hit["cost"]) == ("closed", 3.0, 300.0)
        partly = alice.fetch_order(ask["id"], "AAA/USD")
        assert (partly["status"], partly["filled"], partly["remaining"]) == ("open", 3.0, 2.0)
        maker_trades = alice.fetch_my_trades("AAA/USD")
        assert [(t["side"], t["takerOrMaker"], t["fee"]["cost"]) for t in maker_trades] == [
            ("sell", "maker", pytest.approx(-0.015))
        ]
        assert bob.fetch_balance()["AAA"]["free"] == 3.0

        with pytest.raises(
            ccxt.InsufficientFunds, match="insufficient balance"
        ):  # no shorting: bob holds 3 AAA
            bob.create_order("AAA/USD", "limit", "sell", 4, 200.0)
        with pytest.raises(
            ccxt.InvalidOrder, match="LOT_SIZE"
        ):  # below the smallest order (LOT_SIZE)
            alice.create_order("AAA/USD", "limit", "buy", 1, 50.0)
        with pytest.raises(ccxt.OrderNotFound, match="-2013"):
            alice.fetch_order("987654", "AAA/USD")
        with pytest.raises(ccxt.OrderNotFound, match="-2011"):
            alice.cancel_order("987654", "AAA/USD")
        with pytest.raises(
            ccxt.BadSymbol, match="-1121"
        ):  # ccxt checks symbols itself: ask the venue raw
            alice.publicGetDepth({"symbol": "NOPEUSD"})
        forged = binance(base, alice.apiKey, "not-the-secret")
        forged.set_markets(alice.markets)
        with pytest.raises(ccxt.AuthenticationError, match="-1022"):
            forged.fetch_balance()
        with pytest.raises(ccxt.AuthenticationError, match="-2015"):
            binance(base, "no-such-key", "x").fetch_balance()

        # over its message rate: HTTP 429, -1003. ccxt's binance raises DDoSProtection for
        # any 429 before reading the body (RateLimitExceeded is its sibling, not its parent)
        carol_key, carol_secret, carol_id = account(base, "carol", {"USD": "1000"})
        limits = {"account_id": carol_id, "max_msgs_per_sec": 0.01, "burst": 1}
        assert httpx.put(f"{base}/admin/limits", json=limits,
                         headers={"X-API-Key": ADMIN}).status_code == 200  # fmt: skip
        carol = binance(base, carol_key, carol_secret)
        carol.set_markets(alice.markets)
        carol.fetch_balance()
        with pytest.raises(ccxt.DDoSProtection) as refused:
            carol.fetch_balance()
        assert '"code":-1003' in str(refused.value)


def test_the_bench_places_orders_through_both_apis(tmp_path: Path) -> None:
    import asyncio

    from makerkit.cli import _bench_server

    settings = Settings(journal=str(tmp_path / "v.db"), admin_key=_bench_server.ADMIN,
                        symbols="AAA")  # fmt: skip
    with serve(settings) as base:
        result = asyncio.run(_bench_server._binance_rest_orders(base, 0.6, 2, rounds=2))
        book = httpx.get(f"{base}/book/AAA").json()
    assert len(result["binance_rest_rounds"]) == len(result["binance_rest_native_rounds"]) == 2
    assert min(result["binance_rest_rounds"] + result["binance_rest_native_rounds"]) > 0
    assert result["binance_rest_vs_native"] == pytest.approx(
        result["binance_rest_orders_per_sec"] / result["binance_rest_native_orders_per_sec"]
    )
    assert book["bids"] == []  # every order placed was cancelled
