"""REST administration: kill switches, risk limits, accounts and the risk audit."""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, Query
from fastapi.responses import Response

from makerkit.core import ConfigError
from makerkit.risk import RiskLimits
from makerkit.server._convert import _json
from makerkit.server._deps import AdminDep, ServiceDep, errors
from makerkit.server._routes_account import balances_out
from makerkit.server._routes_orders import orders_out
from makerkit.server._service import VenueService
from makerkit.server._strict import StrictJSONRoute
from makerkit.venue import Account, Role
from makerkit.wire import (
    AccountOut,
    AccountRequest,
    AuditOut,
    BalancesOut,
    CancelAllOut,
    DepositRequest,
    HealthOut,
    KillRequest,
    LimitsRequest,
    RiskOut,
)

__all__ = ["router"]

router = APIRouter(responses=errors, route_class=StrictJSONRoute)  # type: ignore[arg-type]


@router.post("/admin/kill", response_model=CancelAllOut, tags=["admin"], name="admin_kill")
async def admin_kill(req: KillRequest, service: ServiceDep, _: AdminDep) -> Response:
    """Trip a kill switch (an account's, or venue-wide) and cancel the affected orders.

    The kill is one command (it takes effect at once, whatever the count); its
    answer is built a slice per turn.
    """
    outs = await service.execute(lambda: service.jv.kill(req.account_id, req.reason))
    return _json({"canceled": await orders_out(service, [o.update for o in outs])})


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
    """Create an account (with opening deposits); the answer holds its key and secret, once."""
    deposits = _amounts(service, req.balances or {})

    def create() -> tuple[Account, str]:
        # one group commit: the account and its deposits become durable together
        account, key = service.jv.add_account(req.name, role=Role(req.role))
        for asset, amount in deposits:
            service.jv.deposit(account.account_id, asset, amount)
        return account, key

    account, key = await service.execute(create)
    return {
        "account_id": account.account_id,
        "name": account.name,
        "role": account.role.value,
        "api_key": key,
        "api_secret": service.venue.api_secret(account.account_id),
    }


@router.post("/admin/deposits", response_model=BalancesOut, tags=["admin"], name="admin_deposit")
async def admin_deposit(req: DepositRequest, service: ServiceDep, _: AdminDep) -> dict[str, Any]:
    """Credit (a negative amount debits) an account's asset; answers its balances."""
    ((asset, amount),) = _amounts(service, {req.asset: req.amount})
    await service.execute(lambda: service.jv.deposit(req.account_id, asset, amount))
    return await balances_out(service, req.account_id)


def _amounts(service: VenueService, amounts: dict[str, str]) -> list[tuple[str, Decimal]]:
    """Deposits checked before anything is written: a listed asset, a non-zero amount."""
    assets = service.venue.assets()
    out = []
    for asset, raw in sorted(amounts.items()):
        if asset not in assets:
            msg = f"invalid `asset`, must be one of {assets}, was {asset!r}"
            raise ConfigError(msg)
        amount = Decimal(raw)
        if amount == 0:
            msg = f"invalid `amount` of {asset}, must be non-zero"
            raise ConfigError(msg)
        out.append((asset, amount))
    return out


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
