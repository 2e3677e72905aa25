"""The web dashboard: one page and its two assets, out of the OpenAPI schema."""

from __future__ import annotations

import functools
from importlib import resources

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from makerkit.server._errors import error_response

__all__ = ["router"]

# shipped in the package's static/ (the page is dashboard.html)
_ASSETS = {
    "dashboard.js": "text/javascript; charset=utf-8",
    "dashboard.css": "text/css; charset=utf-8",
}
_NO_CACHE = {"Cache-Control": "no-cache"}  # a new release's page is seen at once
router = APIRouter(include_in_schema=False)


@functools.cache
def _asset(name: str) -> bytes:
    return (resources.files("makerkit.server") / "static" / name).read_bytes()


@router.get("/", response_class=HTMLResponse)
async def dashboard() -> HTMLResponse:
    """The venue's web dashboard (market data, account, admin)."""
    return HTMLResponse(_asset("dashboard.html"), headers=_NO_CACHE)


@router.get("/static/{name}")
async def dashboard_asset(name: str) -> Response:
    """The dashboard's script and style sheet."""
    media = _ASSETS.get(name)
    if media is None:
        return error_response(404, "NOT_FOUND", f"invalid `name`, no such asset, was {name!r}")
    return Response(_asset(name), media_type=media, headers=_NO_CACHE)
