"""A route class that refuses JSON bodies with a repeated key.

Python's ``json`` (which FastAPI parses bodies with) keeps the last of two
equal keys, so ``{"qty": "1", "qty": "100"}`` would be read as 100 while a
proxy, a log or an audit trail reading the first sees 1. A route of
:class:`StrictJSONRoute` answers such a body 422 ``INVALID_REQUEST`` before it
is parsed for the endpoint.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from makerkit.server._errors import error_response, log
from makerkit.wire import find_duplicate_key

__all__ = ["StrictJSONRoute"]


class StrictJSONRoute(APIRoute):
    """An :class:`~fastapi.routing.APIRoute` whose JSON body may not repeat a key."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """The endpoint's handler, behind the duplicate-key check when it takes a body."""
        handler = super().get_route_handler()
        if self.body_field is None:
            return handler

        async def strict_handler(request: Request) -> Response:
            try:
                body = await request.body()  # kept on the request: the endpoint reads it again
            except Exception:  # the endpoint's own reading of the body reports it
                return await handler(request)
            key = find_duplicate_key(body) if body else None
            if key is not None:
                shown = json.dumps(key[:64])[1:-1]  # ASCII: no control or bidi character
                message = f"invalid `body.{shown}`: the key occurs more than once in the body"
                log.info(
                    "%s %s -> 422 INVALID_REQUEST: %s", request.method, request.url.path, message
                )
                return error_response(422, "INVALID_REQUEST", message)
            return await handler(request)

        return strict_handler
