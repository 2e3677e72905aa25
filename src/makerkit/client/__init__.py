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
from makerkit.client._runner import LiveRunner, LiveSummary

__all__ = [
    "BookMirror",
    "LiveRunner",
    "LiveSummary",
    "MarketDataStream",
    "PrivateStream",
    "VenueClient",
    "error_from",
]
