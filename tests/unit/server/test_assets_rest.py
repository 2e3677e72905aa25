"""Accounts shaped like an exchange's over REST: secrets, deposits, balances, BASE/QUOTE symbols."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from makerkit.server import Settings, create_app

from .conftest import ADMIN

H_ADMIN = {"X-API-Key": ADMIN}


def settings(tmp_path: Path, **kw: object) -> Settings:
    base: dict[str, object] = {
        "journal": str(tmp_path / "venue.db"),
        "admin_key": ADMIN,
        "symbols": "BTC/USDT,AAA",
        "quote_asset": "USDT",
        "tick_size": "0.01",
        "lot_size": "0.001",
        "min_qty": "0.002",
        "min_notional": "10",
    }
    base.update(kw)
    return Settings(**base)  # type: ignore[arg-type]


def test_base_quote_symbols_and_minimums_are_listed(tmp_path: Path) -> None:
    with TestClient(create_app(settings(tmp_path))) as c:
        listed = {i["symbol"]: i for i in c.get("/instruments").json()}
    assert set(listed) == {"BTCUSDT", "AAA"}
    assert listed["BTCUSDT"]["base_asset"] == "BTC"
    assert listed["AAA"]["base_asset"] == "AAA"
    assert {i["quote_asset"] for i in listed.values()} == {"USDT"}
    assert listed["AAA"]["min_qty"] == "0.002" and listed["AAA"]["min_notional"] == "10"


def test_account_secret_is_shown_once_and_never_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with TestClient(create_app(settings(tmp_path))) as c:
        made = c.post("/admin/accounts", json={"name": "mm"}, headers=H_ADMIN).json()
        secret = made["api_secret"]
        assert len(secret) >= 32 and secret != made["api_key"]
        listed = c.get("/admin/accounts", headers=H_ADMIN).json()
        assert all(a.get("api_secret") is None for a in listed)
        assert secret not in c.get("/history", headers={"X-API-Key": made["api_key"]}).text
    assert secret not in caplog.text
    # it survives a restart: the venue keeps it to check signatures with
    with TestClient(create_app(settings(tmp_path))) as c:
        assert c.app.state.service.venue.api_secret(made["account_id"]) == secret  # type: ignore[attr-defined]


def test_deposits_and_balances(tmp_path: Path) -> None:
    with TestClient(create_app(settings(tmp_path, allow_short=False))) as c:
        made = c.post(
            "/admin/accounts",
            json={"name": "mm", "balances": {"USDT": "1000", "BTC": "0.5"}},
            headers=H_ADMIN,
        ).json()
        key = {"X-API-Key": made["api_key"]}
        got = c.get("/balances", headers=key).json()
        assert got["allow_short"] is False
        assets = {b["asset"]: (b["free"], b["locked"]) for b in got["balances"]}
        assert assets == {"AAA": ("0", "0"), "BTC": ("0.5", "0"), "USDT": ("1000", "0")}
        # a bid holds its notional; one the account cannot pay for is refused
        c.post(
            "/orders",
            json={"symbol": "BTCUSDT", "side": "buy", "price": "400", "qty": "1"},
            headers=key,
        ).raise_for_status()
        too_big = c.post(
            "/orders",
            json={"symbol": "BTCUSDT", "side": "buy", "price": "700", "qty": "1"},
            headers=key,
        )
        assert too_big.json()["status"] == "rejected"
        assert too_big.json()["reason"] == "INSUFFICIENT_BALANCE"
        tiny = c.post(
            "/orders",
            json={"symbol": "BTCUSDT", "side": "sell", "price": "4000", "qty": "0.001"},
            headers=key,
        )
        assert tiny.json()["reason"] == "MIN_QTY"
        small = c.post(
            "/orders",
            json={"symbol": "BTCUSDT", "side": "sell", "price": "4", "qty": "0.002"},
            headers=key,
        )
        assert small.json()["reason"] == "MIN_NOTIONAL"
        dep = c.post(
            "/admin/deposits",
            json={"account_id": made["account_id"], "asset": "USDT", "amount": "-100"},
            headers=H_ADMIN,
        ).json()
        assets = {b["asset"]: (b["free"], b["locked"]) for b in dep["balances"]}
        assert assets["USDT"] == ("500", "400")
        for bad in (
            {"account_id": made["account_id"], "asset": "DOGE", "amount": "1"},
            {"account_id": made["account_id"], "asset": "USDT", "amount": "0"},
            {"account_id": made["account_id"], "asset": "USDT", "amount": "-501"},
            {"account_id": 999, "asset": "USDT", "amount": "1"},
        ):
            refused = c.post("/admin/deposits", json=bad, headers=H_ADMIN)
            assert refused.status_code in (400, 404), refused.text
        again = c.get("/balances", headers=key).json()["balances"]
        assert {b["asset"]: b["free"] for b in again}["USDT"] == "500"
        # an account whose opening deposit names an unknown asset is not created at all
        before = len(c.get("/admin/accounts", headers=H_ADMIN).json())
        bad_open = c.post(
            "/admin/accounts", json={"name": "x", "balances": {"DOGE": "1"}}, headers=H_ADMIN
        )
        assert bad_open.status_code == 400
        assert len(c.get("/admin/accounts", headers=H_ADMIN).json()) == before
