"""REST order entry: submit, list, get, cancel (one or all) and modify orders.

``cancel_all`` is shared with the WebSocket: it cancels in slices so thousands
of orders never stall the venue.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response

from makerkit.core import UnknownOrder, rejection
from makerkit.server._convert import (
    _instrument,
    _json,
    _modify_command,
    _order_symbol,
    _raise_unknown,
    to_new_order,
)
from makerkit.server._deps import AccountDep, Limit, OrderId, ServiceDep, SymbolQuery, errors
from makerkit.server._service import VenueService
from makerkit.server._strict import StrictJSONRoute
from makerkit.venue import CancelAll, CancelOrder, OrderUpdate, Outcome, Venue
from makerkit.wire import CancelAllOut, ModifyRequest, OrderOut, OrderRequest

__all__ = ["CANCEL_SLICE", "cancel_all", "orders_out", "router"]

router = APIRouter(responses=errors, route_class=StrictJSONRoute)  # type: ignore[arg-type]


@router.post("/orders", response_model=OrderOut, tags=["orders"], name="submit_order")
async def submit_order(req: OrderRequest, service: ServiceDep, account: AccountDep) -> Response:
    """Place an order; a refusal by risk or the book has status `rejected` and a reason."""
    cmd = to_new_order(service, req)
    out = await service.execute(lambda: service.jv.submit(account.account_id, cmd))
    return _json(service.order_out(out.update))


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
    return _json(await orders_out(service, page))


@router.get("/orders/{order_id}", response_model=OrderOut, tags=["orders"], name="get_order")
async def get_order(order_id: OrderId, service: ServiceDep, account: AccountDep) -> dict[str, Any]:
    """One of the account's orders, open or done."""
    order = await service.durable(lambda: service.jv.order(account.account_id, order_id))
    if order is None:
        msg = f"invalid `order_id`, no such order of this account, was {order_id}"
        raise UnknownOrder(msg)
    return service.order_body(order)


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
) -> Response:
    """Cancel every open order of the account (in one symbol when given)."""
    if symbol is not None:
        _instrument(service, symbol)
    outs = await cancel_all(service, account.account_id, symbol)
    return _json({"canceled": await orders_out(service, [o.update for o in outs])})


CANCEL_SLICE = 500  # orders cancelled per turn of the event loop
OUT_SLICE = 1000  # order bodies built per turn of the event loop


async def orders_out(service: VenueService, updates: list[OrderUpdate]) -> list[dict[str, Any]]:
    """The bodies of ``updates``, built a slice per turn: thousands never stall the venue.

    The updates are immutable snapshots, so a body built a turn later still
    shows the state they were read in.
    """
    out: list[dict[str, Any]] = []
    for start in range(0, len(updates), OUT_SLICE):
        if start:
            await asyncio.sleep(0)
        out += [service.order_body(u) for u in updates[start : start + OUT_SLICE]]
    return out


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
