"""Venue load benchmark over loopback: order entry (WS, REST) and market-data fan-out.

The server runs in its own process (``makerkit serve``) with a fresh journal;
the load generators and the 50 market-data subscribers run in this process.
Both share the machine, so the figures are end to end on one box.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import multiprocessing as mp
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import msgspec
import numpy as np

from makerkit.core.clock import LiveClock, monotonic_ns
from makerkit.venue import journal_writer

__all__ = ["run_server_bench"]

ADMIN = "bench-admin"
_now_ns = LiveClock().now_ns  # delivery latency compares with the server's wall-clock event time


def _seconds() -> float:
    return monotonic_ns() / 1e9


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _percentiles(samples: list[int]) -> tuple[float, float]:
    if not samples:
        return 0.0, 0.0
    p50, p99 = np.percentile(np.asarray(samples, dtype=np.float64), [50, 99]) / 1e6
    return float(p50), float(p99)


class _LeanWS:
    """A WebSocket client with hand-made frames and no library, for the load generator.

    The load shares the 2 cores with the venue: every microsecond the client
    spends is one the venue does not get. Frames are masked with a zero key
    (legal, and free); pings are skipped (a run is far shorter than the
    venue's ping timeout).
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def connect(cls, url: str) -> _LeanWS:
        from urllib.parse import urlsplit

        from makerkit.cli._bench_abuse import ws_handshake

        parts = urlsplit(url)
        host, port = parts.hostname or "127.0.0.1", parts.port or 80
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(ws_handshake(host, port, path, "dGhlIHNhbXBsZSBub25jZQ=="))
        answer = await reader.readuntil(b"\r\n\r\n")
        if b" 101 " not in answer.split(b"\r\n", 1)[0]:
            writer.close()
            msg = f"the venue refused the WebSocket: {answer[:200]!r}"
            raise RuntimeError(msg)
        return cls(reader, writer)

    def send(self, payload: bytes) -> None:
        """Queue one text frame (the caller bounds what is in flight)."""
        from makerkit.cli._bench_abuse import ws_client_frame

        self.writer.write(ws_client_frame(payload, b"\0\0\0\0"))

    async def recv(self) -> bytes:
        """The next data frame's payload; EOFError once the venue closes."""
        read = self.reader.readexactly
        while True:
            head = await read(2)
            size = head[1] & 0x7F
            if size == 126:
                size = int.from_bytes(await read(2), "big")
            elif size == 127:
                size = int.from_bytes(await read(8), "big")
            payload = await read(size)
            opcode = head[0] & 0x0F
            if opcode == 0x8:
                raise EOFError
            if opcode in (0x1, 0x2):
                return payload

    def close(self) -> None:
        """Drop the connection."""
        self.writer.close()


async def _ws_orders(
    url: str, key: str, seconds: float, window: int, rate: float | None, side: str, offset: int
) -> tuple[int, list[int]]:
    """Place-then-cancel loop over one private WS for ``seconds``.

    Returns (messages acknowledged inside the window, ack latencies in ns). At
    most ``window`` messages are in flight; each order reserves a slot for its
    cancel, so the reader never waits to send one.
    """
    latencies: list[int] = []
    sent_at: dict[int, int] = {}
    acked = 0
    req = 0
    # lean frames and msgspec: the load generator shares the 2 cores with the venue
    encode, decode = msgspec.json.Encoder().encode, msgspec.json.Decoder().decode
    ws = await _LeanWS.connect(f"{url}/ws/private?api_key={key}")
    try:
        slots = asyncio.Semaphore(window)
        start = _seconds()
        end = start + seconds

        async def send(body: dict[str, Any]) -> None:
            nonlocal req
            req += 1
            sent_at[req] = monotonic_ns()
            body["req_id"] = req
            ws.send(encode(body))

        async def reader() -> None:
            nonlocal acked
            while True:
                try:
                    raw = await ws.recv()
                except EOFError:  # the venue went away: count what was answered
                    return
                data = decode(raw)
                for frame in data if isinstance(data, list) else [data]:
                    if frame.get("type") not in ("ack", "error"):
                        continue
                    started = sent_at.pop(frame["req_id"], None)
                    now = _seconds()
                    if started is not None and now <= end:
                        latencies.append(monotonic_ns() - started)
                        acked += 1
                    slots.release()
                    order = frame.get("order")
                    if order is not None and order["status"] == "new" and "canceled" not in frame:
                        await send({"op": "cancel", "order_id": order["order_id"], "symbol": "AAA"})
                    elif order is not None and order["status"] not in ("canceled",):
                        slots.release()  # no cancel will follow: free its reserved slot
                if _seconds() > end and not sent_at:
                    return

        task = asyncio.create_task(reader())
        n = 0
        price = f"{90 - offset % 5:.2f}" if side == "buy" else f"{110 + offset % 5:.2f}"
        while _seconds() < end:
            await slots.acquire()
            await slots.acquire()  # the order and its cancel
            n += 1
            await send(
                {
                    "op": "order",
                    "symbol": "AAA",
                    "side": side,
                    "qty": "1",
                    "price": price,
                    "tif": "post_only",
                }
            )
            if rate:
                await asyncio.sleep(max(0.0, start + n / rate - _seconds()))
        # the reader ends itself only on a frame after the window: the last answers may
        # all come before it ends, so wait here until every message is answered
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(30):
                while sent_at and not task.done():
                    await asyncio.sleep(0.005)
        task.cancel()
    finally:
        ws.close()
    return acked, latencies


class _Answered(msgspec.Struct):
    """The two fields of an answered order the load generator reads (the rest is skipped)."""

    order_id: int
    status: str


class _Answer(msgspec.Struct):
    """A frame of the private stream as the load generator reads it: acks and errors count."""

    type: str
    req_id: int | str | None = None
    order: _Answered | None = None
    canceled: list[Any] | None = None


_decode_answers = msgspec.json.Decoder(list[_Answer] | _Answer).decode


def _client_frame(payload: bytes) -> bytes:
    """One final, masked text frame; the mask is zero (legal, and free to apply)."""
    size = len(payload)
    if size < 126:
        return bytes((0x81, 0x80 | size, 0, 0, 0, 0)) + payload
    return bytes((0x81, 0xFE)) + size.to_bytes(2, "big") + b"\0\0\0\0" + payload


async def _ws_pipelined(
    url: str, key: str, seconds: float, window: int, side: str, offset: int, start_ns: int = 0
) -> tuple[int, list[int]]:
    """Place-then-cancel as fast as acks come back over one private WS for ``seconds``.

    What ``_ws_orders`` does without a rate, with less of the load generator's own
    time per message (it shares the 2 cores with the venue): one read for
    whatever frames have arrived, acks decoded into two small structs, frames
    made from byte templates, and what a read frees sent in one write. At most
    ``window`` messages are in flight, each order holding a slot for its
    cancel. It starts at ``start_ns`` (monotonic), once connected, so that the
    clients of several processes load the venue over the same window. Returns
    (messages acknowledged inside the window, ack latencies in ns, taken when
    the frame carrying the ack arrives).
    """
    ws = await _LeanWS.connect(f"{url}/ws/private?api_key={key}")
    await asyncio.sleep(max(0, start_ns - monotonic_ns()) / 1e9)
    price = f"{90 - offset % 5:.2f}" if side == "buy" else f"{110 + offset % 5:.2f}"
    order_head = (
        f'{{"op":"order","symbol":"AAA","side":"{side}","qty":"1","price":"{price}",'
        '"tif":"post_only","req_id":'
    ).encode()
    sent_at: dict[int, int] = {}
    latencies: list[int] = []
    out: list[bytes] = []
    acked = req = 0
    free = window
    now = monotonic_ns
    end = now() + int(seconds * 1e9)

    def top_up(t: int) -> None:
        nonlocal free, req
        while free >= 2:  # the order and its cancel
            free -= 2
            req += 1
            sent_at[req] = t
            out.append(_client_frame(order_head + b"%d}" % req))

    top_up(now())
    ws.writer.write(b"".join(out))
    out.clear()
    read = ws.reader.read
    buf = b""
    try:
        async with asyncio.timeout(seconds + 30):
            while sent_at:
                chunk = await read(1 << 18)
                if not chunk:  # the venue went away: count what was answered
                    break
                t = now()
                buf = buf + chunk if buf else chunk
                off, size = 0, len(buf)
                while size - off >= 2:
                    n, start = buf[off + 1] & 0x7F, off + 2
                    if n == 126:
                        n, start = int.from_bytes(buf[start : start + 2], "big"), start + 2
                    elif n == 127:
                        n, start = int.from_bytes(buf[start : start + 8], "big"), start + 8
                    if start + n > size:
                        break
                    opcode, off = buf[off] & 0x0F, start + n
                    if opcode == 0x8:
                        raise EOFError
                    if opcode not in (0x1, 0x2):
                        continue
                    answers = _decode_answers(buf[start:off])
                    for ans in answers if isinstance(answers, list) else (answers,):
                        if ans.type != "ack" and ans.type != "error":
                            continue
                        started = sent_at.pop(ans.req_id, None)  # type: ignore[arg-type]
                        if started is not None and t <= end:
                            latencies.append(t - started)
                            acked += 1
                        free += 1
                        order = ans.order
                        if order is not None and order.status == "new" and ans.canceled is None:
                            req += 1
                            sent_at[req] = t
                            out.append(
                                _client_frame(
                                    b'{"op":"cancel","order_id":%d,"symbol":"AAA","req_id":%d}'
                                    % (order.order_id, req)
                                )
                            )
                        elif order is not None and order.status != "canceled":
                            free += 1  # no cancel will follow: free its reserved slot
                buf = buf[off:]
                if t <= end:
                    top_up(t)
                if out:
                    ws.writer.write(b"".join(out))
                    out.clear()
    except (EOFError, TimeoutError, ConnectionError):
        pass  # what was answered is counted
    finally:
        ws.close()
    return acked, latencies


def _ws_process(
    url: str, keys: list[str], ids: list[int], seconds: float, start_ns: int
) -> list[tuple[int, list[int]]]:
    """Run some pipelined WS order-entry clients in this (child) process from ``start_ns``."""

    async def run() -> list[tuple[int, list[int]]]:
        return list(
            await asyncio.gather(
                *(
                    _ws_pipelined(
                        url, keys[i], seconds, 64, "buy" if i % 2 else "sell", i, start_ns
                    )
                    for i in ids
                )
            )
        )

    return asyncio.run(run())


_SPAWN_NS = 3_000_000_000  # the load's processes start and connect within this, then load


def _ws_pipelined_load(url: str, keys: list[str], seconds: float) -> tuple[float, list[int]]:
    """Pipelined WS order entry from two processes: (acknowledged messages/s, latencies)."""
    start_ns = monotonic_ns() + _SPAWN_NS
    with ProcessPoolExecutor(max_workers=2, mp_context=mp.get_context("spawn")) as pool:
        halves = [list(range(len(keys)))[k::2] for k in range(2)]
        parts = [
            pool.submit(_ws_process, url, keys, ids, seconds, start_ns) for ids in halves if ids
        ]
        runs = [r for part in parts for r in part.result()]
    return sum(r[0] for r in runs) / seconds, [x for r in runs for x in r[1]]


def _rest_with_wrk(
    wrk: str, base: str, key: str, seconds: float, connections: int
) -> dict[str, Any]:
    """POST /orders (post-only, resting) with wrk: a C load generator."""
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "post.lua"
        body = '{"symbol":"AAA","side":"buy","qty":"1","price":"80.00","tif":"post_only"}'
        lines = [
            "wrk.method = 'POST'",
            f"wrk.body = '{body}'",
            "wrk.headers['Content-Type'] = 'application/json'",
            f"wrk.headers['X-API-Key'] = '{key}'",
        ]
        script.write_text("\n".join(lines) + "\n")
        command = [wrk, "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency"]
        command += ["-s", str(script), f"{base}/orders"]
        report = subprocess.run(command, capture_output=True, text=True, check=True).stdout  # noqa: S603
    out: dict[str, Any] = {"rest_load": "wrk"}
    for line in report.splitlines():
        parts = line.split()
        if line.startswith("Requests/sec:"):
            out["rest_orders_per_sec"] = float(parts[1])
        elif parts[:1] in (["50%"], ["99%"]):
            out["rest_p50_ms" if parts[0] == "50%" else "rest_p99_ms"] = _wrk_ms(parts[1])
    return out


def _wrk_ms(value: str) -> float:
    """Wrk prints latencies as 812.00us, 3.25ms or 1.02s."""
    for unit, scale in (("us", 1e-3), ("ms", 1.0), ("s", 1e3)):
        if value.endswith(unit):
            return float(value[: -len(unit)]) * scale
    return float(value)


async def _rest_orders(base: str, key: str, seconds: float, side: str) -> tuple[int, list[int]]:
    import httpx

    latencies: list[int] = []
    count = 0
    price = "90.00" if side == "buy" else "110.00"
    async with httpx.AsyncClient(base_url=base, headers={"X-API-Key": key}, timeout=10) as client:
        start = _seconds()
        while _seconds() - start < seconds:
            t0 = monotonic_ns()
            r = await client.post(
                "/orders", json={"symbol": "AAA", "side": side, "qty": "1", "price": price}
            )
            latencies.append(monotonic_ns() - t0)
            count += 1
            order_id = r.json()["order_id"]
            t0 = monotonic_ns()
            await client.delete(f"/orders/{order_id}", params={"symbol": "AAA"})
            latencies.append(monotonic_ns() - t0)
            count += 1
    return count, latencies


async def _subscriber(url: str, out: dict[str, Any]) -> None:
    """Subscribe to AAA's book and check every frame until cancelled.

    Delivery latency is taken when a frame arrives, before it is decoded: the
    venue's part of the journey, not this client's parsing. A delta the snapshot
    already holds (sent after it when the subscription came during a commit) is
    stale: dropped, as the client SDK drops it, and counted apart from gaps.
    """
    import websockets

    last = snapshot = -1
    latencies, now, decode = out["latencies"], _now_ns, msgspec.json.Decoder().decode
    try:
        async with websockets.connect(f"{url}/ws/md", max_size=None) as ws:
            await ws.send(json.dumps({"op": "subscribe", "channel": "book", "symbol": "AAA"}))
            async for raw in ws:
                received = now()
                data = decode(raw)
                for frame in data if isinstance(data, list) else [data]:
                    if frame["type"] == "snapshot":
                        last = snapshot = frame["seq"]
                        continue
                    seq = _follow(out, snapshot, last, frame["seq"])
                    if seq is None:
                        continue
                    last = seq
                    out["frames"] += 1
                    latencies.append(received - frame["ts"])
    finally:
        out["last_seqs"].append(last)


def _follow(out: dict[str, Any], snapshot: int, last: int, seq: int) -> int | None:
    """Count a book frame with ``seq`` after ``last``: None when stale (dropped), else ``seq``.

    Stale is what the snapshot (at seq ``snapshot``) holds already; any other
    frame that does not follow ``last`` (missing, repeated, out of order) is a gap.
    """
    if seq <= snapshot:
        out["stale"] += 1
        return None
    if seq != last + 1:
        out["gaps"] += 1
    return seq


def _md_stats() -> dict[str, Any]:
    """What the subscribers count: gaps, stale deltas dropped, frames, latencies, last seqs."""
    return {"gaps": 0, "stale": 0, "frames": 0, "latencies": [], "last_seqs": []}


def _subscribers_process(url: str, count: int, run_seconds: float) -> dict[str, Any]:
    """Run ``count`` market-data subscribers in this (child) process for ``run_seconds``."""

    async def run() -> dict[str, Any]:
        stats = _md_stats()
        tasks = [asyncio.create_task(_subscriber(url, stats)) for _ in range(count)]
        await asyncio.sleep(run_seconds)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        lat = stats["latencies"]
        stats["latencies"] = lat[:: max(1, len(lat) // 50_000)]  # keep the sample small
        return stats

    return asyncio.run(run())


async def _binance_ws_depth(
    url: str, key: str, samples: int = 50, every_s: float = 0.1
) -> dict[str, Any]:
    """An order acknowledged -> its level's diff on the Binance facade's ``@depth@100ms``.

    One resting bid at a price of its own at a time (native WS order entry),
    cancelled once its diff is seen; each placed more than the stream's 100 ms
    after the diff before, so what is timed is the venue's path (durable,
    market-data tick, Binance frame), not the stream's pacing. Both sockets are
    read as frames arrive; a diff may even arrive before the ack (negative).
    """
    decode = msgspec.json.Decoder().decode
    stream = await _LeanWS.connect(f"{url}/ws/aaausd@depth@100ms")
    orders = await _LeanWS.connect(f"{url}/ws/private?api_key={key}")
    acks: asyncio.Queue[tuple[int, Any]] = asyncio.Queue()
    diffs: asyncio.Queue[tuple[int, Any]] = asyncio.Queue()

    async def read(ws: _LeanWS, into: asyncio.Queue[tuple[int, Any]]) -> None:
        with contextlib.suppress(EOFError, ConnectionError, asyncio.IncompleteReadError):
            while True:
                raw = await ws.recv()
                t = monotonic_ns()
                data = decode(raw)
                for frame in data if isinstance(data, list) else [data]:
                    into.put_nowait((t, frame))

    async def ack(req: int) -> tuple[int, Any]:
        while True:
            t, frame = await acks.get()
            if frame.get("req_id") == req:
                return t, frame

    async def diff(price: str, size: str) -> int:
        while True:
            t, frame = await diffs.get()
            if [price, size] in frame.get("b", []):
                return t

    readers = [asyncio.create_task(read(stream, diffs)), asyncio.create_task(read(orders, acks))]
    latencies: list[int] = []
    try:
        async with asyncio.timeout(30 + samples * every_s * 3):
            for i in range(samples):
                price = f"{50 + i / 100:.2f}"  # a level of its own, below the other loads
                seen = asyncio.create_task(diff(price, "1"))
                orders.send(
                    b'{"op":"order","symbol":"AAA","side":"buy","qty":"1","price":"%b",'
                    b'"tif":"post_only","req_id":%d}' % (price.encode(), 2 * i + 1)
                )
                t_ack, answer = await ack(2 * i + 1)
                latencies.append(await seen - t_ack)
                gone = asyncio.create_task(diff(price, "0"))
                orders.send(
                    b'{"op":"cancel","order_id":%d,"symbol":"AAA","req_id":%d}'
                    % (answer["order"]["order_id"], 2 * i + 2)
                )
                await ack(2 * i + 2)
                await gone
                await asyncio.sleep(every_s * 1.2)  # past the stream's interval: sent at once
    except TimeoutError:
        pass  # what was measured is reported
    finally:
        for task in readers:
            task.cancel()
        stream.close()
        orders.close()
    p50, p99 = _percentiles(latencies)
    return {
        "binance_ws_depth_stream": "aaausd@depth@100ms",
        "binance_ws_depth_samples": len(latencies),
        "binance_ws_depth_p50_ms": p50,
        "binance_ws_depth_p99_ms": p99,
    }


async def _http_call(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[int, bytes]:
    """One HTTP/1.1 request on a kept-alive connection: (status, body)."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return int(head[9:12]), await reader.readexactly(length)


async def _order_pairs(base: str, build: Any, seconds: float) -> int:
    """Place and cancel orders on one connection for ``seconds``: how many were placed.

    ``build`` gives the requests: ``build.place()`` and ``build.cancel(answer)``.
    """
    from urllib.parse import urlsplit

    parts = urlsplit(base)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    placed = 0
    try:
        end = _seconds() + seconds
        while _seconds() < end:
            status, body = await _http_call(reader, writer, build.place())
            if status != 200:
                msg = f"order refused ({status}): {body[:200]!r}"
                raise RuntimeError(msg)
            placed += 1
            await _http_call(reader, writer, build.cancel(body))
    finally:
        writer.close()
    return placed


class _NativeOrders:
    """POST /orders and DELETE /orders/{id}: a resting post-only bid, then its cancel."""

    def __init__(self, key: str) -> None:
        body = b'{"symbol":"AAA","side":"buy","qty":"1","price":"80.00","tif":"post_only"}'
        self._post = (
            b"POST /orders HTTP/1.1\r\nHost: venue\r\nX-API-Key: %b\r\n"
            b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%b"
        ) % (key.encode(), len(body), body)
        self._key = key.encode()
        self._decode = msgspec.json.Decoder().decode

    def place(self) -> bytes:
        return self._post

    def cancel(self, answer: bytes) -> bytes:
        order_id = self._decode(answer)["order_id"]
        return b"DELETE /orders/%d?symbol=AAA HTTP/1.1\r\nHost: venue\r\nX-API-Key: %b\r\n\r\n" % (
            order_id,
            self._key,
        )


class _BinanceOrders:
    """The same through the Binance facade: signed POST and DELETE /api/v3/order.

    Each request is signed when it is sent (HMAC-SHA256 over a fresh timestamp), as a
    Binance client signs it; the answer is Binance's default (FULL).
    """

    def __init__(self, key: str, secret: str) -> None:
        self._key = key.encode()
        self._secret = secret.encode()
        self._decode = msgspec.json.Decoder().decode

    def _signed(self, query: str) -> bytes:
        import hashlib
        import hmac

        query += f"&timestamp={_now_ns() // 1_000_000}"
        mac = hmac.new(self._secret, query.encode(), hashlib.sha256).hexdigest()
        return f"{query}&signature={mac}".encode()

    def place(self) -> bytes:
        body = self._signed("symbol=AAAUSD&side=BUY&type=LIMIT_MAKER&quantity=1&price=80.00")
        return (
            b"POST /api/v3/order HTTP/1.1\r\nHost: venue\r\nX-MBX-APIKEY: %b\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n%b"
        ) % (self._key, len(body), body)

    def cancel(self, answer: bytes) -> bytes:
        query = self._signed(f"symbol=AAAUSD&orderId={self._decode(answer)['orderId']}")
        return b"DELETE /api/v3/order?%b HTTP/1.1\r\nHost: venue\r\nX-MBX-APIKEY: %b\r\n\r\n" % (
            query,
            self._key,
        )


async def _binance_rest_orders(
    base: str, seconds: float, clients: int, rounds: int = 3
) -> dict[str, Any]:
    """Orders/s through the Binance facade's POST /api/v3/order and the native POST /orders.

    Side by side on one venue, alternating for ``rounds`` rounds (each side
    ``seconds / rounds`` a round), ``clients`` kept-alive connections each
    placing a resting order and cancelling it. The load generator is lean (no
    HTTP library), so the venue's path is what differs; medians of the rounds.
    """
    import httpx

    async with httpx.AsyncClient(base_url=base, headers={"X-API-Key": ADMIN}) as admin:
        made = [
            (await admin.post("/admin/accounts", json={"name": f"bn{i}"})).json()
            for i in range(2 * clients)
        ]
    native = [_NativeOrders(a["api_key"]) for a in made[:clients]]
    facade = [_BinanceOrders(a["api_key"], a["api_secret"]) for a in made[clients:]]
    phase = seconds / rounds
    figures: dict[str, list[float]] = {"native": [], "binance": []}
    for _ in range(rounds):
        for name, builders in (("native", native), ("binance", facade)):
            counts = await asyncio.gather(*(_order_pairs(base, b, phase) for b in builders))
            figures[name].append(sum(counts) / phase)
    median = {name: float(np.median(values)) for name, values in figures.items()}
    return {
        "binance_rest_orders_per_sec": median["binance"],
        "binance_rest_native_orders_per_sec": median["native"],
        "binance_rest_vs_native": median["binance"] / median["native"],
        "binance_rest_rounds": figures["binance"],
        "binance_rest_native_rounds": figures["native"],
    }


async def _bench(
    base: str, seconds: float, ws_clients: int, rest_clients: int, subscribers: int, rate: float
) -> dict[str, Any]:
    import httpx

    url = base.replace("http", "ws")
    async with httpx.AsyncClient(base_url=base, headers={"X-API-Key": ADMIN}) as admin:
        keys = [
            (await admin.post("/admin/accounts", json={"name": f"b{i}"})).json()["api_key"]
            for i in range(max(ws_clients, rest_clients))
        ]
    result: dict[str, Any] = {"seconds": seconds}

    # WS order entry from two client processes, so the load generator is not the limit
    loop = asyncio.get_running_loop()
    pipelined, lat = await loop.run_in_executor(
        None, _ws_pipelined_load, url, keys[:ws_clients], seconds
    )
    result["ws_orders_per_sec"] = pipelined
    result["ws_ack_p50_ms"], result["ws_ack_p99_ms"] = _percentiles(lat)

    wrk = shutil.which("wrk")
    if wrk:
        result.update(_rest_with_wrk(wrk, base, keys[0], seconds, rest_clients))
    else:
        runs = await asyncio.gather(
            *(
                _rest_orders(base, keys[i], seconds, "buy" if i % 2 else "sell")
                for i in range(rest_clients)
            )
        )
        result["rest_orders_per_sec"] = sum(r[0] for r in runs) / seconds
        result["rest_p50_ms"], result["rest_p99_ms"] = _percentiles([x for r in runs for x in r[1]])
        result["rest_load"] = "httpx (install wrk for a load generator that is not the limit)"

    # the paced order flow alone: ack latency at the target rate
    per_client = rate / max(1, ws_clients) / 2  # each order is followed by its cancel
    alone = await asyncio.gather(
        *(
            _ws_orders(url, keys[i], seconds, 256, per_client, "buy" if i % 2 else "sell", i)
            for i in range(ws_clients)
        )
    )
    result["paced_alone_orders_per_sec"] = sum(r[0] for r in alone) / seconds
    result["paced_alone_ack_p50_ms"], result["paced_alone_ack_p99_ms"] = _percentiles(
        [x for r in alone for x in r[1]]
    )

    # 50 subscribers in two child processes; the same paced flow runs here
    stats = _md_stats()
    with ProcessPoolExecutor(max_workers=2, mp_context=mp.get_context("spawn")) as pool:
        counts = [subscribers // 2, subscribers - subscribers // 2]
        listeners = [
            loop.run_in_executor(pool, _subscribers_process, url, n, seconds + 4.0)
            for n in counts
            if n
        ]
        await asyncio.sleep(2.0)  # spawn and subscribe
        runs = await asyncio.gather(
            *(
                _ws_orders(url, keys[i], seconds, 256, per_client, "buy" if i % 2 else "sell", i)
                for i in range(ws_clients)
            )
        )
        for part in await asyncio.gather(*listeners):
            for key in ("gaps", "stale", "frames"):
                stats[key] += part[key]
            stats["latencies"] += part["latencies"]
            stats["last_seqs"] += part["last_seqs"]
    async with httpx.AsyncClient(base_url=base) as public:
        final_seq = (await public.get("/book/AAA")).json()["seq"]
    paced = sum(r[0] for r in runs)
    result["paced_orders_per_sec"] = paced / seconds
    result["ack_p50_ms"], result["ack_p99_ms"] = _percentiles([x for r in runs for x in r[1]])
    result["md_subscribers"] = len(stats["last_seqs"])
    result["md_frames"] = stats["frames"]
    result["md_p50_ms"], result["md_p99_ms"] = _percentiles(stats["latencies"])
    result["md_gaps"] = stats["gaps"]
    result["md_stale_dropped"] = stats["stale"]
    result["lost_events"] = sum(max(0, final_seq - last) for last in stats["last_seqs"])
    result.update(await _binance_ws_depth(url, keys[0]))  # the book quiet: no load meanwhile
    result.update(await _binance_rest_orders(base, seconds, rest_clients))
    return result


def run_server_bench(
    *,
    seconds: float = 5.0,
    ws_clients: int = 4,
    rest_clients: int = 4,
    md_subscribers: int = 50,
    paced_rate: float = 5000.0,
    baseline: str | None = None,
    rounds: int = 3,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Start a venue process, load it, and return the measurements.

    With ``baseline`` (a git revision of this repository) the pipelined WS
    order entry is also measured side by side: that revision's venue and this
    one, alternating for ``rounds`` rounds under the same load generator, so a
    noisy machine moves both figures alike.
    """
    say = progress or (lambda _m: None)
    with _venue_process(None) as base:
        say(f"venue on {base}")
        say(f"load: {ws_clients} WS, {rest_clients} REST clients, {md_subscribers} subscribers")
        result = asyncio.run(
            _bench(base, seconds, ws_clients, rest_clients, md_subscribers, paced_rate)
        )
    result.update(
        {
            "ws_clients": ws_clients,
            "rest_clients": rest_clients,
            "paced_rate": paced_rate,
            "journal_writer": journal_writer(),  # this checkout's venue's
        }
    )
    if baseline is not None:
        result.update(_side_by_side(baseline, seconds, ws_clients, rounds, say))
    return result


@contextlib.contextmanager
def _venue_process(tree: Path | None) -> Iterator[str]:
    """A fresh venue in its own process; ``tree``: run that source tree's code instead."""
    port = _free_port()
    env = None if tree is None else _tree_env(tree)
    with tempfile.TemporaryDirectory() as tmp:
        journal = Path(tmp) / "bench.db"
        log = Path(tmp) / "server.log"
        command = [sys.executable, "-m", "makerkit", "serve", "--port", str(port)]
        command += ["--journal", str(journal), "--symbols", "AAA", "--admin-key", ADMIN]
        with log.open("wb") as sink:
            proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=sink, env=env)  # noqa: S603 - our own CLI
        try:
            base = f"http://127.0.0.1:{port}"
            _wait_ready(base, proc, log)
            yield base
        finally:
            proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=10)
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def _tree_env(tree: Path) -> dict[str, str]:
    """The environment that runs ``tree``'s makerkit instead of this checkout's.

    An editable install's import hook (scikit-build-core) finds this checkout
    before ``PYTHONPATH``; it steps aside for the build folders named in
    ``SKBUILD_EDITABLE_SKIP``, so those of the hooks in this process are named.
    """
    skip = [
        str(getattr(finder, "path", ""))
        for finder in sys.meta_path
        if type(finder).__name__.startswith("ScikitBuild") and getattr(finder, "path", None)
    ]
    skip += [p for p in os.environ.get("SKBUILD_EDITABLE_SKIP", "").split(os.pathsep) if p]
    return {
        **os.environ,
        "PYTHONPATH": str(tree / "src"),
        "SKBUILD_EDITABLE_SKIP": os.pathsep.join(skip),
    }


def _check_tree(tree: Path, revision: str) -> None:
    """Refuse to go on unless a process with ``_tree_env(tree)`` imports ``tree``'s makerkit."""
    probe = "import makerkit.server as s, makerkit._native as n; print(s.__file__, n.__file__)"
    found = subprocess.run(  # noqa: S603 - this interpreter
        [sys.executable, "-c", probe], env=_tree_env(tree), capture_output=True, text=True,
        check=False,
    )  # fmt: skip
    src = (tree / "src").resolve()
    paths = found.stdout.split()
    if (
        found.returncode != 0
        or len(paths) != 2
        or not all(Path(p).resolve().is_relative_to(src) for p in paths)
    ):
        msg = (
            f"--baseline {revision!r}: a venue process would not run that revision's code "
            f"(it imports {found.stdout.strip() or found.stderr.strip()[-300:]!r}, not from {src})"
        )
        raise RuntimeError(msg)


def _source_tree(revision: str, into: Path) -> Path:
    """This repository's ``src`` at ``revision``, with the native engine built here.

    The C++ engine is the one of this build (the comparison is of the venue's
    Python path); a revision whose engine API differs fails to start, clearly.
    """
    import importlib
    import tarfile

    top = subprocess.run(  # noqa: S603 - git, in this repository
        ["git", "-C", str(Path(__file__).parent), "rev-parse", "--show-toplevel"],  # noqa: S607
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if top.returncode != 0:
        msg = f"--baseline needs a git checkout of makerkit: {top.stderr.strip()}"
        raise RuntimeError(msg)
    archive = subprocess.run(  # noqa: S603
        ["git", "-C", top.stdout.strip(), "archive", revision, "src"],  # noqa: S607
        capture_output=True, check=False,
    )  # fmt: skip
    if archive.returncode != 0:
        msg = f"--baseline {revision!r}: {archive.stderr.decode().strip()}"
        raise RuntimeError(msg)
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(into, filter="data")
    native = importlib.import_module("makerkit._native").__file__
    if native is not None:
        shutil.copy(native, into / "src" / "makerkit" / Path(native).name)
    _check_tree(into, revision)
    return into


def _ws_round(base: str, seconds: float, ws_clients: int) -> tuple[float, list[int]]:
    """Pipelined WS order entry against one venue: (acknowledged messages/s, latencies)."""
    import httpx

    with httpx.Client(base_url=base, headers={"X-API-Key": ADMIN}) as admin:
        keys = [
            admin.post("/admin/accounts", json={"name": f"b{i}"}).json()["api_key"]
            for i in range(ws_clients)
        ]
    return _ws_pipelined_load(base.replace("http", "ws"), keys, seconds)


def _side_by_side(
    revision: str, seconds: float, ws_clients: int, rounds: int, say: Callable[[str], None]
) -> dict[str, Any]:
    """WS order entry, ``revision``'s venue against this one, alternating.

    Medians of the rounds, every round's rate, and the ack latency of each side
    over all its rounds.
    """
    figures: dict[str, list[float]] = {"baseline": [], "current": []}
    waits: dict[str, list[int]] = {"baseline": [], "current": []}
    with tempfile.TemporaryDirectory() as tmp:
        tree = _source_tree(revision, Path(tmp))
        for k in range(rounds):
            for name, source in (("baseline", tree), ("current", None)):
                with _venue_process(source) as base:
                    rate, latencies = _ws_round(base, seconds, ws_clients)
                figures[name].append(rate)
                waits[name] += latencies
                p50, p99 = _percentiles(latencies)
                say(
                    f"round {k + 1}/{rounds}: {name} {rate:,.0f} msgs/s,"
                    f" ack p50 {p50:.1f} ms, p99 {p99:.1f} ms"
                )
    median = {name: float(np.median(values)) for name, values in figures.items()}
    out: dict[str, Any] = {
        "baseline": revision,
        "ws_orders_per_sec_baseline": median["baseline"],
        "ws_orders_per_sec_current": median["current"],
        "ws_speedup": median["current"] / median["baseline"],
    }
    for name in ("baseline", "current"):
        p50, p99 = _percentiles(waits[name])
        out[f"ws_ack_p50_ms_{name}"], out[f"ws_ack_p99_ms_{name}"] = p50, p99
    out["ws_rounds_baseline"] = figures["baseline"]
    out["ws_rounds_current"] = figures["current"]
    return out


def _wait_ready(base: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    import httpx

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            msg = f"the venue exited: {log.read_text()[-2000:]}"
            raise RuntimeError(msg)
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base}/health", timeout=0.5).status_code == 200:
                return
        time.sleep(0.05)
    msg = "the venue did not start within 30 s"
    raise RuntimeError(msg)
