"""Async Python client of the venue: REST calls, market-data and private WebSocket streams.

Errors come back as the same exception classes the venue raises (one
mapping, from the stable ``code``). Streams reconnect with back-off,
resubscribe, detect sequence gaps and resync from a fresh snapshot.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Iterable
from decimal import Decimal
from typing import Any

import httpx
import msgspec
import websockets

from makerkit.core import MakerkitError
from makerkit.core.errors import error_for_code
from makerkit.wire import (
    AccountOut,
    BookOut,
    FillOut,
    HealthOut,
    InstrumentOut,
    OrderOut,
    PositionOut,
    RiskOut,
)

__all__ = ["BookMirror", "MarketDataStream", "PrivateStream", "VenueClient", "error_from"]

_decode = msgspec.json.Decoder().decode  # several times faster than json.loads on busy feeds


def _messages(raw: str | bytes) -> list[dict[str, Any]]:
    """A frame holds one message object or a JSON array of them."""
    data = _decode(raw)
    return data if isinstance(data, list) else [data]


def error_from(code: str, message: str) -> MakerkitError:
    """Turn a venue error body back into the exception the venue raised (core's one table)."""
    return error_for_code(code, message)


_PAGE = 1000  # items per page of a listing


class VenueClient:
    """REST client. ``transport`` lets tests run against the app in process."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 10.0,
    ) -> None:
        headers = {"X-API-Key": api_key} if api_key else {}
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self._http = httpx.AsyncClient(
            base_url=self.base_url, headers=headers, transport=transport, timeout=timeout
        )

    async def __aenter__(self) -> VenueClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the HTTP connection pool."""
        await self._http.aclose()

    async def _call(self, method: str, path: str, **kw: Any) -> Any:
        response = await self._http.request(method, path, **kw)
        body = response.json()
        if response.status_code >= 400:
            raise error_from(body.get("code", "INTERNAL"), body.get("message", response.text))
        return body

    # ------------------------------------------------------------------ trading

    async def submit(
        self,
        symbol: str,
        side: str,
        qty: str | Decimal | int,
        price: str | Decimal | None = None,
        *,
        type: str = "limit",
        tif: str = "gtc",
        client_order_id: str | None = None,
        stp: str = "cancel_newest",
    ) -> OrderOut:
        """Place an order; a refused order comes back with status ``rejected``."""
        body: dict[str, Any] = {
            "symbol": symbol, "side": side, "qty": str(qty), "type": type, "tif": tif, "stp": stp,
        }  # fmt: skip
        if price is not None:
            body["price"] = str(price)
        if client_order_id is not None:
            body["client_order_id"] = client_order_id
        return OrderOut(**await self._call("POST", "/orders", json=body))

    async def cancel(self, order_id: int, symbol: str | None = None) -> OrderOut:
        """Cancel one open order."""
        params = {"symbol": symbol} if symbol else {}
        return OrderOut(**await self._call("DELETE", f"/orders/{order_id}", params=params))

    async def cancel_all(self, symbol: str | None = None) -> list[OrderOut]:
        """Cancel every open order (of one symbol when given)."""
        params = {"symbol": symbol} if symbol else {}
        body = await self._call("DELETE", "/orders", params=params)
        return [OrderOut(**o) for o in body["canceled"]]

    async def modify(
        self, order_id: int, *, price: str | None = None, qty: str | None = None
    ) -> OrderOut:
        """Change price and/or remaining size."""
        body = {k: v for k, v in (("price", price), ("qty", qty)) if v is not None}
        return OrderOut(**await self._call("PATCH", f"/orders/{order_id}", json=body))

    async def order(self, order_id: int) -> OrderOut:
        """One order of this account."""
        return OrderOut(**await self._call("GET", f"/orders/{order_id}"))

    async def open_orders(self, symbol: str | None = None) -> list[OrderOut]:
        """Open orders, oldest first (every page)."""
        pages = self._pages("/orders", symbol, "order_id")
        return [OrderOut(**o) async for o in pages]

    async def fills(self, symbol: str | None = None) -> list[FillOut]:
        """Fill history, oldest first (every page)."""
        return [FillOut(**f) async for f in self._pages("/fills", symbol, "seq")]

    async def _pages(self, path: str, symbol: str | None, cursor: str) -> AsyncIterator[Any]:
        """The venue answers lists a page at a time: follow ``after`` to the end."""
        params: dict[str, Any] = {"limit": _PAGE}
        if symbol:
            params["symbol"] = symbol
        while True:
            page = await self._call("GET", path, params=params)
            for item in page:
                yield item
            if len(page) < _PAGE:
                return
            params["after"] = page[-1][cursor]

    async def positions(self) -> list[PositionOut]:
        """Positions and PnL per symbol."""
        return [PositionOut(**p) for p in await self._call("GET", "/positions")]

    async def risk(self) -> RiskOut:
        """Limits, positions and kill-switch state."""
        return RiskOut(**await self._call("GET", "/risk"))

    # ------------------------------------------------------------------ public

    async def book(self, symbol: str, depth: int = 10) -> BookOut:
        """An L2 snapshot with its sequence number."""
        return BookOut(**await self._call("GET", f"/book/{symbol}", params={"depth": depth}))

    async def instruments(self) -> list[InstrumentOut]:
        """Listed instruments."""
        return [InstrumentOut(**i) for i in await self._call("GET", "/instruments")]

    async def health(self) -> HealthOut:
        """Liveness."""
        return HealthOut(**await self._call("GET", "/health"))

    # ------------------------------------------------------------------ admin

    async def create_account(self, name: str, role: str = "trader") -> AccountOut:
        """Create an account (admin); the answer carries its API key."""
        return AccountOut(
            **await self._call("POST", "/admin/accounts", json={"name": name, "role": role})
        )

    async def kill(self, account_id: int | None, reason: str = "manual") -> list[OrderOut]:
        """Trip a kill switch (admin); None is venue-wide."""
        body = await self._call(
            "POST", "/admin/kill", json={"account_id": account_id, "reason": reason}
        )
        return [OrderOut(**o) for o in body["canceled"]]

    async def reset(self, account_id: int | None) -> None:
        """Lift a kill switch (admin)."""
        await self._call("POST", "/admin/reset", json={"account_id": account_id})

    async def set_limits(self, **limits: Any) -> RiskOut:
        """Install risk limits (admin); see ``makerkit.wire.LimitsRequest``."""
        return RiskOut(**await self._call("PUT", "/admin/limits", json=limits))


class BookMirror:
    """A local L2 book built from a snapshot and sequenced deltas."""

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self.seq = -1
        self.bids: dict[Decimal, Decimal] = {}
        self.asks: dict[Decimal, Decimal] = {}

    def reset(self, snapshot: dict[str, Any]) -> None:
        """Replace the contents with a snapshot frame."""
        self.seq = int(snapshot["seq"])
        self.bids = {Decimal(p): Decimal(s) for p, s, _ in snapshot["bids"]}
        self.asks = {Decimal(p): Decimal(s) for p, s, _ in snapshot["asks"]}

    def apply(self, delta: dict[str, Any]) -> None:
        """Apply one delta frame (absolute level size; 0 removes the level)."""
        side = self.bids if delta["side"] == "bid" else self.asks
        price, size = Decimal(delta["price"]), Decimal(delta["size"])
        if size:
            side[price] = size
        else:
            side.pop(price, None)

    def levels(
        self, depth: int = 10
    ) -> tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]:
        """Best ``depth`` (price, size) per side, best first."""
        bids = sorted(self.bids.items(), reverse=True)[:depth]
        asks = sorted(self.asks.items())[:depth]
        return bids, asks


class MarketDataStream:
    """Public book/trades/l1 frames for some symbols, with gap detection and resync.

    Iterate it to receive frames; ``books`` holds the mirrored books. A gap in
    a symbol's sequence triggers a resubscribe (and so a new snapshot); a lost
    connection reconnects with back-off and resubscribes.
    """

    def __init__(
        self, ws_url: str, symbols: Iterable[str], *, channels: Iterable[str] = ("book",)
    ) -> None:
        self.url = ws_url.rstrip("/") + "/ws/md"
        self.symbols = list(symbols)
        self.channels = list(channels)
        self.books = {s: BookMirror(s) for s in self.symbols}
        self.gaps = 0
        self.reconnects = 0
        self._stop = False

    def stop(self) -> None:
        """Ask the iterator to finish after the current frame."""
        self._stop = True

    def stopped(self) -> bool:
        """Return True once ``stop`` was called."""
        return self._stop

    async def _subscribe(self, ws: Any, symbols: Iterable[str], op: str = "subscribe") -> None:
        for symbol in symbols:
            for channel in self.channels:
                await ws.send(json.dumps({"op": op, "channel": channel, "symbol": symbol}))

    async def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        delay = 0.05
        while not self.stopped():
            try:
                async with websockets.connect(self.url, max_size=None) as ws:
                    delay = 0.05
                    await self._subscribe(ws, self.symbols)
                    async for raw in ws:
                        for frame in _messages(raw):
                            if self._track(frame):
                                self.gaps += 1
                                await self._subscribe(ws, [frame["symbol"]], "unsubscribe")
                                await self._subscribe(ws, [frame["symbol"]])
                                break  # the rest of this batch is stale
                            yield frame
                            if self.stopped():
                                return
            except (OSError, websockets.ConnectionClosed):
                if self.stopped():
                    return
                self.reconnects += 1
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)

    def _track(self, frame: dict[str, Any]) -> bool:
        """Update the mirror; return True when the frame reveals a gap."""
        kind = frame.get("type")
        book = self.books.get(frame.get("symbol", ""))
        if book is None or "book" not in self.channels:
            return False
        if kind == "snapshot":
            book.reset(frame)
            return False
        if kind in ("delta", "trade"):
            if book.seq < 0:
                return False  # before the snapshot: ignore
            seq = int(frame["seq"])
            if seq <= book.seq:
                return False  # already in the snapshot
            if seq != book.seq + 1:
                book.seq = -1
                return True
            book.seq = seq
            if kind == "delta":
                book.apply(frame)
        return False


class PrivateStream:
    """The account's private WebSocket: order entry with acks, and sequenced orders/fills."""

    def __init__(self, ws_url: str, api_key: str, *, cancel_on_disconnect: bool = False) -> None:
        flag = "true" if cancel_on_disconnect else "false"
        self.url = f"{ws_url.rstrip('/')}/ws/private?api_key={api_key}&cancel_on_disconnect={flag}"
        self.events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.last_seq = 0
        self.gaps = 0
        self._ws: Any = None
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._next_id = 0
        self._reader: asyncio.Task[None] | None = None

    async def __aenter__(self) -> PrivateStream:
        self._ws = await websockets.connect(self.url, max_size=None)
        self._reader = asyncio.create_task(self._read())
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        if self._ws is not None:
            await self._ws.close()

    async def _read(self) -> None:
        async for raw in self._ws:
            for frame in _messages(raw):
                await self._dispatch(frame)

    async def _dispatch(self, frame: dict[str, Any]) -> None:
        kind = frame.get("type")
        if kind in ("ack", "error") and frame.get("req_id") in self._pending:
            self._pending.pop(frame["req_id"]).set_result(frame)
            return
        if kind in ("order", "fill"):
            seq = int(frame["seq"])
            if seq != self.last_seq + 1:
                self.gaps += 1
            self.last_seq = max(self.last_seq, seq)
        await self.events.put(frame)

    async def request(self, body: dict[str, Any]) -> dict[str, Any]:
        """Send one order-entry frame and wait for its ack; raise on an error frame."""
        self._next_id += 1
        req_id = self._next_id
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[req_id] = future
        await self._ws.send(json.dumps({**body, "req_id": req_id}))
        frame = await future
        if frame["type"] == "error":
            raise error_from(frame["code"], frame["message"])
        return frame

    async def submit(
        self, symbol: str, side: str, qty: str, price: str | None = None, **kw: Any
    ) -> OrderOut:
        """Place an order over the WebSocket; return the acknowledged state."""
        body = {"op": "order", "symbol": symbol, "side": side, "qty": qty, **kw}
        if price is not None:
            body["price"] = price
        return OrderOut(**(await self.request(body))["order"])

    async def cancel(self, order_id: int, symbol: str | None = None) -> OrderOut:
        """Cancel one order over the WebSocket."""
        frame = await self.request({"op": "cancel", "order_id": order_id, "symbol": symbol})
        return OrderOut(**frame["order"])
