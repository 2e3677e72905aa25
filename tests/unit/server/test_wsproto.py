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


def _read_to_end(sock: socket.socket) -> None:
    while sock.recv(65536):
        pass


def _bound_senders(monkeypatch: pytest.MonkeyPatch, **bounds: Any) -> None:
    """Every new connection's sender gets these bounds, whatever the settings say."""

    class Bounded(_wsproto.RawSender):
        def __init__(self, protocol: Any, **_: Any) -> None:
            super().__init__(protocol, **bounds)

    monkeypatch.setattr(_wsproto, "RawSender", Bounded)


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
    _bound_senders(monkeypatch, limit=-1)  # no room at all

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


class _Transport:
    """A transport whose reader takes nothing: every written byte stays unsent."""

    def __init__(self) -> None:
        self.unsent = 0
        self.closing = False
        self.aborted = False

    def write(self, data: bytes) -> None:
        self.unsent += len(data)

    def get_write_buffer_size(self) -> int:
        return self.unsent

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True  # a real transport waits for the buffer to drain first

    def abort(self) -> None:
        self.closing = self.aborted = True
        self.unsent = 0

    def get_extra_info(self, name: str) -> Any:
        return None


class _Protocol:
    def __init__(self) -> None:
        self.transport = _Transport()
        self.close_sent = False
        self.disconnected = False


def test_a_reader_that_never_reads_is_cut_off_within_bounded_time_and_memory() -> None:
    clock = [0]
    proto = _Protocol()
    sender = _wsproto.RawSender(proto, limit=10_000, stall_s=2.0, grace_s=0.5,
                                now_ns=lambda: clock[0])  # fmt: skip
    assert sender.send(b"x" * 100)  # unsent, but within both bounds
    clock[0] = int(1.9e9)
    assert sender.send(b"x" * 100)
    clock[0] = int(2.1e9)  # stalled past stall_s: cut off although small
    assert not sender.send(b"x" * 100)
    # and by size, however fresh the stall
    fresh = _wsproto.RawSender(_Protocol(), limit=1_000, now_ns=lambda: 0)
    assert fresh.send(b"x" * 500)
    assert not fresh.send(b"x" * 600)


def test_a_close_to_a_stuck_reader_aborts_the_connection() -> None:
    async def main() -> None:
        proto = _Protocol()
        sender = _wsproto.RawSender(proto, grace_s=0.01)
        sender.close(1013, "slow consumer")
        assert proto.close_sent and proto.transport.closing and not proto.transport.aborted
        for _ in range(200):  # the abort is scheduled on the loop, grace_s later
            if proto.transport.aborted:
                break
            await asyncio.sleep(0.01)
        assert proto.transport.aborted and proto.transport.unsent == 0  # memory freed

    asyncio.run(main())


def test_a_real_socket_that_never_reads_is_dropped(
    server: tuple[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    host, app = server
    _bound_senders(monkeypatch, limit=4096, stall_s=0.2, grace_s=0.2)
    hostname, port = host.split(":")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((hostname, int(port)))
    handshake = (
        f"GET /ws/md HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n"
    )
    sock.sendall(handshake.encode())
    assert b"101" in sock.recv(1024)  # the only read this reader ever makes
    body = json.dumps({"op": "subscribe", "channel": "book", "symbol": "AAA"}).encode()
    mask = b"\x01\x02\x03\x04"
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(body))
    sock.sendall(bytes((0x81, 0x80 | len(body))) + mask + masked)

    deadline = time.monotonic() + 10
    while not app.state.service.public["AAA"]:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    (sub,) = app.state.service.public["AAA"]
    # the venue's side of the socket holds little, so unsent bytes pile up in the venue
    sub.raw.transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)

    async def feed() -> None:
        import httpx

        async with httpx.AsyncClient(base_url=f"http://{host}") as http:
            key = (await http.post("/admin/accounts", json={"name": "f"},
                                   headers={"X-API-Key": ADMIN})).json()["api_key"]  # fmt: skip
            deadline = time.monotonic() + 20
            i = 0
            while app.state.service.public["AAA"]:  # until the venue lets the reader go
                assert time.monotonic() < deadline, "the stuck reader was never dropped"
                i += 1
                body = {
                    "symbol": "AAA",
                    "side": "buy",
                    "qty": "1",
                    "price": f"{50 + i % 4000 / 100:.2f}",
                }
                r = await http.post("/orders", json=body, headers={"X-API-Key": key})
                assert r.status_code == 200, r.text

    try:
        asyncio.run(feed())
        # dropped with a reset, so the kernel does not keep its unsent megabytes either
        sock.settimeout(5)
        with pytest.raises(ConnectionResetError):
            _read_to_end(sock)
    finally:
        sock.close()


def test_a_bad_key_is_closed_with_4401_not_refused_with_http_403(
    server: tuple[str, Any],
) -> None:
    host, _ = server

    async def main() -> None:
        async with websockets.connect(f"ws://{host}/ws/private?api_key=wrong") as ws:
            with pytest.raises(websockets.ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 5)
            assert ws.close_code == 4401

    asyncio.run(main())


def test_a_reader_that_keeps_draining_is_never_cut_for_a_stall() -> None:
    clock = [0]
    proto = _Protocol()
    sender = _wsproto.RawSender(proto, limit=10_000, stall_s=2.0, now_ns=lambda: clock[0])
    for step in range(1, 20):  # 19 s with bytes always unsent, but always some taken
        clock[0] = int(step * 1e9)
        proto.transport.unsent = max(0, proto.transport.unsent - 50)  # the reader reads a bit
        assert sender.send(b"x" * 100), step
    # and one that stops reading is cut once the stall passes
    for step in range(20, 23):
        clock[0] = int(step * 1e9)
        ok = sender.send(b"x" * 100)
    assert not ok
