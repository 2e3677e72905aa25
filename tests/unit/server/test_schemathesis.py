"""Property-based API fuzzing from the OpenAPI schema: no input may cause a 5xx."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

schemathesis = pytest.importorskip("schemathesis")

from fastapi.testclient import TestClient  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402

from makerkit.server import create_app  # noqa: E402
from tests.unit.server.conftest import ADMIN, make_settings  # noqa: E402


def test_no_input_causes_a_server_error(tmp_path: Path, backend: str) -> None:
    app = create_app(make_settings(tmp_path, backend))
    with TestClient(app):  # runs the lifespan: the venue service is up
        schema = schemathesis.openapi.from_asgi("/openapi.json", app)
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) >= 18
        failures: list[str] = []
        calls = [0]
        for operation in operations:

            @given(case=operation.as_strategy())
            @settings(
                max_examples=20,
                deadline=None,
                suppress_health_check=list(HealthCheck),
                database=None,
            )
            def check(case: Any) -> None:
                for key in (ADMIN, "not-a-key"):
                    response = case.call(headers={"X-API-Key": key})
                    calls[0] += 1
                    if response.status_code >= 500:
                        where = f"{case.method} {case.formatted_path} {case.body!r}"
                        failures.append(f"{where} -> {response.status_code}")

            check()
        assert not failures, "\n".join(failures[:10])
        assert calls[0] > 10 * len(operations)
