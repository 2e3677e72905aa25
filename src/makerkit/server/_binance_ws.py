"""Binance spot WebSocket streams and user data over the venue, for unmodified Binance clients.

Market streams ``<symbol>@depth``, ``<symbol>@depth@100ms``, ``<symbol>@trade``
and ``<symbol>@bookTicker`` are served raw at ``/ws/<stream>`` and combined at
``/stream?streams=a/b`` (each payload wrapped as ``{"stream":..,"data":..}``),
with Binance's live ``SUBSCRIBE``, ``UNSUBSCRIBE``, ``LIST_SUBSCRIPTIONS``,
``SET_PROPERTY`` and ``GET_PROPERTY`` requests on any of them (ccxt opens
``/ws/<n>`` and subscribes). A user's orders and balances (``executionReport``,
``outboundAccountPosition``) come two ways: a listenKey from ``POST
/api/v3/userDataStream`` opened at ``/ws/<listenKey>`` (or subscribed like a
stream), and the WebSocket API's ``userDataStream.subscribe.signature`` at
``/ws-api/v3``, which is what ccxt uses for spot.

Everything leaves through the venue service's taps, so a client is shown only
durable state, as on the native streams. A depth diff's ``U``..``u`` is the
range of the symbol's public sequence numbers it covers: trades take numbers
too, but every trade moves a level in the same command, so a stream's diffs
are contiguous (``U`` is the previous ``u`` + 1) and, with the REST snapshot's
``lastUpdateId`` (the public sequence number), Binance's sync rule holds
exactly. ``@depth`` sends at most once a second and ``@depth@100ms`` at most
every 100 ms, each diff holding every level changed since the previous one; a
quiet stream's first change goes out at the next market-data tick.

Frames go out one message per WebSocket frame (Binance clients read no
arrays), within the native streams' slow-consumer bounds, connection cap and
per-connection message rate.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, NamedTuple

import msgspec
from fastapi import APIRouter, FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import Response

from makerkit.core import L1Snapshot, OrderStatus, Side
from makerkit.server._binance_common import (
    BinanceError,
    OrderMemo,
    SymbolMap,
    authenticate,
    binance_error,
    binance_status,
    check_timing,
    error_response,
    execution_report,
    order_memo,
    parse_params,
    server_clock,
    symbol_map,
    verify_signature,
)
from makerkit.server._deps import _address, _gate, admit_at
from makerkit.server._errors import log
from makerkit.server._gate import Bucket, Refused
from makerkit.server._service import Subscriber, VenueService
from makerkit.server._settings import Settings
from makerkit.server._ws import _connection, _receive
from makerkit.server._wsproto import raw_sender
from makerkit.venue import BookDelta, Event, FillReport, OrderUpdate, Trade

__all__ = [
    "BinanceStreams",
    "ListenKeys",
    "add_binance_ws_routes",
    "listen_keys",
    "router",
    "streams_of",
]

# the listenKey endpoints read their parameters themselves: documented here for OpenAPI
_KEY_HEADER = {
    "name": "X-MBX-APIKEY",
    "in": "header",
    "required": True,
    "schema": {"type": "string"},
}
_LISTEN_KEY = {"name": "listenKey", "in": "query", "required": True, "schema": {"type": "string"}}
_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"description": "Binance's error body: {code, msg}"} for code in (400, 401, 429)
}
router = APIRouter(tags=["binance"], responses=_ERRORS)

_encode = msgspec.json.Encoder().encode
# stream kinds a symbol has, and the most often a depth stream sends (seconds)
_DEPTH_EVERY = {"depth": 1.0, "depth@100ms": 0.1}
_KINDS = frozenset((*_DEPTH_EVERY, "trade", "bookTicker"))
_MAX_STREAMS = 1024  # per connection, as Binance
_LISTEN_KEY_TTL_S = 3600.0  # a listenKey lives 60 minutes past its last keepalive
_QUOTE_KEPT = 1_000_000  # orders whose cumulative quote is remembered
_METHODS = "`SUBSCRIBE`, `UNSUBSCRIBE`, `LIST_SUBSCRIPTIONS`, `SET_PROPERTY`, `GET_PROPERTY`"
_TERMINAL = frozenset((OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.EXPIRED))
_FILLING = frozenset((OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED))


def _ms(ns: int) -> int:
    return ns // 1_000_000


def _decimal(value: Decimal) -> str:
    return format(value, "f")


# ---------------------------------------------------------------------- listenKeys


class ListenKeys:
    """Live listenKeys: each names an account for 60 minutes past its last keepalive.

    One key per account, as Binance: creating again returns the live key,
    extended. ``now`` is a monotonic clock in seconds (injected by tests).
    """

    def __init__(
        self, now: Callable[[], float] = time.monotonic, ttl_s: float = _LISTEN_KEY_TTL_S
    ) -> None:
        self.now = now
        self.ttl_s = ttl_s
        self._keys: dict[str, tuple[int, float]] = {}  # key -> (account, expires)
        self._of: dict[int, str] = {}  # account -> its key
        self.on_close: Callable[[str], None] | None = None  # told when a key is closed

    def create(self, account: int) -> str:
        """The account's live key, extended; a new one when it has none."""
        key = self._of.get(account)
        if key is None or self.account(key) is None:
            key = secrets.token_hex(30)  # 60 characters, as Binance's
        self._keys[key] = (account, self.now() + self.ttl_s)
        self._of[account] = key
        return key

    def account(self, key: str) -> int | None:
        """The account of a live key (None: unknown or expired)."""
        found = self._keys.get(key)
        if found is None:
            return None
        if found[1] <= self.now():
            self._forget(key)
            return None
        return found[0]

    def keepalive(self, account: int, key: str) -> None:
        """Extend a live key of ``account``; -1125 for any other."""
        if self.account(key) != account:
            raise BinanceError(-1125, "This listenKey does not exist.")
        self._keys[key] = (account, self.now() + self.ttl_s)

    def close(self, account: int, key: str) -> None:
        """End a live key of ``account`` (its streams are told); -1125 for any other."""
        if self.account(key) != account:
            raise BinanceError(-1125, "This listenKey does not exist.")
        self._forget(key)
        if self.on_close is not None:
            self.on_close(key)

    def _forget(self, key: str) -> None:
        found = self._keys.pop(key, None)
        if found is not None and self._of.get(found[0]) == key:
            del self._of[found[0]]


def listen_keys(app: Any) -> ListenKeys:
    """The app's listenKeys (``app.state.binance_listen_keys``, made on first use)."""
    keys: ListenKeys | None = getattr(app.state, "binance_listen_keys", None)
    if keys is None:
        keys = app.state.binance_listen_keys = ListenKeys()
    return keys


# ---------------------------------------------------------------------- connections


class _Conn(Subscriber):
    """One Binance WebSocket connection: its streams, and one message per frame.

    The native subscriber joins what a turn of the event loop queued into one
    array frame; Binance clients read one JSON object per frame, so here every
    message is its own frame (still written in one go at the end of the turn).
    """

    def __init__(self, raw: Any, *, combined: bool) -> None:
        super().__init__(None, raw=raw)
        self.combined = combined
        self.streams: dict[str, _Stream] = {}  # in the order they were subscribed
        self.api_subscriptions: dict[int, int] = {}  # WebSocket API: subscription id -> account
        self.next_subscription = 0

    def _write(self) -> None:
        out, self._out = self._out, []
        if self.overflowed or not out:
            return
        for payload in out:
            if not self.raw.send(payload):
                self.overflowed = True  # too far behind: dropped, as Binance drops it
                self.raw.close(1013, "slow consumer")
                return


async def _sender(ws: WebSocket, conn: _Conn) -> None:
    """The ASGI path (no raw socket): send queued messages, one frame each."""
    queue = conn.queue
    while True:
        frame = await queue.get()
        if frame is None:  # overflowed: the reader is too slow
            with contextlib.suppress(Exception):
                async with asyncio.timeout(1.0):
                    await ws.close(code=1013, reason="slow consumer")
            return
        await ws.send_text(frame.decode())


class _Stream(NamedTuple):
    """A stream a connection may subscribe to."""

    name: str  # as LIST_SUBSCRIPTIONS shows it: the symbol lower-case, or the listenKey
    kind: str  # depth, depth@100ms, trade, bookTicker, or user (a listenKey)
    symbol: str  # the venue's symbol ("" for a listenKey)
    account: int = 0  # a listenKey's account


@dataclass(eq=False)
class _Depth:
    """One symbol's diff-depth stream at one speed: what changed since its last diff."""

    symbol: str
    exchange: bytes
    every_s: float
    subs: dict[_Conn, bytes] = field(default_factory=dict)  # connection -> stream name
    first: int | None = None  # U: the first public sequence number not yet sent
    last: int = 0  # u
    ts: int = 0
    bids: dict[int, int] = field(default_factory=dict)
    asks: dict[int, int] = field(default_factory=dict)
    sent_at: float = float("-inf")  # the event loop's clock
    timer: asyncio.TimerHandle | None = None

    def take(self, event: Event) -> None:
        if self.first is None:
            self.first = event.seq
        self.last = event.seq
        self.ts = event.ts_event
        if isinstance(event, BookDelta):
            side = self.bids if event.side is Side.BUY else self.asks
            side[event.price] = event.size


@dataclass(eq=False)
class _UserSub:
    """One user data subscription of a connection (a listenKey, or a WebSocket API one)."""

    conn: _Conn
    account: int
    key: str = ""  # the listenKey ("" for a WebSocket API subscription)
    subscription_id: int = -1

    def wrap(self, payload: bytes) -> bytes:
        if self.subscription_id >= 0:
            return b'{"subscriptionId":%d,"event":%b}' % (self.subscription_id, payload)
        if self.conn.combined:
            return b'{"stream":"%b","data":%b}' % (self.key.encode(), payload)
        return payload


def _wrapped(name: bytes, payload: bytes) -> bytes:
    return b'{"stream":"%b","data":%b}' % (name, payload)


# ---------------------------------------------------------------------- the tap


class BinanceStreams:
    """The Binance streams of one venue service: a tap on its durable fan-out.

    Made on first use and kept on ``app.state``; it subscribes connections to
    streams and formats what the service publishes into Binance's events.
    """

    def __init__(self, service: VenueService, memo: OrderMemo, keys: ListenKeys) -> None:
        self.service = service
        self.memo = memo
        self.keys = keys
        self.symbols: SymbolMap = symbol_map(service)
        self._names = {s: self.symbols.name(s).encode() for s in service.instruments}
        self.depth: dict[tuple[str, str], _Depth] = {}
        self._depth_of: dict[str, list[_Depth]] = {}  # symbol -> its depth streams
        self.trades: dict[str, dict[_Conn, bytes]] = {}
        self.tickers: dict[str, dict[_Conn, bytes]] = {}
        self._ticked: dict[str, tuple[Any, ...]] = {}  # the last best bid/ask sent
        self.users: dict[int, dict[_UserSub, None]] = {}
        # a new order is one above the newest id of the batches before: told as NEW
        self._venue = service.venue
        self._max_order_id = service.venue.last_order_id
        self._quote: dict[int, int] = {}  # order id -> what its fills came to (tick-lots)
        keys.on_close = self._closed
        service.taps.append(self)

    # ------------------------------------------------------------------ subscriptions

    def parse(self, name: str) -> _Stream | None:
        """The stream ``name`` stands for: a market stream of a listed symbol, or a listenKey."""
        symbol, at, kind = name.partition("@")
        if not at:
            account = self.keys.account(name)
            return None if account is None else _Stream(name, "user", "", account)
        inst = self.symbols.by_exchange.get(symbol.upper())
        if inst is None or kind not in _KINDS:
            return None
        return _Stream(f"{symbol.lower()}@{kind}", kind, inst.symbol)

    def add(self, conn: _Conn, stream: _Stream) -> None:
        """Send ``stream`` to ``conn`` from the next tick on."""
        conn.streams[stream.name] = stream
        name = stream.name.encode()
        if stream.kind in _DEPTH_EVERY:
            key = (stream.symbol, stream.kind)
            depth = self.depth.get(key)
            if depth is None:
                every = _DEPTH_EVERY[stream.kind]
                depth = self.depth[key] = _Depth(stream.symbol, self._names[stream.symbol], every)
                self._depth_of.setdefault(stream.symbol, []).append(depth)
            depth.subs[conn] = name
        elif stream.kind == "trade":
            self.trades.setdefault(stream.symbol, {})[conn] = name
        elif stream.kind == "bookTicker":
            self.tickers.setdefault(stream.symbol, {})[conn] = name
        else:
            sub = _UserSub(conn, stream.account, key=stream.name)
            self.users.setdefault(stream.account, {})[sub] = None

    def remove(self, conn: _Conn, name: str) -> None:
        """Stop sending stream ``name`` to ``conn``."""
        stream = conn.streams.pop(name, None)
        if stream is None:
            return
        if stream.kind in _DEPTH_EVERY:
            depth = self.depth.get((stream.symbol, stream.kind))
            if depth is not None:
                depth.subs.pop(conn, None)
                if not depth.subs:  # nobody left: its pending changes go with it
                    if depth.timer is not None:
                        depth.timer.cancel()
                    del self.depth[(stream.symbol, stream.kind)]
                    self._depth_of[stream.symbol].remove(depth)
                    if not self._depth_of[stream.symbol]:
                        del self._depth_of[stream.symbol]
        elif stream.kind in ("trade", "bookTicker"):
            table = self.trades if stream.kind == "trade" else self.tickers
            subs = table.get(stream.symbol, {})
            subs.pop(conn, None)
            if not subs:
                table.pop(stream.symbol, None)
        else:
            self._drop_users(lambda s: s.conn is conn and s.key == stream.name)

    def add_api(self, conn: _Conn, account: int) -> int:
        """A WebSocket API user data subscription of ``account`` on ``conn``: its id."""
        sub_id = conn.next_subscription
        conn.next_subscription += 1
        conn.api_subscriptions[sub_id] = account
        sub = _UserSub(conn, account, subscription_id=sub_id)
        self.users.setdefault(account, {})[sub] = None
        return sub_id

    def remove_api(self, conn: _Conn, sub_id: int) -> None:
        """End a WebSocket API subscription of ``conn``."""
        conn.api_subscriptions.pop(sub_id, None)
        self._drop_users(lambda s: s.conn is conn and s.subscription_id == sub_id)

    def drop(self, conn: _Conn) -> None:
        """Forget a closed connection."""
        for name in list(conn.streams):
            self.remove(conn, name)
        self._drop_users(lambda s: s.conn is conn)

    def _drop_users(self, which: Callable[[_UserSub], bool]) -> None:
        for account in list(self.users):
            subs = self.users[account]
            for sub in [s for s in subs if which(s)]:
                del subs[sub]
            if not subs:
                del self.users[account]

    def _closed(self, key: str) -> None:
        """A listenKey was closed: its streams are told it expired, and end."""
        for subs in list(self.users.values()):
            for sub in [s for s in subs if s.key == key]:
                self._expired(sub)

    def _expired(self, sub: _UserSub) -> None:
        ms = _ms(self.service._clock.now_ns())  # the venue's own clock
        event = _encode({"e": "listenKeyExpired", "E": ms, "listenKey": sub.key})
        sub.conn.push(sub.wrap(event))
        sub.conn.streams.pop(sub.key, None)
        self._drop_users(lambda s: s is sub)

    # ------------------------------------------------------------------ market data

    def market(self, events: list[Event], l1s: dict[str, L1Snapshot]) -> None:
        """A market-data tick: diffs, trades and best bid/ask of the symbols subscribed."""
        if not (self._depth_of or self.trades or self.tickers):
            return
        try:
            self._market(events, l1s)
        except Exception:  # pragma: no cover - the native streams must go on regardless
            log.exception("binance streams: a market-data tick failed")

    def _market(self, events: list[Event], l1s: dict[str, L1Snapshot]) -> None:
        depth_of, trades = self._depth_of, self.trades
        touched: dict[_Depth, None] = {}
        for event in events:
            symbol = event.symbol
            streams = depth_of.get(symbol)
            if streams:
                for depth in streams:
                    depth.take(event)
                    touched[depth] = None
            if trades and isinstance(event, Trade):
                subs = trades.get(symbol)
                if subs:
                    self._trade(event, subs)
        if touched:
            loop = self._loop()
            for depth in touched:
                self._due(depth, loop)
        if self.tickers:
            for symbol in sorted(l1s):
                subs = self.tickers.get(symbol)
                if subs:
                    self._ticker(symbol, l1s[symbol], subs)

    @staticmethod
    def _loop() -> Any:
        """The event loop that times the depth streams (None: driven without one)."""
        try:
            return asyncio.get_running_loop()
        except RuntimeError:
            return None

    def _due(self, depth: _Depth, loop: Any) -> None:
        """Send the diff now if the stream's interval has passed, else once it has."""
        if loop is None:
            self._send_depth(depth)
            return
        if depth.timer is not None:
            return
        wait = depth.sent_at + depth.every_s - loop.time()
        if wait <= 0:
            self._send_depth(depth)
        else:
            depth.timer = loop.call_later(wait, self._send_depth, depth)

    def _send_depth(self, depth: _Depth) -> None:
        depth.timer = None
        if depth.first is None or not depth.subs:
            return
        loop = self._loop()
        if loop is not None:
            depth.sent_at = loop.time()
        prices, sizes = self._units(depth.symbol)
        bids = b",".join(
            b"[%b,%b]" % (prices(p), sizes(s)) for p, s in sorted(depth.bids.items(), reverse=True)
        )
        asks = b",".join(b"[%b,%b]" % (prices(p), sizes(s)) for p, s in sorted(depth.asks.items()))
        data = b'{"e":"depthUpdate","E":%d,"s":"%b","U":%d,"u":%d,"b":[%b],"a":[%b]}' % (
            _ms(depth.ts),
            depth.exchange,
            depth.first,
            depth.last,
            bids,
            asks,
        )
        depth.first = None
        depth.bids, depth.asks = {}, {}
        self._fan(data, depth.subs)

    def _trade(self, trade: Trade, subs: dict[_Conn, bytes]) -> None:
        prices, sizes = self._units(trade.symbol)
        ms = _ms(trade.ts_event)
        maker_buys = b"true" if trade.aggressor is Side.SELL else b"false"
        data = b'{"e":"trade","E":%d,"s":"%b","t":%d,"p":%b,"q":%b,"T":%d,"m":%b,"M":true}' % (
            ms,
            self._names[trade.symbol],
            trade.seq,
            prices(trade.price),
            sizes(trade.qty),
            ms,
            maker_buys,
        )
        self._fan(data, subs)

    def _ticker(self, symbol: str, l1: L1Snapshot, subs: dict[_Conn, bytes]) -> None:
        key = (l1.bid_price, l1.bid_size, l1.ask_price, l1.ask_size)
        if self._ticked.get(symbol) == key:
            return
        self._ticked[symbol] = key
        prices, sizes = self._units(symbol)
        zero = b'"0"'
        data = b'{"u":%d,"s":"%b","b":%b,"B":%b,"a":%b,"A":%b}' % (
            l1.seq,
            self._names[symbol],
            zero if l1.bid_price is None else prices(l1.bid_price),
            sizes(l1.bid_size),
            zero if l1.ask_price is None else prices(l1.ask_price),
            sizes(l1.ask_size),
        )
        self._fan(data, subs)

    def _units(self, symbol: str) -> tuple[Callable[[int], bytes], Callable[[int], bytes]]:
        prices, sizes = self.service._units[symbol]  # the wire's own formatter
        return prices.json, sizes.json

    @staticmethod
    def _fan(data: bytes, subs: dict[_Conn, bytes]) -> None:
        wrapped: dict[bytes, bytes] = {}
        for conn, name in subs.items():
            if conn.combined:
                frame = wrapped.get(name)
                if frame is None:
                    frame = wrapped[name] = _wrapped(name, data)
                conn.push(frame)
            else:
                conn.push(data)

    # ------------------------------------------------------------------ user data

    def sealed(self, batch: list[Event]) -> Callable[[], None] | None:
        """A batch at its own state: the balances it left, and its reports to send once durable."""
        try:
            return self._sealed(batch)
        except Exception:  # pragma: no cover - the commit must go on regardless
            log.exception("binance streams: reading a batch failed")
            return None

    def _sealed(self, batch: list[Event]) -> Callable[[], None] | None:
        venue = self.service.venue
        newest = venue.last_order_id
        if venue is not self._venue:  # rebuilt after a journal failure: ids start again
            self._venue, self._max_order_id = venue, newest
        before, self._max_order_id = self._max_order_id, newest
        users = self.users
        if not users:
            return None
        mine: list[OrderUpdate | FillReport] = [
            e for e in batch if isinstance(e, (OrderUpdate, FillReport)) and e.account in users
        ]
        if not mine:
            return None
        # balances as this batch left them: the venue may be further on when it is sent
        touched: dict[int, dict[str, None]] = {}
        for e in mine:
            inst = self.service.instruments.get(e.symbol)
            if inst is not None:
                assets = touched.setdefault(e.account, {})
                assets[inst.base_asset] = None
                assets[inst.quote_asset] = None
        positions: dict[int, bytes] = {}
        for account, assets in touched.items():
            held = {b.asset: b for b in venue.balances(account)}
            ms = _ms(max(e.ts_event for e in mine if e.account == account))
            rows = [
                {"a": a, "f": _decimal(held[a].free), "l": _decimal(held[a].locked)}
                for a in assets
                if a in held
            ]
            positions[account] = _encode(
                {"e": "outboundAccountPosition", "E": ms, "u": ms, "B": rows}
            )
        return lambda: self._publish_user(mine, before, positions)

    def _publish_user(
        self, events: list[OrderUpdate | FillReport], before: int, positions: dict[int, bytes]
    ) -> None:
        try:
            reports = self._reports(events, before)
        except Exception:  # pragma: no cover - told in the log, never half-sent
            log.exception("binance streams: building execution reports failed")
            return
        for account, payload in reports:
            self._to_user(account, payload)
        for account, payload in positions.items():
            self._to_user(account, payload)

    def _to_user(self, account: int, payload: bytes) -> None:
        subs = self.users.get(account)
        if not subs:
            return
        for sub in list(subs):
            if sub.key and self.keys.account(sub.key) is None:
                self._expired(sub)
                continue
            sub.conn.push(sub.wrap(payload))

    def _reports(
        self, events: list[OrderUpdate | FillReport], before: int
    ) -> list[tuple[int, bytes]]:
        """The batch's order events as Binance's executionReports, in order.

        A new order is told NEW (then, after its own fills, EXPIRED or CANCELED
        if its rest did not stay on the book); each fill is a TRADE report with
        the cumulative quantity at that fill; a maker's state after a fill is
        in its TRADE report already; cancels and expiries of resting orders are
        told as they happen, a modify as an AMENDMENT.
        """
        last: dict[int, OrderUpdate] = {}
        fills_left: Counter[int] = Counter()
        for e in events:
            if isinstance(e, OrderUpdate):
                last[e.order_id] = e
            else:
                fills_left[e.order_id] += 1
        # the cumulative fill after each fill, counted back from the order's last state
        filled = {oid: u.filled for oid, u in last.items()}
        after: dict[int, int] = {}
        for i in range(len(events) - 1, -1, -1):
            e = events[i]
            if isinstance(e, FillReport) and e.order_id in filled:
                after[i] = filled[e.order_id]
                filled[e.order_id] -= e.qty
        # now `filled` is each order's fill before this batch
        out: list[tuple[int, bytes]] = []
        told_new: set[int] = set()
        maker_filled: set[int] = set()
        pending: dict[int, OrderUpdate] = {}  # a new order's end, told after its fills
        replace = msgspec.structs.replace

        def report(u: OrderUpdate, kind: str, fill: FillReport | None = None) -> None:
            inst = self.service.instruments.get(u.symbol)
            if inst is None:
                return
            quote = self._quote_of(u, fill, filled[u.order_id])
            body = execution_report(
                inst,
                self.symbols.name(u.symbol),
                u,
                self.memo.get(u),
                quote,
                execution_type=kind,
                fill=fill,
                event_ms=_ms((fill or u).ts_event),
            )
            out.append((u.account, _encode(body)))
            if u.status in _TERMINAL:  # done: nothing more to add up
                self._quote.pop(u.order_id, None)

        for i, e in enumerate(events):
            if isinstance(e, FillReport):
                fill = e
                oid = fill.order_id
                state = last.get(oid)
                if state is None or i not in after:
                    continue
                z = after[i]
                status = OrderStatus.FILLED if z >= state.qty else OrderStatus.PARTIALLY_FILLED
                view = replace(state, filled=z, remaining=max(0, state.qty - z), status=status)
                report(view, "TRADE", fill)
                filled[oid] = z
                fills_left[oid] -= 1
                if fill.liquidity == "maker":
                    maker_filled.add(oid)  # its next update is the state this report told
                if fills_left[oid] == 0 and oid in pending:
                    self._end(report, pending.pop(oid))
                continue
            u = e
            oid = u.order_id
            if oid in maker_filled and u.status in _FILLING:
                maker_filled.discard(oid)
                continue
            maker_filled.discard(oid)
            expiring = binance_status(u) == "EXPIRED"
            if u.status is OrderStatus.REJECTED and not expiring:
                continue  # refused: the request's answer tells it, as Binance does
            z = filled[oid]
            at = OrderStatus.NEW if z == 0 else OrderStatus.PARTIALLY_FILLED
            if oid > before and oid not in told_new:  # placed in this batch
                told_new.add(oid)
                report(replace(u, filled=z, remaining=u.qty - z, status=at), "NEW")
                if u.status in (OrderStatus.CANCELED, OrderStatus.EXPIRED, OrderStatus.REJECTED):
                    if fills_left[oid] > 0:
                        pending[oid] = u
                    else:
                        self._end(report, u)
            elif u.status in (OrderStatus.CANCELED, OrderStatus.EXPIRED):
                self._end(report, u)
            elif u.status is not OrderStatus.REJECTED:  # a modify: its state before its fills
                report(replace(u, filled=z, remaining=u.qty - z, status=at), "AMENDMENT")
        return out

    @staticmethod
    def _end(report: Callable[..., None], u: OrderUpdate) -> None:
        """An order's end that was not a fill: canceled, expired, or prevented self-trade."""
        status = binance_status(u)
        if status == "CANCELED":
            report(u, "CANCELED")
        elif status == "EXPIRED_IN_MATCH":
            report(u, "TRADE_PREVENTION")
        else:
            report(msgspec.structs.replace(u, status=OrderStatus.EXPIRED), "EXPIRED")

    def _quote_of(self, u: OrderUpdate, fill: FillReport | None, before_batch: int) -> int:
        """What the order's fills came to (tick-lots), counting ``fill``."""
        oid = u.order_id
        quote = self._quote.get(oid)
        if quote is None:
            quote = 0
            if before_batch > 0:  # filled before this stream knew it: from the venue's history
                quote = sum(
                    f.price * f.qty
                    for f in self.service.venue.fills(u.account, u.symbol)
                    if f.order_id == oid and (fill is None or f.seq < fill.seq)
                )
            if len(self._quote) >= _QUOTE_KEPT:
                self._quote.clear()
        if fill is not None:
            quote += fill.price * fill.qty
        self._quote[oid] = quote
        return quote


def streams_of(app: Any) -> BinanceStreams:
    """The app's Binance streams, made (and tapped into its service) on first use."""
    found: BinanceStreams | None = getattr(app.state, "binance_streams", None)
    service: VenueService = app.state.service
    if found is None or found.service is not service:
        found = app.state.binance_streams = BinanceStreams(
            service, order_memo(app), listen_keys(app)
        )
    return found


# ---------------------------------------------------------------------- stream requests


def _stream_error(code: int, msg: str, req_id: object = None) -> bytes:
    return _encode({"error": {"code": code, "msg": msg}, "id": req_id})


def _valid_id(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return -(2**63) <= value < 2**63
    return isinstance(value, str) and len(value) <= 36 and value.isascii() and value.isalnum()


def _answer(streams: BinanceStreams, conn: _Conn, raw: str | bytes, max_bytes: int) -> bytes:
    """Binance's answer to one live request on a stream connection."""
    if len(raw) > max_bytes:
        return _stream_error(2, f"Invalid request: frames are limited to {max_bytes} bytes")
    try:
        request = json.loads(raw)
    except ValueError as exc:
        return _stream_error(3, f"Invalid JSON: {exc}")
    if not isinstance(request, dict):
        return _stream_error(2, "Invalid request: expected a JSON object")
    req_id = request.get("id")
    if not _valid_id(req_id):
        return _stream_error(2, "Invalid request: request ID must be an unsigned integer")
    method = request.get("method")
    if method is None:
        return _stream_error(2, "Invalid request: missing field `method`", req_id)
    if set(request) - {"method", "params", "id"}:
        return _stream_error(2, "Invalid request: too many parameters", req_id)
    params = request.get("params")
    if method in ("SUBSCRIBE", "UNSUBSCRIBE"):
        if not isinstance(params, list) or not all(isinstance(p, str) for p in params):
            return _stream_error(
                2, "Invalid request: params must be a list of stream names", req_id
            )
        if method == "UNSUBSCRIBE":
            for name in params:
                stream = streams.parse(name)
                streams.remove(conn, stream.name if stream is not None else name)
            return _encode({"result": None, "id": req_id})
        parsed = [streams.parse(name) for name in params]
        bad = [name for name, s in zip(params, parsed, strict=True) if s is None]
        if bad:  # nothing is subscribed when any name is wrong
            return _stream_error(2, f"Invalid request: invalid stream name {bad[0]!r}", req_id)
        fresh = {s.name for s in parsed if s is not None and s.name not in conn.streams}
        if len(conn.streams) + len(fresh) > _MAX_STREAMS:
            msg = f"Invalid request: a connection listens to at most {_MAX_STREAMS} streams"
            return _stream_error(2, msg, req_id)
        for stream in parsed:
            if stream is not None and stream.name not in conn.streams:
                streams.add(conn, stream)
        return _encode({"result": None, "id": req_id})
    if method == "LIST_SUBSCRIPTIONS":
        return _encode({"result": list(conn.streams), "id": req_id})
    if method in ("SET_PROPERTY", "GET_PROPERTY"):
        if not isinstance(params, list) or not params or not isinstance(params[0], str):
            return _stream_error(2, "Invalid request: property name must be a string", req_id)
        if params[0] != "combined":
            return _stream_error(0, "Unknown property", req_id)
        if method == "GET_PROPERTY":
            return _encode({"result": conn.combined, "id": req_id})
        if len(params) != 2 or not isinstance(params[1], bool):
            return _stream_error(1, "Invalid value type: expected Boolean", req_id)
        conn.combined = params[1]
        return _encode({"result": None, "id": req_id})
    msg = f"Invalid request: unknown variant {method!r}, expected one of {_METHODS}"
    return _stream_error(2, msg, req_id)


# ---------------------------------------------------------------------- WebSocket API


def _api_answer(req_id: object, result: object) -> bytes:
    return _encode({"id": req_id, "status": 200, "result": result})


def _api_error(req_id: object, exc: BinanceError) -> bytes:
    status = exc.http_status if exc.http_status in (400, 401, 403, 429) else 400
    return _encode({"id": req_id, "status": status, "error": {"code": exc.code, "msg": exc.msg}})


def _signed_payload(params: dict[str, Any]) -> tuple[bytes, str, dict[str, str]]:
    """(what was signed, the signature, the parameters as strings) of a request's params."""
    text: dict[str, str] = {}
    for key, value in params.items():
        if isinstance(value, bool):
            text[key] = "true" if value else "false"
        elif isinstance(value, (str, int, float)):
            text[key] = str(value)
        else:
            raise BinanceError(-1100, f"Illegal characters found in parameter '{key}'.")
    signature = text.pop("signature", None)
    if not signature:
        raise BinanceError(-1102, "Mandatory parameter 'signature' was not sent.")
    payload = "&".join(f"{k}={text[k]}" for k in sorted(text))
    return payload.encode(), signature, text


def _api_request(ws: WebSocket, streams: BinanceStreams, conn: _Conn, raw: str | bytes) -> bytes:
    """The WebSocket API's answer to one request (the user data stream part of it)."""
    try:
        request = json.loads(raw)
    except ValueError:
        return _api_error(None, BinanceError(-1100, "Malformed request: not valid JSON."))
    if not isinstance(request, dict):
        return _api_error(None, BinanceError(-1100, "Malformed request: expected an object."))
    req_id = request.get("id")
    if not _valid_id(req_id):
        return _api_error(None, BinanceError(-1100, "Malformed request: invalid 'id'."))
    method = request.get("method")
    params = request.get("params") or {}
    if not isinstance(params, dict):
        return _api_error(req_id, BinanceError(-1100, "Malformed request: 'params' not an object."))
    try:
        if method == "ping":
            return _api_answer(req_id, {})
        if method == "time":
            return _api_answer(req_id, {"serverTime": _ms(server_clock(ws.app).now_ns())})
        if method == "userDataStream.subscribe.signature":
            payload, signature, text = _signed_payload(params)
            account, secret = authenticate(streams.service, text.get("apiKey"))
            check_timing(text, _ms(server_clock(ws.app).now_ns()))
            verify_signature(secret, payload, signature)
            if account.account_id in conn.api_subscriptions.values():
                msg = "This account already has a user data subscription on this connection."
                raise BinanceError(-2035, msg)
            return _api_answer(
                req_id, {"subscriptionId": streams.add_api(conn, account.account_id)}
            )
        if method == "userDataStream.unsubscribe":
            sub_id = params.get("subscriptionId")
            ids = list(conn.api_subscriptions) if sub_id is None else [sub_id]
            for one in ids:
                if one not in conn.api_subscriptions:
                    raise BinanceError(-2035, "User Data Stream subscription not active.")
                streams.remove_api(conn, one)
            return _api_answer(req_id, {})
        if method == "session.subscriptions":
            subs = [{"subscriptionId": s} for s in conn.api_subscriptions]
            return _api_answer(req_id, subs)
        msg = f"Unknown method {method!r}: this venue's WebSocket API serves the user data stream."
        raise BinanceError(-1100, msg)
    except BinanceError as exc:
        return _api_error(req_id, exc)
    except Exception as exc:  # the venue's own refusals, in Binance's terms
        return _api_error(req_id, binance_error(exc))


# ---------------------------------------------------------------------- sessions


def _refused(exc: Refused) -> bytes:
    """A connection past the address's cap, told in Binance's terms."""
    return _stream_error(-1003, str(exc))


async def _session(
    ws: WebSocket,
    settings: Settings,
    *,
    combined: bool,
    names: list[str],
    api: bool = False,
) -> None:
    """Serve one Binance connection: its URL's streams, then its live requests."""
    await ws.accept()
    async with _connection(ws, _refused) as admitted:
        if not admitted:
            return
        streams = streams_of(ws.app)
        direct = raw_sender(
            ws.scope, limit=settings.slow_consumer_bytes, stall_s=settings.slow_consumer_s
        )
        conn = _Conn(direct, combined=combined)
        parsed = [streams.parse(n) for n in names]
        bad = [n for n, s in zip(names, parsed, strict=True) if s is None]
        if bad:
            await ws.send_text(
                _stream_error(2, f"Invalid request: invalid stream name {bad[0]!r}").decode()
            )
            await ws.close(code=1008, reason="invalid stream name")
            return
        for stream in parsed[:_MAX_STREAMS]:
            if stream is not None:
                streams.add(conn, stream)
        sender = asyncio.create_task(_sender(ws, conn)) if direct is None else None
        gate, address = _gate(ws.app), _address(ws)
        bucket: Bucket | None = None
        try:
            while sender is None or not sender.done():
                raw = await _receive(ws)
                try:
                    bucket = gate.connection(bucket, address)
                except Refused as exc:
                    conn.push(_stream_error(-1003, str(exc)))
                    # the excess waits in the client's socket, not in the venue
                    await asyncio.sleep(min(exc.retry_after_s or 0.05, 1.0))
                    continue
                if api:
                    conn.push(_api_request(ws, streams, conn, raw))
                else:
                    conn.push(_answer(streams, conn, raw, settings.max_message_bytes))
        except WebSocketDisconnect:
            pass
        finally:
            if sender is not None:
                sender.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sender
            streams.drop(conn)


def add_binance_ws_routes(app: FastAPI, settings: Settings) -> None:
    """Register the Binance endpoints; after the native ``/ws/md`` and ``/ws/private``."""
    app.include_router(router)

    @app.websocket("/ws")
    async def binance_raw_bare(ws: WebSocket) -> None:
        """Binance raw streams with none yet: subscribe with SUBSCRIBE."""
        await _session(ws, settings, combined=False, names=[])

    @app.websocket("/ws/{path:path}")
    async def binance_raw(ws: WebSocket, path: str) -> None:
        """Binance raw streams: ``/ws/<stream>[/<stream>...]``, or ``/ws/<listenKey>``.

        A name with no ``@`` that is no live listenKey (ccxt opens ``/ws/0``)
        opens a connection with no stream yet.
        """
        names = [n for n in path.split("/") if n]
        streams = streams_of(ws.app)
        wanted = [n for n in names if "@" in n or streams.keys.account(n) is not None]
        unknown_keys = [n for n in names if "@" not in n and len(n) >= 32 and n not in wanted]
        await _session(ws, settings, combined=False, names=wanted + unknown_keys)

    @app.websocket("/stream")
    async def binance_combined(ws: WebSocket, streams: str = "") -> None:
        """Binance combined streams: ``/stream?streams=<a>/<b>``, each event wrapped."""
        names = [n for n in streams.split("/") if n]
        await _session(ws, settings, combined=True, names=names)

    @app.websocket("/ws-api/v3")
    async def binance_ws_api(ws: WebSocket) -> None:
        """Binance's WebSocket API: the user data stream (``userDataStream.subscribe...``)."""
        await _session(ws, settings, combined=False, names=[], api=True)


# ---------------------------------------------------------------------- listenKey REST


async def _listen_key_call(
    request: Request, act: Callable[[int, dict[str, str]], object]
) -> Response:
    """Run a userDataStream request for the account of its ``X-MBX-APIKEY``."""
    try:
        service: VenueService = request.app.state.service
        try:
            account, _ = authenticate(service, request.headers.get("x-mbx-apikey"))
        except BinanceError:
            with contextlib.suppress(Refused):  # a guess costs its address's rate
                _gate(request.app).address(_address(request))
            raise
        admit_at(_gate(request.app), service, account, command=False)
        params = parse_params(request.url.query.encode(), await request.body())
        result = act(account.account_id, params)
    except Exception as exc:
        return error_response(binance_error(exc))
    return Response(_encode(result), media_type="application/json")


def _key_param(params: dict[str, str]) -> str:
    key = params.get("listenKey")
    if not key:
        raise BinanceError(
            -1102, "Mandatory parameter 'listenKey' was not sent, was empty/null, or malformed."
        )
    return key


@router.post(
    "/api/v3/userDataStream",
    name="binance_new_listen_key",
    openapi_extra={"parameters": [_KEY_HEADER]},
)
async def create_listen_key(request: Request) -> Response:
    """Start a user data stream: its listenKey, valid 60 minutes past its last keepalive."""
    keys = listen_keys(request.app)
    return await _listen_key_call(request, lambda acc, _: {"listenKey": keys.create(acc)})


@router.put(
    "/api/v3/userDataStream",
    name="binance_keepalive_listen_key",
    openapi_extra={"parameters": [_KEY_HEADER, _LISTEN_KEY]},
)
async def keepalive_listen_key(request: Request) -> Response:
    """Keep a listenKey alive for another 60 minutes."""
    keys = listen_keys(request.app)

    def act(account: int, params: dict[str, str]) -> object:
        keys.keepalive(account, _key_param(params))
        return {}

    return await _listen_key_call(request, act)


@router.delete(
    "/api/v3/userDataStream",
    name="binance_close_listen_key",
    openapi_extra={"parameters": [_KEY_HEADER, _LISTEN_KEY]},
)
async def close_listen_key(request: Request) -> Response:
    """Close a listenKey: its streams are told it expired."""
    keys = listen_keys(request.app)

    def act(account: int, params: dict[str, str]) -> object:
        keys.close(account, _key_param(params))
        return {}

    return await _listen_key_call(request, act)
