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

from makerkit.server import Settings, _ws, _wsproto, create_app
from makerkit.server._wsproto import VenueWSProtocol, _header

ADMIN = "admin-key"


def _start(tmp_path: Path) -> tuple[str, Any, uvicorn.Server, threading.Thread]:
    """A venue under uvicorn with our WS protocol, on a free port: host, app, server, thread."""
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
    return f"127.0.0.1:{port}", app, srv, thread


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Any]]:
    host, app, srv, thread = _start(tmp_path)
    yield host, app
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


def test_a_market_data_socket_gets_a_fixed_kernel_send_buffer(server: tuple[str, Any]) -> None:
    """Not the autotuned megabytes: a reader that stops is found behind within about 1.5 MiB."""
    host, app = server
    sock = _raw_client(host, "/ws/md")
    try:
        body = json.dumps({"op": "subscribe", "channel": "book", "symbol": "AAA"}).encode()
        sock.sendall(_masked(body))
        deadline = time.monotonic() + 10
        while not app.state.service.public["AAA"]:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        (sub,) = app.state.service.public["AAA"]
        server_side = sub.raw.transport.get_extra_info("socket")
        size = server_side.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)
        # Linux doubles what is asked for its own bookkeeping
        assert _ws._MD_KERNEL_BUFFER <= size <= 2 * _ws._MD_KERNEL_BUFFER
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


def _masked(payload: bytes, opcode: int = 0x1, fin: bool = True) -> bytes:
    """One masked client frame (RFC 6455 section 5.2), payloads under 64 KiB."""
    mask = b"\x11\x22\x33\x44"
    head = (0x80 if fin else 0) | opcode
    size = len(payload)
    header = (
        bytes((head, 0x80 | size))
        if size < 126
        else bytes((head, 0x80 | 126)) + size.to_bytes(2, "big")
    )
    return header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def _raw_client(host: str, path: str) -> socket.socket:
    hostname, port = host.split(":")
    sock = socket.create_connection((hostname, int(port)), timeout=10)
    sock.sendall(
        (
            f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    answer = b""
    while b"\r\n\r\n" not in answer:
        answer += sock.recv(1)
    assert b" 101 " in answer
    return sock


class _Reader:
    """Server frames of one raw client socket, in order (bytes past a frame are kept)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = b""

    def frames(self) -> Iterator[tuple[int, bytes]]:
        """(opcode, payload) of each server frame until the connection ends."""
        while True:
            buf = self.buf
            while len(buf) >= 2:
                size, start = buf[1] & 0x7F, 2
                if size == 126:
                    size, start = int.from_bytes(buf[2:4], "big"), 4
                elif size == 127:
                    size, start = int.from_bytes(buf[2:10], "big"), 10
                if len(buf) < start + size:
                    break
                frame = (buf[0] & 0x0F, buf[start : start + size])
                self.buf = buf = buf[start + size :]
                yield frame
            chunk = self.sock.recv(65536)
            if not chunk:
                return
            self.buf += chunk

    def answers(self, count: int) -> list[dict[str, Any]]:
        """The next ``count`` acks and errors (pushed order updates skipped)."""
        out: list[dict[str, Any]] = []
        for opcode, payload in self.frames():
            if opcode != 0x1:
                continue
            data = json.loads(payload)
            out += [f for f in (data if isinstance(data, list) else [data]) if f["type"] != "order"]
            if len(out) >= count:
                return out
        return out


def _key(host: str) -> str:
    import httpx

    r = httpx.post(
        f"http://{host}/admin/accounts", json={"name": "r"}, headers={"X-API-Key": ADMIN}
    )
    return str(r.json()["api_key"])


def _order(req_id: int, price: str = "90.00") -> bytes:
    body = {
        "op": "order",
        "symbol": "AAA",
        "side": "buy",
        "qty": "1",
        "price": price,
        "req_id": req_id,
    }
    return json.dumps(body).encode()


def test_client_frames_are_read_straight_from_the_socket(server: tuple[str, Any]) -> None:
    host, app = server
    sock = _raw_client(host, f"/ws/private?api_key={_key(host)}")
    reader = _Reader(sock)
    try:
        # many frames in one write, one split across writes, a binary one: all answered in order
        burst = b"".join(_masked(_order(i)) for i in range(1, 41))
        sock.sendall(burst + _masked(_order(41))[:5])
        time.sleep(0.05)
        sock.sendall(_masked(_order(41))[5:] + _masked(_order(42), opcode=0x2))
        answers = reader.answers(42)
        assert [a["req_id"] for a in answers] == list(range(1, 43))
        assert {a["type"] for a in answers} == {"ack"}
        (sub,) = app.state.service.private.values()
        protocol = next(iter(sub)).raw.protocol
        assert protocol.inbox is not None and not protocol._handed_back  # the direct path
    finally:
        sock.close()


def test_a_burst_on_one_connection_leaves_turns_for_the_others(server: tuple[str, Any]) -> None:
    host, app = server
    flood = _raw_client(host, f"/ws/private?api_key={_key(host)}")
    other = _raw_client(host, f"/ws/private?api_key={_key(host)}")
    service = app.state.service
    deadline = time.monotonic() + 10
    while len(service.private) < 2:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    loop = next(iter(next(iter(service.private.values())))).raw.protocol.loop
    # the venue's loop is held while both arrive: the burst, then one order behind it,
    # are read together, so the order's turn depends on the venue alone
    held, go = threading.Event(), threading.Event()

    def hold() -> None:
        held.set()
        go.wait(10)

    loop.call_soon_threadsafe(hold)
    try:
        assert held.wait(10)
        count = 400  # fits the venue's receive buffer while the loop is held
        flood.sendall(b"".join(_masked(_order(i)) for i in range(1, count + 1)))
        other.sendall(_masked(_order(1, price="80.00")))
        go.set()
        (theirs,) = _Reader(other).answers(1)
        flooded = _Reader(flood).answers(count)
        assert {a["type"] for a in flooded} == {"ack"} and theirs["type"] == "ack"
        # applied after the burst's first turn, not after all 400 of it (as when a
        # connection applied all it had read before the loop took a turn)
        ahead = sum(a["order"]["order_id"] < theirs["order"]["order_id"] for a in flooded)
        assert ahead < 100, ahead
    finally:
        go.set()
        flood.close()
        other.close()


def test_pings_fragments_and_a_close_keep_their_meaning(server: tuple[str, Any]) -> None:
    host, app = server
    sock = _raw_client(host, f"/ws/private?api_key={_key(host)}")
    reader = _Reader(sock)
    try:
        sock.sendall(_masked(b"are you there", opcode=0x9))
        opcode, payload = next(reader.frames())
        assert (opcode, payload) == (0xA, b"are you there")  # answered, and reading goes on
        sock.sendall(_masked(_order(1)))
        assert [a["req_id"] for a in reader.answers(1)] == [1]
        # a message in two fragments: the websockets parser takes the connection from here
        body = _order(2)
        sock.sendall(_masked(body[:10], fin=False) + _masked(body[10:], opcode=0x0))
        assert [a["req_id"] for a in reader.answers(1)] == [2]
        sock.sendall(_masked(_order(3)))
        assert [a["req_id"] for a in reader.answers(1)] == [3]
        (sub,) = app.state.service.private.values()
        assert next(iter(sub)).raw.protocol._handed_back
        sock.sendall(_masked((1000).to_bytes(2, "big") + b"bye", opcode=0x8))
        closes = [(op, p) for op, p in reader.frames() if op == 0x8]
        assert closes and closes[0][1][:2] == (1000).to_bytes(2, "big")  # echoed
        deadline = time.monotonic() + 10
        while any(app.state.service.private.values()):  # the session ended
            assert time.monotonic() < deadline
            time.sleep(0.01)
    finally:
        sock.close()


def test_a_frame_past_the_size_cap_closes_with_1009(server: tuple[str, Any]) -> None:
    host, _ = server
    sock = _raw_client(host, f"/ws/private?api_key={_key(host)}")
    reader = _Reader(sock)
    try:
        sock.sendall(_masked(_order(1)))
        assert [a["req_id"] for a in reader.answers(1)] == [1]
        # a header announcing 32 MiB, past uvicorn's ws_max_size (16 MiB here): refused
        # before the venue buffers any of it
        sock.sendall(bytes((0x81, 0x80 | 127)) + (32 << 20).to_bytes(8, "big") + b"\0\0\0\0")
        closes = [p for op, p in reader.frames() if op == 0x8]
        assert closes and int.from_bytes(closes[0][:2], "big") == 1009
    finally:
        sock.close()


def test_a_server_shutdown_ends_a_session_reading_directly(tmp_path: Path) -> None:
    host, _app, srv, thread = _start(tmp_path)
    sock = _raw_client(host, f"/ws/private?api_key={_key(host)}")
    reader = _Reader(sock)
    try:
        sock.sendall(_masked(_order(1)))
        assert [a["req_id"] for a in reader.answers(1)] == [1]
        started = time.monotonic()
        srv.should_exit = True
        closes = [p for op, p in reader.frames() if op == 0x8]
        assert closes and int.from_bytes(closes[0][:2], "big") == 1012  # going away
        thread.join(timeout=10)
        assert not thread.is_alive() and time.monotonic() - started < 5
    finally:
        sock.close()
        srv.should_exit = True
        thread.join(timeout=10)
