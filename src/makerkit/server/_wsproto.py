"""WebSocket frames written straight to the socket, for the venue's outbound streams.

Through the ASGI path every outbound message costs a queue, a task switch, a
str round trip and the websockets library's frame builder. With 50 market-data
subscribers that is 10,000 sends a second of Python on the venue's one core,
and the order path waits behind it. ``VenueWSProtocol`` (uvicorn's sans-I/O
protocol) offers its transport to the app; a ``RawSender`` then writes each
frame as it is published: a 2-10 byte header and the JSON we already encoded,
in order, with no task in between.

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
from collections.abc import Callable
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

__all__ = ["RawSender", "VenueWSProtocol", "raw_sender"]

_KEY = "makerkit.raw_ws"
_TEXT, _CLOSE = 0x81, 0x88  # FIN + opcode


def _header(opcode: int, size: int) -> bytes:
    if size < 126:
        return bytes((opcode, size))
    if size < 65536:
        return struct.pack("!BBH", opcode, 126, size)
    return struct.pack("!BBQ", opcode, 127, size)


class VenueWSProtocol(WebSocketsSansIOProtocol):
    """uvicorn's sans-I/O WebSocket protocol that lends its transport to the app."""

    def handle_connect(self, event: Any) -> None:
        """The handshake, then this connection in the scope's extensions."""
        super().handle_connect(event)
        scope = getattr(self, "scope", None)
        if scope is not None:
            scope.setdefault("extensions", {})[_KEY] = {"protocol": self}


class RawSender:
    """Writes whole text frames to one connection's transport, within a memory and time bound."""

    def __init__(
        self,
        protocol: Any,
        limit: int = 1 << 20,
        stall_s: float = 5.0,
        grace_s: float = 1.0,
        now_ns: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        self.protocol = protocol
        self.transport = protocol.transport
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


def raw_sender(scope: Any, **bounds: Any) -> RawSender | None:
    """The connection's raw sender when it runs on ``VenueWSProtocol`` (else the ASGI path)."""
    ext = (scope.get("extensions") or {}).get(_KEY)
    if not ext:
        return None
    protocol = ext["protocol"]
    if getattr(protocol, "handshake_complete", False) is not True:
        return None
    return RawSender(protocol, **bounds)
