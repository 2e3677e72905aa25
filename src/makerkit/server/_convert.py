"""Wire requests to venue commands (decimal strings to ticks and lots), and answers to JSON.

REST and WebSocket order entry share these, so an order means the same
whichever way it arrives; answers are encoded with msgspec, not pydantic.
"""

from __future__ import annotations

from typing import Any

import msgspec
from fastapi.responses import Response

from makerkit.core import (
    Instrument,
    InvalidQuantity,
    OrderRejected,
    OrderType,
    RejectReason,
    SelfTradePrevention,
    Side,
    TimeInForce,
    UnknownOrder,
    UnknownSymbol,
)
from makerkit.server._service import VenueService
from makerkit.venue import Account, ModifyOrder, NewOrder
from makerkit.wire import ModifyRequest, OrderRequest, WsModify, WsOrder

__all__ = ["to_new_order"]

_SIDES = {"buy": Side.BUY, "sell": Side.SELL}
_TIF = {
    "gtc": TimeInForce.GTC,
    "ioc": TimeInForce.IOC,
    "fok": TimeInForce.FOK,
    "post_only": TimeInForce.POST_ONLY,
}
_STP = {s.name.lower(): s for s in SelfTradePrevention}
_encode = msgspec.json.Encoder().encode


def _instrument(service: VenueService, symbol: str) -> Instrument:
    inst = service.instruments.get(symbol)
    if inst is None:
        msg = f"invalid `symbol`, not listed here, was {symbol!r}"
        raise UnknownSymbol(msg)
    return inst


def to_new_order(service: VenueService, req: OrderRequest | WsOrder) -> NewOrder:
    """Convert a wire order (decimal strings) into a venue command (ticks, lots)."""
    inst = _instrument(service, req.symbol)
    qty = _qty_lots(inst, req.qty)
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


def _qty_lots(inst: Instrument, qty: str) -> int:
    """Lots of a wire ``qty``; a refusal names the wire's field, not the instrument's ``size``."""
    try:
        return inst.to_lots(qty)
    except InvalidQuantity as exc:
        raise InvalidQuantity(str(exc).replace("`size`", "`qty`", 1), exc.reason) from None


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


def _client_order_symbol(service: VenueService, account: Account, client_order_id: str) -> str:
    """The symbol of the account's order with that client id (a cancel may leave it out)."""
    order_id = service.venue.order_id_for(account.account_id, client_order_id)
    order = service.jv.order(account.account_id, order_id) if order_id else None
    if order is None:
        msg = f"invalid `client_order_id`, no such order of this account, was {client_order_id!r}"
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
        qty=_qty_lots(inst, req.qty) if req.qty is not None else None,
    )


def _json(body: object) -> Response:
    """Encode with msgspec (the documented response_model still describes it)."""
    return Response(_encode(body), media_type="application/json")


def _raise_unknown(out: dict[str, Any]) -> dict[str, Any]:
    if out["reason"] == RejectReason.UNKNOWN_ORDER.name:
        msg = f"invalid `order_id`, no open order of this account, was {out['order_id']}"
        raise UnknownOrder(msg)
    return out
