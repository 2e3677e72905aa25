"""Strict input over REST and WebSocket: each rule refused with 422 / INVALID_REQUEST, never a 500.

Issue 14 items 3 (field lengths), 9, 10, 11 and 12's input rules. The REST
cases run through the app; the WebSocket section at the end runs through a
session end to end (the decoder itself is tested in tests/unit/wire).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.unit.server.conftest import Frames, Venue

FULLWIDTH_10 = "\uff11\uff10"
ARABIC_INDIC_10 = "\u0661\u0660"
RLO = "\u202e"  # right-to-left override


def post_raw(venue: Venue, path: str, body: str, who: str = "alice", method: str = "POST") -> Any:
    return venue.client.request(
        method,
        path,
        content=body.encode(),
        headers={**venue.h(who), "content-type": "application/json"},
    )


def invalid(response: Any, field: str = "") -> str:
    """Assert a 422 INVALID_REQUEST naming ``field``; return the message."""
    assert response.status_code == 422, (response.status_code, response.text)
    body = response.json()
    assert set(body) == {"code", "message"} and body["code"] == "INVALID_REQUEST", body
    assert f"`body.{field}" in body["message"], body["message"]
    return str(body["message"])


def no_open_orders(venue: Venue) -> bool:
    return bool(venue.client.get("/book/AAA").json()["bids"] == [])


# ---------------------------------------------------------------------- REST: orders


@pytest.mark.parametrize("value", [FULLWIDTH_10, ARABIC_INDIC_10, "\u0967", "10\n", "1e1"])
def test_rest_decimals_are_ascii_digits(venue: Venue, value: str) -> None:
    """Fullwidth and Arabic-Indic digits were read as 10 (Python's Decimal takes them)."""
    for field in ("qty", "price"):
        body = {"symbol": "AAA", "side": "buy", "qty": "1", "price": "99", field: value}
        invalid(venue.order("alice", **body), field)
    oid = venue.order("alice", symbol="AAA", side="buy", qty="1", price="90").json()["order_id"]
    for field in ("qty", "price"):
        response = venue.client.patch(
            f"/orders/{oid}", json={field: value}, headers=venue.h("alice")
        )
        invalid(response, field)
    assert venue.client.get(f"/orders/{oid}", headers=venue.h("alice")).json()["qty"] == "1"


@pytest.mark.parametrize(
    "value", ["a\u0000b", f"a{RLO}b", "a\u2066b", "a\tb", "a\u007fb", "a b", "caf\u00e9", "x" * 65]
)
def test_rest_client_order_ids_are_printable_ascii(venue: Venue, value: str) -> None:
    body = {"symbol": "AAA", "side": "buy", "qty": "1", "price": "99", "client_order_id": value}
    message = invalid(venue.order("alice", **body), "client_order_id")
    assert message.isascii()
    assert no_open_orders(venue)


@pytest.mark.parametrize("value", ["x" * 30_000, "x" * 33, "A A", "\uff21", f"A{RLO}"])
def test_rest_symbols_are_short_printable_ascii(venue: Venue, value: str) -> None:
    invalid(venue.order("alice", symbol=value, side="buy", qty="1", price="99"), "symbol")
    response = venue.client.put(
        "/admin/limits", json={"symbol": value, "max_order_qty": 1}, headers=venue.h("admin")
    )
    invalid(response, "symbol")


def test_rest_duplicate_keys_are_refused(venue: Venue) -> None:
    """Python's json keeps the last of two equal keys: qty 1 then 100 was an order of 100."""
    body = '{"symbol": "AAA", "side": "buy", "qty": "1", "price": "99", "qty": "100"}'
    message = invalid(post_raw(venue, "/orders", body), "qty")
    assert "more than once" in message
    escaped = '{"symbol": "AAA", "side": "buy", "qty": "1", "price": "99", "q\\u0074y": "100"}'
    invalid(post_raw(venue, "/orders", escaped), "qty")
    assert no_open_orders(venue)
    limits = '{"account_id": 2, "max_order_qty": 1, "max_order_qty": 1000000}'
    invalid(post_raw(venue, "/admin/limits", limits, who="admin", method="PUT"), "max_order_qty")
    kill = '{"account_id": 2, "account_id": null}'
    invalid(post_raw(venue, "/admin/kill", kill, who="admin"), "account_id")
    assert not venue.client.get("/risk", headers=venue.h("alice")).json()["venue_killed"]
    # a body without repeats still goes through the same route
    ok = '{"symbol": "AAA", "side": "buy", "qty": "1", "price": "99", "client_order_id": "a:b"}'
    assert post_raw(venue, "/orders", ok).json()["status"] == "new"


# ---------------------------------------------------------------------- REST: integers, limits


@pytest.mark.parametrize("value", ["false", "true", "1.0", "1e400", '"2"', str(2**63)])
def test_rest_account_ids_are_strict_integers(venue: Venue, value: str) -> None:
    """JSON false was account 0 (the admin's) to pydantic's lax mode."""
    for path in ("/admin/kill", "/admin/reset"):
        invalid(post_raw(venue, path, f'{{"account_id": {value}}}', who="admin"), "account_id")
    invalid(
        post_raw(venue, "/admin/limits", f'{{"account_id": {value}}}', who="admin", method="PUT"),
        "account_id",
    )
    risk = venue.client.get("/risk", headers=venue.h("alice")).json()
    assert not risk["killed"] and not risk["venue_killed"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("burst", "1e400"),  # was accepted, then every order of the account answered 500
        ("burst", "1" + "0" * 400),
        ("burst", "0"),
        ("burst", "1000001"),
        ("burst", "2.5"),
        ("burst", "true"),
        ("max_msgs_per_sec", "1e400"),  # parsed as inf: OverflowError on the next order
        ("max_msgs_per_sec", "NaN"),
        ("max_msgs_per_sec", "Infinity"),
        ("max_msgs_per_sec", "0"),
        ("max_msgs_per_sec", "1000001"),
        ("max_msgs_per_sec", "false"),
        ("max_order_qty", str(2**62 + 1)),
        ("max_order_qty", "-1"),
        ("max_order_qty", "1.5"),
        ("max_notional", "false"),
        ("collar_ticks", '"5"'),
        ("duplicate_window_ns", "1e400"),
        ("daily_loss_limit", "true"),
    ],
)
def test_rest_limits_are_bounded_and_finite(venue: Venue, field: str, value: str) -> None:
    alice = venue.ids["alice"]
    body = f'{{"account_id": {alice}, "{field}": {value}}}'
    response = post_raw(venue, "/admin/limits", body, who="admin", method="PUT")
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "INVALID_REQUEST"
    assert field in response.json()["message"]
    # nothing was installed: the account still trades (it answered 500 before)
    order = venue.order("alice", symbol="AAA", side="buy", qty="1", price="90")
    assert order.status_code == 200 and order.json()["status"] == "new"


def test_rest_limits_at_their_bounds_are_accepted(venue: Venue) -> None:
    alice = venue.ids["alice"]
    body = {
        "account_id": alice,
        "max_msgs_per_sec": 1e6,
        "burst": 1_000_000,
        "max_order_qty": 2**62,
        "duplicate_window_ns": 0,
    }
    response = venue.client.put("/admin/limits", json=body, headers=venue.h("admin"))
    assert response.status_code == 200, response.text
    assert response.json()["limits"]["burst"] == 1_000_000
    order = venue.order("alice", symbol="AAA", side="buy", qty="1", price="90")
    assert order.json()["status"] == "new"
    rate = {"account_id": alice, "max_msgs_per_sec": 2.5, "burst": 5}
    assert venue.client.put("/admin/limits", json=rate, headers=venue.h("admin")).status_code == 200


# ---------------------------------------------------------------------- REST: free text


@pytest.mark.parametrize("value", [f"evil{RLO}gnp.exe", "a\u0000", "line\nbreak", "a\u2028b", ""])
def test_rest_names_have_no_control_or_bidi_characters(venue: Venue, value: str) -> None:
    response = venue.client.post("/admin/accounts", json={"name": value}, headers=venue.h("admin"))
    invalid(response, "name")
    names = [
        a["name"] for a in venue.client.get("/admin/accounts", headers=venue.h("admin")).json()
    ]
    assert value not in names


@pytest.mark.parametrize("value", [f"risk{RLO}", "a\u0000", "two\nlines", "x" * 201])
def test_rest_kill_reasons_have_no_control_or_bidi_characters(venue: Venue, value: str) -> None:
    alice = venue.ids["alice"]
    response = venue.client.post(
        "/admin/kill", json={"account_id": alice, "reason": value}, headers=venue.h("admin")
    )
    invalid(response, "reason")
    assert not venue.client.get("/risk", headers=venue.h("alice")).json()["killed"]


def test_rest_ordinary_names_and_reasons_still_pass(venue: Venue) -> None:
    made = venue.client.post(
        "/admin/accounts", json={"name": "Zoë's desk #2"}, headers=venue.h("admin")
    )
    assert made.status_code == 200 and made.json()["name"] == "Zoë's desk #2"
    killed = venue.client.post(
        "/admin/kill",
        json={"account_id": venue.ids["bob"], "reason": "fat finger: 10x size"},
        headers=venue.h("admin"),
    )
    assert killed.status_code == 200


def test_the_openapi_schema_documents_the_rules(venue: Venue) -> None:
    schemas = venue.client.get("/openapi.json").json()["components"]["schemas"]
    order = schemas["OrderRequest"]["properties"]
    assert order["qty"]["pattern"] == r"^-?[0-9]+(\.[0-9]+)?$"
    assert order["symbol"]["maxLength"] == 32 and order["symbol"]["pattern"] == "^[!-~]+$"
    burst = schemas["LimitsRequest"]["properties"]["burst"]["anyOf"][0]
    assert (burst["minimum"], burst["maximum"]) == (1, 1_000_000)


# ---------------------------------------------------------------------- WebSocket, end to end
#
# The session decodes with makerkit.wire._ws.parse_ws_request.


def private(venue: Venue, who: str = "alice") -> Any:
    return venue.client.websocket_connect(f"/ws/private?api_key={venue.keys[who]}")


def order_frame(**fields: Any) -> str:
    body = {"op": "order", "symbol": "AAA", "side": "buy", "qty": "1", "price": "90.00"}
    return json.dumps({**body, **fields})


def next_of(frames: Frames, *kinds: str) -> dict[str, Any]:
    """The next frame of one of ``kinds``; an ack or error (every request gets one) ends it."""
    while True:
        frame = dict(frames.next())
        if frame["type"] in kinds:
            return frame
        assert frame["type"] not in ("ack", "error"), f"wanted {kinds}, got {frame}"


def test_ws_invalid_request_frames_carry_the_clients_req_id(venue: Venue) -> None:
    with private(venue) as ws:
        frames = Frames(ws)
        ws.send_text(order_frame(qty=FULLWIDTH_10, req_id=42))
        err = next_of(frames, "error")
        assert (err["code"], err["req_id"]) == ("INVALID_REQUEST", 42)
        assert err["message"].startswith("invalid `qty`: ")
        ws.send_text(json.dumps({"op": "cancel", "order_id": False, "req_id": "c-7"}))
        err = next_of(frames, "error")
        assert (err["code"], err["req_id"]) == ("INVALID_REQUEST", "c-7")
        assert "order_id" in err["message"]
    assert no_open_orders(venue)


def test_ws_duplicate_keys_are_refused(venue: Venue) -> None:
    raw = order_frame(req_id=7).replace('"qty": "1"', '"qty": "1", "qty": "100"')
    with private(venue) as ws:
        frames = Frames(ws)
        ws.send_text(raw)
        err = next_of(frames, "error")
        assert (err["code"], err["req_id"]) == ("INVALID_REQUEST", 7)
        assert "more than once" in err["message"]
    assert no_open_orders(venue)


def test_ws_binary_frames_are_read_as_utf8_json(venue: Venue) -> None:
    """A binary frame raised KeyError: 'text' and dropped the connection (item 9)."""
    with private(venue) as ws:
        frames = Frames(ws)
        ws.send_bytes(order_frame(req_id=1).encode())
        ack = next_of(frames, "ack")
        assert ack["req_id"] == 1 and ack["order"]["status"] == "new"
        ws.send_bytes(b"\xff\xfe not utf-8")
        assert next_of(frames, "error")["code"] == "INVALID_REQUEST"
        ws.send_text(order_frame(req_id=2, price="89.00"))
        assert next_of(frames, "ack")["req_id"] == 2  # the session lives on
    with venue.client.websocket_connect("/ws/md") as md:
        frames = Frames(md)
        md.send_bytes(json.dumps({"op": "subscribe", "channel": "l1", "symbol": "AAA"}).encode())
        assert next_of(frames, "l1")["bid"] == "90.00"


def test_ws_thirty_kilobyte_fields_on_cancel_are_refused(venue: Venue) -> None:
    """40 such cancels filled a 2 MB journal disk (item 1, 3)."""
    before = venue.client.get("/health").json()["journal_commands"]
    with private(venue) as ws:
        frames = Frames(ws)
        for field in ("symbol", "client_order_id"):
            ws.send_text(json.dumps({"op": "cancel", "symbol": "AAA", field: "x" * 30_000}))
            err = next_of(frames, "error")
            assert err["code"] == "INVALID_REQUEST" and field in err["message"]
            assert len(err["message"]) < 300
    assert venue.client.get("/health").json()["journal_commands"] == before


@pytest.mark.parametrize(
    "fields",
    [
        {"qty": ARABIC_INDIC_10},
        {"client_order_id": "a\u0000b"},
        {"client_order_id": f"a{RLO}b"},
        {"symbol": "A" * 33},
    ],
)
def test_ws_orders_follow_the_rest_rules(venue: Venue, fields: dict[str, Any]) -> None:
    with private(venue) as ws:
        frames = Frames(ws)
        ws.send_text(order_frame(**fields))
        err = next_of(frames, "error")
        assert err["code"] == "INVALID_REQUEST" and next(iter(fields)) in err["message"]
    assert no_open_orders(venue)


@pytest.mark.parametrize(
    ("qty", "code"), [("-1", "NON_POSITIVE_QTY"), ("0", "NON_POSITIVE_QTY"), ("1.5", "OFF_LOT")]
)
def test_a_refused_quantity_is_named_by_its_wire_field(venue: Venue, qty: str, code: str) -> None:
    r = venue.order("alice", symbol="AAA", side="buy", qty=qty, price="99")
    assert r.status_code == 422 and r.json()["code"] == code
    assert "invalid `qty`" in r.json()["message"]
    with private(venue) as ws:
        frames = Frames(ws)
        ws.send_text(order_frame(qty=qty))
        err = next_of(frames, "error")
        assert err["code"] == code and "invalid `qty`" in err["message"]
        ws.send_text(json.dumps({"op": "modify", "symbol": "AAA", "order_id": 1, "qty": qty}))
        err = next_of(frames, "error")
        assert err["code"] == code and "invalid `qty`" in err["message"]
    assert no_open_orders(venue)


def test_ws_book_snapshot_depth_is_capped(venue: Venue) -> None:
    for i in range(5):
        venue.order("alice", symbol="AAA", side="buy", qty="1", price=f"{90 + i}")
    with venue.client.websocket_connect("/ws/md") as ws:
        frames = Frames(ws)
        ws.send_text(
            json.dumps({"op": "subscribe", "channel": "book", "symbol": "AAA", "depth": 2})
        )
        snapshot = next_of(frames, "snapshot")
        assert [level[0] for level in snapshot["bids"]] == ["94.00", "93.00"]
        ws.send_text(
            json.dumps({"op": "subscribe", "channel": "book", "symbol": "AAA", "depth": 0})
        )
        assert next_of(frames, "error")["code"] == "INVALID_REQUEST"
