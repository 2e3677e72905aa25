"""WebSocket API: book snapshot + deltas mirror the venue; private stream and order entry."""

from __future__ import annotations

import json
import random
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import pytest
from starlette.websockets import WebSocketDisconnect

from makerkit.core import Instrument, OrderStatus, RejectReason, Side
from makerkit.server import VenueService
from makerkit.venue import OrderUpdate
from tests.unit.server.conftest import Frames, Venue


def apply(mirror: dict[tuple[str, str], str], frame: dict[str, object]) -> None:
    if frame["type"] == "snapshot":
        mirror.clear()
        for side, key in (("bid", "bids"), ("ask", "asks")):
            for price, size, _ in frame[key]:  # type: ignore[attr-defined]
                mirror[(side, price)] = size
    elif frame["type"] == "delta":
        key = (str(frame["side"]), str(frame["price"]))
        if Decimal(str(frame["size"])) == 0:
            mirror.pop(key, None)
        else:
            mirror[key] = str(frame["size"])


def test_book_stream_mirrors_the_venue_after_random_orders(venue: Venue) -> None:
    rng = random.Random(5)
    c = venue.client
    with c.websocket_connect("/ws/md") as ws:
        ws_frames = Frames(ws)
        ws.send_text(json.dumps({"op": "subscribe", "channel": "book", "symbol": "AAA"}))
        snapshot = ws_frames.next()
        assert snapshot["type"] == "snapshot" and snapshot["seq"] == 0
        for i in range(600):
            who = rng.choice(["alice", "bob", "carol"])
            if i % 7 == 6:
                orders = c.get("/orders", headers=venue.h(who)).json()
                if orders:
                    c.delete(f"/orders/{rng.choice(orders)['order_id']}", headers=venue.h(who))
                continue
            side = rng.choice(["buy", "sell"])
            price = 100 + rng.randint(-10, 10) / 100
            venue.order(
                who, symbol="AAA", side=side, qty=str(rng.randint(1, 9)), price=f"{price:.2f}"
            )
        final_seq = c.get("/book/AAA").json()["seq"]
        mirror: dict[tuple[str, str], str] = {}
        apply(mirror, snapshot)
        last = snapshot["seq"]
        trades = 0
        while last < final_seq:
            frame = ws_frames.next()
            assert frame["seq"] == last + 1, "gap in the book channel"
            last = frame["seq"]
            trades += frame["type"] == "trade"
            apply(mirror, frame)
    book = c.get("/book/AAA", params={"depth": 10_000}).json()
    want = {("bid", lv["price"]): lv["size"] for lv in book["bids"]} | {
        ("ask", lv["price"]): lv["size"] for lv in book["asks"]
    }
    assert mirror == want
    assert trades > 10


def test_private_order_entry_acks_and_sequenced_events(venue: Venue) -> None:
    c = venue.client
    with c.websocket_connect(f"/ws/private?api_key={venue.keys['alice']}") as ws:
        ws_frames = Frames(ws)
        ws.send_text(
            json.dumps(
                {
                    "op": "order",
                    "req_id": 1,
                    "symbol": "AAA",
                    "side": "sell",
                    "qty": "3",
                    "price": "100.10",
                }
            )
        )
        update = ws_frames.next()
        ack = ws_frames.next()
        assert update["type"] == "order" and update["status"] == "new"
        assert ack == {
            "type": "ack",
            "req_id": 1,
            "order": {k: v for k, v in update.items() if k != "type"},
        }
        venue.order("bob", symbol="AAA", side="buy", qty="2", price="100.10")
        fill = ws_frames.next()
        order = ws_frames.next()
        assert (fill["type"], fill["qty"], fill["liquidity"]) == ("fill", "2", "maker")
        assert (order["type"], order["remaining"]) == ("order", "1")
        assert [update["seq"], fill["seq"], order["seq"]] == [1, 2, 3]
        ws.send_text(
            json.dumps(
                {
                    "op": "modify",
                    "req_id": "m",
                    "symbol": "AAA",
                    "order_id": ack["order"]["order_id"],
                    "price": "100.20",
                }
            )
        )
        assert ws_frames.next()["price"] == "100.20"
        assert ws_frames.next()["req_id"] == "m"
        ws.send_text(json.dumps({"op": "cancel", "req_id": 9, "all": True}))
        assert ws_frames.next()["status"] == "canceled"
        assert [o["status"] for o in ws_frames.next()["canceled"]] == ["canceled"]


def test_bad_frames_get_error_frames_and_the_session_survives(venue: Venue) -> None:
    c = venue.client
    with c.websocket_connect(f"/ws/private?api_key={venue.keys['alice']}") as ws:
        ws_frames = Frames(ws)
        ws.send_text("{not json")
        assert ws_frames.next()["code"] == "INVALID_REQUEST"
        ws.send_text(
            json.dumps(
                {
                    "op": "order",
                    "symbol": "AAA",
                    "side": "buy",
                    "qty": "1",
                    "price": "99.999",
                    "req_id": 4,
                }
            )
        )
        err = ws_frames.next()
        assert (err["type"], err["code"], err["req_id"]) == ("error", "OFF_TICK", 4)
        ws.send_text(json.dumps({"op": "subscribe", "channel": "book", "symbol": "NOPE"}))
        assert ws_frames.next()["code"] == "UNKNOWN_SYMBOL"
        ws.send_text("x" * 70_000)
        assert ws_frames.next()["code"] == "MESSAGE_TOO_LARGE"
        ws.send_text(
            json.dumps(
                {
                    "op": "order",
                    "symbol": "AAA",
                    "side": "buy",
                    "qty": "1",
                    "price": "99",
                    "req_id": 5,
                }
            )
        )
        assert ws_frames.next()["status"] == "new"
        assert ws_frames.next()["req_id"] == 5
    with c.websocket_connect("/ws/md") as md:
        md_frames = Frames(md)
        md.send_text(
            json.dumps({"op": "order", "symbol": "AAA", "side": "buy", "qty": "1", "price": "99"})
        )
        assert md_frames.next()["code"] == "NOT_AUTHORIZED"


def test_a_cancel_names_its_order_by_either_id_with_or_without_the_symbol(venue: Venue) -> None:
    c = venue.client
    with c.websocket_connect(f"/ws/private?api_key={venue.keys['alice']}") as ws:
        frames = Frames(ws)

        def send(**body: Any) -> None:
            ws.send_text(json.dumps(body))

        for n in range(2):
            send(op="order", symbol="AAA", side="buy", qty="1", price="99", client_order_id=f"c{n}")
            assert frames.next()["status"] == "new"
            frames.next()  # its ack
        journaled = int(c.get("/health").json()["journal_commands"])
        # neither id: refused before the venue, nothing journaled, no order event
        send(op="cancel", req_id=1)
        send(op="cancel", symbol="AAA", req_id=2)
        send(op="modify", symbol="AAA", price="98", req_id=3)
        for req_id in (1, 2, 3):
            err = frames.next()
            assert (err["type"], err["code"], err["req_id"]) == ("error", "INVALID_REQUEST", req_id)
        # an unknown client id without a symbol: told like an unknown order id
        send(op="cancel", client_order_id="nope", req_id=4)
        send(op="cancel", order_id=424242, req_id=5)
        for req_id in (4, 5):
            err = frames.next()
            assert (err["type"], err["code"], err["req_id"]) == ("error", "UNKNOWN_ORDER", req_id)
        assert int(c.get("/health").json()["journal_commands"]) == journaled
        # a known client id finds its order with or without the symbol
        send(op="cancel", client_order_id="c0", req_id=6)
        send(op="cancel", client_order_id="c1", symbol="AAA", req_id=7)
        for req_id, cid in ((6, "c0"), (7, "c1")):
            update, ack = frames.next(), frames.next()
            assert (update["status"], update["client_order_id"]) == ("canceled", cid)
            assert ack["req_id"] == req_id
        assert c.get("/orders", headers=venue.h("alice")).json() == []


def test_a_cancel_of_a_forgotten_order_is_answered_alike_by_either_id(
    tmp_path: Path, backend: str
) -> None:
    from fastapi.testclient import TestClient

    from makerkit.server import create_app
    from tests.unit.server.conftest import make_settings

    settings = make_settings(tmp_path, backend)
    settings.history_limit = 2  # finished orders leave memory after a few more
    with TestClient(create_app(settings)) as c:
        v = Venue(c)
        first = v.order(
            "alice", symbol="AAA", side="buy", qty="1", price="90", client_order_id="c0"
        )
        oid = first.json()["order_id"]
        assert c.delete(f"/orders/{oid}", headers=v.h("alice")).status_code == 200
        for n in range(1, 8):  # more finished orders than the history keeps
            r = v.order(
                "alice", symbol="AAA", side="buy", qty="1", price="90", client_order_id=f"c{n}"
            )
            c.delete(f"/orders/{r.json()['order_id']}", headers=v.h("alice"))
        service = c.app.state.service  # type: ignore[attr-defined]
        assert service.venue.order(v.ids["alice"], oid) is None  # forgotten: in the journal only
        with c.websocket_connect(f"/ws/private?api_key={v.keys['alice']}") as ws:
            frames = Frames(ws)
            answers = []
            for req_id, target in ((1, {"order_id": oid}), (2, {"client_order_id": "c0"})):
                ws.send_text(json.dumps({"op": "cancel", "req_id": req_id, **target}))
                update = frames.next()
                assert update["type"] == "order", update  # not an error frame with no event
                assert frames.next()["req_id"] == req_id
                answers.append((update["status"], update["reason"]))
        assert answers[0] == answers[1] == ("rejected", "UNKNOWN_ORDER")


def test_private_stream_needs_a_key(venue: Venue) -> None:
    with (
        pytest.raises(WebSocketDisconnect) as info,
        venue.client.websocket_connect("/ws/private?api_key=wrong") as ws,
    ):
        ws.receive_json()
    assert info.value.code == 4401


def test_cancel_on_disconnect_is_opt_in(venue: Venue) -> None:
    c = venue.client
    for flag, left in (("false", 1), ("true", 0)):
        c.delete("/orders", headers=venue.h("carol"))
        with c.websocket_connect(
            f"/ws/private?api_key={venue.keys['carol']}&cancel_on_disconnect={flag}"
        ) as ws:
            ws_frames = Frames(ws)
            ws.send_text(
                json.dumps(
                    {
                        "op": "order",
                        "symbol": "BBB",
                        "side": "buy",
                        "qty": "1",
                        "price": "5",
                        "req_id": 1,
                    }
                )
            )
            ws_frames.next()
            ws_frames.next()
        assert len(c.get("/orders", headers=venue.h("carol")).json()) == left


def test_l1_and_trades_channels(venue: Venue) -> None:
    with venue.client.websocket_connect("/ws/md") as ws:
        ws_frames = Frames(ws)
        ws.send_text(json.dumps({"op": "subscribe", "channel": "l1", "symbol": "BBB"}))
        ws.send_text(json.dumps({"op": "subscribe", "channel": "trades", "symbol": "BBB"}))
        assert ws_frames.next()["bid"] is None
        venue.order("alice", symbol="BBB", side="buy", qty="4", price="10")
        assert ws_frames.next() | {"seq": 0} == {
            "type": "l1",
            "symbol": "BBB",
            "seq": 0,
            "bid": "10.00",
            "bid_size": "4",
            "ask": None,
            "ask_size": "0",
        }
        venue.order("bob", symbol="BBB", side="sell", qty="1", price="10")
        trade = ws_frames.next()
        assert (trade["type"], trade["price"], trade["aggressor"]) == ("trade", "10.00", "sell")
        assert ws_frames.next()["bid_size"] == "3"


def test_pipelined_orders_are_acked_in_order_after_commit(venue: Venue) -> None:
    c = venue.client
    with c.websocket_connect(f"/ws/private?api_key={venue.keys['bob']}") as ws:
        ws_frames = Frames(ws)
        for i in range(50):  # sent without waiting for any ack
            ws.send_text(
                json.dumps(
                    {
                        "op": "order",
                        "req_id": i,
                        "symbol": "BBB",
                        "side": "buy",
                        "qty": "1",
                        "price": f"{1 + i / 100:.2f}",
                    }
                )
            )
        acks = []
        while len(acks) < 50:
            frame = ws_frames.next()
            if frame["type"] == "ack":
                acks.append(frame)
        assert [a["req_id"] for a in acks] == list(range(50))
        assert all(a["order"]["status"] == "new" for a in acks)
    # every acknowledged order is in the journal already
    assert c.get("/health").json()["journal_commands"] >= 50 + 4


def _update(**changes: Any) -> OrderUpdate:
    fields: dict[str, Any] = {
        "account": 1,
        "seq": 7,
        "symbol": "AAA",
        "order_id": 42,
        "client_order_id": None,
        "side": Side.BUY,
        "price": 10_025,
        "qty": 3,
        "filled": 0,
        "remaining": 3,
        "status": OrderStatus.NEW,
        "reason": RejectReason.NONE,
        "ts_event": 1_764_000_000_123_456_789,
    }
    return OrderUpdate(**(fields | changes))


@pytest.mark.parametrize(
    "update",
    [
        _update(),
        _update(price=None, client_order_id="c-1"),
        _update(symbol="BBB", price=7, qty=1_000, filled=250, remaining=750, side=Side.SELL),
        _update(symbol="NOT-LISTED", price=-3, qty=0, status=OrderStatus.REJECTED),
        _update(client_order_id='q"u\\o\u00e9\u202e\x01', order_id=2**63 - 1, seq=0),
        *(_update(status=s) for s in OrderStatus),
        *(_update(reason=r, status=OrderStatus.REJECTED) for r in RejectReason),
    ],
)
def test_the_acks_order_body_is_the_rest_body_encoded(tmp_path: Path, update: OrderUpdate) -> None:
    svc = VenueService(
        [Instrument(symbol="AAA"), Instrument(symbol="BBB", tick_size="0.5", lot_size="0.001")],
        journal_path=str(tmp_path / "v.db"),
    )
    try:
        assert svc.order_json(update) == msgspec.json.encode(svc.order_out(update))
    finally:
        svc.jv.close()


def test_order_bodies_stay_right_past_the_remembered_prices(tmp_path: Path) -> None:
    svc = VenueService([Instrument(symbol="AAA")], journal_path=str(tmp_path / "v.db"))
    try:
        for price in range(1, 3 * 4096, 7):  # the memo of decimal strings fills and restarts
            update = _update(price=price, qty=price % 5 + 1, remaining=price % 5 + 1)
            assert svc.order_json(update) == msgspec.json.encode(svc.order_out(update))
    finally:
        svc.jv.close()
