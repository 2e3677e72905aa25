"""Admission in front of the venue: what a client may send before it costs anything.

The venue's own risk checks are part of its deterministic state machine, so
whatever they refuse is still journaled and replayed. A flood must be stopped
before that: here every message an account sends is counted against its rate
(the account's ``max_msgs_per_sec``/``burst`` risk limits) and refused while the
account or the venue is killed, without touching the venue or the journal.
Unauthenticated market-data connections are rate-limited per connection and per
address. A refused connection is also told how long to wait, and its reader
pauses that long: the excess stays in the client's socket (TCP backpressure),
not in the venue's CPU.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from makerkit.core import MakerkitError

__all__ = ["MAX_WAIT_S", "BodyLimit", "Bucket", "Gate", "Refused"]

NS = 1_000_000_000
# the longest wait a refusal names: a rate near zero (any positive float is a valid
# limit) would otherwise say "retry in inf s" and break the Retry-After header
MAX_WAIT_S = 86_400.0


class Refused(MakerkitError):
    """A message refused at the gate; ``code`` is stable, ``retry_after_s`` a hint."""

    def __init__(self, message: str, code: str, status: int, retry_after_s: float = 0.0) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        self.retry_after_s = retry_after_s


class Bucket:
    """A token bucket on an injected nanosecond clock."""

    __slots__ = ("burst", "last_ns", "rate", "tokens")

    def __init__(self, rate: float, burst: float, now_ns: int) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.last_ns = now_ns

    def take(self, now_ns: int) -> float:
        """Take a token; return 0.0, or the seconds until one is available (nothing taken).

        The wait named is at most ``MAX_WAIT_S``, whatever the rate.
        """
        elapsed = max(0, now_ns - self.last_ns)
        self.tokens = min(self.burst, self.tokens + elapsed * self.rate / NS)
        self.last_ns = now_ns
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        missing = 1.0 - self.tokens
        if missing >= self.rate * MAX_WAIT_S:  # also a rate of 0: no division
            return MAX_WAIT_S
        return missing / self.rate


class Gate:
    """Per-account and per-connection admission, on the service's clock."""

    def __init__(
        self,
        now_ns: Callable[[], int],
        *,
        md_msgs_per_sec: float = 20.0,
        md_burst: int = 50,
        address_msgs_per_sec: float = 100.0,
        address_burst: int = 200,
        connections_per_address: int = 200,
        addresses_kept: int = 10_000,
    ) -> None:
        self.now_ns = now_ns
        self.md_rate = (md_msgs_per_sec, float(md_burst))
        self.address_rate = (address_msgs_per_sec, float(address_burst))
        self.connections_per_address = connections_per_address
        self.addresses_kept = addresses_kept
        self._accounts: dict[int, Bucket] = {}
        # the most recently seen addresses, at most `addresses_kept` (an evicted one
        # starts afresh: bounded memory and O(1) per message, whatever the addresses)
        self._addresses: OrderedDict[str, Bucket] = OrderedDict()
        self._connections: dict[str, int] = {}
        self.refused = 0

    def account(self, account: int, killed: str, rate: float | None, burst: int | None) -> None:
        """Count one message of ``account``; raise Refused when killed or over its rate."""
        if rate is not None:
            size = float(burst or max(1, int(rate)))
            bucket = self._accounts.get(account)
            if bucket is None or bucket.rate != rate or bucket.burst != size:
                bucket = self._accounts[account] = Bucket(rate, size, self.now_ns())
            wait = bucket.take(self.now_ns())
            if wait:
                self.refused += 1
                msg = f"message rate over {rate:g}/s (burst {size:g}); retry in {wait:.3f} s"
                raise Refused(msg, "RATE_LIMIT", 429, wait)
        if killed:
            self.refused += 1
            msg = f"the kill switch is on ({killed}): nothing is accepted until an admin resets it"
            raise Refused(msg, "KILL_SWITCH", 403)

    def connection(self, bucket: Bucket | None, address: str) -> Bucket:
        """Count one unauthenticated message of a connection (and of its address)."""
        now = self.now_ns()
        if bucket is None:
            bucket = Bucket(*self.md_rate, now)
        wait = bucket.take(now)
        if wait:
            self.refused += 1
            msg = f"requests over {bucket.rate:g}/s per connection; retry in {wait:.3f} s"
            raise Refused(msg, "RATE_LIMIT", 429, wait)
        self.address(address)
        return bucket

    def address(self, address: str) -> None:
        """Count one unauthenticated message of ``address`` (public REST, a bad key)."""
        now = self.now_ns()
        kept = self._addresses
        bucket = kept.get(address)
        if bucket is None:
            bucket = kept[address] = Bucket(*self.address_rate, now)
            if len(kept) > self.addresses_kept:
                kept.popitem(last=False)
        else:
            kept.move_to_end(address)
        wait = bucket.take(now)
        if wait:
            self.refused += 1
            msg = f"requests over {bucket.rate:g}/s per address; retry in {wait:.3f} s"
            raise Refused(msg, "RATE_LIMIT", 429, wait)

    def open(self, address: str) -> None:
        """Admit one more WebSocket connection from ``address`` (Refused past the cap)."""
        count = self._connections.get(address, 0)
        if count >= self.connections_per_address:
            self.refused += 1
            msg = f"at most {self.connections_per_address} connections per address"
            raise Refused(msg, "TOO_MANY_CONNECTIONS", 429)
        self._connections[address] = count + 1

    def close(self, address: str) -> None:
        """One WebSocket connection of ``address`` ended."""
        count = self._connections.get(address, 0) - 1
        if count > 0:
            self._connections[address] = count
        else:
            self._connections.pop(address, None)


class BodyLimit:
    """ASGI middleware: a request body over ``limit`` bytes is refused with 413, unread.

    Checked on the declared Content-Length and again on the bytes that arrive
    (a chunked body declares none), so a client cannot make the venue buffer
    megabytes before a handler sees them.
    """

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length" and value.isdigit() and int(value) > self.limit:
                await self._refuse(send)
                return
        seen = 0
        refused = False

        async def counted() -> Any:
            nonlocal seen, refused
            message = await receive()
            if message["type"] == "http.request" and not refused:
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    # answer now; the app sees a client that went away
                    refused = True
                    await self._refuse(send)
                    return {"type": "http.disconnect"}
            return message

        async def unless_refused(message: Any) -> None:
            if not refused:
                await send(message)

        await self.app(scope, counted, unless_refused)

    async def _refuse(self, send: Any) -> None:
        body = (
            b'{"code":"MESSAGE_TOO_LARGE","message":"request bodies are limited to '
            + str(self.limit).encode()
            + b' bytes"}'
        )
        headers = [(b"content-type", b"application/json"), (b"connection", b"close")]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})
