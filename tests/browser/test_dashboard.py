"""The venue's web dashboard in headless Chromium against a live venue with simulated flow."""

from __future__ import annotations

import json
import os
import re
import time
from decimal import Decimal
from typing import Any

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
if os.environ.get("CI"):
    try:
        import playwright.sync_api  # noqa: F401 - only its presence is checked here
    except ImportError:
        pytest.fail("browser tests need playwright in CI", pytrace=False)
else:
    pytest.importorskip("playwright.sync_api")

from tests.browser.conftest import ADMIN, Api, LiveVenue, Page

HAS_NUMBER = "id => /\\d/.test(document.querySelector(`[data-testid=${id}]`).textContent)"
LADDER = """() => [...document.querySelectorAll('[data-testid=ladder-row]')]
    .filter(r => r.dataset.price)
    .map(r => [r.dataset.side, r.dataset.price, r.dataset.size, r.dataset.own])"""


def _text_is(page: Page, test_id: str, value: str, timeout_ms: float = 10_000) -> None:
    page.wait(
        "([id, v]) => document.querySelector(`[data-testid=${id}]`).textContent.trim() === v",
        [test_id, value],
        timeout_ms,
    )


def _text_has(page: Page, test_id: str, part: str) -> None:
    page.wait(
        "([id, v]) => document.querySelector(`[data-testid=${id}]`).textContent.includes(v)",
        [test_id, part],
    )


def _attr_is(page: Page, test_id: str, attr: str, value: str) -> None:
    page.wait(
        "([id, a, v]) => document.querySelector(`[data-testid=${id}]`).getAttribute(a) === v",
        [test_id, attr, value],
    )


def _open(page: Page, key: str | None = None) -> None:
    page.page.goto(page.url, wait_until="domcontentloaded")
    page.wait(HAS_NUMBER, "best-ask")
    if key is not None:
        page.tid("api-key-input").fill(key)
        page.tid("api-key-save").click()
        page.wait(
            "() => document.querySelector('[data-testid=account-status]')"
            ".textContent.startsWith('Connected')"
        )


def _ladder(page: Page) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    rows = page.page.evaluate(LADDER)
    bids = [(p, s) for side, p, s, _ in rows if side == "bid"]
    asks = [(p, s) for side, p, s, _ in reversed(rows) if side == "ask"]
    return bids, asks


def _venue_ladder(api: Api, symbol: str, depth: int) -> tuple[Any, list[Any], list[Any]]:
    book = api.get(f"/book/{symbol}", depth=depth)
    bids = [(lv["price"], lv["size"]) for lv in book["bids"]]
    asks = [(lv["price"], lv["size"]) for lv in book["asks"]]
    return book["seq"], bids, asks


def _page_matches_venue(page: Page, api: Api, symbol: str, depth: int) -> None:
    """With the flow paused, the page's book must converge to the venue's, level by level."""
    seq, bids, asks = _venue_ladder(api, symbol, depth)
    page.tid(f"symbol-tab-{symbol}").click()
    _text_is(page, "symbol", symbol)
    _text_is(page, "book-seq", str(seq))
    assert _ladder(page) == (bids, asks)
    assert page.text("best-bid") == bids[0][0]
    assert page.text("best-ask") == asks[0][0]
    assert page.text("best-bid-size") == bids[0][1]
    assert page.text("sync-state") == "live"


@pytest.fixture(scope="module")
def alice(api: Api) -> tuple[int, str]:
    return api.account("alice")


def test_the_venue_serves_the_page_and_its_assets(api: Api) -> None:
    page = api.client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert 'src="/static/dashboard.js"' in page.text
    for name, kind in (("dashboard.js", "text/javascript"), ("dashboard.css", "text/css")):
        asset = api.client.get(f"/static/{name}")
        assert asset.status_code == 200 and asset.headers["content-type"].startswith(kind)
    missing = api.client.get("/static/dashboard.html")
    assert missing.status_code == 404 and missing.json()["code"] == "NOT_FOUND"
    paths = api.get("/openapi.json")["paths"]
    assert "/" not in paths and not any(p.startswith("/static") for p in paths)


def test_page_loads_fast_and_without_console_errors(page: Page) -> None:
    started = time.monotonic()
    page.page.goto(page.url, wait_until="domcontentloaded")
    page.wait(HAS_NUMBER, "best-bid")
    first_data_s = time.monotonic() - started
    fcp = page.wait("() => performance.getEntriesByName('first-contentful-paint')[0]?.startTime")
    assert fcp < 2000, f"first contentful paint after {fcp} ms"
    assert first_data_s < 5, f"the first book took {first_data_s:.1f} s"
    tabs = page.page.locator("[data-testid^=symbol-tab-]").all_inner_texts()
    assert tabs == ["AAA", "BBB", "CCC"]
    page.page.wait_for_timeout(1500)
    assert page.console_errors == []
    assert page.text("last-error") == ""
    assert page.tid("banner").is_hidden()


def test_ladder_and_chart_update_at_full_rate_one_render_per_frame(page: Page) -> None:
    _open(page)
    page.wait("() => +document.querySelector('[data-testid=price-chart]').dataset.points > 2")
    chart = page.tid("price-chart")
    before = (
        page.page.evaluate(LADDER),
        int(page.text("book-seq")),
        int(chart.get_attribute("data-points")),
        page.page.evaluate("document.querySelector('[data-testid=price-chart]').toDataURL()"),
    )
    page.page.wait_for_timeout(2500)
    after = (
        page.page.evaluate(LADDER),
        int(page.text("book-seq")),
        int(chart.get_attribute("data-points")),
        page.page.evaluate("document.querySelector('[data-testid=price-chart]').toDataURL()"),
    )
    assert after[0] != before[0], "the ladder did not change"
    assert after[1] > before[1] + 100, "the book sequence hardly moved"
    assert after[2] > before[2], "the chart got no new points"
    assert after[3] != before[3], "the chart was not redrawn"
    assert page.text("trade-tape")
    rate, renders = int(page.text("update-rate")), int(page.text("render-rate"))
    assert rate >= 1000, f"{rate} updates/s"
    # rendering follows animation frames, not messages
    assert 0 < renders <= 75 and renders < rate / 10, f"{renders} renders/s for {rate} updates/s"
    assert page.text("gap-count") == "0"
    page.tid("symbol-tab-BBB").click()
    _text_is(page, "symbol", "BBB")
    page.wait(HAS_NUMBER, "best-bid")
    assert page.console_errors == []


def test_numbers_equal_the_venue_state(
    page: Page, venue: LiveVenue, api: Api, alice: tuple[int, str]
) -> None:
    _, key = alice
    bought = api.post(
        "/orders", {"symbol": "AAA", "side": "buy", "qty": "3", "type": "market"}, key
    )
    assert bought.status_code == 200 and bought.json()["filled"] != "0", bought.text
    _open(page, key)
    page.tid("depth-select").select_option("20")
    venue.pause_market()
    order_id = None
    try:
        best_bid = Decimal(api.get("/book/AAA", depth=1)["bids"][0]["price"])
        price = f"{best_bid - Decimal('0.03'):.2f}"
        placed = api.post(
            "/orders", {"symbol": "AAA", "side": "buy", "qty": "2", "price": price}, key
        )
        assert placed.json()["status"] == "new", placed.text
        order_id = placed.json()["order_id"]
        _page_matches_venue(page, api, "AAA", 20)
        # the account's resting order is marked on its level
        mine = page.page.locator(f"[data-testid=ladder-row][data-side=bid][data-price='{price}']")
        assert mine.get_attribute("data-own") == "1"
        assert mine.get_by_test_id("own-bid").inner_text() == "2"
        page.wait(
            "id => [...document.querySelectorAll('[data-testid=order-row]')]"
            ".some(r => r.dataset.orderId === String(id))",
            order_id,
        )
        # positions as the venue states them
        want = {p["symbol"]: p["qty"] for p in api.get("/positions", key)}
        assert want["AAA"] != "0"
        row = page.page.locator("[data-testid=position-row][data-symbol=AAA]")
        row.wait_for()
        assert row.get_by_test_id("position-qty").inner_text() == want["AAA"]
        assert page.tid("pnl-total").inner_text() != "-"
        for symbol in ("BBB", "CCC"):
            _page_matches_venue(page, api, symbol, 20)
    finally:
        if order_id is not None:
            api.client.delete(f"/orders/{order_id}", headers={"X-API-Key": key})
        venue.resume_market()
    assert page.console_errors == []


def test_a_sequence_gap_is_counted_and_resynced_from_a_snapshot(
    page: Page, venue: LiveVenue, api: Api
) -> None:
    frames = {"n": 0, "dropped": 0}

    def relay(ws: Any) -> None:
        server = ws.connect_to_server()
        ws.on_message(server.send)

        def from_server(message: str | bytes) -> None:
            frames["n"] += 1
            # one frame of deltas lost on the way, well after the snapshots
            if frames["n"] > 40 and not frames["dropped"] and '"delta"' in str(message):
                frames["dropped"] += 1
                return
            ws.send(message)

        server.on_message(from_server)

    page.page.route_web_socket(re.compile(r".*/ws/md$"), relay)
    _open(page)
    page.wait("() => +document.querySelector('[data-testid=gap-count]').textContent >= 1")
    assert frames["dropped"] == 1
    venue.pause_market()
    try:
        for symbol in ("AAA", "BBB", "CCC"):
            _page_matches_venue(page, api, symbol, 10)
    finally:
        venue.resume_market()
    assert int(page.text("gap-count")) >= 1


def test_a_private_sequence_gap_reloads_the_account(page: Page, api: Api) -> None:
    _, erin = api.account("erin")
    seen = {"orders": 0, "dropped": 0}

    def relay(ws: Any) -> None:
        server = ws.connect_to_server()
        ws.on_message(server.send)

        def from_server(message: str | bytes) -> None:
            if '"type":"order"' in str(message):
                seen["orders"] += 1
                if seen["orders"] == 2:  # the second order's update is lost
                    seen["dropped"] += 1
                    return
            ws.send(message)

        server.on_message(from_server)

    page.page.route_web_socket(re.compile(r".*/ws/private\?.*"), relay)
    _open(page, erin)
    ids = []
    for k, price in enumerate(("1.01", "1.02", "1.03"), start=1):
        body = {"symbol": "CCC", "side": "buy", "qty": "1", "price": price}
        ids.append(api.post("/orders", body, erin).json()["order_id"])
        if k != 2:  # the page applied it (the second one never reaches the page)
            _text_is(page, "private-seq", str(k))
    _text_is(page, "private-gap-count", "1")
    assert seen["dropped"] == 1
    # the lost update came back with the account's REST snapshot
    _text_is(page, "orders-count", "3")
    shown = page.page.eval_on_selector_all(
        "[data-testid=order-row]", "rows => rows.map(r => +r.dataset.orderId)"
    )
    assert sorted(shown) == sorted(ids)
    api.client.delete("/orders", headers={"X-API-Key": erin})
    _text_is(page, "orders-count", "0")


def test_kill_switch_blocks_orders_and_refusals_change_nothing(page: Page, api: Api) -> None:
    carol_id, carol = api.account("carol")
    _, dave = api.account("dave")
    order = {"symbol": "AAA", "side": "buy", "qty": "1", "price": "1.00"}

    def status(key: str, **change: Any) -> str:
        body = api.post("/orders", order | change, key).json()
        if "code" in body:  # refused before the venue (a kill switch): its code
            return str(body["code"])
        if body["status"] == "new":
            api.client.delete(f"/orders/{body['order_id']}", headers={"X-API-Key": key})
        return str(body["status"])

    _open(page, carol)
    result = page.tid("admin-result")

    # no admin key: the venue refuses, the page says so, nothing changes
    page.tid("kill-switch").click()
    _attr_is(page, "admin-result", "data-state", "error")
    assert "401 NOT_AUTHORIZED" in result.inner_text()
    # a trader's key is not an admin key
    page.tid("admin-key-input").fill(carol)
    page.tid("admin-key-save").click()
    # the state is already "error" from the click above: wait for the new answer's text
    _text_has(page, "admin-result", "admin key refused")
    assert result.get_attribute("data-state") == "error"
    assert "403 FORBIDDEN" in result.inner_text()
    page.tid("admin-account-id").fill(str(carol_id))
    page.tid("kill-account").click()
    page.wait(
        "() => document.querySelector('[data-testid=admin-result]').dataset.state !== 'pending'"
    )
    assert result.get_attribute("data-state") == "error"
    assert "403 FORBIDDEN" in result.inner_text()
    assert page.tid("risk-state").get_attribute("data-killed") == "false"
    assert page.tid("venue-state").inner_text() != "KILLED"
    assert status(carol) == "new"

    # the admin key: kill one account, then the venue
    page.tid("admin-key-input").fill(ADMIN)
    page.tid("admin-key-save").click()
    _text_is(page, "admin-result", "admin key accepted")
    page.tid("kill-account").click()
    _attr_is(page, "risk-state", "data-killed", "true")
    assert "KILLED" in page.text("risk-state")
    assert status(carol) == "KILL_SWITCH"
    assert status(dave) == "new"
    page.tid("kill-switch").click()
    _text_is(page, "venue-state", "KILLED")
    _attr_is(page, "risk-state", "data-venue-killed", "true")
    assert status(dave) == "KILL_SWITCH"

    page.tid("reset-venue").click()
    _text_is(page, "venue-state", "running")
    page.tid("reset-account").click()
    _attr_is(page, "risk-state", "data-killed", "false")
    assert status(carol) == "new"

    # limit editing: the venue enforces what the page installed
    form = page.tid("limits-form")
    form.locator("input[name=account_id]").fill(str(carol_id))
    form.locator("input[name=max_order_qty]").fill("5")
    page.tid("limits-apply").click()
    # an earlier call's answer may land first: wait for this one's text
    _text_has(page, "admin-result", "max_order_qty=5")
    assert result.get_attribute("data-state") == "ok"
    page.wait(
        "() => document.querySelector('[data-limit=max_order_qty] td:last-child')"
        "?.textContent === '5'"
    )
    assert status(carol, qty="6") == "rejected"
    assert status(carol, qty="5") == "new"


def test_screenshot_artifact(page: Page, api: Api, alice: tuple[int, str], artifacts: Any) -> None:
    key = alice[1]
    best_bid = Decimal(api.get("/book/AAA", depth=1)["bids"][0]["price"])
    price = f"{best_bid - Decimal('0.02'):.2f}"
    quote = {"symbol": "AAA", "side": "buy", "qty": "2", "price": price}
    order_id = api.post("/orders", quote, key).json()["order_id"]
    try:
        _open(page, key)
        # a few seconds of history on both charts
        page.wait("() => +document.querySelector('[data-testid=price-chart]').dataset.points > 24")
        page.wait("() => +document.querySelector('[data-testid=pnl-chart]').dataset.points > 3")
        path = artifacts / "dashboard.png"
        page.page.screenshot(path=str(path), full_page=True)
    finally:
        api.client.delete(f"/orders/{order_id}", headers={"X-API-Key": key})
    assert path.stat().st_size > 20_000
    assert page.console_errors == []


def test_server_restart_shows_the_banner_then_resyncs(
    page: Page, venue: LiveVenue, alice: tuple[int, str]
) -> None:
    _open(page, alice[1])
    banner = page.tid("banner")
    assert banner.is_hidden()
    venue.stop()
    banner.wait_for(state="visible", timeout=5_000)
    assert "disconnected \u2014 reconnecting" in banner.inner_text()
    _text_is(page, "md-state", "disconnected")
    seq_before = int(page.text("book-seq"))
    venue.start()  # same port, same journal
    banner.wait_for(state="hidden", timeout=10_000)
    _text_is(page, "sync-state", "live")
    total = int(page.text("update-total"))
    page.wait(
        "n => +document.querySelector('[data-testid=update-total]').textContent > n + 500", total
    )
    assert int(page.text("book-seq")) > seq_before
    page.wait(
        "() => document.querySelector('[data-testid=account-status]')"
        ".textContent.startsWith('Connected')"
    )
    state = json.loads(page.page.evaluate("JSON.stringify(sessionStorage)"))
    assert state.get("makerkit.apiKey") == alice[1]
