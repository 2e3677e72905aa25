from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")

from fastapi.testclient import TestClient

from makerkit.server import Settings, create_app

ADMIN = "admin-key-for-tests"


class Venue:
    """A running app plus three accounts' keys."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.keys: dict[str, str] = {}
        self.ids: dict[str, int] = {}
        for name in ("alice", "bob", "carol"):
            body = client.post(
                "/admin/accounts", json={"name": name}, headers={"X-API-Key": ADMIN}
            ).json()
            self.keys[name] = body["api_key"]
            self.ids[name] = body["account_id"]

    def h(self, who: str) -> dict[str, str]:
        return {"X-API-Key": ADMIN if who == "admin" else self.keys[who]}

    def order(self, who: str, **body: Any) -> Any:
        return self.client.post("/orders", json=body, headers=self.h(who))


def make_settings(tmp_path: Path, backend: str) -> Settings:
    return Settings(
        journal=str(tmp_path / "venue.db"),
        admin_key=ADMIN,
        symbols="AAA,BBB",
        backend=backend,
        taker_fee_ppm=200,
        maker_fee_ppm=-50,
    )


@pytest.fixture
def venue(tmp_path: Path, backend: str) -> Iterator[Venue]:
    with TestClient(create_app(make_settings(tmp_path, backend))) as client:
        yield Venue(client)


class Frames:
    """Read a WebSocket as a stream of messages (a frame may batch several)."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.buffer: list[Any] = []

    def next(self) -> Any:
        if not self.buffer:
            data = self.ws.receive_json()
            self.buffer = data if isinstance(data, list) else [data]
        return self.buffer.pop(0)
