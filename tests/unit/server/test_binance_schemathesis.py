"""The Binance facade fuzzed from its OpenAPI schema, with requests signed as a client signs them.

Unsigned fuzzing stops at the key check; here each generated request is also
sent signed with a valid key, secret and timestamp, so the inputs reach order
entry, queries and cancels. No input may cause a 5xx, and every refusal is
Binance's ``{code, msg}``.
"""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

schemathesis = pytest.importorskip("schemathesis")

from fastapi.testclient import TestClient  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402

from makerkit.core import SimClock  # noqa: E402
from makerkit.server import create_app  # noqa: E402
from makerkit.server._binance_common import is_binance_path  # noqa: E402
from tests.unit.server.conftest import ADMIN, make_settings  # noqa: E402

NOW_MS = 1_700_000_000_000


def _query(case: Any) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for name, value in (case.query or {}).items():
        for one in value if isinstance(value, list) else [value]:
            pairs.append((name, str(one).lower() if isinstance(one, bool) else str(one)))
    return pairs


def test_no_signed_input_causes_a_server_error(tmp_path: Path, backend: str) -> None:
    app = create_app(make_settings(tmp_path, backend))
    with TestClient(app) as client:
        app.state.binance_clock = SimClock(NOW_MS * 1_000_000)
        created = client.post(
            "/admin/accounts",
            json={"name": "fuzz", "balances": {"USD": "1000000", "AAA": "1000", "BBB": "1000"}},
            headers={"X-API-Key": ADMIN},
        ).json()
        key, secret = created["api_key"], created["api_secret"]
        # something to hit, query and cancel
        for side, price in (("sell", "101.00"), ("buy", "99.00")):
            order = {"symbol": "AAA", "side": side, "qty": "5", "price": price}
            assert client.post("/orders", json=order, headers={"X-API-Key": key}).status_code == 200
        # the schema as a document: loading it through the app would start a second lifespan
        schema = schemathesis.openapi.from_dict(app.openapi())
        operations = [
            op
            for op in (result.ok() for result in schema.get_all_operations())
            if is_binance_path(op.path)
        ]
        assert len(operations) >= 20
        failures: list[str] = []
        refusals: list[str] = []
        statuses: set[int] = set()

        for operation in operations:

            @given(case=operation.as_strategy())
            @settings(
                max_examples=50,
                deadline=None,
                suppress_health_check=list(HealthCheck),
                database=None,
            )
            def check(case: Any) -> None:
                generated = [p for p in _query(case) if p[0] not in ("timestamp", "signature")]
                send(case, generated)
                # and again in a listed symbol, so the fuzzed values reach the venue
                listed = [("symbol", "AAAUSD") if k == "symbol" else (k, v) for k, v in generated]
                if listed != generated:
                    send(case, listed)
                if (case.method, case.path) == ("POST", "/api/v3/order"):
                    # a valid order around the fuzzed optional fields (client id, STP, answer)
                    core = {"symbol": "AAAUSD", "type": "LIMIT", "timeInForce": "GTC",
                            "quantity": "1", "price": "100.00"}  # fmt: skip
                    kept = [(k, v) for k, v in listed if k not in core and k != "quoteOrderQty"]
                    send(case, [*core.items(), *kept])

            def send(case: Any, fuzzed: list[tuple[str, str]]) -> None:
                pairs = list(fuzzed)
                signed = "signature" in (case.query or {})
                headers = {}
                if signed:  # a valid key, timestamp and signature around the fuzzed parameters
                    pairs.append(("timestamp", str(NOW_MS)))
                    headers["X-MBX-APIKEY"] = key
                query = urlencode(pairs)
                if signed:
                    mac = hmac.new(secret.encode(), query.encode(), hashlib.sha256).hexdigest()
                    query += f"&signature={mac}"
                url = f"{case.formatted_path}?{query}"
                response = client.request(case.method, url, headers=headers)
                code = response.json().get("code") if response.status_code == 400 else None
                statuses.add((case.method, case.path, response.status_code, code))
                where = f"{case.method} {url}"
                if response.status_code >= 500:
                    failures.append(f"{where} -> {response.status_code} {response.text[:200]}")
                elif response.status_code >= 400:
                    body = response.json()
                    if set(body) != {"code", "msg"} or not isinstance(body["code"], int):
                        refusals.append(f"{where} -> {response.text[:200]}")

            check()
        assert not failures, "\n".join(failures[:10])
        assert not refusals, "\n".join(refusals[:10])
        # the fuzzing got past the signature: orders reached the grid checks and the venue,
        # queries and cancels the venue's lookup
        reached = {c for m, p, _, c in statuses if (m, p) == ("POST", "/api/v3/order")}
        assert None in reached and reached & {-1013, -1100}, reached
        for method, path, code in [
            ("GET", "/api/v3/order", -2013),
            ("DELETE", "/api/v3/order", -2011),
        ]:
            assert (method, path, 400, code) in statuses, (method, path)  # looked the order up
