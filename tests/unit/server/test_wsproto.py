"""Frames written straight to the socket (``VenueWSProtocol``): used, in order, and bounded."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
import websockets

from makerkit.server import Settings, _wsproto, create_app
from makerkit.server._wsproto import VenueWSProtocol, _header

ADMIN = "admin-key"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Any]]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    app = create_app(Settings(journal=str(tmp_path / "v.db"), admin_key=ADMIN, symbols="AAA"))
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                            ws=VenueWSProtocol, lifespan="on")  # fmt: skip
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not srv.started:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    yield f"127.0.0.1:{port}", app
    srv.should_exit = True
    thread.join(timeout=10)


def test_frame_headers_follow_rfc_6455() -> None:
    assert _header(0x81, 5) == b"\x81\x05"
    assert _header(0x81, 300) == b"\x81\x7e\x01\x2c"
    assert _header(0x81, 70_000) == b"\x81\x7f" + (70_000).to_bytes(8, "big")


def test_subscribers_get_direct_frames_snapshot_first(server: tuple[str, Any]) -> None:
    host, app = server

    async def main() -> None:
        import httpx

        async with websockets.connect(f"ws://{host}/ws/md") as ws:
            await ws.send(json.dumps({"op": "subscribe", "channel": "book", "symbol": "AAA"}))
            first = json.loads(await ws.recv())
            assert first["type"] == "snapshot"
            subs = app.state.service.public["AAA"]
            assert len(subs) == 1 and next(iter(subs)).raw is not None  # the direct path
            async with httpx.AsyncClient(base_url=f"http://{host}") as http:
                key = (await http.post("/admin/accounts", json={"name": "t"},
                                       headers={"X-API-Key": ADMIN})).json()["api_key"]  # fmt: skip
                for i in range(20):
                    body = {"symbol": "AAA", "side": "buy", "qty": "1", "price": f"{99 + i / 100}"}
                    r = await http.post("/orders", json=body, headers={"X-API-Key": key})
                    assert r.status_code == 200, r.text
            seqs: list[int] = []
            while len(seqs) < 20:
                data = json.loads(await asyncio.wait_for(ws.recv(), 5))
                for frame in data if isinstance(data, list) else [data]:
                    if frame["type"] == "delta":
                        seqs.append(frame["seq"])
            assert seqs == list(range(first["seq"] + 1, first["seq"] + 21))

    asyncio.run(main())


def test_a_reader_too_far_behind_is_told_and_dropped(
    server: tuple[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    host, app = server
    monkeypatch.setattr(_wsproto.RawSender.__init__, "__defaults__", (-1,))  # no room at all

    async def main() -> None:
        async with websockets.connect(f"ws://{host}/ws/md") as ws:
            await ws.send(json.dumps({"op": "subscribe", "channel": "book", "symbol": "AAA"}))

            async def until_closed() -> list[Any]:
                frames = []
                with contextlib.suppress(websockets.ConnectionClosedError):
                    while True:
                        frames.append(json.loads(await ws.recv()))
                return frames

            frames = await asyncio.wait_for(until_closed(), 10)  # the venue closes it
            assert frames[-1]["code"] == "SLOW_CONSUMER"
            assert ws.close_code == 1013
        deadline = time.monotonic() + 5
        while app.state.service.public["AAA"]:  # the session was cleaned up
            assert time.monotonic() < deadline
            await asyncio.sleep(0.01)

    asyncio.run(main())
