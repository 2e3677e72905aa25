"""FastAPI dependencies: who is asking, and whether the gate lets the request in.

Every dependency is ``async``: FastAPI runs plain functions in a thread pool,
and the venue must only ever be touched from the event loop. The request
parameters and error responses that several routers share live here too, so
each router declares them the same way.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Path, Query, Request, WebSocket
from fastapi.security import APIKeyHeader

from makerkit.core import NotAuthorized
from makerkit.server._gate import Gate
from makerkit.server._service import VenueService
from makerkit.venue import Account
from makerkit.wire import IDENT_PATTERN, SYMBOL_MAX, ErrorOut

__all__ = [
    "AccountDep",
    "AdminDep",
    "Limit",
    "OrderId",
    "OrderIdQuery",
    "PublicDep",
    "ServiceDep",
    "SymbolQuery",
    "admit",
    "admit_at",
    "errors",
    "get_account",
    "get_admin",
    "get_service",
    "public",
]

_api_key = APIKeyHeader(name="X-API-Key", auto_error=False)


async def get_service(request: Request) -> VenueService:
    """The app's venue service."""
    service: VenueService = request.app.state.service
    return service


ServiceDep = Annotated[VenueService, Depends(get_service)]


def admit(request_app: Any, service: VenueService, account: Account, *, command: bool) -> None:
    """Count one message of ``account`` at the gate; a command is refused while killed."""
    admit_at(_gate(request_app), service, account, command=command)


def admit_at(gate: Gate, service: VenueService, account: Account, *, command: bool) -> None:
    """``admit`` at a gate already at hand (``app.state.gate`` costs a caught AttributeError)."""
    risk = service.venue.risk
    acc = account.account_id
    limits = risk.limits_for(acc, "*")
    killed = risk.kill_reason(acc) if command else ""
    rate = limits.max_msgs_per_sec
    if rate is not None or killed:  # else the gate has nothing to count or refuse
        gate.account(acc, killed, rate, limits.burst)


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


# ---------------------------------------------------------------------- shared parameters

OrderId = Annotated[int, Path(ge=1, le=2**63 - 1, description="venue order id")]
OrderIdQuery = Annotated[int | None, Query(ge=1, le=2**63 - 1)]
Limit = Annotated[int, Query(ge=1, le=10_000, description="page size")]
# the symbol filter obeys the request bodies' rule: printable ASCII, at most 32
SymbolQuery = Annotated[
    str | None, Query(min_length=1, max_length=SYMBOL_MAX, pattern=IDENT_PATTERN)
]


# the error answers every REST router documents
errors = {
    400: {"model": ErrorOut},
    401: {"model": ErrorOut},
    403: {"model": ErrorOut},
    404: {"model": ErrorOut},
    422: {"model": ErrorOut},
}
