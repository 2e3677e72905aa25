"""REST + WebSocket gateway (FastAPI) over one journaled venue; ``makerkit serve`` runs it.

Needs the ``server`` extra.
"""

from __future__ import annotations

from makerkit.server._app import create_app
from makerkit.server._service import Subscriber, VenueService
from makerkit.server._settings import Settings
from makerkit.server._wsproto import VenueWSProtocol

__all__ = ["Settings", "Subscriber", "VenueService", "VenueWSProtocol", "create_app"]
