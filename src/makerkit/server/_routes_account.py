"""REST account state: fills, durable history, positions and risk."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

import msgspec
from fastapi import APIRouter, Query
from fastapi.responses import Response

from makerkit.server._convert import _json
from makerkit.server._deps import AccountDep, Limit, OrderIdQuery, ServiceDep, SymbolQuery, errors
from makerkit.server._service import VenueService
from makerkit.server._strict import StrictJSONRoute
from makerkit.wire import BalancesOut, FillOut, PositionOut, RiskOut

__all__ = ["balances_out", "router"]

router = APIRouter(responses=errors, route_class=StrictJSONRoute)  # type: ignore[arg-type]


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


@router.get("/balances", response_model=BalancesOut, tags=["account"], name="get_balances")
async def get_balances(service: ServiceDep, account: AccountDep) -> dict[str, Any]:
    """What the account holds of each asset: deposits and fills, less fees and open orders."""
    return await balances_out(service, account.account_id)


async def balances_out(service: VenueService, account_id: int) -> dict[str, Any]:
    """The ``BalancesOut`` answer, once what it reads is durable."""
    venue = service.venue
    rows = await service.durable(lambda: venue.balances(account_id))
    return {
        "account_id": account_id,
        "allow_short": venue.allow_short,
        "balances": [
            {"asset": b.asset, "free": _plain(b.free), "locked": _plain(b.locked)} for b in rows
        ],
    }


def _plain(amount: Decimal) -> str:
    return format(amount.normalize(), "f") if amount else "0"


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
