"""REST API through the real app: orders, book, fills, positions, risk, admin, errors, auth."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from makerkit.server import create_app
from tests.unit.server.conftest import ADMIN, Venue, make_settings


def test_order_lifecycle_and_views(venue: Venue) -> None:
    c = venue.client
    ask = venue.order(
        "alice", symbol="AAA", side="sell", qty="5", price="100.05", client_order_id="a1"
    )
    assert ask.status_code == 200, ask.text
    body = ask.json()
    assert (body["status"], body["reason"], body["price"], body["remaining"]) == (
        "new",
        "NONE",
        "100.05",
        "5",
    )
    hit = venue.order("bob", symbol="AAA", side="buy", qty="2", type="market").json()
    assert (hit["status"], hit["filled"]) == ("expired", "2") or (hit["status"], hit["filled"]) == (
        "filled",
        "2",
    )
    book = c.get("/book/AAA").json()
    assert book["asks"] == [{"price": "100.05", "size": "3", "count": 1}]
    assert book["bids"] == []
    fills = c.get("/fills", headers=venue.h("alice")).json()
    assert [(f["liquidity"], f["qty"], f["price"]) for f in fills] == [("maker", "2", "100.05")]
    assert fills[0]["fee"] == "-0.010005"  # -50 ppm of 200.10
    pos = c.get("/positions", headers=venue.h("bob")).json()
    assert pos[0]["qty"] == "2" and pos[0]["fees"] == "0.04002"
    oid = body["order_id"]
    assert c.get(f"/orders/{oid}", headers=venue.h("alice")).json()["status"] == "partially_filled"
    mod = c.patch(f"/orders/{oid}", json={"qty": "1"}, headers=venue.h("alice")).json()
    assert mod["remaining"] == "1"
    assert [o["order_id"] for o in c.get("/orders", headers=venue.h("alice")).json()] == [oid]
    done = c.delete(f"/orders/{oid}", headers=venue.h("alice"))
    assert done.status_code == 200 and done.json()["status"] == "canceled"
    assert c.delete(f"/orders/{oid}", headers=venue.h("alice")).json()["code"] == "UNKNOWN_ORDER"
    assert c.get("/instruments").json()[0] == {
        "symbol": "AAA",
        "tick_size": "0.01",
        "lot_size": "1",
        "base_asset": "AAA",
        "quote_asset": "USD",
        "min_qty": "1",
        "min_notional": "0",
    }
    assert c.get("/health").json()["status"] == "ok"


def test_idempotent_client_order_id(venue: Venue) -> None:
    first = venue.order(
        "alice", symbol="AAA", side="buy", qty="1", price="99", client_order_id="same"
    ).json()
    again = venue.order(
        "alice", symbol="AAA", side="buy", qty="7", price="98", client_order_id="same"
    ).json()
    assert again == first
    assert len(venue.client.get("/orders", headers=venue.h("alice")).json()) == 1


def test_auth_and_isolation(venue: Venue) -> None:
    c = venue.client
    oid = venue.order("alice", symbol="AAA", side="buy", qty="1", price="99").json()["order_id"]
    assert c.get("/orders").status_code == 401
    assert c.get("/orders", headers={"X-API-Key": "wrong"}).json()["code"] == "NOT_AUTHORIZED"
    for response in (
        c.get(f"/orders/{oid}", headers=venue.h("bob")),
        c.delete(f"/orders/{oid}", headers=venue.h("bob")),
        c.patch(f"/orders/{oid}", json={"qty": "2"}, headers=venue.h("bob")),
    ):
        assert response.status_code == 404 and response.json()["code"] == "UNKNOWN_ORDER"
    assert c.get("/orders", headers=venue.h("bob")).json() == []
    assert c.post("/admin/kill", json={}, headers=venue.h("alice")).status_code == 403
    assert c.get("/admin/accounts", headers=venue.h("admin")).status_code == 200


def test_bad_input_is_a_clear_error_and_changes_nothing(venue: Venue) -> None:
    c = venue.client
    cases = [
        ({"symbol": "AAA", "side": "buy", "qty": "1", "price": "99.001"}, 422, "OFF_TICK"),
        ({"symbol": "AAA", "side": "buy", "qty": "0", "price": "99"}, 422, "NON_POSITIVE_QTY"),
        ({"symbol": "AAA", "side": "buy", "qty": "1.5", "price": "99"}, 422, "OFF_LOT"),
        ({"symbol": "AAA", "side": "buy", "qty": "1", "price": "-1"}, 422, "NON_POSITIVE_PRICE"),
        ({"symbol": "ZZZ", "side": "buy", "qty": "1", "price": "99"}, 404, "UNKNOWN_SYMBOL"),
        ({"symbol": "AAA", "side": "up", "qty": "1", "price": "99"}, 422, "INVALID_REQUEST"),
        (
            {"symbol": "AAA", "side": "buy", "qty": "1", "price": "99", "extra": 1},
            422,
            "INVALID_REQUEST",
        ),
        ({"symbol": "AAA", "side": "buy", "qty": 1, "price": "99"}, 422, "INVALID_REQUEST"),
        ({"symbol": "AAA", "side": "buy", "qty": "1"}, 422, "NON_POSITIVE_PRICE"),
    ]
    for body, status, code in cases:
        response = c.post("/orders", json=body, headers=venue.h("alice"))
        assert (response.status_code, response.json()["code"]) == (status, code), body
        assert response.json()["message"]
    raw = c.post(
        "/orders",
        content=b"{not json",
        headers={**venue.h("alice"), "content-type": "application/json"},
    )
    assert raw.status_code == 422 and raw.json()["code"] == "INVALID_REQUEST"
    assert c.get("/book/AAA").json()["bids"] == []
    assert c.get("/book/NOPE").status_code == 404


def test_risk_limits_kill_switch_and_audit(venue: Venue) -> None:
    c = venue.client
    alice = venue.ids["alice"]
    r = c.put(
        "/admin/limits", json={"account_id": alice, "max_order_qty": 3}, headers=venue.h("admin")
    )
    assert r.status_code == 200 and r.json()["limits"]["max_order_qty"] == 3
    big = venue.order("alice", symbol="AAA", side="buy", qty="4", price="99").json()
    assert (big["status"], big["reason"]) == ("rejected", "MAX_ORDER_QTY")
    assert (
        venue.order("alice", symbol="AAA", side="buy", qty="3", price="99").json()["status"]
        == "new"
    )
    killed = c.post(
        "/admin/kill", json={"account_id": alice, "reason": "test"}, headers=venue.h("admin")
    ).json()
    assert [o["status"] for o in killed["canceled"]] == ["canceled"]
    risk = c.get("/risk", headers=venue.h("alice")).json()
    assert risk["killed"] and risk["kill_reason"] == "test"
    # refused at the gate, before the venue: a killed account's flood never reaches the journal
    journaled = c.get("/health").json()["journal_commands"]
    refused = venue.order("alice", symbol="AAA", side="buy", qty="1", price="99")
    assert (refused.status_code, refused.json()["code"]) == (403, "KILL_SWITCH")
    assert c.get("/health").json()["journal_commands"] == journaled
    c.post("/admin/reset", json={"account_id": alice}, headers=venue.h("admin"))
    assert (
        venue.order("alice", symbol="AAA", side="buy", qty="1", price="99").json()["status"]
        == "new"
    )
    audit = c.get("/admin/audit", params={"account_id": alice}, headers=venue.h("admin")).json()
    rules = {(a["rule"], a["decision"]) for a in audit}
    assert {("max_order_qty", "reject"), ("manual_kill", "trip"), ("kill_switch", "reset")} <= rules


def test_openapi_has_stable_operation_ids(venue: Venue) -> None:
    spec = venue.client.get("/openapi.json").json()
    ids = {op["operationId"] for path in spec["paths"].values() for op in path.values()}
    assert {
        "submit_order", "cancel_order", "get_book", "get_order", "list_fills", "get_risk",
        "cancel_all_orders", "modify_order", "list_open_orders", "list_positions",
        "list_instruments", "health", "admin_kill", "admin_reset", "admin_set_limits",
        "admin_create_account", "admin_list_accounts", "admin_audit",
    } <= ids  # fmt: skip


def test_restart_recovers_orders_fills_and_keys(tmp_path: Path, backend: str) -> None:
    settings = make_settings(tmp_path, backend)
    with TestClient(create_app(settings)) as client:
        v = Venue(client)
        v.order("alice", symbol="AAA", side="sell", qty="5", price="101", client_order_id="keep")
        v.order("bob", symbol="AAA", side="buy", qty="2", price="101")
        before = (client.get("/book/AAA").json(), client.get("/fills", headers=v.h("alice")).json())
        keys = dict(v.keys)
    with TestClient(create_app(settings)) as client:
        after = (
            client.get("/book/AAA").json(),
            client.get("/fills", headers={"X-API-Key": keys["alice"]}).json(),
        )
        assert after == before
        again = client.post(
            "/orders",
            json={
                "symbol": "AAA",
                "side": "sell",
                "qty": "9",
                "price": "105",
                "client_order_id": "keep",
            },
            headers={"X-API-Key": keys["alice"]},
        ).json()
        assert (again["price"], again["qty"]) == ("101.00", "5")
        assert (
            client.get("/admin/accounts", headers={"X-API-Key": ADMIN}).json()[0]["name"] == "admin"
        )


def test_every_handler_runs_on_the_event_loop() -> None:
    """Plain functions would run in FastAPI's thread pool, next to the single writer."""
    import inspect

    from makerkit.server._app import ROUTERS

    routes = [r for router in ROUTERS for r in router.routes if hasattr(r, "dependant")]
    assert len(routes) >= 18
    for route in routes:
        calls = [route.endpoint] + [d.call for d in route.dependant.dependencies]
        for call in calls:
            if call is not None and getattr(call, "__module__", "").startswith("makerkit"):
                assert inspect.iscoroutinefunction(call), (
                    f"{route.path}: {call.__name__} is not async"
                )


def test_history_is_durable_and_queryable(tmp_path: Path, backend: str) -> None:
    settings = make_settings(tmp_path, backend)
    with TestClient(create_app(settings)) as client:
        v = Venue(client)
        oid = v.order("alice", symbol="AAA", side="sell", qty="2", price="101").json()["order_id"]
        v.order("bob", symbol="AAA", side="buy", qty="1", price="101")
        client.put(
            "/admin/limits",
            json={"account_id": v.ids["alice"], "max_order_qty": 1},
            headers=v.h("admin"),
        )
        v.order("alice", symbol="AAA", side="sell", qty="5", price="102")
        keys = dict(v.keys)
    with TestClient(create_app(settings)) as client:  # after a restart, from SQLite
        h = {"X-API-Key": keys["alice"]}
        orders = client.get("/history", params={"order_id": oid, "kind": "order"}, headers=h).json()
        assert [o["status"] for o in orders] == [1, 0]  # partially filled, then new (newest first)
        fills = client.get("/history", params={"kind": "fill"}, headers=h).json()
        assert [(f["order_id"], f["qty"], f["liquidity"]) for f in fills] == [(oid, 1, "maker")]
        audit = client.get("/history", params={"kind": "audit"}, headers=h).json()
        assert any(a["rule"] == "max_order_qty" and a["decision"] == "reject" for a in audit)
        assert all(a["decision"] != "pass" for a in audit)  # derivable: not kept twice
        assert (
            client.get("/history", headers={"X-API-Key": keys["bob"]}).json()[0]["account"]
            == v.ids["bob"]
        )
