"""Reliability benchmark: the venue under hostile clients and crashes (``makerkit bench abuse``).

Every attack runs against a real ``makerkit serve`` process over loopback:

1. baseline: a victim account places paced post-only orders (and cancels
   each) over the private WebSocket; its ack latency is the reference;
2. flood: an account limited to ``FLOOD_LIMIT`` messages/s sends ten times
   that (new orders, cancels and modifies of unknown orders, cancel-all,
   cancels with 30 KB fields), and a killed account floods cancels, while
   the victim measures again; what the attackers got back and how much the
   journal grew are counted;
3. slow readers: raw sockets subscribe to every book of 30 animated symbols
   without a key and never read; the victim measures again, the server's
   RSS is sampled every 100 ms, and the sockets the server cut off counted;
4. kill -9: cycles of pipelined orders, ``kill -9`` mid-stream, restart;
   every acknowledged order (and acknowledged cancel) must be there, and no
   order id or client order id may be handed out twice;
5. recovery: journals whose newest snapshot is ahead of the journal, has a
   flipped bit, or is torn must make ``makerkit serve`` refuse to start
   (exit 3, ``recovery refused``), ``--no-snapshot`` must then start it,
   and an intact journal must still start.

Every wait has a deadline, all traffic stays on 127.0.0.1, and every process
and socket is closed on the way out, also when the server misbehaves.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import multiprocessing as mp
import os
import selectors
import shutil
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec
import numpy as np
from rich.table import Table

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

    from websockets.asyncio.client import ClientConnection

__all__ = [
    "Ledger",
    "abuse_table",
    "classify_answer",
    "is_refusal",
    "parse_vmrss_mb",
    "run_abuse_bench",
    "ws_accept_key",
    "ws_client_frame",
    "ws_handshake",
]

ADMIN = "abuse-admin"
HOST = "127.0.0.1"
SYMBOLS = [f"S{i:02d}" for i in range(30)]
MARKET_RATE = 200.0  # simulated commands/s per symbol: about 700 KB/s of book data per reader
VICTIM_RATE = 200.0  # victim orders/s (each followed by its cancel)
VICTIM_PRICE = "50.00"  # post-only bids far below the simulated market (about 100)
FLOOD_LIMIT = 100  # the attackers' max_msgs_per_sec (and burst)
FLOOD_FACTOR = 10  # they send this many times their limit
BIG_FIELD = 30_000  # characters in each oversized cancel field
RSS_TARGET_MB = 500.0
P99_FACTOR = 3.0
TCP_ESTABLISHED = 1
_REFUSALS = frozenset(
    {"RATE_LIMIT", "KILL_SWITCH", "MESSAGE_TOO_LARGE", "INVALID_REQUEST", "TOO_MANY_REQUESTS"}
)
_decode = msgspec.json.Decoder().decode


# ---------------------------------------------------------------------- pure parts


def parse_vmrss_mb(status: str) -> float | None:
    """The resident set size in MB from the text of ``/proc/<pid>/status`` (None if absent)."""
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            parts = line.split()  # the kernel writes "VmRSS:   83536 kB"
            if len(parts) >= 2 and parts[1].isdigit():
                return int(parts[1]) / 1024
    return None


def parse_sockstat_tcp(sockstat: str) -> dict[str, int]:
    """The TCP line of ``/proc/net/sockstat`` as numbers (``mem`` is in pages)."""
    for line in sockstat.splitlines():
        if line.startswith("TCP:"):
            words = line.split()[1:]
            return {k: int(v) for k, v in zip(words[::2], words[1::2], strict=False) if v.isdigit()}
    return {}


def ws_handshake(host: str, port: int, path: str, key: str) -> bytes:
    """A client's WebSocket upgrade request (RFC 6455 section 4.1)."""
    return (
        f"GET {path} HTTP/1.1\r\n"
        f"Host: {host}:{port}\r\n"
        "Upgrade: websocket\r\n"
        "Connection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\n"
        "Sec-WebSocket-Version: 13\r\n"
        "\r\n"
    ).encode()


def ws_accept_key(key: str) -> str:
    """The ``Sec-WebSocket-Accept`` a server must answer to ``key``."""
    magic = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
    digest = hashlib.sha1((key + magic).encode()).digest()  # noqa: S324 - the protocol's hash
    return base64.b64encode(digest).decode()


def ws_client_frame(payload: bytes, mask: bytes, opcode: int = 0x1) -> bytes:
    """One final, masked client frame (text by default) carrying ``payload``."""
    if len(mask) != 4:
        msg = f"invalid `mask`, must be 4 bytes, was {len(mask)}"
        raise ValueError(msg)
    size = len(payload)
    if size < 126:
        header = bytes((0x80 | opcode, 0x80 | size))
    elif size < 65536:
        header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, size)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, size)
    if mask == _ZERO_MASK:  # legal, and what a lean load generator uses: x ^ 0 == x
        return header + mask + payload
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return header + mask + masked


_ZERO_MASK = b"\0\0\0\0"


def classify_answer(frame: Mapping[str, Any]) -> str | None:
    """What an answer frame says: ``ACK``, a reject reason or an error code (None: not an answer).

    Private order and fill updates are pushes, not answers, and give None.
    """
    kind = frame.get("type")
    if kind == "error":
        return str(frame.get("code") or "ERROR")
    if kind != "ack":
        return None
    order = frame.get("order")
    if isinstance(order, Mapping):
        reason = order.get("reason")
        if reason and reason != "NONE":
            return str(reason)
    return "ACK"


def is_refusal(code: str) -> bool:
    """Whether an answer refuses the message (rate limit, kill switch, size) unprocessed."""
    return code in _REFUSALS or any(word in code for word in ("RATE", "TOO_LARGE", "KILL"))


@dataclass
class Ledger:
    """Acknowledged orders across crashes; finds the lost and the duplicated ones.

    ``placed`` records every accepted order ack; an order id seen for two client
    order ids, or a client order id placed as two orders, is a duplicate.
    ``check_found`` compares the venue's answer for an acknowledged order after
    a restart; ``check_resend`` judges the answer to a client order id sent again.
    """

    orders: dict[str, int] = field(default_factory=dict)  # client order id -> order id
    owners: dict[int, str] = field(default_factory=dict)  # order id -> client order id
    canceled: set[int] = field(default_factory=set)  # acknowledged cancels
    lost_ids: set[int] = field(default_factory=set)
    duplicates: set[tuple[str, str]] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)

    @property
    def lost(self) -> int:
        """Acknowledged orders (or cancels) the venue no longer knows."""
        return len(self.lost_ids)

    @property
    def duplicated(self) -> int:
        """Order ids handed out twice plus client order ids placed twice."""
        return len(self.duplicates)

    def _note(self, text: str) -> None:
        if len(self.notes) < 20:
            self.notes.append(text)

    def placed(self, cid: str, order_id: int) -> None:
        """An order the venue acknowledged as accepted."""
        owner = self.owners.get(order_id)
        if owner is not None and owner != cid:
            self.duplicates.add(("order_id", str(order_id)))
            self._note(f"order id {order_id} given to {owner!r} and to {cid!r}")
        known = self.orders.get(cid)
        if known is not None and known != order_id:
            self.duplicates.add(("client_order_id", cid))
            self._note(f"client order id {cid!r} placed as {known} and as {order_id}")
        self.orders.setdefault(cid, order_id)
        self.owners.setdefault(order_id, cid)

    def cancel_acked(self, order_id: int) -> None:
        """A cancel the venue acknowledged (the order must stay canceled)."""
        self.canceled.add(order_id)

    def check_found(self, order_id: int, found: Mapping[str, Any] | None, why: str = "") -> None:
        """Judge what the venue answers for an acknowledged order (None: it does not know it)."""
        cid = self.owners.get(order_id)
        if found is None:
            self.lost_ids.add(order_id)
            self._note(f"order {order_id} ({cid!r}) missing{': ' + why if why else ''}")
            return
        if found.get("client_order_id") != cid:
            self.duplicates.add(("order_id", str(order_id)))
            self._note(f"order {order_id} is now {found.get('client_order_id')!r}, was {cid!r}")
        elif order_id in self.canceled and found.get("status") != "canceled":
            self.lost_ids.add(order_id)
            self._note(f"order {order_id}: acknowledged cancel lost ({found.get('status')})")

    def check_resend(self, cid: str, answer: Mapping[str, Any]) -> None:
        """Judge the answer to an acknowledged client order id placed again.

        The same order back, or a DUPLICATE_ORDER_ID reject, is right; any other
        refusal places nothing; a new accepted order is a duplicate.
        """
        order_id = answer.get("order_id")
        if answer.get("reason") == "DUPLICATE_ORDER_ID" or answer.get("status") == "rejected":
            return
        if order_id != self.orders.get(cid):
            self.duplicates.add(("client_order_id", cid))
            self._note(f"{cid!r} sent again became order {order_id}, was {self.orders.get(cid)}")
        if isinstance(order_id, int) and order_id > 0:
            self.placed(cid, order_id)


def percentiles_ms(samples_ns: list[int]) -> tuple[float | None, float | None]:
    """p50 and p99 in milliseconds (None without samples)."""
    if not samples_ns:
        return None, None
    p50, p99 = np.percentile(np.asarray(samples_ns, dtype=np.float64), [50, 99]) / 1e6
    return round(float(p50), 3), round(float(p99), 3)


def _frames(raw: str | bytes) -> list[dict[str, Any]]:
    try:
        data = _decode(raw)
    except msgspec.DecodeError:
        return []
    items = data if isinstance(data, list) else [data]
    return [item for item in items if isinstance(item, dict)]


# ---------------------------------------------------------------------- processes

# Started through this launcher, a venue is killed by the kernel if this
# benchmark dies, even by SIGKILL: no simulated market is left spinning.
_LAUNCHER = (
    "import ctypes, os, sys\n"
    "try:\n"
    "    ctypes.CDLL(None, use_errno=True).prctl(1, 9)  # PR_SET_PDEATHSIG, SIGKILL\n"
    "except (OSError, AttributeError):\n"
    "    pass\n"
    "os.execv(sys.executable, [sys.executable, '-m', 'makerkit', 'serve', *sys.argv[1:]])\n"
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def open_fds(pid: int) -> int | None:
    """How many file descriptors process ``pid`` holds (None without /proc)."""
    try:
        return sum(1 for _ in Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return None


def release_times(samples: list[tuple[float, int]], start: int) -> list[float]:
    """When each connection was let go: from (seconds, open fds) samples and the count at start.

    The k-th entry is the first time at least k of the ``start`` descriptors
    were closed; a count that rises again later does not undo a release.
    """
    times: list[float] = []
    for at, count in samples:
        while len(times) < start - count:
            times.append(at)
    return times


def read_rss_mb(pid: int) -> float | None:
    """The current RSS of process ``pid`` in MB (None once it is gone)."""
    try:
        return parse_vmrss_mb(Path(f"/proc/{pid}/status").read_text())
    except OSError:
        return None


class _RssSampler(threading.Thread):
    """Samples the current venue's RSS every ``interval`` seconds, peak per phase.

    Also the machine's TCP buffer memory and orphaned sockets: bytes a venue
    has handed to the kernel for a reader that never takes them live there,
    outside its RSS.
    """

    def __init__(self, interval: float = 0.1) -> None:
        super().__init__(name="abuse-rss", daemon=True)
        self.interval = interval
        self.pid: int | None = None
        self.phase = "start"
        self.peaks: dict[str, float] = {}
        self.samples = 0
        self.tcp_mb_peak = 0.0
        self.tcp_orphans_peak = 0
        self._done = threading.Event()

    def run(self) -> None:
        page = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
        while not self._done.wait(self.interval):
            with contextlib.suppress(OSError):
                tcp = parse_sockstat_tcp(Path("/proc/net/sockstat").read_text())
                self.tcp_mb_peak = max(self.tcp_mb_peak, tcp.get("mem", 0) * page / 2**20)
                self.tcp_orphans_peak = max(self.tcp_orphans_peak, tcp.get("orphan", 0))
            pid = self.pid
            mb = read_rss_mb(pid) if pid is not None else None
            if mb is None:
                continue
            self.samples += 1
            if mb > self.peaks.get(self.phase, 0.0):
                self.peaks[self.phase] = mb

    def finish(self) -> None:
        self._done.set()
        if self.is_alive():
            self.join(timeout=2)


class _Venue:
    """One ``makerkit serve`` process on a journal; stderr goes to a log file."""

    def __init__(
        self, journal: Path, symbols: list[str], extra: Iterable[str], sampler: _RssSampler | None
    ) -> None:
        self.journal = journal
        self.port = _free_port()
        self.base = f"http://{HOST}:{self.port}"
        self.url = f"ws://{HOST}:{self.port}"
        self.log = journal.with_name(f"{journal.name}.{self.port}.log")
        self.sampler = sampler
        args = ["--host", HOST, "--port", str(self.port), "--journal", str(journal)]
        args += ["--symbols", ",".join(symbols), "--admin-key", ADMIN, *extra]
        if sys.platform == "linux":
            command = [sys.executable, "-c", _LAUNCHER, *args]
        else:  # pragma: no cover - the kernel's parent-death signal is Linux's
            command = [sys.executable, "-m", "makerkit", "serve", *args]
        with self.log.open("wb") as sink:
            self.proc = subprocess.Popen(  # noqa: S603 - our own CLI, fixed arguments
                command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=sink
            )
        if sampler is not None:
            sampler.pid = self.proc.pid

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stderr(self) -> str:
        with contextlib.suppress(OSError):
            return self.log.read_text(errors="replace")
        return ""

    async def outcome(self, timeout: float) -> tuple[str, int | None]:
        """Wait until it answers /health ("started"), exits ("exited") or ``timeout`` passes."""
        import httpx

        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(base_url=self.base, timeout=0.5) as client:
            while time.monotonic() < deadline:
                code = self.proc.poll()
                if code is not None:
                    return "exited", code
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get("/health")).status_code == 200:
                        return "started", None
                await asyncio.sleep(0.05)
        return "timeout", None

    async def ready(self, timeout: float = 30.0) -> None:
        """Wait for /health; raise with the log's tail when it exits or hangs."""
        state, code = await self.outcome(timeout)
        if state != "started":
            tail = self.stderr()[-1500:]
            msg = f"the venue did not start ({state}, exit {code}): {tail}"
            raise RuntimeError(msg)

    def kill9(self) -> None:
        """``kill -9`` it (no flush, no goodbye) and reap it."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 10 s."""
        if self.proc.poll() is None:
            self.proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=10)
        if self.proc.poll() is None:
            self.kill9()


class _Run:
    """What one benchmark run owns: its folder, its processes, its sockets, its sampler."""

    def __init__(self, folder: Path, say: Callable[[str], None]) -> None:
        self.folder = folder
        self.say = say
        self.sampler = _RssSampler()
        self.venues: list[_Venue] = []
        self.sockets: list[socket.socket] = []
        self.errors: list[str] = []

    def venue(self, journal: Path, symbols: list[str], extra: Iterable[str] = ()) -> _Venue:
        venue = _Venue(journal, symbols, extra, self.sampler)
        self.venues.append(venue)
        return venue

    def close(self) -> None:
        for sock in self.sockets:
            with contextlib.suppress(OSError):
                sock.close()
        for venue in self.venues:
            with contextlib.suppress(Exception):
                venue.stop()
        self.sampler.finish()


async def _admin(base: str, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    import httpx

    async with httpx.AsyncClient(base_url=base, headers={"X-API-Key": ADMIN}, timeout=10) as c:
        response = await c.request(method, path, json=body)
    if response.status_code >= 400:
        msg = f"{method} {path} answered {response.status_code}: {response.text[:300]}"
        raise RuntimeError(msg)
    data: dict[str, Any] = response.json()
    return data


async def _account(base: str, name: str) -> tuple[int, str]:
    data = await _admin(base, "POST", "/admin/accounts", {"name": name})
    return int(data["account_id"]), str(data["api_key"])


async def _connect(url: str, key: str | None) -> ClientConnection:
    from websockets.asyncio.client import connect

    path = f"/ws/private?api_key={key}" if key else "/ws/md"
    return await connect(
        url + path, max_size=None, open_timeout=10, close_timeout=1, ping_interval=None,
        compression=None,
    )  # fmt: skip


def _journal_bytes(journal: Path) -> int:
    total = 0
    for path in (journal, journal.with_name(journal.name + "-wal")):
        with contextlib.suppress(OSError):
            total += path.stat().st_size
    return total


async def _journal_commands(base: str) -> int | None:
    import httpx

    with contextlib.suppress(httpx.HTTPError, ValueError, KeyError):
        async with httpx.AsyncClient(base_url=base, timeout=5) as client:
            value = (await client.get("/health")).json().get("journal_commands")
            return int(value) if value is not None else None
    return None


# ---------------------------------------------------------------------- the victim


@dataclass
class _VictimStats:
    latencies: list[int] = field(default_factory=list)  # order ack latencies, ns
    sent: int = 0
    rejected: int = 0
    unanswered: int = 0
    disconnected: bool = False

    def report(self, name: str, out: dict[str, Any]) -> float | None:
        p50, p99 = percentiles_ms(self.latencies)
        out[f"victim_{name}_p50_ms"], out[f"victim_{name}_p99_ms"] = p50, p99
        out[f"victim_{name}_orders"] = self.sent
        out[f"victim_{name}_unanswered"] = self.unanswered
        if self.rejected:
            out[f"victim_{name}_rejected"] = self.rejected
        if self.disconnected:
            out[f"victim_{name}_disconnected"] = True
        return p99


async def _victim(url: str, key: str, seconds: float, rate: float = VICTIM_RATE) -> _VictimStats:
    """Paced post-only orders on S00, each cancelled once acknowledged; ack latencies.

    An order still unanswered 2 s after the phase counts with the time it
    waited (a lower bound), so a stalled venue shows in p99 instead of hiding.
    """
    from websockets.exceptions import ConnectionClosed

    stats = _VictimStats()
    sent_at: dict[int, int] = {}
    ws = await _connect(url, key)
    try:

        async def reader() -> None:
            async for raw in ws:
                now = time.monotonic_ns()
                for frame in _frames(raw):
                    req_id = frame.get("req_id")
                    if frame.get("type") not in ("ack", "error") or not isinstance(req_id, int):
                        continue
                    started = sent_at.pop(req_id, None)
                    if started is None:
                        continue
                    stats.latencies.append(now - started)
                    order = frame.get("order") or {}
                    if order.get("status") == "new":
                        cancel = {"op": "cancel", "symbol": "S00", "order_id": order["order_id"]}
                        await ws.send(json.dumps({**cancel, "req_id": f"c{req_id}"}))
                    elif frame.get("type") == "error" or order.get("status") == "rejected":
                        stats.rejected += 1

        task = asyncio.create_task(reader())
        start = time.monotonic()
        end = start + seconds
        order = {"op": "order", "symbol": "S00", "side": "buy", "qty": "1"}
        order |= {"price": VICTIM_PRICE, "tif": "post_only"}
        with contextlib.suppress(ConnectionClosed, TimeoutError):
            while time.monotonic() < end and not task.done():
                stats.sent += 1
                sent_at[stats.sent] = time.monotonic_ns()
                await asyncio.wait_for(ws.send(json.dumps({**order, "req_id": stats.sent})), 5)
                await asyncio.sleep(max(0.0, start + stats.sent / rate - time.monotonic()))
        grace = time.monotonic() + 2.0
        while sent_at and time.monotonic() < grace and not task.done():
            await asyncio.sleep(0.01)
        stats.disconnected = task.done()  # the reader only ends with the connection
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
            await task
        now = time.monotonic_ns()
        stats.unanswered = len(sent_at)
        stats.latencies.extend(now - started for started in sent_at.values())
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(ws.close(), 2)
    return stats


# ---------------------------------------------------------------------- the flood


def _flood_messages(kind: str, n: int, big: str) -> str:
    if kind == "order":
        body: dict[str, Any] = {"op": "order", "symbol": "S01", "side": "buy", "qty": "1"}
        body |= {"price": "1.00", "tif": "post_only", "client_order_id": f"f{n}"}
    elif kind == "cancel_unknown":
        body = {"op": "cancel", "symbol": "S01", "order_id": 10**12 + n}
    elif kind == "modify_unknown":
        body = {"op": "modify", "symbol": "S01", "order_id": 10**12 + n, "price": "1.01"}
    elif kind == "cancel_all":
        body = {"op": "cancel", "all": True}
    else:  # big_cancel: 30 KB symbol and 30 KB client order id
        body = {"op": "cancel", "symbol": big, "client_order_id": big}
    return json.dumps({**body, "req_id": n})


FLOOD_MIX = ("order", "cancel_unknown", "order", "modify_unknown", "cancel_all", "big_cancel")
KILLED_MIX = ("cancel_unknown", "cancel_all", "big_cancel", "modify_unknown", "order")


async def _flood_one(
    ws: ClientConnection, mix: tuple[str, ...], rate: float, seconds: float
) -> dict[str, Any]:
    """Send ``mix`` round robin at ``rate`` msgs/s for ``seconds``; count what comes back."""
    from websockets.exceptions import ConnectionClosed

    big = "X" * BIG_FIELD
    codes: Counter[str] = Counter()
    out: dict[str, Any] = {"sent": 0, "send_stalls": 0, "closed_by_server": None}

    async def reader() -> None:
        try:
            async for raw in ws:
                for frame in _frames(raw):
                    code = classify_answer(frame)
                    if code is not None:
                        codes[code] += 1
        except ConnectionClosed as exc:
            out["closed_by_server"] = exc.rcvd.code if exc.rcvd else -1

    task = asyncio.create_task(reader())
    start = time.monotonic()
    end = start + seconds
    n = 0
    try:
        while time.monotonic() < end and not task.done():
            due = int((time.monotonic() - start) * rate)
            while n < due and time.monotonic() < end:
                message = _flood_messages(mix[n % len(mix)], n, big)
                try:
                    await asyncio.wait_for(ws.send(message), max(0.05, end - time.monotonic()))
                except TimeoutError:
                    out["send_stalls"] += 1  # the venue stopped reading this connection
                    break
                n += 1
            await asyncio.sleep(0.005)
    except ConnectionClosed:
        pass
    out["sent"] = n
    grace = time.monotonic() + 2.0
    while sum(codes.values()) < n and time.monotonic() < grace and not task.done():
        await asyncio.sleep(0.02)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    if out["closed_by_server"] is None:
        out.pop("closed_by_server")
    out["codes"] = dict(codes)
    return out


async def _flood(url: str, keys: list[str], seconds: float, ready: Callable[[], None]) -> Any:
    rate = float(FLOOD_LIMIT * FLOOD_FACTOR)
    limited, killed = await _connect(url, keys[0]), await _connect(url, keys[1])
    try:
        ready()
        parts = await asyncio.wait_for(
            asyncio.gather(
                _flood_one(limited, FLOOD_MIX, rate, seconds),
                _flood_one(killed, KILLED_MIX, rate, seconds),
            ),
            timeout=seconds + 20,
        )
    finally:
        for ws in (limited, killed):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(), 2)
    return {"limited": parts[0], "killed": parts[1]}


def _flood_main(conn: Connection, url: str, keys: list[str], seconds: float) -> None:
    """The attackers, in a child process so they do not share the victim's event loop."""
    try:
        result = asyncio.run(_flood(url, keys, seconds, lambda: conn.send("ready")))
        conn.send(result)
    except Exception as exc:  # reported to the parent, which goes on
        conn.send({"error": f"{type(exc).__name__}: {exc}"})
    finally:
        conn.close()


async def _receive(conn: Connection, timeout: float) -> Any:
    """The next message from a child process, or a string saying why none came."""
    try:
        if not await asyncio.to_thread(conn.poll, timeout):
            return f"nothing within {timeout:g} s"
        return conn.recv()
    except (EOFError, OSError) as exc:
        return f"the process ended ({type(exc).__name__})"


async def _flood_phase(
    run: _Run, venue: _Venue, keys: list[str], seconds: float, result: dict[str, Any]
) -> _VictimStats | None:
    """Start the attackers' process, measure the victim while they flood, collect their counts.

    ``keys``: the victim's, the rate-limited attacker's and the killed account's.
    The journal's growth is taken from the attackers' start to the victim's end.
    """
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_flood_main, args=(child, venue.url, keys[1:], seconds), daemon=True)
    proc.start()
    child.close()
    victim: _VictimStats | None = None
    try:
        first = await _receive(parent, 60)
        if first != "ready":
            run.errors.append(f"flood: {first}")
            return None
        size0, commands0 = _journal_bytes(venue.journal), await _journal_commands(venue.base)
        victim = await asyncio.wait_for(_victim(venue.url, keys[0], seconds), seconds + 30)
        size1, commands1 = _journal_bytes(venue.journal), await _journal_commands(venue.base)
        result["journal_growth_mb"] = round((size1 - size0) / 1e6, 2)
        if commands0 is not None and commands1 is not None:
            result["journal_commands_flood"] = commands1 - commands0
        report = await _receive(parent, seconds + 30)
        if not isinstance(report, dict):
            run.errors.append(f"flood: the attackers reported {report!r}")
            return victim
    finally:
        await asyncio.to_thread(proc.join, 5)
        if proc.is_alive():
            proc.terminate()
            await asyncio.to_thread(proc.join, 2)
        if proc.is_alive():
            proc.kill()
        parent.close()
    if "error" in report:
        run.errors.append(f"flood: {report['error']}")
        return victim
    codes: Counter[str] = Counter()
    for part in report.values():
        codes.update(part["codes"])
    answered = sum(codes.values())
    refused = sum(n for code, n in codes.items() if is_refusal(code))
    sent = sum(part["sent"] for part in report.values())
    result["flood_rate_per_account"] = FLOOD_LIMIT * FLOOD_FACTOR
    result["flood_limit_msgs_per_sec"] = FLOOD_LIMIT
    result["flood_sent"] = sent
    result["flood_sent_per_sec"] = round(sent / seconds, 1)
    result["flood_answered"] = answered
    result["flood_unanswered"] = max(0, sent - answered)
    result["flood_refused"] = refused
    result["flood_processed"] = answered - refused
    result["flood_processed_per_sec"] = round((answered - refused) / seconds, 1)
    result["flood_codes"] = dict(codes.most_common())
    result["flood_killed_processed"] = sum(
        n for code, n in report["killed"]["codes"].items() if not is_refusal(code)
    )
    result["flood_send_stalls"] = sum(part["send_stalls"] for part in report.values())
    closed = {k: v["closed_by_server"] for k, v in report.items() if "closed_by_server" in v}
    if closed:
        result["flood_closed_by_server"] = closed
    return victim


# ---------------------------------------------------------------------- slow readers


def _slow_reader(
    port: int, symbols: list[str], source: str | None = None, timeout: float = 5.0
) -> socket.socket:
    """A raw socket: WS handshake on /ws/md (no key), subscribe to every book, never read again.

    Its receive buffer is small, like a client on a thin link, so what the
    venue queues for it piles up in the venue, not in this machine's kernel.
    ``source``: a loopback address to connect from (127.0.0.0/8 is all loopback).
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        sock.settimeout(timeout)
        if source is not None:
            try:
                sock.bind((source, 0))
            except OSError:  # only 127.0.0.1 here: one address for all
                sock.close()
                return _slow_reader(port, symbols, None, timeout)
        sock.connect((HOST, port))
        key = base64.b64encode(os.urandom(16)).decode()
        sock.sendall(ws_handshake(HOST, port, "/ws/md", key))
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(4096)
            if not chunk or len(answer) > 16384:
                msg = f"handshake failed: {answer[:200]!r}"
                raise ConnectionError(msg)
            answer += chunk
        head = answer.split(b"\r\n\r\n", 1)[0].decode(errors="replace")
        if " 101 " not in head.splitlines()[0] or ws_accept_key(key) not in head:
            msg = f"handshake refused: {head.splitlines()[0]!r}"
            raise ConnectionError(msg)
        for symbol in symbols:
            body = json.dumps({"op": "subscribe", "channel": "book", "symbol": symbol}).encode()
            sock.sendall(ws_client_frame(body, os.urandom(4)))
    except BaseException:
        sock.close()
        raise
    return sock


def _tcp_state(sock: socket.socket) -> int | None:
    """The kernel's TCP state of a socket (1: established), read without reading data."""
    option = getattr(socket, "TCP_INFO", None)
    if option is None:
        return None
    try:
        return sock.getsockopt(socket.IPPROTO_TCP, option, 8)[0]
    except OSError:
        return None


@dataclass
class _Drained:
    closed: bool = False  # EOF or reset: the venue had given up on this reader
    nbytes: int = 0
    backlog: int | None = None  # bytes read before the socket first had nothing to give
    tail: bytes = b""
    snapshots: int = 0  # subscriptions answered with the book
    errors: int = 0  # answers that refused something (a rate limit, ...)

    def take(self, chunk: bytes) -> None:
        """Count what a chunk of the stream holds (a match may straddle two chunks)."""
        window = self.tail[-32:] + chunk
        for pattern, attr in ((b'"type":"snapshot"', "snapshots"), (b'"type":"error"', "errors")):
            found = window.count(pattern) - self.tail[-32:].count(pattern)
            setattr(self, attr, getattr(self, attr) + found)
        self.nbytes += len(chunk)
        self.tail = (self.tail + chunk[-512:])[-512:]


def _drain(socks: list[socket.socket], seconds: float) -> list[_Drained]:
    """Read what each socket has until EOF/reset, or until ``seconds`` pass.

    What a socket gives before the first poll that finds it empty is what the
    venue (and the kernel) had queued for it: its backlog. The market goes on,
    so a reader the venue kept keeps receiving until the deadline.
    """
    out = [_Drained() for _ in socks]
    selector = selectors.DefaultSelector()
    for i, sock in enumerate(socks):
        with contextlib.suppress(OSError, ValueError):
            sock.setblocking(False)
            selector.register(sock, selectors.EVENT_READ, i)
    buffer = bytearray(1 << 20)
    deadline = time.monotonic() + seconds
    while selector.get_map() and time.monotonic() < deadline:
        ready = selector.select(timeout=0.05)
        if ready:
            waiting = {key.data for key, _ in ready}
            for registered in selector.get_map().values():
                state = out[registered.data]
                if registered.data not in waiting and state.backlog is None:
                    state.backlog = state.nbytes
        for key, _ in ready:
            sock, state = socks[key.data], out[key.data]
            try:
                n = sock.recv_into(buffer)
            except BlockingIOError:
                continue
            except OSError:
                n = 0  # reset by the venue
            if n == 0:
                state.closed = True
                if state.backlog is None:
                    state.backlog = state.nbytes
                selector.unregister(sock)
                continue
            state.take(bytes(buffer[:n]))
    selector.close()
    return out


async def _reference_reader(url: str, seconds: float) -> float:
    """Bytes/s a reader that keeps up gets from every book: what each slow reader is offered."""
    from websockets.exceptions import ConnectionClosed

    ws = await _connect(url, None)
    received = 0
    try:
        for symbol in SYMBOLS:
            await ws.send(json.dumps({"op": "subscribe", "channel": "book", "symbol": symbol}))
        start = time.monotonic()
        end = start + seconds
        with contextlib.suppress(ConnectionClosed, TimeoutError):
            while (left := end - time.monotonic()) > 0:
                received += len(await asyncio.wait_for(ws.recv(), left))
        return received / max(1e-9, time.monotonic() - start)
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(ws.close(), 2)


async def _slow_phase(
    run: _Run, venue: _Venue, key: str, count: int, seconds: float, result: dict[str, Any]
) -> _VictimStats | None:
    """Open ``count`` never-reading subscribers; measure the victim meanwhile; count cut-offs."""
    readers: list[socket.socket] = []
    addresses: set[str] = set()
    opened: list[float] = []
    failed = 0
    give_up = time.monotonic() + 30.0  # a venue that stalls handshakes must not stall this
    for _ in range(count):
        if time.monotonic() > give_up:
            failed += 1
            continue
        # one loopback address each, as from many machines: the venue's per-address
        # limit would otherwise refuse most subscriptions of the 100 and spare the venue
        source = f"127.0.0.{2 + len(readers) % 250}"
        try:
            sock = await asyncio.to_thread(_slow_reader, venue.port, SYMBOLS, source)
        except (OSError, ConnectionError) as exc:
            failed += 1
            if failed == 1:
                run.errors.append(f"slow reader: {exc}")
            continue
        run.sockets.append(sock)
        readers.append(sock)
        addresses.add(sock.getsockname()[0])
        opened.append(time.monotonic())
    result["slow_readers"] = len(readers)
    if failed:
        result["slow_readers_refused"] = failed
    run.say(f"{len(readers)} slow readers subscribed to {len(SYMBOLS)} books each")
    cut_at: dict[int, float] = {}  # reset seen by this side's kernel, seconds after subscribing
    # the venue's descriptors: one closes when it lets a connection go, even when
    # the kernel still holds the unsent bytes (then only reading shows the EOF)
    fds_at_start = open_fds(venue.pid)
    fds: list[tuple[float, int]] = []
    ready_at = time.monotonic()

    async def watch() -> None:
        while True:
            now = time.monotonic()
            for i, sock in enumerate(readers):
                if i not in cut_at:
                    state = _tcp_state(sock)
                    if state is not None and state != TCP_ESTABLISHED:
                        cut_at[i] = now - opened[i]
            count = open_fds(venue.pid)
            if count is not None:
                fds.append((now - ready_at, count))
            await asyncio.sleep(0.1)

    watcher = asyncio.create_task(watch())
    reference = asyncio.create_task(_reference_reader(venue.url, seconds))
    try:
        victim = await asyncio.wait_for(_victim(venue.url, key, seconds), seconds + 30)
        with contextlib.suppress(Exception):
            offered = await asyncio.wait_for(reference, 10)
            result["md_offered_kb_per_s_per_reader"] = round(offered / 1e3, 1)
    finally:
        for task in (watcher, reference):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
    # what the venue still holds for them: read it; EOF means it had given up on them
    drained = await asyncio.to_thread(_drain, readers, 5.0)
    after = [i for i, d in enumerate(drained) if d.closed and i not in cut_at]
    result["slow_readers_dropped"] = len(cut_at) + len(after)
    result["slow_readers_reset_in_phase"] = len(cut_at)
    result["slow_readers_eof_after_drain"] = len(after)
    result["slow_readers_told_slow_consumer"] = sum(b"SLOW_CONSUMER" in d.tail for d in drained)
    result["slow_reader_addresses"] = len(addresses)
    result["slow_reader_books_sent"] = sum(d.snapshots for d in drained)
    result["slow_reader_error_frames"] = sum(d.errors for d in drained)
    released = release_times(fds, fds_at_start) if fds_at_start is not None else []
    result["slow_readers_released_in_phase"] = len(released)
    if released:  # seconds from the last subscription to the venue letting readers go
        result["slow_reader_cutoff_s_p50"] = round(released[len(released) // 2], 2)
        result["slow_reader_cutoff_s_max"] = round(released[-1], 2)
    backlog = [d.nbytes if d.backlog is None else d.backlog for d in drained]
    result["slow_reader_backlog_mb_max"] = round(max(backlog, default=0) / 2**20, 1)
    for sock in readers:
        with contextlib.suppress(OSError):
            sock.close()
    return victim


# ---------------------------------------------------------------------- phases 1-3


async def _live_phases(
    run: _Run, seconds: float, slow_readers: int, result: dict[str, Any]
) -> None:
    journal = run.folder / "live" / "venue.db"
    journal.parent.mkdir(parents=True)
    extra = ["--market", "--market-rate", str(MARKET_RATE)]
    venue = run.venue(journal, SYMBOLS, extra)
    run.say(f"venue on {venue.base}: {len(SYMBOLS)} symbols, market at {MARKET_RATE:g}/s each")
    await venue.ready()
    base = venue.base
    _, victim_key = await _account(base, "victim")
    attacker, attacker_key = await _account(base, "attacker")
    killed, killed_key = await _account(base, "killed")
    for account in (attacker, killed):
        limits = {"account_id": account, "max_msgs_per_sec": FLOOD_LIMIT, "burst": FLOOD_LIMIT}
        await _admin(base, "PUT", "/admin/limits", limits)
    await _admin(base, "POST", "/admin/kill", {"account_id": killed})
    await asyncio.sleep(2.0)  # the market fills the books
    await asyncio.wait_for(_victim(venue.url, victim_key, 1.0), 30)  # warm-up, not counted

    run.say(f"baseline: victim at {VICTIM_RATE:g} orders/s for {seconds:g} s")
    run.sampler.phase = "baseline"
    size0, commands0 = _journal_bytes(journal), await _journal_commands(base)
    base_stats = await asyncio.wait_for(_victim(venue.url, victim_key, seconds), seconds + 30)
    result["victim_baseline_p99_ms"] = base_stats.report("baseline", result)
    size1, commands1 = _journal_bytes(journal), await _journal_commands(base)
    result["journal_growth_baseline_mb"] = round((size1 - size0) / 1e6, 2)
    if commands0 is not None and commands1 is not None:
        result["journal_commands_baseline"] = commands1 - commands0

    run.say(f"flood: two accounts at {FLOOD_FACTOR}x their {FLOOD_LIMIT}/s limit for {seconds:g} s")
    run.sampler.phase = "flood"
    keys = [victim_key, attacker_key, killed_key]
    flood = await _flood_phase(run, venue, keys, seconds, result)
    p99s = []
    if flood is not None:
        p99s.append(flood.report("flood", result))

    if slow_readers > 0:
        run.say(f"slow readers: {slow_readers} sockets that never read, {4 * seconds:g} s")
        run.sampler.phase = "slow_readers"
        slow = await _slow_phase(run, venue, victim_key, slow_readers, 4 * seconds, result)
        if slow is not None:
            p99s.append(slow.report("slow", result))
        await asyncio.sleep(1.0)
        rss = read_rss_mb(venue.pid)
        result["server_rss_mb_after_readers"] = round(rss, 1) if rss is not None else None
    run.sampler.phase = "live_end"
    measured = [p for p in p99s if p is not None]
    result["victim_order_p99_ms"] = max(measured) if measured else None
    venue.stop()


# ---------------------------------------------------------------------- kill -9


@dataclass
class _Stream:
    acked: int = 0
    ids: list[int] = field(default_factory=list)
    in_flight: list[str] = field(default_factory=list)  # sent, unanswered at the end


async def _stream_orders(
    url: str,
    key: str,
    ledger: Ledger,
    prefix: str,
    target: int,
    on_target: Callable[[], None] | None,
    timeout: float = 60.0,
    window: int = 256,
) -> _Stream:
    """Pipeline post-only orders (3 in 4 cancelled once acknowledged) into the ledger.

    With ``on_target`` (a kill -9) it is called once ``target`` orders are
    acknowledged and the stream goes on until the connection dies; without,
    the stream stops there and waits for every answer.
    """
    from websockets.exceptions import ConnectionClosed

    out = _Stream()
    sent: dict[int, str] = {}
    cancels: set[str] = set()
    slots = asyncio.Semaphore(window)
    enough = asyncio.Event()
    ws = await _connect(url, key)

    async def reader() -> None:
        async for raw in ws:
            for frame in _frames(raw):
                if frame.get("type") not in ("ack", "error"):
                    continue
                req_id, order = frame.get("req_id"), frame.get("order") or {}
                if isinstance(req_id, int) and req_id in sent:
                    cid = sent.pop(req_id)
                    slots.release()
                    if order.get("reason") != "NONE" or order.get("status") == "rejected":
                        continue
                    order_id = int(order["order_id"])
                    ledger.placed(cid, order_id)
                    out.ids.append(order_id)
                    out.acked += 1
                    if out.acked % 4:
                        tag = f"x{order_id}"
                        cancels.add(tag)
                        body = {"op": "cancel", "symbol": "S00", "order_id": order_id}
                        await ws.send(json.dumps({**body, "req_id": tag}))
                    if out.acked == target:
                        enough.set()
                        if on_target is not None:
                            on_target()
                elif isinstance(req_id, str) and req_id in cancels:
                    cancels.discard(req_id)
                    if order.get("status") == "canceled":
                        ledger.cancel_acked(int(order["order_id"]))
            if enough.is_set() and on_target is None and not sent and not cancels:
                return

    async def sender() -> None:
        n = 0
        body = {"op": "order", "symbol": "S00", "side": "buy", "qty": "1"}
        body |= {"price": VICTIM_PRICE, "tif": "post_only"}
        while on_target is not None or not enough.is_set():
            await slots.acquire()
            n += 1
            cid = f"{prefix}{n}"
            sent[n] = cid
            await ws.send(json.dumps({**body, "client_order_id": cid, "req_id": n}))

    tasks = [asyncio.create_task(reader()), asyncio.create_task(sender())]
    try:
        await asyncio.wait_for(asyncio.shield(tasks[0]), timeout)
    except (ConnectionClosed, TimeoutError, OSError):
        pass
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(ws.close(), 2)
    out.in_flight = list(sent.values())
    return out


async def _verify(
    base: str, key: str, ledger: Ledger, order_ids: Iterable[int], seconds: float = 60.0
) -> tuple[int, int]:
    """Ask the venue for each acknowledged order, 16 at a time, for at most ``seconds``.

    Returns (orders judged, orders left unjudged when time ran out).
    """
    import httpx

    ids = list(dict.fromkeys(order_ids))
    judged = 0
    slots = asyncio.Semaphore(16)
    limits = httpx.Limits(max_connections=16)
    async with httpx.AsyncClient(
        base_url=base, headers={"X-API-Key": key}, timeout=10, limits=limits
    ) as client:

        async def one(order_id: int) -> None:
            nonlocal judged
            async with slots:
                try:
                    response = await client.get(f"/orders/{order_id}")
                except httpx.HTTPError:
                    return  # unanswered: unverified, neither found nor lost
            judged += 1
            if response.status_code == 200:
                ledger.check_found(order_id, response.json())
            elif response.status_code == 404:
                ledger.check_found(order_id, None)
            else:
                ledger.check_found(order_id, None, f"HTTP {response.status_code}")

        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*(one(i) for i in ids)), seconds)
    return judged, len(ids) - judged


async def _resend(url: str, key: str, ledger: Ledger, acked: list[str], unknown: list[str]) -> int:
    """Place client order ids again: acknowledged ones must not become new orders."""
    from websockets.exceptions import ConnectionClosed

    todo = {i + 1: cid for i, cid in enumerate([*acked, *unknown])}
    was_acked = set(acked)
    body = {"op": "order", "symbol": "S00", "side": "buy", "qty": "1"}
    body |= {"price": VICTIM_PRICE, "tif": "post_only"}
    ws = await _connect(url, key)
    try:
        for req_id, cid in todo.items():
            await ws.send(json.dumps({**body, "client_order_id": cid, "req_id": req_id}))
        deadline = time.monotonic() + 10
        with contextlib.suppress(ConnectionClosed, TimeoutError):
            while todo and time.monotonic() < deadline:
                raw = await asyncio.wait_for(ws.recv(), max(0.01, deadline - time.monotonic()))
                for frame in _frames(raw):
                    answer_to, order = frame.get("req_id"), frame.get("order")
                    if not isinstance(answer_to, int) or answer_to not in todo or order is None:
                        continue
                    cid = todo.pop(answer_to)
                    if cid in was_acked:
                        ledger.check_resend(cid, order)
                    elif order.get("reason") == "NONE" and order.get("status") != "rejected":
                        ledger.placed(cid, int(order["order_id"]))
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(ws.close(), 2)
    return len(acked) + len(unknown) - len(todo)


async def _kill9_phase(run: _Run, cycles: int, result: dict[str, Any]) -> None:
    rng = np.random.default_rng(14)  # a reproducible workload
    ledger = Ledger()
    journal = run.folder / "crash" / "venue.db"
    journal.parent.mkdir(parents=True)
    key: str | None = None
    previous: list[int] = []
    in_flight: list[str] = []
    kills = checked = unverified = resent = 0
    for cycle in range(cycles + 1):
        every = 200 if cycle % 2 == 0 and cycle < cycles else 100_000
        venue = run.venue(journal, ["S00", "S01"], ["--snapshot-every", str(every)])
        await venue.ready()
        if key is None:
            _, key = await _account(venue.base, "durable")
        else:
            last = set(previous)
            earlier = [i for i in ledger.owners if i not in last]
            sample = previous + _sample(rng, earlier, 300)
            every_one = list(ledger.owners)
            asked = every_one if cycle == cycles else sample
            judged, missed = await _verify(venue.base, key, ledger, asked)
            checked, unverified = checked + judged, unverified + missed
            again = _sample(rng, sorted(ledger.orders), 50)
            resent += await _resend(venue.url, key, ledger, again, in_flight[:20])
        if cycle == cycles:
            venue.stop()
            break
        target = int(rng.integers(500, 2001))
        run.say(f"kill -9 cycle {cycle + 1}/{cycles}: after {target} acks, snapshot every {every}")
        stream = await _stream_orders(venue.url, key, ledger, f"k{cycle}-", target, venue.kill9)
        venue.kill9()
        kills += 1
        previous, in_flight = stream.ids, stream.in_flight
    result["kill9_cycles"] = kills
    result["acknowledged"] = len(ledger.owners)
    result["acknowledged_cancels"] = len(ledger.canceled)
    result["orders_checked"] = checked
    result["orders_unverified"] = unverified  # no answer in time: not proven durable
    result["client_ids_resent"] = resent
    result["lost_acknowledged"] = ledger.lost
    result["duplicated"] = ledger.duplicated
    if ledger.notes:
        result["durability_notes"] = ledger.notes[:10]


# ---------------------------------------------------------------------- recovery


def _sample(rng: np.random.Generator, items: list[Any], most: int) -> list[Any]:
    """Up to ``most`` of ``items``, drawn without replacement, in drawn order."""
    picks = rng.choice(len(items), size=min(most, len(items)), replace=False)
    return [items[int(i)] for i in picks]


def _snapshot_files(journal: Path) -> list[Path]:
    """The venue's snapshot files, oldest first (the newest is what recovery loads)."""
    folder = journal.with_name(journal.name + ".snapshots")
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and ".tmp" not in p.name)


def _snapshot_seq(path: Path) -> int:
    digits = "".join(ch for ch in path.stem if ch.isdigit())
    return int(digits) if digits else 0


def _max_seq(journal: Path) -> int:
    db = sqlite3.connect(journal)
    try:
        return int(db.execute("SELECT COALESCE(MAX(seq), 0) FROM commands").fetchone()[0])
    except sqlite3.OperationalError:  # not even the schema reached the database file
        return 0
    finally:
        db.close()


async def _build_recovery_journal(run: _Run, folder: Path) -> Path:
    """A journal with snapshots every 200 commands, left by kill -9 after about 1,000 commands."""
    journal = folder / "venue.db"
    folder.mkdir(parents=True)
    venue = run.venue(journal, ["S00"], ["--snapshot-every", "200"])
    await venue.ready()
    _, key = await _account(venue.base, "recover")
    await _stream_orders(venue.url, key, Ledger(), "r", 600, None, timeout=30)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # until the newest snapshot is written
        files = _snapshot_files(journal)
        commands = await _journal_commands(venue.base) or 0
        if files and commands - _snapshot_seq(files[-1]) < 200:
            break
        await asyncio.sleep(0.1)
    venue.kill9()
    for _ in range(50):  # a forked snapshot writer may still be finishing
        if not any(
            ".tmp" in p.name for p in journal.with_name(journal.name + ".snapshots").iterdir()
        ):
            break
        await asyncio.sleep(0.1)
    return journal


def _copy_case(source: Path, root: Path, name: str) -> Path:
    """A copy of the folder of journal ``source`` (database, WAL, snapshots) as ``root/name``."""
    target = root / name
    shutil.copytree(source.parent, target)
    for log in target.glob("*.log"):
        log.unlink()
    return target / source.name


def _recovery_cases(source: Path, root: Path, flips: int) -> list[tuple[str, Path, bool]]:
    """(name, journal, must refuse) for each damaged copy of ``source``, and one intact."""
    rng = np.random.default_rng(5)  # reproducible damage
    cases = [("intact", _copy_case(source, root, "intact"), False)]
    newest = _snapshot_files(source)[-1]
    covered = _snapshot_seq(newest)

    ahead = _copy_case(source, root, "snapshot_ahead")
    db = sqlite3.connect(ahead)
    try:
        db.execute("DELETE FROM commands WHERE seq > ?", (max(0, covered - 50),))
        db.commit()
    finally:
        db.close()
    cases.append(("snapshot_ahead", ahead, True))

    lost = _copy_case(source, root, "wal_lost")  # a power cut under synchronous=NORMAL
    for suffix in ("-wal", "-shm"):
        lost.with_name(lost.name + suffix).unlink(missing_ok=True)
    probe = _copy_case(lost, root, "wal_lost_probe")  # opening the copy, not the case
    if _max_seq(probe) < covered:
        cases.append(("wal_lost", lost, True))

    size = newest.stat().st_size
    for k in range(flips):
        flipped = _copy_case(source, root, f"bit_flip_{k}")
        target = _snapshot_files(flipped)[-1]
        data = bytearray(target.read_bytes())
        position = int(rng.integers(size))
        data[position] ^= 1 << int(rng.integers(8))
        target.write_bytes(bytes(data))
        cases.append((f"bit_flip@{position}", flipped, True))

    torn = _copy_case(source, root, "torn")
    target = _snapshot_files(torn)[-1]
    with target.open("r+b") as fh:
        fh.truncate(int(rng.integers(size // 4, 3 * size // 4)))
    cases.append(("torn", torn, True))
    return cases


async def _start_on(run: _Run, journal: Path, extra: list[str]) -> tuple[str, int | None, str]:
    """Start a venue on ``journal``: (started/exited/timeout, exit code, its stderr)."""
    venue = run.venue(journal, ["S00"], extra)
    try:
        state, code = await venue.outcome(30.0)
    finally:
        venue.stop()
    return state, code, venue.stderr()


def _last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1][:200] if lines else ""


async def _recovery_phase(run: _Run, flips: int, result: dict[str, Any]) -> None:
    source = await _build_recovery_journal(run, run.folder / "recovery" / "source")
    if not _snapshot_files(source):
        run.errors.append("recovery: the venue wrote no snapshot with --snapshot-every 200")
        result["recoveries_tried"] = 1
        result["recoveries_refused_correctly"] = 0
        return
    cases = _recovery_cases(source, run.folder / "recovery" / "cases", flips)
    details: list[dict[str, Any]] = []
    correct = no_snapshot_tried = no_snapshot_started = 0
    for name, journal, must_refuse in cases:
        state, code, said = await _start_on(run, journal, [])
        if must_refuse:
            ok = state == "exited" and code == 3 and "recovery refused" in said.lower()
        else:
            ok = state == "started"
        correct += ok
        entry: dict[str, Any] = {"case": name, "expect": "refuse" if must_refuse else "start"}
        entry |= {"outcome": state if code is None else f"{state} {code}", "ok": ok}
        if must_refuse:
            no_snapshot_tried += 1
            safe_state, safe_code, safe_said = await _start_on(run, journal, ["--no-snapshot"])
            entry["no_snapshot"] = safe_state if safe_code is None else f"{safe_state} {safe_code}"
            no_snapshot_started += safe_state == "started"
            if safe_state != "started":
                entry["no_snapshot_said"] = _last_line(safe_said)
        if not ok:
            entry["said"] = _last_line(said)
        details.append(entry)
        run.say(f"recovery {name}: {entry['outcome']} ({'ok' if ok else 'WRONG'})")
    result["recoveries_tried"] = len(cases)
    result["recoveries_refused_correctly"] = correct
    result["no_snapshot_tried"] = no_snapshot_tried
    result["no_snapshot_started"] = no_snapshot_started
    result["recoveries"] = details


# ---------------------------------------------------------------------- the run


def _targets(result: dict[str, Any]) -> dict[str, bool]:
    base, p99 = result.get("victim_baseline_p99_ms"), result.get("victim_order_p99_ms")
    rss = result.get("server_rss_mb_peak")
    tried = result.get("recoveries_tried") or 0
    return {
        "lost_acknowledged": result.get("lost_acknowledged") == 0
        and not result.get("orders_unverified"),
        "duplicated": result.get("duplicated") == 0,
        "victim_p99": base is not None and p99 is not None and p99 <= P99_FACTOR * base,
        "server_rss": rss is not None and rss < RSS_TARGET_MB,
        "recoveries": tried > 0 and result.get("recoveries_refused_correctly") == tried,
        "no_snapshot_starts": (result.get("no_snapshot_tried") or 0) > 0
        and result.get("no_snapshot_started") == result.get("no_snapshot_tried"),
    }


async def _main(
    run: _Run, seconds: float, cycles: int, slow_readers: int, flips: int
) -> dict[str, Any]:
    result: dict[str, Any] = {"seconds": seconds}
    phases: list[tuple[str, Callable[[], Coroutine[Any, Any, None]], float]] = [
        ("live", lambda: _live_phases(run, seconds, slow_readers, result), 8 * seconds + 240),
        ("kill9", lambda: _kill9_phase(run, cycles, result), 60.0 * (cycles + 2)),
        ("recovery", lambda: _recovery_phase(run, flips, result), 300.0),
    ]
    for name, phase, budget in phases:
        started = time.monotonic()
        run.sampler.phase = name if name != "live" else "setup"
        try:
            await asyncio.wait_for(phase(), budget)
        except Exception as exc:  # one broken phase must not hide the rest
            run.errors.append(f"{name}: {type(exc).__name__}: {exc}"[:500])
            run.say(f"[red]{name} failed:[/] {type(exc).__name__}: {exc}"[:300])
        result[f"{name}_phase_s"] = round(time.monotonic() - started, 1)
        for venue in run.venues:  # nothing of a phase outlives it
            if venue.proc.poll() is None:
                venue.stop()
    return result


def run_abuse_bench(
    *,
    seconds: float = 5.0,
    cycles: int = 5,
    slow_readers: int = 100,
    flips: int = 3,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run every attack against fresh venue processes and return the measurements."""
    say = progress or (lambda _m: None)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="makerkit-abuse-") as tmp:
        run = _Run(Path(tmp), say)
        run.sampler.start()
        try:
            result = asyncio.run(_main(run, seconds, cycles, slow_readers, flips))
        finally:
            run.close()
        peaks = run.sampler.peaks
        result["server_rss_mb_peak"] = round(max(peaks.values()), 1) if peaks else None
        result["server_rss_mb_by_phase"] = {k: round(v, 1) for k, v in peaks.items()}
        result["rss_samples"] = run.sampler.samples
        result["kernel_tcp_mb_peak"] = round(run.sampler.tcp_mb_peak, 1)  # the whole machine
        result["kernel_tcp_orphans_peak"] = run.sampler.tcp_orphans_peak
    base, p99 = result.get("victim_baseline_p99_ms"), result.get("victim_order_p99_ms")
    result["victim_p99_ratio"] = round(p99 / base, 2) if base and p99 is not None else None
    for key in ("lost_acknowledged", "duplicated", "recoveries_refused_correctly"):
        result.setdefault(key, None)
    result["targets_met"] = _targets(result)
    result["errors"] = run.errors
    result["total_s"] = round(time.monotonic() - started, 1)
    return result


def abuse_table(result: Mapping[str, Any]) -> Table:
    """The run as a table: the headline figures with their targets, then the rest."""
    table = Table(title="venue under abuse", title_justify="left")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_column("target")
    met = result.get("targets_met", {})
    base = result.get("victim_baseline_p99_ms")
    headline = [
        ("lost_acknowledged", "0", "lost_acknowledged"),
        ("duplicated", "0", "duplicated"),
        ("victim_order_p99_ms", f"<= {P99_FACTOR:g} x {base}", "victim_p99"),
        ("server_rss_mb_peak", f"< {RSS_TARGET_MB:g}", "server_rss"),
        ("recoveries_refused_correctly", f"= {result.get('recoveries_tried')} tried", "recoveries"),
        ("no_snapshot_started", f"= {result.get('no_snapshot_tried')} tried", "no_snapshot_starts"),
    ]
    for key, target, name in headline:
        mark = "[green]met[/]" if met.get(name) else "[red]missed[/]"
        table.add_row(f"[bold]{key}[/]", _cell(result.get(key)), f"{target} {mark}")
    shown = {key for key, _, _ in headline} | {"targets_met"}
    for key, value in result.items():
        if key not in shown:
            table.add_row(key, _cell(value), "")
    return table


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, dict | list):
        return json.dumps(value)[:200]
    return str(value)
