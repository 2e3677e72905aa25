"""REST market data and liveness: book snapshots, instruments, health."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response

from makerkit.server._convert import _encode, _instrument
from makerkit.server._deps import PublicDep, ServiceDep, errors
from makerkit.server._strict import StrictJSONRoute
from makerkit.wire import BookOut, HealthOut, InstrumentOut

__all__ = ["router"]

router = APIRouter(responses=errors, route_class=StrictJSONRoute)  # type: ignore[arg-type]


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
    """The listed instruments: tick and lot sizes, assets and the smallest order."""
    return [
        {
            "symbol": i.symbol,
            "tick_size": i.tick_size,
            "lot_size": i.lot_size,
            "base_asset": i.base_asset,
            "quote_asset": i.quote_asset,
            "min_qty": i.size_str(i.min_lots),
            "min_notional": format(i.min_notional_value.normalize(), "f"),
        }
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
