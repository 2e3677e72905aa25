"""FastAPI app: REST and WebSocket gateway over one journaled venue.

Every handler and dependency is ``async``: FastAPI runs plain functions in a
thread pool, and the venue must only ever be touched from the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from importlib import resources
from typing import Annotated, Any, Literal

import msgspec
from fastapi import (
    APIRouter,
    Depends,
    FastAPI,
    Path,
    Query,
    Request,
    WebSocket,
    WebSocketDisconnect,
)
from fastapi.responses import HTMLResponse, Response
from fastapi.security import APIKeyHeader
from pydantic_settings import BaseSettings, SettingsConfigDict

from makerkit.core import (
    ConfigError,
    Instrument,
    JournalUnavailable,
    MakerkitError,
    NotAuthorized,
    OrderRejected,
    OrderType,
    RejectReason,
    SelfTradePrevention,
    Side,
    TimeInForce,
    UnknownOrder,
    UnknownSymbol,
    rejection,
)
from makerkit.risk import RiskLimits
from makerkit.server._errors import error_response, install_error_handlers, log, status_for
from makerkit.server._gate import BodyLimit, Bucket, Gate, Refused
from makerkit.server._service import Subscriber, VenueService
from makerkit.server._strict import StrictJSONRoute
from makerkit.server._wsproto import raw_reader, raw_sender
from makerkit.venue import (
    Account,
    CancelAll,
    CancelOrder,
    ModifyOrder,
    NewOrder,
    Outcome,
    Role,
    Venue,
)
from makerkit.wire import (
    IDENT_PATTERN,
    SYMBOL_MAX,
    AccountOut,
    AccountRequest,
    AuditOut,
    BookOut,
    CancelAllOut,
    ErrorOut,
    FillOut,
    HealthOut,
    InstrumentOut,
    KillRequest,
    LimitsRequest,
    ModifyRequest,
    OrderOut,
    OrderRequest,
    PositionOut,
    RiskOut,
    WsCancel,
    WsModify,
    WsOrder,
    WsRequestError,
    WsSubscribe,
    parse_ws_request,
)

__all__ = ["Settings", "create_app"]


class MessageTooLarge(MakerkitError):
    """A client frame over ``max_message_bytes``."""


OrderId = Annotated[int, Path(ge=1, le=2**63 - 1, description="venue order id")]
OrderIdQuery = Annotated[int | None, Query(ge=1, le=2**63 - 1)]

_SIDES = {"buy": Side.BUY, "sell": Side.SELL}
_TIF = {
    "gtc": TimeInForce.GTC,
    "ioc": TimeInForce.IOC,
    "fok": TimeInForce.FOK,
    "post_only": TimeInForce.POST_ONLY,
}
_STP = {s.name.lower(): s for s in SelfTradePrevention}
_encode = msgspec.json.Encoder().encode
_ACK = b'{"type":"ack","req_id":'
_KILLED_PAUSE_S = 0.01  # a killed account's connection reads at most 100 frames a second


class Settings(BaseSettings):
    """Server settings; every field can come from a ``MAKERKIT_<NAME>`` variable."""

    model_config = SettingsConfigDict(env_prefix="MAKERKIT_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8000
    journal: str = "makerkit-venue.db"
    symbols: str = "AAA,BBB,CCC"
    tick_size: str = "0.01"
    lot_size: str = "1"
    admin_key: str | None = None
    backend: str | None = None
    maker_fee_ppm: int = 0
    taker_fee_ppm: int = 0
    flush_interval_ms: float = 0.5
    # a venue snapshot every N journaled commands bounds recovery to N replays (0: never)
    snapshot_every: int = 100_000
    # False: recover by replaying the whole journal, snapshot files moved aside (the safe
    # path when recovery refuses a snapshot it cannot prove consistent)
    use_snapshots: bool = True
    # "full": every commit is fsync'd before its acks (no acknowledged order is lost to a
    # power cut); "normal": survives a killed process only
    journal_sync: str = "full"
    # finished orders and fills per account kept in memory; older ones live in the journal
    history_limit: int = 100_000
    # market data is sent to subscribers in ticks of this many ms (0: with every commit)
    md_interval_ms: float = 5.0
    # simulated order flow on every symbol (the market driver); commands/s per symbol
    market: bool = False
    market_rate: float = 1000.0
    market_seed: int = 7
    # anchor each market symbol on the same-named real ticker: yahoo or alphavantage
    market_source: str | None = None
    market_poll_s: float = 1.0
    # replay a recorded market into one symbol: a LOBSTER message file (its orderbook
    # file beside it) or a Binance depth capture, at `replay_speed` x real time
    replay: str | None = None
    replay_symbol: str | None = None
    replay_speed: float = 1.0
    # open orders per account (orders that could rest; 0: no cap); a venue setting, journaled
    max_open_orders: int = 10_000
    # a WebSocket frame or REST body larger than this is refused
    max_message_bytes: int = 64 * 1024
    # unauthenticated market-data requests: per connection, and per client address
    md_msgs_per_sec: float = 20.0
    md_burst: int = 50
    address_msgs_per_sec: float = 100.0
    address_burst: int = 200
    connections_per_address: int = 200  # open WebSocket connections
    # a subscriber whose unsent bytes pass this, or stay unsent this long, is cut off
    slow_consumer_bytes: int = 1 << 20
    slow_consumer_s: float = 5.0

    def instruments(self) -> list[Instrument]:
        """The listed instruments."""
        return [
            Instrument(symbol=s.strip(), tick_size=self.tick_size, lot_size=self.lot_size)
            for s in self.symbols.split(",")
            if s.strip()
        ]


# ---------------------------------------------------------------------- dependencies

_api_key = APIKeyHeader(name="X-API-Key", auto_error=False)


async def get_service(request: Request) -> VenueService:
    """The app's venue service."""
    service: VenueService = request.app.state.service
    return service


ServiceDep = Annotated[VenueService, Depends(get_service)]


def admit(request_app: Any, service: VenueService, account: Account, *, command: bool) -> None:
    """Count one message of ``account`` at the gate; a command is refused while killed."""
    risk = service.venue.risk
    limits = risk.limits_for(account.account_id, "*")
    gate: Gate = request_app.state.gate
    gate.account(
        account.account_id,
        risk.kill_reason(account.account_id) if command else "",
        limits.max_msgs_per_sec,
        limits.burst,
    )


async def get_account(
    request: Request, service: ServiceDep, api_key: Annotated[str | None, Depends(_api_key)]
) -> Account:
    """The account of the request's ``X-API-Key``; every request counts against its rate."""
    try:
        account = service.venue.authenticate(api_key)
    except NotAuthorized:  # guessing keys costs the guesser's address its rate
        _gate(request.app).address(_address(request))
        raise
    # reads count too, but stay open to a killed account: it must see its own state
    admit(request.app, service, account, command=request.method != "GET")
    return account


def _gate(app: Any) -> Gate:
    gate: Gate = app.state.gate
    return gate


def _address(conn: Request | WebSocket) -> str:
    return conn.client.host if conn.client is not None else "unknown"


async def public(
    request: Request, service: ServiceDep, api_key: Annotated[str | None, Depends(_api_key)]
) -> None:
    """A public request counts against its account's rate when it has a key, else its address's."""
    if api_key is not None:
        await get_account(request, service, api_key)
    else:
        _gate(request.app).address(_address(request))


PublicDep = Depends(public)


async def get_admin(
    service: ServiceDep, api_key: Annotated[str | None, Depends(_api_key)]
) -> Account:
    """The account of the request's ``X-API-Key``, which must be an admin."""
    return service.venue.authenticate(api_key, admin=True)


AccountDep = Annotated[Account, Depends(get_account)]
AdminDep = Annotated[Account, Depends(get_admin)]


# ---------------------------------------------------------------------- conversions


def _instrument(service: VenueService, symbol: str) -> Instrument:
    inst = service.instruments.get(symbol)
    if inst is None:
        msg = f"invalid `symbol`, not listed here, was {symbol!r}"
        raise UnknownSymbol(msg)
    return inst


def to_new_order(service: VenueService, req: OrderRequest | WsOrder) -> NewOrder:
    """Convert a wire order (decimal strings) into a venue command (ticks, lots)."""
    inst = _instrument(service, req.symbol)
    qty = inst.to_lots(req.qty)
    if req.type == "limit":
        if req.price is None:
            msg = "invalid `price`, required for a limit order, was null"
            raise OrderRejected(msg, RejectReason.NON_POSITIVE_PRICE)
        price: int | None = inst.to_ticks(req.price)
    else:
        price = None
    return NewOrder(
        symbol=req.symbol,
        side=_SIDES[req.side],
        qty=qty,
        price=price,
        order_type=OrderType.LIMIT if req.type == "limit" else OrderType.MARKET,
        tif=_TIF[req.tif],
        client_order_id=req.client_order_id,
        stp=_STP[req.stp],
    )


def _order_symbol(
    service: VenueService, account: Account, order_id: int, symbol: str | None
) -> str:
    if symbol is not None:
        return symbol
    order = service.jv.order(account.account_id, order_id)
    if order is None:
        msg = f"invalid `order_id`, no such order of this account, was {order_id}"
        raise UnknownOrder(msg)
    return order.symbol


def _modify_command(
    service: VenueService,
    symbol: str,
    req: ModifyRequest | WsModify,
    order_id: int | None,
    client_order_id: str | None,
) -> ModifyOrder:
    inst = _instrument(service, symbol)
    return ModifyOrder(
        symbol=symbol,
        order_id=order_id,
        client_order_id=client_order_id,
        price=inst.to_ticks(req.price) if req.price is not None else None,
        qty=inst.to_lots(req.qty) if req.qty is not None else None,
    )


def _json(body: object) -> Response:
    """Encode with msgspec (the documented response_model still describes it)."""
    return Response(_encode(body), media_type="application/json")


def _raise_unknown(out: dict[str, Any]) -> dict[str, Any]:
    if out["reason"] == RejectReason.UNKNOWN_ORDER.name:
        msg = f"invalid `order_id`, no open order of this account, was {out['order_id']}"
        raise UnknownOrder(msg)
    return out


# ---------------------------------------------------------------------- REST

errors = {
    400: {"model": ErrorOut},
    401: {"model": ErrorOut},
    403: {"model": ErrorOut},
    404: {"model": ErrorOut},
    422: {"model": ErrorOut},
}
router = APIRouter(responses=errors, route_class=StrictJSONRoute)  # type: ignore[arg-type]


@router.post("/orders", response_model=OrderOut, tags=["orders"], name="submit_order")
async def submit_order(req: OrderRequest, service: ServiceDep, account: AccountDep) -> Response:
    """Place an order; a refusal by risk or the book has status `rejected` and a reason."""
    cmd = to_new_order(service, req)
    out = await service.execute(lambda: service.jv.submit(account.account_id, cmd))
    return _json(service.order_out(out.update))


Limit = Annotated[int, Query(ge=1, le=10_000, description="page size")]
# the symbol filter obeys the request bodies' rule: printable ASCII, at most 32
SymbolQuery = Annotated[
    str | None, Query(min_length=1, max_length=SYMBOL_MAX, pattern=IDENT_PATTERN)
]


@router.get("/orders", response_model=list[OrderOut], tags=["orders"], name="list_open_orders")
async def list_open_orders(
    service: ServiceDep,
    account: AccountDep,
    symbol: SymbolQuery = None,
    after: Annotated[int, Query(ge=0, le=2**63 - 1, description="last order id seen")] = 0,
    limit: Limit = 1000,
) -> Response:
    """The account's open orders, oldest first, a page at a time (``after`` the last id seen)."""
    acc = account.account_id
    page = await service.durable(
        lambda: service.venue.open_orders(acc, symbol, after=after, limit=limit)
    )
    return _json([service.order_out(o) for o in page])


@router.get("/orders/{order_id}", response_model=OrderOut, tags=["orders"], name="get_order")
async def get_order(order_id: OrderId, service: ServiceDep, account: AccountDep) -> dict[str, Any]:
    """One of the account's orders, open or done."""
    order = await service.durable(lambda: service.jv.order(account.account_id, order_id))
    if order is None:
        msg = f"invalid `order_id`, no such order of this account, was {order_id}"
        raise UnknownOrder(msg)
    return service.order_out(order)


@router.delete("/orders/{order_id}", response_model=OrderOut, tags=["orders"], name="cancel_order")
async def cancel_order(
    order_id: OrderId,
    service: ServiceDep,
    account: AccountDep,
    symbol: SymbolQuery = None,
) -> Response:
    """Cancel one open order."""
    sym = _order_symbol(service, account, order_id, symbol)
    out = await service.execute(
        lambda: service.jv.cancel(account.account_id, CancelOrder(symbol=sym, order_id=order_id))
    )
    return _json(_raise_unknown(service.order_out(out.update)))


@router.delete("/orders", response_model=CancelAllOut, tags=["orders"], name="cancel_all_orders")
async def cancel_all_orders(
    service: ServiceDep,
    account: AccountDep,
    symbol: SymbolQuery = None,
) -> dict[str, Any]:
    """Cancel every open order of the account (in one symbol when given)."""
    if symbol is not None:
        _instrument(service, symbol)
    outs = await cancel_all(service, account.account_id, symbol)
    return {"canceled": [service.order_out(o.update) for o in outs]}


CANCEL_SLICE = 500  # orders cancelled per turn of the event loop


async def cancel_all(
    service: VenueService, account: int, symbol: str | None, *, checked: bool = True
) -> list[Outcome]:
    """Cancel the account's open orders in slices, so thousands never stall the venue.

    The first slice is the client's message (rate checked, refused under a kill
    switch, unless ``checked`` is False: the venue's own cancel-on-disconnect);
    the rest are the venue's follow-ups. Orders placed after the request (ids
    above today's last) are left alone.
    """
    bound = service.venue.last_order_id
    done: list[Outcome] = []
    while True:
        cmd = CancelAll(symbol=symbol, limit=CANCEL_SLICE, max_order_id=bound, rate_checked=checked)
        part = await service.execute(functools.partial(service.jv.cancel_all, account, cmd))
        refused = Venue.refusal(part)
        if refused is not None:
            raise rejection(refused.update.reason)
        done += part
        if len(part) < CANCEL_SLICE:
            return done
        checked = False


@router.patch("/orders/{order_id}", response_model=OrderOut, tags=["orders"], name="modify_order")
async def modify_order(
    order_id: OrderId,
    req: ModifyRequest,
    service: ServiceDep,
    account: AccountDep,
    symbol: SymbolQuery = None,
) -> dict[str, Any]:
    """Change price and/or remaining size; a smaller size at the same price keeps priority."""
    sym = _order_symbol(service, account, order_id, symbol)
    cmd = _modify_command(service, sym, req, order_id, None)
    out = await service.execute(lambda: service.jv.modify(account.account_id, cmd))
    return _raise_unknown(service.order_out(out.update))


@router.get("/fills", response_model=list[FillOut], tags=["account"], name="list_fills")
async def list_fills(
    service: ServiceDep,
    account: AccountDep,
    symbol: SymbolQuery = None,
    after: Annotated[int, Query(ge=0, le=2**63 - 1, description="last fill seq seen")] = 0,
    limit: Limit = 1000,
) -> Response:
    """The account's fill history, oldest first, a page at a time (``after`` the last seq)."""
    acc = account.account_id
    page = await service.durable(
        lambda: service.venue.fills(acc, symbol, after_seq=after, limit=limit)
    )
    return _json([service.fill_out(f) for f in page])


@router.get("/history", response_model=list[dict[str, Any]], tags=["account"], name="get_history")
async def get_history(
    service: ServiceDep,
    account: AccountDep,
    kind: Literal["order", "fill", "audit"] | None = None,
    order_id: OrderIdQuery = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
) -> Response:
    """Durable history from the journal: order updates, fills, risk audit; newest first."""
    rows = service.jv.journal.history(
        account=account.account_id, kind=kind, order_id=order_id, limit=limit
    )
    return Response(
        b"[" + b",".join(payload.encode() for *_, payload in rows) + b"]",
        media_type="application/json",
    )


@router.get("/positions", response_model=list[PositionOut], tags=["account"], name="list_positions")
async def list_positions(service: ServiceDep, account: AccountDep) -> list[dict[str, Any]]:
    """Positions and PnL per symbol, marked to mid."""
    return await service.durable(
        lambda: [
            _position_out(service, p) for p in service.venue.risk.positions(account.account_id)
        ]
    )


@router.get("/risk", response_model=RiskOut, tags=["account"], name="get_risk")
async def get_risk(service: ServiceDep, account: AccountDep) -> dict[str, Any]:
    """The account's limits, positions and kill-switch state."""
    state = await service.durable(
        lambda: service.venue.risk.state(account.account_id, service.venue.clock.now_ns())
    )
    return {
        "account_id": account.account_id,
        "killed": state.killed,
        "kill_reason": state.kill_reason,
        "venue_killed": state.venue_killed,
        "limits": msgspec.to_builtins(state.limits),
        "positions": [_position_out(service, p) for p in state.positions],
    }


def _position_out(service: VenueService, p: Any) -> dict[str, Any]:
    inst = service.instruments[p.symbol]
    return {
        "symbol": p.symbol,
        "qty": inst.size_str(p.qty),
        "avg_price": None
        if p.avg_price is None
        else format((inst.tick * Decimal(repr(p.avg_price))).normalize(), "f"),
        "realized_pnl": service.money(p.symbol, p.realized),
        "unrealized_pnl": service.money(p.symbol, p.unrealized),
        "fees": service.money(p.symbol, p.fees, micro=True),
        "mark": inst.price_str(p.mark) if p.mark is not None else None,
    }


@router.get("/book/{symbol}", response_model=BookOut, tags=["market data"], name="get_book")
async def get_book(
    symbol: str,
    service: ServiceDep,
    depth: Annotated[int, Query(ge=1, le=10_000)] = 10,
    _: None = PublicDep,
) -> dict[str, Any]:
    """An L2 snapshot (price, size, orders per level) with its public sequence."""
    _instrument(service, symbol)
    # only durable state: a sequence number shown here is never reused after a crash
    frame = await service.durable(lambda: service.book_frame(symbol, depth))
    return {
        "symbol": symbol,
        "seq": frame["seq"],
        "bids": [{"price": p, "size": s, "count": c} for p, s, c in frame["bids"]],
        "asks": [{"price": p, "size": s, "count": c} for p, s, c in frame["asks"]],
    }


@router.get(
    "/instruments",
    response_model=list[InstrumentOut],
    tags=["market data"],
    name="list_instruments",
)
async def list_instruments(service: ServiceDep, _: None = PublicDep) -> list[dict[str, Any]]:
    """The listed instruments with their tick and lot sizes."""
    return [
        {"symbol": i.symbol, "tick_size": i.tick_size, "lot_size": i.lot_size}
        for i in service.instruments.values()
    ]


@router.get(
    "/health",
    response_model=HealthOut,
    tags=["ops"],
    name="health",
    responses={503: {"model": HealthOut, "description": "the journal cannot write"}},
)
async def health(service: ServiceDep) -> Response:
    """Liveness, with the number of journaled commands; 503 while the journal cannot write."""
    body = service.health()
    return Response(
        _encode(body),
        status_code=200 if body["failure"] is None else 503,
        media_type="application/json",
    )


@router.post("/admin/kill", response_model=CancelAllOut, tags=["admin"], name="admin_kill")
async def admin_kill(req: KillRequest, service: ServiceDep, _: AdminDep) -> dict[str, Any]:
    """Trip a kill switch (an account's, or venue-wide) and cancel the affected orders."""
    outs = await service.execute(lambda: service.jv.kill(req.account_id, req.reason))
    return {"canceled": [service.order_out(o.update) for o in outs]}


@router.post("/admin/reset", response_model=HealthOut, tags=["admin"], name="admin_reset")
async def admin_reset(req: KillRequest, service: ServiceDep, _: AdminDep) -> dict[str, Any]:
    """Lift a kill switch (an account's, or venue-wide)."""
    await service.execute(lambda: service.jv.reset(req.account_id))
    return service.health()


@router.put("/admin/limits", response_model=RiskOut, tags=["admin"], name="admin_set_limits")
async def admin_set_limits(req: LimitsRequest, service: ServiceDep, _: AdminDep) -> dict[str, Any]:
    """Install risk limits for an account and/or symbol (both null: the default)."""
    fields = req.model_dump(exclude={"account_id", "symbol"})
    limits = RiskLimits(**fields)
    await service.execute(
        lambda: service.jv.set_limits(limits, account=req.account_id, symbol=req.symbol)
    )
    target = req.account_id or 0
    state = service.venue.risk.state(target, service.venue.clock.now_ns())
    return {
        "account_id": target,
        "killed": state.killed,
        "kill_reason": state.kill_reason,
        "venue_killed": state.venue_killed,
        "limits": msgspec.to_builtins(service.venue.risk.limits_for(target, req.symbol or "*")),
        "positions": [],
    }


@router.post(
    "/admin/accounts", response_model=AccountOut, tags=["admin"], name="admin_create_account"
)
async def admin_create_account(
    req: AccountRequest, service: ServiceDep, _: AdminDep
) -> dict[str, Any]:
    """Create an account; the answer holds its API key, shown this once."""
    account, key = await service.execute(
        lambda: service.jv.add_account(req.name, role=Role(req.role))
    )
    return {
        "account_id": account.account_id,
        "name": account.name,
        "role": account.role.value,
        "api_key": key,
    }


@router.get(
    "/admin/accounts", response_model=list[AccountOut], tags=["admin"], name="admin_list_accounts"
)
async def admin_list_accounts(service: ServiceDep, _: AdminDep) -> list[dict[str, Any]]:
    """Every account (never their keys)."""
    return [
        {"account_id": a.account_id, "name": a.name, "role": a.role.value}
        for a in service.venue.accounts()
    ]


@router.get("/admin/audit", response_model=list[AuditOut], tags=["admin"], name="admin_audit")
async def admin_audit(
    service: ServiceDep,
    _: AdminDep,
    account_id: Annotated[int | None, Query(ge=0, le=2**63 - 1)] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> list[dict[str, Any]]:
    """The newest risk decisions (rule, limit, value), oldest of them first."""
    # from the newest end, stopping at `limit`: never a walk over the whole log
    newest = (
        r
        for r in reversed(service.venue.risk.audit)
        if account_id is None or r.account == account_id
    )
    records = list(itertools.islice(newest, limit))[::-1]
    return [
        {
            "ts": r.ts,
            "account_id": r.account,
            "symbol": r.symbol,
            "rule": r.rule,
            "decision": r.decision,
            "limit": r.limit,
            "value": r.value,
        }
        for r in records
    ]


# ---------------------------------------------------------------------- dashboard

# the web dashboard: one page and its two assets, shipped in the package's static/
_ASSETS = {
    "dashboard.js": "text/javascript; charset=utf-8",
    "dashboard.css": "text/css; charset=utf-8",
}
_NO_CACHE = {"Cache-Control": "no-cache"}  # a new release's page is seen at once
pages = APIRouter(include_in_schema=False)


@functools.cache
def _asset(name: str) -> bytes:
    return (resources.files("makerkit.server") / "static" / name).read_bytes()


@pages.get("/", response_class=HTMLResponse)
async def dashboard() -> HTMLResponse:
    """The venue's web dashboard (market data, account, admin)."""
    return HTMLResponse(_asset("dashboard.html"), headers=_NO_CACHE)


@pages.get("/static/{name}")
async def dashboard_asset(name: str) -> Response:
    """The dashboard's script and style sheet."""
    media = _ASSETS.get(name)
    if media is None:
        return error_response(404, "NOT_FOUND", f"invalid `name`, no such asset, was {name!r}")
    return Response(_asset(name), media_type=media, headers=_NO_CACHE)


# ---------------------------------------------------------------------- WebSocket


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
async def _connection(ws: WebSocket) -> AsyncIterator[bool]:
    """One of at most ``connections_per_address`` WebSocket connections of an address.

    Yields False (the client told why, the connection closed) past the cap.
    """
    gate, address = _gate(ws.app), _address(ws)
    try:
        gate.open(address)
    except Refused as exc:
        await ws.send_text(_error_frame(exc.code, str(exc)).decode())
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
        sub.channels.discard(key)
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
            sub.channels.discard(key)
            sub.release(refused)

        sub.hold()
        try:
            service.after_durable(lambda: sub.release(snapshot), failed)
        except JournalUnavailable:
            sub.release(None)
            raise
    sub.channels.add(key)
    service.public[symbol].add(sub)


async def _handle_private(
    service: VenueService, sub: Subscriber, account: Account, req: Any
) -> None:
    """Apply one order-entry frame; its ack is queued once the command is durable.

    The session goes on reading while earlier commands wait for their commit,
    so a client can pipeline orders into one journal transaction. A cancel-all
    is the exception: the session waits for its slices.
    """
    acc = account.account_id
    req_id = req.req_id

    def ack_order(out: Any) -> None:  # {"type":"ack","req_id":..,"order":{..}}
        sub.push(_ACK + _encode(req_id) + b',"order":' + service.order_json(out.update) + b"}")

    def failed(exc: MakerkitError) -> None:
        _, code = status_for(exc)
        sub.push(_error_frame(code, str(exc), req_id))

    if isinstance(req, WsOrder):
        cmd = to_new_order(service, req)  # a WsOrder has an OrderRequest's fields
        service.execute_then(lambda: service.jv.submit(acc, cmd), ack_order, failed)
    elif isinstance(req, WsCancel):
        if req.symbol is not None:
            _instrument(service, req.symbol)
        if req.all:
            outs = await cancel_all(service, acc, req.symbol)
            canceled = [service.order_out(o.update) for o in outs]
            sub.push(_encode({"type": "ack", "req_id": req_id, "canceled": canceled}))
            return
        symbol = req.symbol or (
            _order_symbol(service, account, req.order_id, None) if req.order_id is not None else ""
        )
        cancel = CancelOrder(
            symbol=symbol, order_id=req.order_id, client_order_id=req.client_order_id
        )
        service.execute_then(lambda: service.jv.cancel(acc, cancel), ack_order, failed)
    elif isinstance(req, WsModify):
        change = _modify_command(service, req.symbol, req, req.order_id, req.client_order_id)
        service.execute_then(lambda: service.jv.modify(acc, change), ack_order, failed)


async def _session(
    ws: WebSocket,
    service: VenueService,
    account: Account | None,
    settings: Settings,
    cancel_on_disconnect: bool,
) -> None:
    direct = raw_sender(
        ws.scope, limit=settings.slow_consumer_bytes, stall_s=settings.slow_consumer_s
    )  # on `makerkit serve`: frames written straight to the socket
    sub = Subscriber(account.account_id if account else None, raw=direct)
    if account is not None:
        service.private.setdefault(account.account_id, set()).add(sub)
    sender = asyncio.create_task(_sender(ws, sub)) if direct is None else None
    # on `makerkit serve`: client frames parsed from the socket, no ASGI queue between
    reader = raw_reader(ws.scope)
    gate: Gate = ws.app.state.gate
    address = _address(ws)
    bucket: Bucket | None = None  # this connection's, when it has no account
    max_bytes = settings.max_message_bytes
    try:
        while sender is None or not sender.done():
            raw = await (_receive(ws) if reader is None else reader.receive_direct())
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
                    admit(ws.app, service, account, command=not isinstance(req, WsSubscribe))
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
                else:
                    await _handle_private(service, sub, account, req)
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


def _anchors(settings: Settings, symbols: list[str]) -> dict[str, Any]:
    """Real quotes for the market driver: one polling source, a ticker per symbol."""
    if not settings.market_source:
        return {}
    from makerkit.data import AlphaVantage, YahooFinance

    kinds: dict[str, Any] = {"yahoo": YahooFinance, "alphavantage": AlphaVantage}
    name = settings.market_source
    if name not in kinds:
        msg = f"invalid `market_source`, must be yahoo or alphavantage, was {name!r}"
        raise ConfigError(msg)
    source = kinds[name]()

    def anchor(symbol: str) -> Any:
        async def price() -> float:
            quote = await asyncio.to_thread(source.quote, symbol)
            return float(quote.price)

        return price

    return {symbol: anchor(symbol) for symbol in symbols}


def _replay_driver(svc: VenueService, settings: Settings) -> Any:
    from pathlib import Path

    from makerkit.data import load_binance_capture, load_lobster
    from makerkit.server._replay import ReplayDriver

    path = Path(settings.replay or "")
    symbol = settings.replay_symbol or sorted(svc.instruments)[0]
    if symbol not in svc.instruments:
        msg = f"invalid `replay_symbol`, not listed: {symbol!r}"
        raise ConfigError(msg)
    if "message" in path.name:
        source: Any = load_lobster(path, path.with_name(path.name.replace("message", "orderbook")))
    else:
        source = load_binance_capture(path)
    return ReplayDriver(svc, symbol, source, speed=settings.replay_speed)


def create_app(settings: Settings | None = None, service: VenueService | None = None) -> FastAPI:
    """Build the app; the service (venue + journal) starts and stops with it."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        svc = service or VenueService.from_settings(settings)
        app.state.service = svc
        await svc.start()
        cap = settings.max_open_orders or None
        if svc.venue.max_open_orders != cap:  # a venue setting: journaled, so replays agree
            await svc.execute(lambda: svc.jv.set_max_open_orders(cap))
        driver = None
        if settings.market:
            from makerkit.server._driver import MarketDriver

            # a replayed symbol has its flow already: the simulator animates the others
            replayed = settings.replay_symbol or sorted(svc.instruments)[0]
            animated = [s for s in sorted(svc.instruments) if not settings.replay or s != replayed]
            driver = MarketDriver(
                svc,
                symbols=animated,
                rate=settings.market_rate,
                seed=settings.market_seed,
                anchors=_anchors(settings, list(svc.instruments)),
                anchor_every_s=settings.market_poll_s,
            )
            await driver.start()
        app.state.driver = driver
        replay = None
        if settings.replay:
            replay = _replay_driver(svc, settings)
            await replay.start()
        try:
            yield
        finally:
            if replay is not None:
                await replay.stop()
            if driver is not None:
                await driver.stop()
            await svc.stop()

    app = FastAPI(
        title="makerkit venue",
        version="0.1.0",
        description=(
            "Order entry, market data and risk for the makerkit venue. "
            "Prices and sizes are decimal strings."
        ),
        lifespan=lifespan,
        generate_unique_id_function=lambda route: str(getattr(route, "name", route)),
    )
    install_error_handlers(app)
    app.add_middleware(BodyLimit, limit=settings.max_message_bytes)
    app.state.gate = Gate(
        time.monotonic_ns,
        md_msgs_per_sec=settings.md_msgs_per_sec,
        md_burst=settings.md_burst,
        address_msgs_per_sec=settings.address_msgs_per_sec,
        address_burst=settings.address_burst,
        connections_per_address=settings.connections_per_address,
    )
    app.include_router(router)
    app.include_router(pages)

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

    return app
