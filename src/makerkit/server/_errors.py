"""The one mapping from exceptions to HTTP statuses and ``{"code", "message"}`` bodies."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from msgspec import json

from makerkit.core import (
    ConfigError,
    DataError,
    Forbidden,
    MakerkitError,
    NotAuthorized,
    OrderRejected,
    UnknownOrder,
    UnknownSymbol,
)

__all__ = ["error_response", "install_error_handlers", "log", "status_for"]

log = logging.getLogger("makerkit.server")

_STATUS: list[tuple[type[Exception], int, str | None]] = [
    (Forbidden, 403, "FORBIDDEN"),
    (NotAuthorized, 401, "NOT_AUTHORIZED"),
    (UnknownOrder, 404, None),
    (UnknownSymbol, 404, None),
    (OrderRejected, 422, None),
    (DataError, 400, "BAD_DATA"),
    (ConfigError, 400, "BAD_REQUEST"),
    (MakerkitError, 400, "BAD_REQUEST"),
]


def status_for(exc: Exception) -> tuple[int, str]:
    """Return (HTTP status, stable code) for an exception."""
    for cls, status, code in _STATUS:
        if isinstance(exc, cls):
            if code is None and isinstance(exc, OrderRejected):
                return status, exc.code
            return status, code or "BAD_REQUEST"
    return 500, "INTERNAL"


def error_response(status: int, code: str, message: str) -> Response:
    """A JSON error body with the given status."""
    return Response(
        json.encode({"code": code, "message": message}),
        status_code=status,
        media_type="application/json",
    )


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers; routes raise domain errors, never HTTPException."""

    async def domain(request: Request, exc: Exception) -> Response:
        status, code = status_for(exc)
        if status >= 500:
            log.exception("internal error on %s %s", request.method, request.url.path, exc_info=exc)
        else:
            log.info("%s %s -> %s %s: %s", request.method, request.url.path, status, code, exc)
        return error_response(status, code, str(exc) if status < 500 else "internal error")

    async def validation(request: Request, exc: Exception) -> Response:
        errors = exc.errors() if isinstance(exc, RequestValidationError) else []
        first = errors[0] if errors else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        message = f"invalid `{where}`: {first.get('msg', 'malformed request')}"
        log.info("%s %s -> 422 INVALID_REQUEST: %s", request.method, request.url.path, message)
        return error_response(422, "INVALID_REQUEST", message)

    app.add_exception_handler(MakerkitError, domain)
    app.add_exception_handler(RequestValidationError, validation)
    app.add_exception_handler(Exception, domain)
