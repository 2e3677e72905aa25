"""Binance spot WebSocket facade: streams, live requests, diff-depth sync, user data."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import pytest
from starlette.websockets import WebSocketDisconnect

pytest.importorskip("fastapi")

from fastapi.testclient import TestClient

from makerkit.core import SimClock
from makerkit.server import Settings, create_app
from makerkit.server._binance_common import sign
from makerkit.server._binance_ws import ListenKeys, _Conn, streams_of

ADMIN = "admin-key-for-tests"
NOW_MS = 1_750_000_000_000  # the server's clock for signed requests (set on the app)


class Binance:
    """A running app, three funded accounts, and Binance-side helpers."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.keys: dict[str, str] = {}
        self.secrets: dict[str, str] = {}
        self.ids: dict[str, int] = {}
        for name in ("alice", "bob", "carol"):
            body = client.post(
                "/admin/accounts", json={"name": name}, headers={"X-API-Key": ADMIN}
            ).json()
            self.keys[name] = body["api_key"]
            self.secrets[name] = body["api_secret"]
            self.ids[name] = body["account_id"]

    def order(self, who: str, symbol: str, side: str, qty: str, price: str) -> Any:
        body = {"symbol": symbol, "side": side, "qty": qty, "price": price}
        answer = self.client.post("/orders", json=body, headers={"X-API-Key": self.keys[who]})
        assert answer.status_code == 200, answer.text
        return answer.json()

    def depth(self, symbol: str = "AAAUSD") -> Any:
        """The REST snapshot a Binance client syncs from (``lastUpdateId``, every level)."""
        return self.client.get("/api/v3/depth", params={"symbol": symbol, "limit": 5000}).json()

    def subscribe_signature(self, ws: Any, who: str, req_id: str = "1", **change: Any) -> Any:
        params: dict[str, Any] = {"apiKey": self.keys[who], "timestamp": NOW_MS}
        params.update(change)
        payload = "&".join(f"{k}={params[k]}" for k in sorted(params))
        params.setdefault("signature", sign(self.secrets[who], payload.encode()))
        ws.send_text(
            json.dumps(
                {"id": req_id, "method": "userDataStream.subscribe.signature", "params": params}
            )
        )
        return recv(ws)


def make_settings(tmp_path: Path, **extra: Any) -> Settings:
    return Settings(
        journal=str(tmp_path / "venue.db"),
        admin_key=ADMIN,
        symbols="AAA,BBB",
        taker_fee_ppm=200,
        maker_fee_ppm=-50,
        journal_sync="normal",  # a killed process loses nothing: enough for these tests
        **extra,
    )


@pytest.fixture
def bn(tmp_path: Path) -> Iterator[Binance]:
    app = create_app(make_settings(tmp_path))
    app.state.binance_clock = SimClock(NOW_MS * 1_000_000)
    with TestClient(app) as client:
        yield Binance(client)


def recv(ws: Any, timeout: float = 10.0) -> Any:
    """The next message as JSON, or TimeoutError: a missing frame fails, never hangs."""

    async def take() -> Any:
        with anyio.fail_after(timeout):
            return await ws._send_rx.receive()  # the test session's outbound queue

    message = ws.portal.call(take)
    ws._raise_on_close(message)
    return json.loads(message.get("text") or message.get("bytes"))


def request(ws: Any, method: str, params: Any = None, req_id: Any = 1) -> Any:
    body: dict[str, Any] = {"method": method, "id": req_id}
    if params is not None:
        body["params"] = params
    ws.send_text(json.dumps(body))
    return recv(ws)


def until(ws: Any, want: Any, limit: int = 10_000) -> Any:
    """The first message ``want(message)`` accepts (others are skipped)."""
    for _ in range(limit):
        message = recv(ws)
        if want(message):
            return message
    msg = "no such message"
    raise AssertionError(msg)


# ---------------------------------------------------------------------- live requests


def test_subscribe_list_unsubscribe_and_the_combined_property(bn: Binance) -> None:
    with bn.client.websocket_connect("/ws/0") as ws:  # ccxt's url: a stream index, no stream
        assert request(ws, "LIST_SUBSCRIPTIONS") == {"result": [], "id": 1}
        answer = request(ws, "SUBSCRIBE", ["AAAUSD@trade", "bbbusd@depth"], req_id=7)
        assert answer == {"result": None, "id": 7}
        assert request(ws, "LIST_SUBSCRIPTIONS", req_id="x3") == {
            "result": ["aaausd@trade", "bbbusd@depth"],
            "id": "x3",
        }
        assert request(ws, "GET_PROPERTY", ["combined"]) == {"result": False, "id": 1}
        bn.order("alice", "AAA", "buy", "2", "99.00")
        bn.order("bob", "AAA", "sell", "1", "99.00")
        trade = recv(ws)
        assert trade["e"] == "trade" and trade["s"] == "AAAUSD"
        assert (trade["p"], trade["q"], trade["m"]) == ("99.00", "1", True)  # a buyer rested
        assert request(ws, "SET_PROPERTY", ["combined", True]) == {"result": None, "id": 1}
        assert request(ws, "GET_PROPERTY", ["combined"]) == {"result": True, "id": 1}
        bn.order("carol", "AAA", "sell", "1", "99.00")
        wrapped = recv(ws)
        assert wrapped["stream"] == "aaausd@trade" and wrapped["data"]["e"] == "trade"
        assert wrapped["data"]["t"] == trade["t"] + 2  # the trade, then its level's delta
        assert request(ws, "UNSUBSCRIBE", ["aaausd@trade"]) == {"result": None, "id": 1}
        assert request(ws, "LIST_SUBSCRIPTIONS") == {"result": ["bbbusd@depth"], "id": 1}
        bn.order("alice", "AAA", "buy", "1", "98.00")
        bn.order("bob", "AAA", "sell", "1", "98.00")
        bn.order("alice", "BBB", "buy", "1", "10.00")  # BBB's diff is the next message
        diff = recv(ws)
        assert diff["stream"] == "bbbusd@depth" and diff["data"]["s"] == "BBBUSD"
        assert diff["data"]["b"] == [["10.00", "1"]]


def test_raw_and_combined_urls_carry_their_streams(bn: Binance) -> None:
    c = bn.client
    with (
        c.websocket_connect("/ws/aaausd@trade") as raw,
        c.websocket_connect("/stream?streams=aaausd@trade/aaausd@bookTicker") as combined,
    ):
        assert request(raw, "LIST_SUBSCRIPTIONS") == {"result": ["aaausd@trade"], "id": 1}
        bn.order("alice", "AAA", "buy", "3", "99.00")
        ticker = recv(combined)
        assert ticker["stream"] == "aaausd@bookTicker"
        assert {k: ticker["data"][k] for k in ("s", "b", "B", "a", "A")} == {
            "s": "AAAUSD", "b": "99.00", "B": "3", "a": "0", "A": "0",
        }  # fmt: skip
        assert ticker["data"]["u"] == bn.depth()["lastUpdateId"]
        bn.order("bob", "AAA", "sell", "1", "99.00")
        trade = recv(raw)
        assert "stream" not in trade and trade["e"] == "trade" and trade["q"] == "1"
        got = {until(combined, lambda m: m["stream"] == "aaausd@trade")["data"]["t"]}
        assert got == {trade["t"]}


def test_native_market_data_keeps_its_routes(bn: Binance) -> None:
    with bn.client.websocket_connect("/ws/md") as ws:
        ws.send_text(json.dumps({"op": "subscribe", "channel": "book", "symbol": "AAA"}))
        assert recv(ws)["type"] == "snapshot"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"method": "SUBSCRIBE", "params": ["zzzusd@trade"], "id": 1}, 2),  # unknown symbol
        ({"method": "SUBSCRIBE", "params": ["aaausd@kline_1m"], "id": 1}, 2),  # unknown stream
        ({"method": "SUBSCRIBE", "params": "aaausd@trade", "id": 1}, 2),  # params not a list
        ({"method": "SUBSCRIBE", "params": ["aaausd@trade"], "id": True}, 2),  # bad id
        ({"method": "PUBLISH", "params": [], "id": 1}, 2),  # unknown method
        ({"params": [], "id": 1}, 2),  # no method
        ({"method": "LIST_SUBSCRIPTIONS", "id": 1, "extra": 1}, 2),  # too many parameters
        ({"method": "GET_PROPERTY", "params": ["speed"], "id": 1}, 0),  # unknown property
        ({"method": "SET_PROPERTY", "params": ["combined", "yes"], "id": 1}, 1),  # not a bool
    ],
)
def test_refused_requests_are_binance_errors(bn: Binance, body: dict[str, Any], code: int) -> None:
    with bn.client.websocket_connect("/ws") as ws:
        ws.send_text(json.dumps(body))
        answer = recv(ws)
        assert answer["error"]["code"] == code, answer
        assert request(ws, "LIST_SUBSCRIPTIONS") == {"result": [], "id": 1}  # nothing subscribed


def test_one_bad_name_subscribes_none_and_bad_json_is_code_3(bn: Binance) -> None:
    with bn.client.websocket_connect("/ws") as ws:
        answer = request(ws, "SUBSCRIBE", ["aaausd@trade", "aaausd@nope"])
        assert answer["error"]["code"] == 2 and "aaausd@nope" in answer["error"]["msg"]
        assert request(ws, "LIST_SUBSCRIPTIONS") == {"result": [], "id": 1}
        ws.send_text("{not json")
        assert recv(ws)["error"]["code"] == 3


def test_a_frame_over_the_size_cap_is_refused(bn: Binance) -> None:
    with bn.client.websocket_connect("/ws") as ws:
        names = [f"aaausd@trade{n}" for n in range(8000)]  # about 130 kB, over 64 kB
        ws.send_text(json.dumps({"method": "SUBSCRIBE", "params": names, "id": 1}))
        answer = recv(ws)
        assert answer["error"]["code"] == 2 and "limited to 65536 bytes" in answer["error"]["msg"]
        assert request(ws, "LIST_SUBSCRIPTIONS") == {"result": [], "id": 1}


@pytest.mark.parametrize(
    "path", ["/ws/zzzusd@trade", "/stream?streams=aaausd@bogus", "/ws/" + "f" * 60]
)
def test_a_url_naming_no_stream_is_refused_and_closed(bn: Binance, path: str) -> None:
    with bn.client.websocket_connect(path) as ws:
        assert recv(ws)["error"]["code"] == 2
        with pytest.raises(WebSocketDisconnect) as closed:
            recv(ws)
        assert closed.value.code == 1008


def test_the_message_rate_and_the_connection_cap_apply(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, md_msgs_per_sec=0.001, md_burst=3, connections_per_address=1)
    with TestClient(create_app(settings)) as c, c.websocket_connect("/ws") as ws:
        answers = [request(ws, "LIST_SUBSCRIPTIONS") for _ in range(4)]
        assert [a.get("result") for a in answers[:3]] == [[], [], []]
        assert answers[3]["error"]["code"] == -1003
        with c.websocket_connect("/ws") as second:
            assert recv(second)["error"]["code"] == -1003
            with pytest.raises(WebSocketDisconnect):
                recv(second)


# ---------------------------------------------------------------------- diff depth


def apply(book: dict[tuple[str, Decimal], str], side: str, levels: list[list[str]]) -> None:
    for price, qty in levels:
        if Decimal(qty) == 0:
            book.pop((side, Decimal(price)), None)
        else:
            book[(side, Decimal(price))] = qty


def levels(snapshot: dict[str, Any]) -> dict[tuple[str, Decimal], str]:
    book: dict[tuple[str, Decimal], str] = {}
    apply(book, "bid", snapshot["bids"])
    apply(book, "ask", snapshot["asks"])
    return book


@pytest.mark.parametrize("stream", ["aaausd@depth@100ms", "aaausd@depth"])
def test_diffs_follow_the_rest_snapshot_by_binances_rule(bn: Binance, stream: str) -> None:
    """Subscribe, snapshot, replay by the documented rule: the book equals the venue's."""
    rng = random.Random(11)
    c = bn.client

    def flow(n: int) -> None:
        for _ in range(n):
            who = rng.choice(["alice", "bob", "carol"])
            side = rng.choice(["buy", "sell"])
            price = f"{100 + rng.randint(-8, 8) / 100:.2f}"
            bn.order(who, "AAA", side, str(rng.randint(1, 9)), price)

    flow(80)  # a book before the subscription
    with c.websocket_connect("/ws/1") as ws:
        assert request(ws, "SUBSCRIBE", [stream]) == {"result": None, "id": 1}
        flow(20)  # diffs buffered meanwhile, as a client buffers them
        snapshot = bn.depth()
        last_id = snapshot["lastUpdateId"]
        flow(100)
        final = bn.depth()
        book = levels(snapshot)
        previous_u = None
        while previous_u is None or previous_u < final["lastUpdateId"]:
            diff = recv(ws)
            assert diff["e"] == "depthUpdate" and diff["s"] == "AAAUSD"
            if diff["u"] <= last_id:  # already in the snapshot: dropped
                continue
            if previous_u is None:
                assert diff["U"] <= last_id + 1 <= diff["u"]  # the first one straddles it
            else:
                assert diff["U"] == previous_u + 1  # then no gap, no overlap
            previous_u = diff["u"]
            apply(book, "bid", diff["b"])
            apply(book, "ask", diff["a"])
        assert previous_u == final["lastUpdateId"]
        assert book == levels(final)


class FakeLoop:
    """The depth streams' clock and timer, turned by hand."""

    def __init__(self) -> None:
        self.now = 100.0
        self.timers: list[tuple[float, Any, tuple[Any, ...]]] = []

    def time(self) -> float:
        return self.now

    def call_later(self, delay: float, callback: Any, *args: Any) -> Any:
        self.timers.append((self.now + delay, callback, args))

        class Handle:
            def cancel(self) -> None:
                pass

        return Handle()


def test_a_depth_stream_sends_at_most_once_an_interval_with_all_changes(tmp_path: Path) -> None:
    loop = FakeLoop()
    # market data with every commit: an order's diff is due before its answer comes
    app = create_app(make_settings(tmp_path, md_interval_ms=0))
    with TestClient(app) as c, c.websocket_connect("/ws/aaausd@depth@100ms") as ws:
        bn = Binance(c)
        streams_of(app)._loop = lambda: loop  # type: ignore[method-assign]
        bn.order("alice", "AAA", "buy", "1", "99.00")
        first = recv(ws)  # a quiet stream's first change goes at once
        assert (first["U"], first["u"], first["b"]) == (1, 1, [["99.00", "1"]])
        bn.order("alice", "AAA", "buy", "2", "99.00")
        bn.order("bob", "AAA", "sell", "4", "99.10")
        bn.order("carol", "AAA", "buy", "1", "99.10")  # trades 1: a trade and a delta
        assert len(loop.timers) == 1 and loop.timers[0][0] == pytest.approx(100.1)
        loop.now = 100.1
        _, callback, args = loop.timers.pop()
        ws.portal.call(callback, *args)
        merged = recv(ws)
        assert (merged["U"], merged["u"]) == (2, 5)
        assert merged["b"] == [["99.00", "3"]] and merged["a"] == [["99.10", "3"]]


# ---------------------------------------------------------------------- user data


def test_execution_reports_of_a_fill_over_the_websocket_api(bn: Binance) -> None:
    c = bn.client
    with c.websocket_connect("/ws-api/v3") as alice, c.websocket_connect("/ws-api/v3") as bob:
        answer = bn.subscribe_signature(alice, "alice")
        assert answer == {"id": "1", "status": 200, "result": {"subscriptionId": 0}}
        assert bn.subscribe_signature(bob, "bob", req_id="b1")["result"] == {"subscriptionId": 0}
        placed = bn.order("alice", "AAA", "buy", "5", "99.00")
        new = recv(alice)
        assert new["subscriptionId"] == 0
        report = new["event"]
        assert report["e"] == "executionReport" and report["s"] == "AAAUSD"
        assert (report["x"], report["X"], report["i"], report["S"]) == (
            "NEW", "NEW", placed["order_id"], "BUY",
        )  # fmt: skip
        assert (report["q"], report["p"], report["z"], report["w"]) == ("5", "99.00", "0", True)
        position = recv(alice)["event"]
        assert position["e"] == "outboundAccountPosition"
        assert {row["a"]: row["l"] for row in position["B"]} == {"AAA": "0", "USD": "495.00"}

        bn.order("bob", "AAA", "sell", "2", "99.00")
        maker = recv(alice)["event"]
        assert (maker["x"], maker["X"], maker["i"]) == (
            "TRADE",
            "PARTIALLY_FILLED",
            placed["order_id"],
        )
        assert (maker["l"], maker["z"], maker["L"], maker["m"]) == ("2", "2", "99.00", True)
        assert (maker["Y"], maker["Z"], maker["N"]) == ("198.00", "198.00", "USD")
        assert Decimal(maker["n"]) == Decimal("-0.0099")  # a 50 ppm maker rebate on 198
        after = recv(alice)["event"]
        assert after["e"] == "outboundAccountPosition"
        assert {row["a"]: row["f"] for row in after["B"]}["AAA"] == "2"

        taker_new, taker_fill = recv(bob)["event"], recv(bob)["event"]
        assert (taker_new["x"], taker_new["X"], taker_new["z"]) == ("NEW", "NEW", "0")
        assert (taker_fill["x"], taker_fill["X"], taker_fill["m"]) == ("TRADE", "FILLED", False)
        assert taker_fill["t"] == maker["t"]  # one trade, one id on both sides
        assert Decimal(taker_fill["n"]) == Decimal("0.0396")  # 200 ppm taker fee on 198

        bn.order("carol", "AAA", "sell", "3", "98.00")  # fills the rest in one command
        last = recv(alice)["event"]
        assert (last["X"], last["z"], last["Z"]) == ("FILLED", "5", "495.00")


def test_a_canceled_order_and_an_ioc_that_found_nothing(bn: Binance) -> None:
    c = bn.client
    with c.websocket_connect("/ws-api/v3") as ws:
        bn.subscribe_signature(ws, "alice")
        placed = bn.order("alice", "AAA", "sell", "1", "105.00")
        assert recv(ws)["event"]["x"] == "NEW"
        assert recv(ws)["event"]["e"] == "outboundAccountPosition"
        c.patch(
            f"/orders/{placed['order_id']}",
            json={"qty": "4", "price": "104.00"},
            headers={"X-API-Key": bn.keys["alice"]},
        )
        amended = recv(ws)["event"]
        assert (amended["x"], amended["X"], amended["q"], amended["p"]) == (
            "AMENDMENT", "NEW", "4", "104.00",
        )  # fmt: skip
        assert {r["a"]: r["l"] for r in recv(ws)["event"]["B"]}["AAA"] == "4"
        c.delete(f"/orders/{placed['order_id']}", headers={"X-API-Key": bn.keys["alice"]})
        canceled = recv(ws)["event"]
        assert (canceled["x"], canceled["X"], canceled["i"]) == (
            "CANCELED",
            "CANCELED",
            placed["order_id"],
        )
        assert recv(ws)["event"]["e"] == "outboundAccountPosition"
        body = {"symbol": "AAA", "side": "buy", "qty": "1", "price": "90.00", "tif": "ioc"}
        c.post("/orders", json=body, headers={"X-API-Key": bn.keys["alice"]})
        assert [recv(ws)["event"]["x"] for _ in range(2)] == ["NEW", "EXPIRED"]


def test_the_first_report_of_a_facade_order_names_its_type(bn: Binance) -> None:
    """The order's type and time in force are known when its batch is sealed, not after."""
    with bn.client.websocket_connect("/ws-api/v3") as ws:
        bn.subscribe_signature(ws, "alice")
        for kind, extra, tif in (("LIMIT_MAKER", "", "GTC"), ("LIMIT", "&timeInForce=FOK", "FOK")):
            query = (
                f"symbol=AAAUSD&side=SELL&type={kind}&quantity=1&price=105.00{extra}"
                f"&timestamp={NOW_MS}"
            )
            query += "&signature=" + sign(bn.secrets["alice"], query.encode())
            answer = bn.client.post(
                f"/api/v3/order?{query}", headers={"X-MBX-APIKEY": bn.keys["alice"]}
            )
            assert answer.status_code == 200, answer.text
            report = until(ws, lambda m: m.get("event", {}).get("e") == "executionReport")["event"]
            assert (report["x"], report["o"], report["f"]) == ("NEW", kind, tif)


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"signature": "0" * 64}, -1022),
        ({"timestamp": 1}, -1021),
        ({"apiKey": "not-a-key"}, -2015),
    ],
)
def test_a_subscription_with_a_bad_signature_is_refused(
    bn: Binance, change: dict[str, Any], code: int
) -> None:
    with bn.client.websocket_connect("/ws-api/v3") as ws:
        answer = bn.subscribe_signature(ws, "alice", **change)
        assert answer["status"] == (400 if code == -1021 else 401)
        assert answer["error"]["code"] == code
        ws.send_text(json.dumps({"id": 2, "method": "session.subscriptions"}))
        assert recv(ws)["result"] == []


def test_listen_key_lifecycle(bn: Binance) -> None:
    c = bn.client
    clock = [0.0]
    c.app.state.binance_listen_keys = ListenKeys(now=lambda: clock[0])

    def call(method: str, key: str | None = None, who: str = "alice") -> Any:
        params = {"listenKey": key} if key is not None else None
        headers = {"X-MBX-APIKEY": bn.keys[who]}
        return c.request(method, "/api/v3/userDataStream", params=params, headers=headers)

    assert c.post("/api/v3/userDataStream").json()["code"] == -2014
    key = call("POST").json()["listenKey"]
    assert len(key) == 60 and call("POST").json() == {"listenKey": key}  # one live key
    wrong = call("PUT", "x" * 60)
    assert wrong.status_code == 400 and wrong.json()["code"] == -1125
    assert call("PUT", key, who="bob").json()["code"] == -1125  # not bob's
    assert call("PUT").json()["code"] == -1102
    with c.websocket_connect(f"/ws/{key}") as ws, c.websocket_connect("/ws") as sub:
        assert request(sub, "SUBSCRIBE", [key]) == {"result": None, "id": 1}
        assert request(sub, "SET_PROPERTY", ["combined", True]) == {"result": None, "id": 1}
        bn.order("alice", "AAA", "buy", "1", "99.00")
        report = recv(ws)
        assert report["e"] == "executionReport" and report["x"] == "NEW"
        assert recv(sub) == {"stream": key, "data": report}
        assert recv(ws)["e"] == "outboundAccountPosition"
        clock[0] = 3000.0
        assert call("PUT", key).json() == {}
        clock[0] = 6500.0  # within 60 minutes of the keepalive
        bn.order("alice", "AAA", "buy", "1", "98.00")
        assert recv(ws)["x"] == "NEW"
        assert recv(ws)["e"] == "outboundAccountPosition"
        clock[0] = 6601.0  # past them: the next event finds the key expired
        bn.order("alice", "AAA", "buy", "1", "97.00")
        ended = recv(ws)
        assert ended == {"e": "listenKeyExpired", "E": ended["E"], "listenKey": key}
        expired = until(sub, lambda m: m["data"]["e"] == "listenKeyExpired")
        assert expired["stream"] == key
        assert request(sub, "LIST_SUBSCRIPTIONS") == {"result": [], "id": 1}
        # the expired key's connection hears nothing more of alice: a trade is next
        assert request(ws, "SUBSCRIBE", ["aaausd@trade"]) == {"result": None, "id": 1}
        bn.order("bob", "AAA", "sell", "1", "99.00")
        assert recv(ws)["e"] == "trade"
    assert call("PUT", key).json()["code"] == -1125
    fresh = call("POST").json()["listenKey"]
    assert fresh != key
    with c.websocket_connect(f"/ws/{fresh}") as ws:
        assert call("DELETE", fresh).json() == {}
        assert recv(ws)["e"] == "listenKeyExpired"
    assert call("DELETE", fresh).json()["code"] == -1125


# ---------------------------------------------------------------------- frames


class FakeRaw:
    """A raw sender that takes ``room`` frames, then reports the reader too slow."""

    def __init__(self, room: int) -> None:
        self.room = room
        self.sent: list[bytes] = []
        self.closed: tuple[int, str] | None = None

    def send(self, payload: bytes) -> bool:
        self.sent.append(payload)
        return len(self.sent) <= self.room

    def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)


def test_every_message_is_its_own_frame_and_a_slow_reader_is_cut_off() -> None:
    raw = FakeRaw(room=2)
    conn = _Conn(raw, combined=False)
    for n in range(3):
        conn.push(b'{"n":%d}' % n)  # no event loop: written at once, one frame each
    assert raw.sent == [b'{"n":0}', b'{"n":1}', b'{"n":2}']
    assert raw.closed == (1013, "slow consumer")
    conn.push(b'{"n":3}')
    assert len(raw.sent) == 3  # nothing more once cut off
