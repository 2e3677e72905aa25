"""The web dashboard: one page, its two assets and the demo's numbers, out of the OpenAPI schema.

``makerkit demo`` runs its strategies in its own process; it writes each
sample to a file and names it to the venue it starts (``MAKERKIT_DEMO_STATE``).
The strategies view polls ``/demo/strategies``, which hands that file on.
"""

from __future__ import annotations

import functools
import os
from importlib import resources
from pathlib import Path

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
DEMO_STATE_ENV = "MAKERKIT_DEMO_STATE"
# no demo: an answer all the same (a 404 would be a console error on every page)
_NO_DEMO = b'{"running":false,"strategies":[]}'
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


@router.get("/demo/strategies")
async def demo_strategies() -> Response:
    """The demo's participants as its live table shows them (none on a venue of its own)."""
    path = os.environ.get(DEMO_STATE_ENV)
    body = _NO_DEMO
    if path:
        try:
            body = Path(path).read_bytes() or _NO_DEMO  # replaced whole by the demo, never torn
        except OSError:  # not written yet
            body = _NO_DEMO
    return Response(body, media_type="application/json", headers=_NO_CACHE)
