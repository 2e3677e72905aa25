"""The Binance REST facade through the real app: signing, timing, Binance's codes, one venue.

Every refusal of a request is checked to leave the venue as it was: no journal
command, no order id taken, the same balances.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient

from makerkit.core import SimClock
from makerkit.server import Settings, create_app
from makerkit.venue import Role, Venue
from tests.unit.server.conftest import ADMIN

T0_MS = 1_700_000_000_000  # the server's clock, injected: timing rules are checked exactly


class Binance:
    """A running app with two accounts that sign their requests as Binance clients do."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.clock = SimClock(T0_MS * 1_000_000)
        client.app.state.binance_clock = self.clock  # type: ignore[attr-defined]
        self.keys: dict[str, tuple[str, str]] = {}
        self.ids: dict[str, int] = {}
        for name in ("alice", "bob"):
            body = client.post(
                "/admin/accounts",
                json={"name": name, "balances": {"USD": "100000", "AAA": "1000"}},
                headers={"X-API-Key": ADMIN},
            ).json()
            self.keys[name] = (body["api_key"], body["api_secret"])
            self.ids[name] = body["account_id"]

    @property
    def service(self) -> Any:
        return self.client.app.state.service  # type: ignore[attr-defined]

    def now_ms(self) -> int:
        return self.clock.now_ns() // 1_000_000

    def signed(
        self,
        method: str,
        path: str,
        who: str = "alice",
        *,
        body: bool | None = None,
        timestamp: int | None = None,
        secret: str | None = None,
        **params: Any,
    ) -> Any:
        """Send a signed request: parameters in the body for POST, else in the query."""
        key, own_secret = self.keys[who]
        params.setdefault("timestamp", self.now_ms() if timestamp is None else timestamp)
        query = urlencode(params)
        signature = hmac.new(
            (secret or own_secret).encode(), query.encode(), hashlib.sha256
        ).hexdigest()
        signed = f"{query}&signature={signature}"
        in_body = method == "POST" if body is None else body
        headers = {"X-MBX-APIKEY": key}
        if in_body:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            return self.client.request(method, path, content=signed, headers=headers)
        return self.client.request(method, f"{path}?{signed}", headers=headers)

    def order(self, who: str = "alice", **params: Any) -> Any:
        fields = {"symbol": "AAAUSD", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC"}
        return self.signed("POST", "/api/v3/order", who, **{**fields, **params})

    def state(self) -> tuple[Any, ...]:
        """What a refused request must leave as it was."""
        venue = self.service.venue
        return (
            self.service.jv.journal.appended_seq,
            venue.last_order_id,
            [venue.balances(i) for i in self.ids.values()],
            [
                [(o.order_id, o.remaining, o.status) for o in venue.open_orders(i)]
                for i in self.ids.values()
            ],
        )


def _settings(tmp_path: Path, backend: str, **extra: Any) -> Settings:
    return Settings(
        journal=str(tmp_path / "venue.db"),
        admin_key=ADMIN,
        symbols="AAA,BBB",
        backend=backend,
        taker_fee_ppm=200,
        maker_fee_ppm=-50,
        **extra,
    )


@pytest.fixture
def bn(tmp_path: Path, backend: str) -> Iterator[Binance]:
    with TestClient(create_app(_settings(tmp_path, backend))) as client:
        yield Binance(client)


def _error(response: Any) -> tuple[int, int, str]:
    body = response.json()
    return response.status_code, body["code"], body["msg"]


def test_a_signed_order_rests_and_reads_back_through_both_apis(bn: Binance) -> None:
    placed = bn.order(quantity="3", price="99.50", newClientOrderId="mine-1")
    assert placed.status_code == 200, placed.text
    body = placed.json()
    assert (body["symbol"], body["status"], body["type"], body["timeInForce"]) == (
        "AAAUSD",
        "NEW",
        "LIMIT",
        "GTC",
    )
    assert (body["price"], body["origQty"], body["executedQty"], body["fills"]) == (
        "99.50",
        "3",
        "0",
        [],
    )
    assert body["clientOrderId"] == "mine-1" and body["transactTime"] == body["workingTime"]
    # the native API sees the same order
    native = bn.client.get(
        f"/orders/{body['orderId']}", headers={"X-API-Key": bn.keys["alice"][0]}
    ).json()
    assert (native["symbol"], native["price"], native["client_order_id"]) == (
        "AAA",
        "99.50",
        "mine-1",
    )
    got = bn.signed("GET", "/api/v3/order", symbol="AAAUSD", origClientOrderId="mine-1").json()
    assert (got["orderId"], got["status"], got["time"]) == (body["orderId"], "NEW", got["time"])
    opened = bn.signed("GET", "/api/v3/openOrders", symbol="AAAUSD").json()
    assert [o["orderId"] for o in opened] == [body["orderId"]]
    account = bn.signed("GET", "/api/v3/account").json()
    usd = next(b for b in account["balances"] if b["asset"] == "USD")
    assert (usd["free"], usd["locked"]) == ("99701.5", "298.5")  # 3 x 99.50 held by the bid
    assert account["commissionRates"] == {
        "maker": "-0.00005",
        "taker": "0.0002",
        "buyer": "0",
        "seller": "0",
    }


def test_a_fill_between_two_accounts_shows_in_orders_trades_and_depth(bn: Binance) -> None:
    ask = bn.order("alice", side="SELL", quantity="5", price="100.00").json()
    hit = bn.order("bob", quantity="2", price="100.00", timeInForce="IOC").json()
    assert (hit["status"], hit["executedQty"], hit["cummulativeQuoteQty"]) == (
        "FILLED",
        "2",
        "200.00",
    )
    assert hit["fills"] == [
        {
            "price": "100.00",
            "qty": "2",
            "commission": "0.04",
            "commissionAsset": "USD",
            "tradeId": hit["fills"][0]["tradeId"],
        }
    ]
    maker = bn.signed("GET", "/api/v3/order", symbol="AAAUSD", orderId=ask["orderId"]).json()
    assert (maker["status"], maker["executedQty"], maker["cummulativeQuoteQty"]) == (
        "PARTIALLY_FILLED",
        "2",
        "200.00",
    )
    trades = bn.signed("GET", "/api/v3/myTrades", symbol="AAAUSD").json()
    assert [(t["isMaker"], t["isBuyer"], t["qty"], t["commission"]) for t in trades] == [
        (True, False, "2", "-0.01")
    ]
    public = bn.client.get("/api/v3/trades", params={"symbol": "AAAUSD"}).json()
    assert [(t["id"], t["price"], t["isBuyerMaker"]) for t in public] == [
        (trades[0]["id"], "100.00", False)
    ]
    depth = bn.client.get("/api/v3/depth", params={"symbol": "AAAUSD"}).json()
    book = bn.client.get("/book/AAA").json()
    assert depth["lastUpdateId"] == book["seq"] > 0
    assert depth["asks"] == [["100.00", "3"]] and depth["bids"] == []
    ticker = bn.client.get("/api/v3/ticker/24hr", params={"symbol": "AAAUSD"}).json()
    assert (ticker["lastPrice"], ticker["volume"], ticker["count"]) == ("100.00", "2", 1)
    everything = bn.signed("GET", "/api/v3/allOrders", "bob", symbol="AAAUSD").json()
    assert [(o["orderId"], o["status"], o["timeInForce"]) for o in everything] == [
        (hit["orderId"], "FILLED", "IOC")
    ]


def test_order_kinds_map_to_binance_statuses(bn: Binance) -> None:
    bn.order("alice", side="SELL", quantity="5", price="101.00")
    fok = bn.order("bob", quantity="6", price="101.00", timeInForce="FOK").json()
    assert (fok["status"], fok["executedQty"]) == ("EXPIRED", "0")  # Binance: not an error
    again = bn.signed("GET", "/api/v3/order", "bob", symbol="AAAUSD", orderId=fok["orderId"])
    assert again.json()["status"] == "EXPIRED" and again.json()["timeInForce"] == "FOK"
    crossing = bn.order("bob", type="LIMIT_MAKER", timeInForce=None, quantity="1", price="101.00")
    assert _error(crossing)[:2] == (400, -1106)  # LIMIT_MAKER takes no timeInForce
    maker = bn.signed(
        "POST",
        "/api/v3/order",
        "bob",
        symbol="AAAUSD",
        side="BUY",
        type="LIMIT_MAKER",
        quantity="1",
        price="101.00",
    )
    assert _error(maker) == (400, -2010, "Order would immediately match and take.")
    resting = bn.signed(
        "POST",
        "/api/v3/order",
        "bob",
        symbol="AAAUSD",
        side="BUY",
        type="LIMIT_MAKER",
        quantity="1",
        price="100.00",
    ).json()
    assert (resting["status"], resting["type"], resting["timeInForce"]) == (
        "NEW",
        "LIMIT_MAKER",
        "GTC",
    )
    market = bn.signed(
        "POST", "/api/v3/order", "bob", symbol="AAAUSD", side="BUY", type="MARKET", quantity="2"
    ).json()
    assert (market["status"], market["type"], market["price"]) == ("FILLED", "MARKET", "0")
    by_quote = bn.signed(
        "POST",
        "/api/v3/order",
        "bob",
        symbol="AAAUSD",
        side="BUY",
        type="MARKET",
        quoteOrderQty="250",
    ).json()
    # 2 lots at 101.00 is all that 250 buys: it spends at most the quote amount
    assert (by_quote["executedQty"], by_quote["cummulativeQuoteQty"]) == ("2", "202.00")
    assert by_quote["origQuoteOrderQty"] == "250"
    nothing = bn.signed(
        "POST", "/api/v3/order", "bob", symbol="BBBUSD", side="BUY", type="MARKET", quantity="1"
    ).json()
    assert (nothing["status"], nothing["executedQty"]) == ("EXPIRED", "0")  # no liquidity


def test_cancel_one_and_all(bn: Binance) -> None:
    first = bn.order(quantity="1", price="90.00", newClientOrderId="c1").json()
    bn.order(quantity="1", price="91.00")
    canceled = bn.signed(
        "DELETE", "/api/v3/order", symbol="AAAUSD", origClientOrderId="c1", newClientOrderId="x"
    )
    assert canceled.status_code == 200, canceled.text
    body = canceled.json()
    assert (body["orderId"], body["status"], body["origClientOrderId"], body["clientOrderId"]) == (
        first["orderId"],
        "CANCELED",
        "c1",
        "x",
    )
    again = bn.signed("DELETE", "/api/v3/order", symbol="AAAUSD", orderId=first["orderId"])
    assert _error(again) == (400, -2011, "Unknown order sent.")
    done = bn.signed("DELETE", "/api/v3/openOrders", symbol="AAAUSD").json()
    assert [o["status"] for o in done] == ["CANCELED"]
    empty = bn.signed("DELETE", "/api/v3/openOrders", symbol="AAAUSD")
    assert _error(empty) == (400, -2011, "Unknown order sent.")  # as Binance answers
    missing = bn.signed("GET", "/api/v3/order", symbol="AAAUSD", orderId=999)
    assert _error(missing) == (400, -2013, "Order does not exist.")
    # both ids must name the same order; a restriction is checked before the cancel
    a = bn.order(quantity="1", price="90.00", newClientOrderId="a").json()
    bn.order(quantity="1", price="90.00", newClientOrderId="b")
    crossed = bn.signed(
        "DELETE", "/api/v3/order", symbol="AAAUSD", orderId=a["orderId"], origClientOrderId="b"
    )
    assert _error(crossed) == (400, -2011, "Unknown order sent.")
    restricted = bn.signed(
        "DELETE",
        "/api/v3/order",
        symbol="AAAUSD",
        orderId=a["orderId"],
        cancelRestrictions="ONLY_PARTIALLY_FILLED",
    )
    assert _error(restricted)[:2] == (400, -2011)
    opened = bn.signed("GET", "/api/v3/openOrders", symbol="AAAUSD").json()
    assert [o["clientOrderId"] for o in opened] == ["a", "b"]  # neither was cancelled


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"secret": "not-the-secret"}, (401, -1022, "Signature for this request is not valid.")),
        ({"timestamp": T0_MS - 5001}, (400, -1021, "outside of the recvWindow")),
        ({"timestamp": T0_MS + 1000}, (400, -1021, "1000ms ahead of the server's time")),
        ({"recvWindow": 60001}, (400, -1131, "recvWindow must be less than 60000")),
        ({"symbol": "NOPE"}, (400, -1121, "Invalid symbol.")),
        ({"quantity": "1.5"}, (400, -1013, "Filter failure: LOT_SIZE")),
        ({"price": "100.001"}, (400, -1013, "Filter failure: PRICE_FILTER")),
        ({"quantity": "1e3"}, (400, -1100, "Illegal characters found in parameter 'quantity'")),
        ({"side": "HOLD"}, (400, -1117, "Invalid side.")),
        ({"type": "STOP_LOSS"}, (400, -2010, "Order type not supported for this symbol.")),
        ({"timeInForce": "GTD"}, (400, -1115, "Invalid timeInForce.")),
        ({"icebergQty": "1"}, (400, -1104, "Not all sent parameters were read")),
    ],
)
def test_a_refused_order_changes_nothing(
    bn: Binance, change: dict[str, Any], expected: tuple[int, int, str]
) -> None:
    before = bn.state()
    params: dict[str, Any] = {"quantity": "1", "price": "100.00", **change}
    status, code, msg = _error(bn.order(**params))
    assert (status, code) == expected[:2]
    assert expected[2] in msg
    assert bn.state() == before


def test_keys_and_signatures_are_checked_before_anything(bn: Binance) -> None:
    before = bn.state()
    query = f"symbol=AAAUSD&side=BUY&type=MARKET&quantity=1&timestamp={bn.now_ms()}"
    no_key = bn.client.post("/api/v3/order", content=query + "&signature=00")
    assert _error(no_key) == (401, -2014, "API-key format invalid.")
    wrong_key = bn.client.post(
        "/api/v3/order", content=query + "&signature=00", headers={"X-MBX-APIKEY": "nobody"}
    )
    assert _error(wrong_key)[:2] == (401, -2015)
    unsigned = bn.client.post(
        "/api/v3/order", content=query, headers={"X-MBX-APIKEY": bn.keys["alice"][0]}
    )
    assert _error(unsigned)[:2] == (400, -1102)
    # a signature in the middle of the query does not sign what follows it
    key, secret = bn.keys["alice"]
    signature = hmac.new(secret.encode(), query.encode(), hashlib.sha256).hexdigest()
    moved = bn.client.post(
        "/api/v3/order",
        content=f"signature={signature}&{query}",
        headers={"X-MBX-APIKEY": key},
    )
    assert _error(moved)[:2] == (401, -1022)
    twice = bn.client.post(
        f"/api/v3/order?{query}&signature={signature}",
        content=f"quantity=5&signature={signature}",
        headers={"X-MBX-APIKEY": key},
    )
    assert _error(twice)[:2] == (400, -1101)
    # an account journaled before secrets existed cannot sign
    bn.service.venue.add_account_hashed("old", role=Role.TRADER, key_hash=Venue.hash_key("old-k"))
    old = bn.client.post(
        "/api/v3/order", content=query + "&signature=00", headers={"X-MBX-APIKEY": "old-k"}
    )
    assert _error(old)[:2] == (401, -2015)
    assert bn.state()[:2] == before[:2]


def test_query_and_body_are_signed_together(bn: Binance) -> None:
    key, secret = bn.keys["alice"]
    query = "symbol=AAAUSD&side=BUY&type=LIMIT&timeInForce=GTC"
    body = f"quantity=1&price=99.00&timestamp={bn.now_ms()}"
    signature = hmac.new(secret.encode(), (query + body).encode(), hashlib.sha256).hexdigest()
    placed = bn.client.post(
        f"/api/v3/order?{query}",
        content=f"{body}&signature={signature.upper()}",  # HMAC signatures: any case
        headers={"X-MBX-APIKEY": key, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert placed.status_code == 200, placed.text
    # the same body under another query is not what was signed
    forged = bn.client.post(
        "/api/v3/order?symbol=AAAUSD&side=SELL&type=LIMIT&timeInForce=GTC",
        content=f"{body}&signature={signature}",
        headers={"X-MBX-APIKEY": key},
    )
    assert _error(forged)[:2] == (401, -1022)


def test_a_replayed_request_is_refused(bn: Binance) -> None:
    """Within its window a replay repeats a client order id (refused); after it, it is stale."""
    key, secret = bn.keys["alice"]
    query = urlencode(
        {
            "symbol": "AAAUSD",
            "side": "BUY",
            "type": "LIMIT",
            "timeInForce": "GTC",
            "quantity": "1",
            "price": "98.00",
            "newClientOrderId": "once",
            "timestamp": bn.now_ms(),
            "recvWindow": 2000,
        }
    )
    signature = hmac.new(secret.encode(), query.encode(), hashlib.sha256).hexdigest()

    def send() -> Any:
        return bn.client.post(
            "/api/v3/order",
            content=f"{query}&signature={signature}",
            headers={"X-MBX-APIKEY": key},
        )

    assert send().status_code == 200
    before = bn.state()
    assert _error(send()) == (400, -2010, "Duplicate order sent.")
    assert bn.state()[1:] == before[1:]  # no second order (the venue journals the repeat)
    bn.clock.advance_by(2_001 * 1_000_000)
    before = bn.state()
    assert _error(send())[:2] == (400, -1021)
    assert bn.state() == before


def test_rate_limit_and_kill_switch_answer_in_binance_terms(bn: Binance) -> None:
    admin = {"X-API-Key": ADMIN}
    limits = {"account_id": bn.ids["alice"], "max_msgs_per_sec": 1, "burst": 1}
    assert bn.client.put("/admin/limits", json=limits, headers=admin).status_code == 200
    assert bn.order(quantity="1", price="97.00").status_code == 200
    refused = bn.order(quantity="1", price="97.00")
    assert _error(refused)[:2] == (429, -1003)
    assert int(refused.headers["Retry-After"]) >= 1
    kill = {"account_id": bn.ids["bob"], "reason": "test"}
    assert bn.client.post("/admin/kill", json=kill, headers=admin).status_code == 200
    killed = bn.order("bob", quantity="1", price="97.00")
    assert _error(killed) == (400, -2010, "This account may not place or cancel orders.")
    cancel = bn.signed("DELETE", "/api/v3/openOrders", "bob", symbol="AAAUSD")
    assert _error(cancel) == (400, -2011, "This account may not place or cancel orders.")
    # reads stay open to a killed account
    assert bn.signed("GET", "/api/v3/account", "bob").json()["canTrade"] is False


def test_native_errors_keep_their_shape(bn: Binance) -> None:
    native = bn.client.get("/orders/999", headers={"X-API-Key": bn.keys["alice"][0]})
    assert native.status_code == 404
    assert native.json()["code"] == "UNKNOWN_ORDER" and "message" in native.json()
    facade = bn.client.get("/api/v3/depth", params={"symbol": "NOPE"})
    assert facade.json() == {"code": -1121, "msg": "Invalid symbol."}


def test_exchange_info_lists_the_instruments_filters(tmp_path: Path, backend: str) -> None:
    settings = _settings(tmp_path, backend, lot_size="0.001", min_qty="0.01", min_notional="5")
    with TestClient(create_app(settings)) as client:
        info = client.get("/api/v3/exchangeInfo").json()
        aaa = next(s for s in info["symbols"] if s["symbol"] == "AAAUSD")
        assert (aaa["baseAsset"], aaa["quoteAsset"], aaa["status"]) == ("AAA", "USD", "TRADING")
        filters = {f["filterType"]: f for f in aaa["filters"]}
        assert filters["PRICE_FILTER"]["tickSize"] == "0.01"
        assert (filters["LOT_SIZE"]["stepSize"], filters["LOT_SIZE"]["minQty"]) == (
            "0.001",
            "0.010",
        )
        assert filters["NOTIONAL"]["minNotional"] == filters["MIN_NOTIONAL"]["minNotional"] == "5"
        assert aaa["orderTypes"] == ["LIMIT", "LIMIT_MAKER", "MARKET"]
        one = client.get("/api/v3/exchangeInfo", params={"symbol": "BBBUSD"}).json()
        assert [s["symbol"] for s in one["symbols"]] == ["BBBUSD"]
        assert client.get("/fapi/v1/exchangeInfo").json()["symbols"] == []
        # the venue's minimums answer as Binance's filters
        bn = Binance(client)
        small = bn.order(quantity="0.005", price="100.00")
        assert _error(small) == (400, -1013, "Filter failure: LOT_SIZE")
        cheap = bn.order(quantity="0.02", price="100.00")
        assert _error(cheap) == (400, -1013, "Filter failure: NOTIONAL")
        assert bn.order(quantity="0.05", price="100.00").status_code == 200


def test_without_shorting_an_uncovered_order_is_insufficient_balance(
    tmp_path: Path, backend: str
) -> None:
    with TestClient(create_app(_settings(tmp_path, backend, allow_short=False))) as client:
        bn = Binance(client)
        account = bn.signed("GET", "/api/v3/account").json()
        assert (account["accountType"], account["allowShort"]) == ("SPOT", False)
        too_much = bn.order(side="SELL", quantity="1001", price="100.00")
        assert _error(too_much) == (
            400,
            -2010,
            "Account has insufficient balance for requested action.",
        )
        assert bn.order(side="SELL", quantity="1000", price="100.00").status_code == 200


def test_wallet_and_margin_answers_are_honest(bn: Binance) -> None:
    coins = bn.signed("GET", "/sapi/v1/capital/config/getall").json()
    assert {c["coin"]: c["free"] for c in coins} == {"AAA": "1000", "BBB": "0", "USD": "100000"}
    assert bn.signed("GET", "/sapi/v1/margin/allPairs").json() == []
    assert bn.client.get("/sapi/v1/system/status").json() == {"status": 0, "msg": "normal"}
    assert bn.client.get("/api/v3/time").json() == {"serverTime": T0_MS}
