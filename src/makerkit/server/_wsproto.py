"""WebSocket frames written straight to the socket, for the venue's outbound streams.

Through the ASGI path every outbound message costs a queue, a task switch, a
str round trip and the websockets library's frame builder. With 50 market-data
subscribers that is 10,000 sends a second of Python on the venue's one core,
and the order path waits behind it. ``VenueWSProtocol`` (uvicorn's sans-I/O
protocol) offers its transport to the app; a ``RawSender`` then writes each
frame as it is published: a 2-10 byte header and the JSON we already encoded,
in order, with no task in between.

Inbound, the same protocol parses the client's frames itself once the session
asks for it (``raw_reader``): each whole, masked, unfragmented data frame is
unmasked and handed to the session as bytes, with no websockets parser, ASGI
queue or str decoding in between. Control frames go to the websockets
protocol one whole frame at a time (pings answered, pongs timed, a close
echoed), and anything else (a fragment, a reserved bit, a frame past
``ws_max_size``) hands that connection back to it for good, from that frame
on: what the client sees is what the websockets path does. Reading pauses while
received messages wait for the session, as uvicorn's own path does, so a
session that pauses (a rate limit) leaves the excess in the client's socket.

Flow control is ours: a subscriber whose unsent bytes pass ``limit``, or whose
bytes have stayed unsent for ``stall_s``, is sent a SLOW_CONSUMER error and a
close frame, and its connection is aborted ``grace_s`` later if the reader still
has not taken them: a reader that never reads holds at most ``limit`` bytes for
at most ``stall_s + grace_s`` (the venue never waits for a reader). Frames are
text frames, unmasked (server to client), never compressed (legal with
permessage-deflate too: RSV1 stays 0).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from starlette.websockets import WebSocketDisconnect
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

try:  # the websockets package's C unmasking, as its own parser uses
    from websockets.speedups import apply_mask
except ImportError:  # pragma: no cover - a build without its C extension
    from websockets.utils import apply_mask

__all__ = ["RawSender", "VenueWSProtocol", "raw_reader", "raw_sender"]

_KEY = "makerkit.raw_ws"
_TEXT, _CLOSE = 0x81, 0x88  # FIN + opcode


def _header(opcode: int, size: int) -> bytes:
    if size < 126:
        return bytes((opcode, size))
    if size < 65536:
        return struct.pack("!BBH", opcode, 126, size)
    return struct.pack("!BBQ", opcode, 127, size)


def _at_frame_boundary(conn: Any) -> bool:
    """Whether the websockets parser waits for a new frame with nothing buffered."""
    if conn.reader.buffer or getattr(conn, "current_size", None) is not None:
        return False
    gen = getattr(conn, "parser", None)
    while gen is not None and getattr(gen, "gi_yieldfrom", None) is not None:
        gen = gen.gi_yieldfrom
    code = getattr(gen, "gi_code", None)
    return code is not None and code.co_name == "at_eof"


class VenueWSProtocol(WebSocketsSansIOProtocol):
    """uvicorn's sans-I/O WebSocket protocol that lends its transport to the app.

    After ``read_directly`` it also parses the client's data frames itself.
    """

    # set by read_directly: the messages received and not yet taken by the session
    inbox: deque[bytes] | None = None
    _handed_back = False  # the websockets parser reads this connection again, for good
    _rx = b""  # the start of a frame not yet whole
    _waiter: asyncio.Future[None] | None = None
    _gone: WebSocketDisconnect | None = None

    def handle_connect(self, event: Any) -> None:
        """The handshake, then this connection in the scope's extensions."""
        super().handle_connect(event)
        scope = getattr(self, "scope", None)
        if scope is not None:
            scope.setdefault("extensions", {})[_KEY] = {"protocol": self}

    def read_directly(self) -> bool:
        """Parse this connection's frames here from now on; False when it cannot start cleanly.

        It starts only at a frame boundary, with nothing received waiting and no
        extension negotiated: otherwise the ASGI path keeps the connection.
        """
        if self.inbox is not None:
            return True
        if (
            not self.handshake_complete
            or self.close_sent
            or self.disconnected
            or self.conn.extensions
            or self.frames
            or not self.queue.empty()
            or not _at_frame_boundary(self.conn)
        ):
            return False
        self.inbox = deque()
        return True

    def data_received(self, data: bytes) -> None:
        """Take whole data frames straight to the inbox; hand anything else to websockets."""
        inbox = self.inbox
        if inbox is None:
            super().data_received(data)
            return
        if self._handed_back:
            super().data_received(data)
            self._take_queue()
            return
        buf = self._rx + data if self._rx else data
        end = len(buf)
        off = 0
        limit = self.config.ws_max_size
        discard = self.close_sent  # the app closed: data frames are dropped, as uvicorn does
        while end - off >= 2:
            head, second = buf[off], buf[off + 1]
            size = second & 0x7F
            start = off + 2
            if size == 126:
                if end - start < 2:
                    break
                size = int.from_bytes(buf[start : start + 2], "big")
                start += 2
            elif size == 127:
                if end - start < 8:
                    break
                size = int.from_bytes(buf[start : start + 8], "big")
                start += 8
            opcode = head & 0x0F
            plain = (head & 0xF0) == 0x80 and second & 0x80 and opcode in (0x1, 0x2)
            if not plain or size > limit:
                if opcode >= 0x8 and head & 0x70 == 0 and second & 0x80 and size <= 125:
                    # a control frame: websockets answers it, whole, then parsing goes on
                    stop = start + 4 + size
                    if stop > end:
                        break
                    self._to_websockets(buf[off:stop])
                    off = stop
                    if self._gone is not None or self.disconnected:
                        off = end
                        break
                    continue
                # a fragment, a reserved bit, no mask, too large: websockets from here on
                self._handed_back = True
                self._rx = b""
                self._to_websockets(buf[off:end])
                return
            stop = start + 4 + size
            if stop > end:
                break
            if not discard:
                inbox.append(apply_mask(buf[start + 4 : stop], buf[start : start + 4]))
            off = stop
        self._rx = buf[off:end] if off < end else b""
        if inbox:
            self._wake()
            if not self.read_paused:
                self.read_paused = True
                self.transport.pause_reading()

    def _to_websockets(self, data: bytes) -> None:
        """Feed bytes to the websockets protocol, as uvicorn does, and take what it queued."""
        super().data_received(data)
        self._take_queue()

    def _take_queue(self) -> None:
        """Messages uvicorn queued go to the inbox; a disconnect ends the session's reads."""
        queue = self.queue
        inbox = self.inbox
        assert inbox is not None  # noqa: S101 - only while reading directly
        while not queue.empty():
            message = queue.get_nowait()
            if message["type"] == "websocket.receive":
                text = message.get("text")
                inbox.append(text.encode() if text is not None else message.get("bytes") or b"")
            elif message["type"] == "websocket.disconnect" and self._gone is None:
                self._gone = WebSocketDisconnect(message.get("code", 1000), message.get("reason"))
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def shutdown(self) -> None:
        """The server stops: a session reading directly is told at once, as the ASGI path is."""
        super().shutdown()
        if self.inbox is not None:
            self._take_queue()

    def connection_lost(self, exc: Exception | None) -> None:
        """The connection is gone: a session reading directly is told after what it has."""
        super().connection_lost(exc)
        if self.inbox is not None:
            self._take_queue()

    def take_direct(self) -> bytes | None:
        """The next client message if one is waiting, else None (without waiting)."""
        inbox = self.inbox
        if not inbox:
            return None
        message = inbox.popleft()
        if not inbox and self.read_paused and not self.disconnected:
            self.read_paused = False
            self.transport.resume_reading()
        return message

    async def receive_direct(self) -> bytes:
        """The next client message, text or binary, as bytes; ``WebSocketDisconnect`` at the end."""
        inbox = self.inbox
        assert inbox is not None  # noqa: S101 - only after read_directly
        while not inbox:
            if not self.queue.empty():  # the app's own close queues a disconnect
                self._take_queue()
                continue
            if self._gone is not None:
                raise self._gone
            self._waiter = self.loop.create_future()
            await self._waiter
        message = self.take_direct()
        assert message is not None  # noqa: S101 - the inbox holds one
        return message


class RawSender:
    """Writes whole text frames to one connection's transport, within a memory and time bound."""

    def __init__(
        self,
        protocol: Any,
        limit: int = 1 << 20,
        stall_s: float = 5.0,
        grace_s: float = 1.0,
        now_ns: Callable[[], int] = time.monotonic_ns,
        kernel_buffer: int | None = None,
    ) -> None:
        self.protocol = protocol
        self.transport = protocol.transport
        if kernel_buffer is not None:
            # a fixed send buffer instead of the kernel's autotuned one (megabytes on a
            # fast link): a reader that stops is seen behind within ``limit`` plus this,
            # not after the kernel has queued megabytes more for it
            sock = self.transport.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, kernel_buffer)
        self.limit = limit
        self.stall_ns = int(stall_s * 1e9)
        self.grace_s = grace_s
        self._now = now_ns
        self._stalled_since: int | None = None  # when unsent bytes last started piling up
        self._unsent = 0  # what was left unsent after the last write

    @property
    def open(self) -> bool:
        """Whether frames can still go out."""
        p = self.protocol
        return not (p.close_sent or p.disconnected or self.transport.is_closing())

    def send(self, payload: bytes) -> bool:
        """Write one frame; False when the connection is gone or its reader too slow."""
        if not self.open:
            return False
        frame = _header(_TEXT, len(payload)) + payload
        self.transport.write(frame)
        unsent = self.transport.get_write_buffer_size()
        if unsent > self.limit:
            return False
        if unsent == 0:  # the kernel took everything: the reader keeps up
            self._stalled_since = None
            self._unsent = 0
            return True
        now = self._now()
        # the stall clock runs while nothing drains: a reader that takes bytes, however
        # busy the feed, restarts it
        drained = unsent - len(frame) < self._unsent
        if self._stalled_since is None or drained:
            self._stalled_since = now
        self._unsent = unsent
        return bool(now - self._stalled_since <= self.stall_ns)

    def close(self, code: int, reason: str) -> None:
        """A close frame, then the connection goes; aborted if the reader never takes it."""
        if not self.open:
            return
        body = struct.pack("!H", code) + reason.encode()[:120]
        self.transport.write(_header(_CLOSE, len(body)) + body)
        self.protocol.close_sent = True
        self.transport.close()  # waits for the buffer to drain, which a stuck reader never does
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._reset()
            return
        loop.call_later(self.grace_s, self._reset)

    def _reset(self) -> None:
        """Drop the connection with a reset: the kernel frees its send buffer too.

        A plain close of a socket whose reader never reads leaves the unsent
        bytes (megabytes) in the kernel, orphaned, until its retries give up.
        """
        if self.protocol.disconnected:
            return
        sock = self.transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.transport.abort()


def raw_reader(scope: Any) -> VenueWSProtocol | None:
    """The connection's protocol once it reads frames directly (else the ASGI path)."""
    ext = (scope.get("extensions") or {}).get(_KEY)
    if not ext:
        return None
    protocol = ext["protocol"]
    if not isinstance(protocol, VenueWSProtocol) or not protocol.read_directly():
        return None
    return protocol


def raw_sender(scope: Any, **bounds: Any) -> RawSender | None:
    """The connection's raw sender when it runs on ``VenueWSProtocol`` (else the ASGI path)."""
    ext = (scope.get("extensions") or {}).get(_KEY)
    if not ext:
        return None
    protocol = ext["protocol"]
    if getattr(protocol, "handshake_complete", False) is not True:
        return None
    return RawSender(protocol, **bounds)
