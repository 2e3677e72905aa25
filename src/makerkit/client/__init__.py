"""Async Python SDK of the venue: REST client, market-data and private streams, book mirror.

Imports only ``wire`` and ``core`` from makerkit; needs the ``server`` extra
(httpx, websockets).
"""

from __future__ import annotations

from makerkit.client._client import (
    BookMirror,
    MarketDataStream,
    PrivateStream,
    VenueClient,
    error_from,
)

__all__ = ["BookMirror", "MarketDataStream", "PrivateStream", "VenueClient", "error_from"]
