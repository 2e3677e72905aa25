"""WebSocket gateway: public market data and private order entry, one session a connection.

A session reads frames, counts each at the gate and answers on the same
socket; acks are queued once the command is durable, so a client can
pipeline orders into one journal transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import FastAPI, WebSocket, WebSocketDisconnect

from makerkit.core import JournalUnavailable, MakerkitError, NotAuthorized
from makerkit.server._convert import (
    _client_order_symbol,
    _encode,
    _instrument,
    _modify_command,
    _order_symbol,
    to_new_order,
)
from makerkit.server._deps import _address, _gate, admit_at
from makerkit.server._errors import log, status_for
from makerkit.server._gate import Bucket, Refused
from makerkit.server._routes_orders import cancel_all, orders_out
from makerkit.server._service import Subscriber, VenueService
from makerkit.server._settings import Settings
from makerkit.server._wsproto import raw_reader, raw_sender
from makerkit.venue import Account, CancelOrder
from makerkit.wire import WsCancel, WsModify, WsOrder, WsRequestError, WsSubscribe, parse_ws_request

__all__ = ["MessageTooLarge", "add_websocket_routes"]

_ACK = b'{"type":"ack","req_id":%b,"order":%b}'
_KILLED_PAUSE_S = 0.01  # a killed account's connection reads at most 100 frames a second
_BURST = 16  # messages one connection applies before the event loop takes a turn
_MD_KERNEL_BUFFER = 256 * 1024  # a market-data connection's socket send buffer (bytes)


class MessageTooLarge(MakerkitError):
    """A client frame over ``max_message_bytes``."""


def _error_frame(code: str, message: str, req_id: object = None) -> bytes:
    log.info("ws error frame %s (req_id %s): %s", code, req_id, message)
    return _encode({"type": "error", "code": code, "message": message, "req_id": req_id})


async def _sender(ws: WebSocket, sub: Subscriber) -> None:
    """Send queued messages; whatever queued up meanwhile goes out as one array frame."""
    queue = sub.queue
    while True:
        frames = [await queue.get()]
        while not queue.empty() and len(frames) < 256:
            frames.append(queue.get_nowait())
        overflow = None in frames
        ready = [f for f in frames if f is not None]
        if len(ready) == 1:
            await ws.send_text(ready[0].decode())
        elif ready:
            # a queued frame may already be an array: splice its elements in
            parts = [f[1:-1] if f[:1] == b"[" else f for f in ready]
            await ws.send_text((b"[" + b",".join(parts) + b"]").decode())
        if overflow:
            # told why, then closed; a reader that takes neither is not waited for
            with contextlib.suppress(Exception):
                async with asyncio.timeout(1.0):
                    await ws.send_text(
                        _error_frame("SLOW_CONSUMER", "send queue overflowed; resubscribe").decode()
                    )
                    await ws.close(code=1013)
            return


@contextlib.asynccontextmanager
async def _connection(
    ws: WebSocket, refusal: Callable[[Refused], bytes] | None = None
) -> AsyncIterator[bool]:
    """One of at most ``connections_per_address`` WebSocket connections of an address.

    Yields False (the client told why, in ``refusal``'s frame, and the connection
    closed) past the cap.
    """
    gate, address = _gate(ws.app), _address(ws)
    try:
        gate.open(address)
    except Refused as exc:
        frame = refusal(exc) if refusal is not None else _error_frame(exc.code, str(exc))
        await ws.send_text(frame.decode())
        await ws.close(code=1013, reason=exc.code)
        yield False
        return
    try:
        yield True
    finally:
        gate.close(address)


async def _receive(ws: WebSocket) -> str | bytes:
    """The next client frame, text or binary (a JSON document either way)."""
    message = await ws.receive()
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000), message.get("reason"))
    text = message.get("text")
    if text is not None:
        return str(text)
    return bytes(message.get("bytes") or b"")


def _subscribe(service: VenueService, sub: Subscriber, req: WsSubscribe) -> None:
    _instrument(service, req.symbol)
    key = (req.symbol, req.channel)
    if req.op == "unsubscribe":
        sub.channels -= {key}
        if not any(sym == req.symbol for sym, _ in sub.channels):
            service.public[req.symbol].discard(sub)
        return
    symbol = req.symbol
    # The snapshot is read now and sent once what it shows is durable, so a sequence
    # number a client sees is never reused after a crash; the subscriber's frames are
    # held until then, so the deltas after it follow it with no gap.
    snapshot = None
    if req.channel == "book":
        snapshot = _encode(service.book_frame(symbol, req.depth))
    elif req.channel == "l1":
        snapshot = _encode(service.l1_frame(symbol, service.l1(symbol)))
    if snapshot is not None:
        refused = _error_frame(
            "JOURNAL_UNAVAILABLE", f"no {req.channel} snapshot of {symbol}: the journal failed"
        )

        def failed(_: Exception) -> None:  # told, and not left subscribed without a snapshot
            sub.channels -= {key}
            sub.release(refused)

        sub.hold()
        try:
            service.after_durable(lambda: sub.release(snapshot), failed)
        except JournalUnavailable:
            sub.release(None)
            raise
    sub.channels |= {key}
    service.public[symbol].add(sub)


async def _cancel_all(
    service: VenueService, sub: Subscriber, account: Account, req: WsCancel
) -> None:
    """Cancel the account's open orders (of ``req.symbol``); the session waits for the slices."""
    if req.symbol is not None:
        _instrument(service, req.symbol)
    outs = await cancel_all(service, account.account_id, req.symbol)
    canceled = await orders_out(service, [o.update for o in outs])
    sub.push(_encode({"type": "ack", "req_id": req.req_id, "canceled": canceled}))


def _no_target(req: WsCancel | WsModify) -> WsRequestError:
    """Refused before the venue: an order named by neither id could only be unknown."""
    msg = f"invalid request: a {req.op} names its order by `order_id` or `client_order_id`"
    if req.__class__ is WsCancel:
        msg += " (or cancels every order with `all`)"
    return WsRequestError(msg, field="order_id", req_id=req.req_id)


def _enter(service: VenueService, sub: Subscriber, account: Account, req: Any) -> None:
    """Apply one order, cancel or modify frame now; its ack is queued once the command is durable.

    The session goes on reading while earlier commands wait for their commit,
    so a client can pipeline orders into one journal transaction.
    """
    acc = account.account_id
    req_id = req.req_id

    def ack_order(out: Any) -> None:  # {"type":"ack","req_id":..,"order":{..}}
        sub.push(_ACK % (_encode(req_id), service.order_json(out.update)))

    def failed(exc: MakerkitError) -> None:
        _, code = status_for(exc)
        sub.push(_error_frame(code, str(exc), req_id))

    jv = service.jv
    if req.__class__ is WsOrder:
        cmd = to_new_order(service, req)  # a WsOrder has an OrderRequest's fields
        service.execute_then(lambda: jv.submit(acc, cmd), ack_order, failed)
    elif req.__class__ is WsCancel:
        order_id, cid = req.order_id, req.client_order_id
        if req.symbol is not None:
            _instrument(service, req.symbol)
            symbol = req.symbol
        elif order_id is not None:
            symbol = _order_symbol(service, account, order_id, None)
        elif cid is not None:
            symbol = _client_order_symbol(service, account, cid)
        if order_id is None and cid is None:
            raise _no_target(req)
        cancel = CancelOrder(symbol=symbol, order_id=order_id, client_order_id=cid)
        service.execute_then(lambda: jv.cancel(acc, cancel), ack_order, failed)
    elif req.__class__ is WsModify:
        if req.order_id is None and req.client_order_id is None:
            raise _no_target(req)
        change = _modify_command(service, req.symbol, req, req.order_id, req.client_order_id)
        service.execute_then(lambda: jv.modify(acc, change), ack_order, failed)


async def _session(
    ws: WebSocket,
    service: VenueService,
    account: Account | None,
    settings: Settings,
    cancel_on_disconnect: bool,
) -> None:
    direct = raw_sender(
        ws.scope,
        limit=settings.slow_consumer_bytes,
        stall_s=settings.slow_consumer_s,
        kernel_buffer=_MD_KERNEL_BUFFER if account is None else None,
    )  # on `makerkit serve`: frames written straight to the socket
    sub = Subscriber(account.account_id if account else None, raw=direct)
    if account is not None:
        service.private.setdefault(account.account_id, set()).add(sub)
    sender = asyncio.create_task(_sender(ws, sub)) if direct is None else None
    # on `makerkit serve`: client frames parsed from the socket, no ASGI queue between
    reader = raw_reader(ws.scope)
    gate = _gate(ws.app)
    address = _address(ws)
    bucket: Bucket | None = None  # this connection's, when it has no account
    max_bytes = settings.max_message_bytes
    burst = 0  # messages taken in a row without giving the loop a turn
    try:
        while sender is None or not sender.done():
            # a message already received is taken without a wait (no coroutine per message)
            waiting = reader.take_direct() if reader is not None else None
            if waiting is not None:
                burst += 1
                if burst >= _BURST:
                    # a turn for the rest: other connections, and the journal's flusher,
                    # which seals what is applied so far and commits it while this goes on
                    burst = 0
                    await asyncio.sleep(0)
            else:
                burst = 0
            raw = (
                waiting
                if waiting is not None
                else await (_receive(ws) if reader is None else reader.receive_direct())
            )
            req_id = None
            req: Any = None
            invalid: Exception | None = None
            if len(raw) > max_bytes:
                invalid = MessageTooLarge(
                    f"frames are limited to {max_bytes} bytes, was {len(raw)}"
                )
            else:
                try:
                    req = parse_ws_request(raw)
                    req_id = getattr(req, "req_id", None)
                except WsRequestError as exc:
                    invalid, req_id = exc, exc.req_id
            try:
                # every frame counts, even one that is malformed or too large; a
                # subscription is a read, open to a killed account
                if account is None:
                    bucket = gate.connection(bucket, address)
                else:
                    admit_at(gate, service, account, command=not isinstance(req, WsSubscribe))
                if invalid is not None:
                    raise invalid
                if isinstance(req, WsSubscribe):
                    _subscribe(service, sub, req)
                elif account is None:
                    sub.push(
                        _error_frame(
                            "NOT_AUTHORIZED",
                            "order entry needs the private endpoint and an API key",
                            req_id,
                        )
                    )
                elif req.__class__ is WsCancel and req.all:
                    await _cancel_all(service, sub, account, req)
                else:
                    _enter(service, sub, account, req)
            except Refused as exc:
                sub.push(_error_frame(exc.code, str(exc), req_id))
                # read nothing more until a token is back (a killed account: for a
                # moment): the excess waits in the client's socket, not in the venue
                pause = exc.retry_after_s or (_KILLED_PAUSE_S if exc.code == "KILL_SWITCH" else 0)
                if pause:
                    await asyncio.sleep(min(pause, 1.0))
            except MessageTooLarge as exc:
                sub.push(_error_frame("MESSAGE_TOO_LARGE", str(exc), req_id))
            except WsRequestError as exc:
                sub.push(_error_frame(exc.code, str(exc), req_id))
            except MakerkitError as exc:
                _, code = status_for(exc)
                sub.push(_error_frame(code, str(exc), req_id))
    except WebSocketDisconnect:
        pass
    finally:
        if sender is not None:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender
        for subs in service.public.values():
            subs.discard(sub)
        if account is not None:
            service.private.get(account.account_id, set()).discard(sub)
            if cancel_on_disconnect:
                with contextlib.suppress(MakerkitError):
                    # the account's own message rate must not keep its orders alive
                    await cancel_all(service, account.account_id, None, checked=False)


def add_websocket_routes(app: FastAPI, settings: Settings) -> None:
    """Register the two WebSocket endpoints; their sessions obey ``settings``."""

    @app.websocket("/ws/md")
    async def ws_market_data(ws: WebSocket) -> None:
        """Public market data: subscribe to book (snapshot + deltas), l1 and trades."""
        await ws.accept()
        async with _connection(ws) as admitted:
            if admitted:
                await _session(ws, ws.app.state.service, None, settings, False)

    @app.websocket("/ws/private")
    async def ws_private(
        ws: WebSocket, api_key: str | None = None, cancel_on_disconnect: bool = False
    ) -> None:
        """Private orders and fills, and order entry; key in `X-API-Key` or `?api_key=`."""
        svc: VenueService = ws.app.state.service
        await ws.accept()  # then closed with 4401: refused before the accept, a client sees 403
        try:
            account = svc.venue.authenticate(api_key or ws.headers.get("x-api-key"))
        except NotAuthorized as exc:
            with contextlib.suppress(Refused):  # a guess costs its address's rate
                _gate(ws.app).address(_address(ws))
            await ws.close(code=4401, reason=str(exc))
            return
        async with _connection(ws) as admitted:
            if admitted:
                await _session(ws, svc, account, settings, cancel_on_disconnect)
