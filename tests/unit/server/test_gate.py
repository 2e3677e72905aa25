"""The gate: every message counts, refusals never reach the venue or its journal."""

from __future__ import annotations

import json
from typing import Any

import pytest

from makerkit.server._gate import MAX_WAIT_S, Bucket, Gate, Refused
from tests.unit.server.conftest import Frames, Venue


class FrozenClock:
    """Time stands still unless a test moves it: no token comes back by itself."""

    def __init__(self) -> None:
        self.ns = 1_000_000_000

    def __call__(self) -> int:
        return self.ns


@pytest.fixture
def clock(venue: Venue) -> FrozenClock:
    frozen = FrozenClock()
    venue.client.app.state.gate.now_ns = frozen  # type: ignore[attr-defined]
    return frozen


def _limit(venue: Venue, who: str, rate: float, burst: int) -> None:
    body = {"account_id": venue.ids[who], "max_msgs_per_sec": rate, "burst": burst}
    r = venue.client.put("/admin/limits", json=body, headers=venue.h("admin"))
    assert r.status_code == 200, r.text


def _journaled(venue: Venue) -> int:
    return int(venue.client.get("/health").json()["journal_commands"])


def test_bucket_refills_at_its_rate_and_says_how_long_to_wait() -> None:
    bucket = Bucket(rate=10.0, burst=2.0, now_ns=0)
    assert bucket.take(0) == 0.0 and bucket.take(0) == 0.0
    assert bucket.take(0) == pytest.approx(0.1)  # one token takes 1/10 s
    assert bucket.take(50_000_000) == pytest.approx(0.05)  # half a token back
    assert bucket.take(100_000_000) == 0.0


def test_a_rate_near_zero_names_a_finite_wait() -> None:
    for rate in (0.0, 5e-324, 1e-300):
        bucket = Bucket(rate=rate, burst=1.0, now_ns=0)
        assert bucket.take(0) == 0.0
        assert bucket.take(10**18) == MAX_WAIT_S
    assert Bucket(rate=1e-3, burst=1.0, now_ns=0).take(0) == 0.0


def test_an_account_limited_to_almost_nothing_is_told_to_wait_a_day(
    venue: Venue, clock: FrozenClock
) -> None:
    c = venue.client
    _limit(venue, "alice", 5e-324, 1)  # any positive finite rate is a valid limit
    order = {"symbol": "AAA", "side": "buy", "qty": "1", "price": "9.00"}
    assert c.post("/orders", json=order, headers=venue.h("alice")).status_code == 200
    for _ in range(2):  # an order, then a read: both refused with a finite Retry-After
        r = c.post("/orders", json=order, headers=venue.h("alice"))
        assert (r.status_code, r.json()["code"]) == (429, "RATE_LIMIT")
        assert r.headers["Retry-After"] == str(int(MAX_WAIT_S))
        r = c.get("/risk", headers=venue.h("alice"))
        assert r.status_code == 429
    with c.websocket_connect(f"/ws/private?api_key={venue.keys['alice']}") as ws:
        ws.send_text(json.dumps({"op": "cancel", "symbol": "AAA", "order_id": 7, "req_id": 3}))
        frame = Frames(ws).next()
        assert (frame["code"], frame["req_id"]) == ("RATE_LIMIT", 3)
        assert "86400.000 s" in frame["message"]


def test_gate_counts_before_it_looks_at_the_kill_switch() -> None:
    now = [0]
    gate = Gate(lambda: now[0])
    gate.account(1, "", 1.0, 1)
    with pytest.raises(Refused) as info:
        gate.account(1, "", 1.0, 1)
    assert (info.value.code, info.value.status) == ("RATE_LIMIT", 429)
    now[0] = 2_000_000_000
    with pytest.raises(Refused) as info:
        gate.account(1, "manual", 1.0, 1)
    assert (info.value.code, info.value.status) == ("KILL_SWITCH", 403)
    assert gate.refused == 2


def test_rest_messages_over_the_rate_are_refused_and_never_journaled(
    venue: Venue, clock: FrozenClock
) -> None:
    c = venue.client
    _limit(venue, "alice", 5, 5)
    before = _journaled(venue)
    codes = []
    for i in range(20):  # cancels of unknown orders and cancel-alls: they count too
        r = c.delete(f"/orders/{1000 + i}", params={"symbol": "AAA"}, headers=venue.h("alice"))
        codes.append(r.status_code)
        r = c.delete("/orders", headers=venue.h("alice"))
        codes.append(r.status_code)
    assert codes.count(429) == 40 - 5
    assert _journaled(venue) - before <= 5  # only the admitted ones reached the venue
    refused = c.get("/orders", headers=venue.h("alice"))
    assert refused.status_code == 429 and refused.json()["code"] == "RATE_LIMIT"
    assert int(refused.headers["Retry-After"]) >= 1
    assert c.get("/orders", headers=venue.h("bob")).status_code == 200  # others unaffected
    clock.ns += 2_000_000_000  # tokens come back with time
    assert c.get("/orders", headers=venue.h("alice")).status_code == 200


def test_a_killed_account_is_refused_on_websocket_with_its_req_ids(
    venue: Venue, clock: FrozenClock
) -> None:
    c = venue.client
    r = c.post("/admin/kill", json={"account_id": venue.ids["bob"]}, headers=venue.h("admin"))
    assert r.status_code == 200
    before = _journaled(venue)
    with c.websocket_connect(f"/ws/private?api_key={venue.keys['bob']}") as ws:
        frames = Frames(ws)
        for i in range(30):
            ws.send_text(json.dumps({"op": "cancel", "symbol": "AAA", "order_id": 7, "req_id": i}))
        got = [frames.next() for _ in range(30)]
        assert [f["req_id"] for f in got] == list(range(30))
        assert {f["code"] for f in got} == {"KILL_SWITCH"}
        # a subscription is a read: still open to a killed account
        ws.send_text(json.dumps({"op": "subscribe", "channel": "l1", "symbol": "AAA"}))
        assert frames.next()["type"] == "l1"
    assert _journaled(venue) == before


def test_unauthenticated_subscribe_loops_are_rate_limited(venue: Venue, clock: FrozenClock) -> None:
    c = venue.client
    with c.websocket_connect("/ws/md") as ws:
        frames = Frames(ws)
        seen: list[Any] = []
        for i in range(60):
            op = "subscribe" if i % 2 == 0 else "unsubscribe"
            ws.send_text(json.dumps({"op": op, "channel": "l1", "symbol": "AAA"}))
        ws.send_text(json.dumps({"op": "subscribe", "channel": "l1", "symbol": "BBB"}))
        while len([f for f in seen if f.get("code") == "RATE_LIMIT"]) < 11:
            seen.append(frames.next())
        # the connection's burst (50) passed; the rest were refused, with a retry hint
        refused = [f for f in seen if f.get("code") == "RATE_LIMIT"]
        assert "retry in" in refused[0]["message"]
        assert len([f for f in seen if f["type"] == "l1"]) == 25  # one per subscribe admitted


def test_routing_errors_speak_code_and_message(venue: Venue) -> None:
    c = venue.client
    missing = c.get("/no/such/path")
    assert missing.status_code == 404 and missing.json()["code"] == "NOT_FOUND"
    wrong = c.put("/orders", headers=venue.h("alice"))
    assert wrong.status_code == 405 and wrong.json()["code"] == "METHOD_NOT_ALLOWED"
    assert set(wrong.json()) == {"code", "message"}
    garbled = c.post(
        "/orders",
        content=b"{not json",
        headers={**venue.h("alice"), "Content-Type": "application/json"},
    )
    assert garbled.status_code == 422 and set(garbled.json()) == {"code", "message"}


def test_a_binary_frame_is_read_as_json(venue: Venue) -> None:
    with venue.client.websocket_connect(f"/ws/private?api_key={venue.keys['carol']}") as ws:
        order = {"op": "order", "symbol": "AAA", "side": "buy", "qty": "1", "price": "90"}
        frames = Frames(ws)
        ws.send_bytes(json.dumps({**order, "req_id": 3}).encode())
        ack = frames.next()
        while ack["type"] == "order":  # the private stream's own copy may come first
            ack = frames.next()
        assert (ack["type"], ack["req_id"], ack["order"]["status"]) == ("ack", 3, "new")
        ws.send_bytes(b"\xff\xfe not utf-8")
        err = frames.next()
        assert (err["type"], err["code"]) == ("error", "INVALID_REQUEST")


def test_a_body_over_the_limit_is_refused_unread(venue: Venue) -> None:
    c = venue.client
    before = _journaled(venue)
    big = (
        b'{"symbol":"AAA","side":"buy","qty":"1","price":"90","client_order_id":"'
        + (b"x" * 100_000)
        + b'"}'
    )
    r = c.post(
        "/orders", content=big, headers={**venue.h("alice"), "Content-Type": "application/json"}
    )
    assert r.status_code == 413 and r.json()["code"] == "MESSAGE_TOO_LARGE"

    def chunks() -> Any:  # no Content-Length: counted as it arrives
        for _ in range(10):
            yield b" " * 10_000

    r = c.post(
        "/orders",
        content=chunks(),
        headers={**venue.h("alice"), "Content-Type": "application/json"},
    )
    assert r.status_code == 413
    assert _journaled(venue) == before


def test_lists_come_a_page_at_a_time(venue: Venue) -> None:
    c = venue.client
    ids = [venue.order("bob", symbol="AAA", side="buy", qty="1", price="90").json()["order_id"]
           for _ in range(7)]  # fmt: skip
    first = c.get("/orders", params={"limit": 3}, headers=venue.h("bob")).json()
    assert [o["order_id"] for o in first] == ids[:3]
    rest = c.get("/orders", params={"after": first[-1]["order_id"], "limit": 10},
                 headers=venue.h("bob")).json()  # fmt: skip
    assert [o["order_id"] for o in rest] == ids[3:]
    too_many = c.get("/orders", params={"limit": 10_001}, headers=venue.h("bob"))
    assert too_many.status_code == 422 and too_many.json()["code"] == "INVALID_REQUEST"


def test_cancel_all_of_thousands_runs_in_slices_and_only_the_request_counts(
    venue: Venue, clock: FrozenClock
) -> None:
    c = venue.client
    # hand-placed through the service: the gate's rate applies to the client only
    from makerkit.server._routes_orders import CANCEL_SLICE

    n = 2 * CANCEL_SLICE + 7
    for i in range(n):
        r = venue.order("carol", symbol="BBB", side="sell", qty="1", price=f"{200 + i % 50}")
        assert r.json()["status"] == "new"
    _limit(venue, "carol", 1, 1)  # one message left: the cancel-all itself
    before = _journaled(venue)
    out = c.delete("/orders", headers=venue.h("carol"))
    assert out.status_code == 200, out.text
    assert len(out.json()["canceled"]) == n
    assert _journaled(venue) - before == 3  # three slices, three journaled commands
    assert c.delete("/orders", headers=venue.h("carol")).status_code == 429


def test_thousands_of_order_bodies_are_built_a_slice_per_turn(venue: Venue) -> None:
    import asyncio

    from makerkit.server._routes_orders import OUT_SLICE, orders_out

    service = venue.client.app.state.service  # type: ignore[attr-defined]
    ids = [venue.order("bob", symbol="AAA", side="buy", qty="1", price="90").json()["order_id"]
           for _ in range(3)]  # fmt: skip
    updates = [service.venue.order(venue.ids["bob"], ids[i % 3]) for i in range(2 * OUT_SLICE + 1)]

    async def run() -> tuple[list[Any], int]:
        turns = 0

        async def other() -> None:  # another client's work, one step a turn
            nonlocal turns
            while True:
                turns += 1
                await asyncio.sleep(0)

        task = asyncio.create_task(other())
        await asyncio.sleep(0)
        start = turns
        bodies = await orders_out(service, updates)
        task.cancel()
        return bodies, turns - start

    bodies, turns = asyncio.run(run())
    assert turns == 2  # three slices, and the loop ran in between
    assert [b["order_id"] for b in bodies] == [ids[i % 3] for i in range(2 * OUT_SLICE + 1)]
    assert bodies[0] == service.order_out(updates[0])


def test_reads_on_a_quiet_venue_keep_nothing(venue: Venue) -> None:
    service = venue.client.app.state.service  # type: ignore[attr-defined]
    oid = venue.order("bob", symbol="AAA", side="buy", qty="1", price="90").json()["order_id"]
    held = len(service._out_memo)
    for _ in range(20):  # no command in between: nothing would ever empty what they left
        assert len(venue.client.get("/orders", headers=venue.h("bob")).json()) == 1
        assert venue.client.get(f"/orders/{oid}", headers=venue.h("bob")).status_code == 200
    assert len(service._out_memo) == held


def test_the_open_order_cap_and_an_unknown_account(tmp_path: Any, backend: str) -> None:
    from fastapi.testclient import TestClient

    from makerkit.server import create_app
    from tests.unit.server.conftest import make_settings

    settings = make_settings(tmp_path, backend)
    settings.max_open_orders = 3
    with TestClient(create_app(settings)) as client:
        v = Venue(client)
        statuses = [
            v.order("alice", symbol="AAA", side="buy", qty="1", price="90").json() for _ in range(4)
        ]
        assert [o["status"] for o in statuses] == ["new", "new", "new", "rejected"]
        assert statuses[-1]["reason"] == "MAX_OPEN_ORDERS"
        ioc = v.order("alice", symbol="AAA", side="buy", qty="1", price="90", tif="ioc").json()
        assert ioc["reason"] != "MAX_OPEN_ORDERS"  # it can never rest
        kill = client.post("/admin/kill", json={"account_id": 99}, headers=v.h("admin"))
        assert (kill.status_code, kill.json()["code"]) == (404, "UNKNOWN_ACCOUNT")


def test_the_audit_view_is_bounded_and_newest_last(venue: Venue) -> None:
    c = venue.client
    body = {"account_id": venue.ids["alice"], "max_order_qty": 3}
    c.put("/admin/limits", json=body, headers=venue.h("admin"))
    for qty in ("4", "5", "6"):
        venue.order("alice", symbol="AAA", side="buy", qty=qty, price="90")
    got = c.get(
        "/admin/audit",
        params={"account_id": venue.ids["alice"], "limit": 2},
        headers=venue.h("admin"),
    ).json()
    assert [a["value"] for a in got] == ["5", "6"]  # the newest two, oldest first
    refused = c.get("/admin/audit", params={"limit": 0}, headers=venue.h("admin"))
    assert refused.status_code == 422


def test_a_symbol_filter_follows_the_symbol_rule(venue: Venue) -> None:
    c = venue.client
    for bad in ("x" * 33, "A\u202eB", "A B"):
        r = c.get("/orders", params={"symbol": bad}, headers=venue.h("alice"))
        assert (r.status_code, r.json()["code"]) == (422, "INVALID_REQUEST"), bad
    assert c.get("/orders", params={"symbol": "AAA"}, headers=venue.h("alice")).status_code == 200


def test_the_address_table_stays_bounded_whatever_the_addresses() -> None:
    gate = Gate(lambda: 0, addresses_kept=100)
    for i in range(5_000):
        gate.address(f"10.{i // 65536}.{i // 256 % 256}.{i % 256}")
    assert len(gate._addresses) == 100  # the newest ones; an evicted one starts afresh
    assert "10.0.19.135" in gate._addresses  # the last one seen


def test_connections_per_address_are_capped() -> None:
    gate = Gate(lambda: 0, connections_per_address=2)
    gate.open("a")
    gate.open("a")
    with pytest.raises(Refused) as info:
        gate.open("a")
    assert info.value.code == "TOO_MANY_CONNECTIONS"
    gate.open("b")  # another address is not affected
    gate.close("a")
    gate.open("a")  # a closed one frees its place


def test_public_rest_and_key_guessing_count_against_the_address(venue: Venue) -> None:
    c = venue.client
    gate = venue.client.app.state.gate  # type: ignore[attr-defined]
    gate.now_ns = FrozenClock()
    gate.address_rate = (1.0, 3.0)
    gate._addresses.clear()
    codes = [c.get("/orders", headers={"X-API-Key": f"guess-{i}"}).status_code for i in range(3)]
    assert codes == [401, 401, 401]
    assert c.get("/book/AAA").status_code == 429  # the address's 3 are spent
    assert c.get("/instruments").status_code == 429
    assert c.get("/orders", headers={"X-API-Key": "guess-4"}).status_code == 429
    assert c.get("/orders", headers=venue.h("alice")).status_code == 200  # a real key is fine


def test_a_public_read_with_a_key_counts_against_the_account(venue: Venue) -> None:
    c = venue.client
    gate = venue.client.app.state.gate  # type: ignore[attr-defined]
    gate.now_ns = FrozenClock()
    gate.address_rate = (1.0, 1.0)
    gate._addresses.clear()
    for _ in range(5):  # the address would allow one: the key's account (no limit) decides
        assert c.get("/book/AAA", headers=venue.h("bob")).status_code == 200
    assert c.get("/book/AAA").status_code == 200
    assert c.get("/book/AAA").status_code == 429
