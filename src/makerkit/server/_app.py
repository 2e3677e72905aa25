"""FastAPI app: the wiring of the REST and WebSocket gateway over one journaled venue.

Settings, dependencies, routers and the WebSocket session live in their own
modules; this one starts the venue service and its drivers with the app and
puts the pieces together in a fixed order (route matching and the OpenAPI
document depend on it).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI

from makerkit.core import ConfigError
from makerkit.server._binance_rest import router as binance_routes
from makerkit.server._binance_ws import add_binance_ws_routes
from makerkit.server._errors import install_error_handlers
from makerkit.server._gate import BodyLimit, Gate
from makerkit.server._routes_account import router as account_routes
from makerkit.server._routes_admin import router as admin_routes
from makerkit.server._routes_dashboard import router as dashboard_routes
from makerkit.server._routes_market import router as market_routes
from makerkit.server._routes_orders import router as order_routes
from makerkit.server._service import VenueService
from makerkit.server._settings import Settings
from makerkit.server._ws import add_websocket_routes

__all__ = ["ROUTERS", "create_app"]

# in this order: a path matches the first route that fits, and OpenAPI lists them so
ROUTERS: tuple[APIRouter, ...] = (
    binance_routes,  # first: it declines any other path at once (see BinanceRouter)
    order_routes,
    account_routes,
    market_routes,
    admin_routes,
    dashboard_routes,
)


def _anchors(settings: Settings, symbols: list[str]) -> dict[str, Any]:
    """Real quotes for the market driver: one polling source, a ticker per symbol."""
    if not settings.market_source:
        return {}
    from makerkit.data import AlphaVantage, YahooFinance

    kinds: dict[str, Any] = {"yahoo": YahooFinance, "alphavantage": AlphaVantage}
    name = settings.market_source
    if name not in kinds:
        msg = f"invalid `market_source`, must be yahoo or alphavantage, was {name!r}"
        raise ConfigError(msg)
    source = kinds[name]()

    def anchor(symbol: str) -> Any:
        async def price() -> float:
            quote = await asyncio.to_thread(source.quote, symbol)
            return float(quote.price)

        return price

    return {symbol: anchor(symbol) for symbol in symbols}


def _replay_driver(svc: VenueService, settings: Settings) -> Any:
    from pathlib import Path

    from makerkit.data import load_binance_capture, load_lobster
    from makerkit.server._replay import ReplayDriver

    path = Path(settings.replay or "")
    symbol = settings.replay_symbol or sorted(svc.instruments)[0]
    if symbol not in svc.instruments:
        msg = f"invalid `replay_symbol`, not listed: {symbol!r}"
        raise ConfigError(msg)
    if "message" in path.name:
        source: Any = load_lobster(path, path.with_name(path.name.replace("message", "orderbook")))
    else:
        source = load_binance_capture(path)
    return ReplayDriver(svc, symbol, source, speed=settings.replay_speed)


def create_app(settings: Settings | None = None, service: VenueService | None = None) -> FastAPI:
    """Build the app; the service (venue + journal) starts and stops with it."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        svc = service or VenueService.from_settings(settings)
        app.state.service = svc
        await svc.start()
        cap = settings.max_open_orders or None
        if svc.venue.max_open_orders != cap:  # a venue setting: journaled, so replays agree
            await svc.execute(lambda: svc.jv.set_max_open_orders(cap))
        if svc.venue.allow_short != settings.allow_short:
            await svc.execute(lambda: svc.jv.set_allow_short(settings.allow_short))
        driver = None
        if settings.market:
            from makerkit.server._driver import MarketDriver

            # a replayed symbol has its flow already: the simulator animates the others
            replayed = settings.replay_symbol or sorted(svc.instruments)[0]
            animated = [s for s in sorted(svc.instruments) if not settings.replay or s != replayed]
            driver = MarketDriver(
                svc,
                symbols=animated,
                rate=settings.market_rate,
                seed=settings.market_seed,
                anchors=_anchors(settings, list(svc.instruments)),
                anchor_every_s=settings.market_poll_s,
            )
            await driver.start()
        app.state.driver = driver
        replay = None
        if settings.replay:
            replay = _replay_driver(svc, settings)
            await replay.start()
        try:
            yield
        finally:
            if replay is not None:
                await replay.stop()
            if driver is not None:
                await driver.stop()
            await svc.stop()

    app = FastAPI(
        title="makerkit venue",
        version="0.1.0",
        description=(
            "Order entry, market data and risk for the makerkit venue. "
            "Prices and sizes are decimal strings."
        ),
        lifespan=lifespan,
        generate_unique_id_function=lambda route: str(getattr(route, "name", route)),
    )
    install_error_handlers(app)
    app.add_middleware(BodyLimit, limit=settings.max_message_bytes)
    app.state.gate = Gate(
        time.monotonic_ns,
        md_msgs_per_sec=settings.md_msgs_per_sec,
        md_burst=settings.md_burst,
        address_msgs_per_sec=settings.address_msgs_per_sec,
        address_burst=settings.address_burst,
        connections_per_address=settings.connections_per_address,
    )
    for router in ROUTERS:
        app.include_router(router)
    add_websocket_routes(app, settings)
    add_binance_ws_routes(app, settings)  # after the native /ws/md and /ws/private
    return app
