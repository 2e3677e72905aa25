"""The one mapping from exceptions to HTTP statuses and ``{"code", "message"}`` bodies."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from msgspec import json
from starlette.exceptions import HTTPException as StarletteHTTPException

from makerkit.core import (
    Forbidden,
    JournalUnavailable,
    MakerkitError,
    NotAuthorized,
    OrderRejected,
    UnknownAccount,
    UnknownOrder,
    UnknownSymbol,
)
from makerkit.core.errors import code_for
from makerkit.server._gate import Refused

__all__ = ["error_response", "install_error_handlers", "log", "status_for"]

log = logging.getLogger("makerkit.server")

# HTTP status per class, most specific first; the codes come from core's one table
_STATUS: list[tuple[type[Exception], int]] = [
    (JournalUnavailable, 503),  # order entry stopped: say why
    (Forbidden, 403),
    (NotAuthorized, 401),
    (UnknownAccount, 404),
    (UnknownOrder, 404),
    (UnknownSymbol, 404),
    (OrderRejected, 422),
    (MakerkitError, 400),
]


def status_for(exc: Exception) -> tuple[int, str]:
    """Return (HTTP status, stable code) for an exception."""
    if isinstance(exc, Refused):
        return exc.status, exc.code
    for cls, status in _STATUS:
        if isinstance(exc, cls):
            return status, code_for(exc)
    return 500, "INTERNAL"


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> Response:
    """A JSON error body with the given status."""
    return Response(
        json.encode({"code": code, "message": message}),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


# the routing layer's own refusals, in the same {code, message} shape as ours
_HTTP_CODES = {
    400: "BAD_REQUEST",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "MESSAGE_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
}


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers; routes raise domain errors, never HTTPException."""

    async def domain(request: Request, exc: Exception) -> Response:
        status, code = status_for(exc)
        if isinstance(exc, JournalUnavailable):  # logged once by the service, told to each client
            log.info("%s %s -> 503 %s: %s", request.method, request.url.path, code, exc)
            return error_response(status, code, str(exc), {"Retry-After": "1"})
        if status >= 500:
            log.exception("internal error on %s %s", request.method, request.url.path, exc_info=exc)
        else:
            log.info("%s %s -> %s %s: %s", request.method, request.url.path, status, code, exc)
        headers = None
        if isinstance(exc, Refused) and exc.retry_after_s:
            headers = {"Retry-After": str(max(1, round(exc.retry_after_s)))}
        return error_response(status, code, str(exc) if status < 500 else "internal error", headers)

    async def routing(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, StarletteHTTPException) else 400
        detail = exc.detail if isinstance(exc, StarletteHTTPException) else str(exc)
        code = _HTTP_CODES.get(status, "BAD_REQUEST" if status < 500 else "INTERNAL")
        message = f"{request.method} {request.url.path}: {detail}"
        headers = getattr(exc, "headers", None)
        return error_response(status, code, message, headers)

    async def validation(request: Request, exc: Exception) -> Response:
        errors = exc.errors() if isinstance(exc, RequestValidationError) else []
        first = errors[0] if errors else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        message = f"invalid `{where}`: {first.get('msg', 'malformed request')}"
        log.info("%s %s -> 422 INVALID_REQUEST: %s", request.method, request.url.path, message)
        return error_response(422, "INVALID_REQUEST", message)

    app.add_exception_handler(MakerkitError, domain)
    app.add_exception_handler(RequestValidationError, validation)
    app.add_exception_handler(StarletteHTTPException, routing)
    app.add_exception_handler(Exception, domain)
