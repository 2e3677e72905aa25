"""The client SDK against the real app: in process (ASGI) and over loopback (uvicorn)."""

from __future__ import annotations

import asyncio
import random
import socket
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")

import httpx
import uvicorn

from makerkit.client import MarketDataStream, PrivateStream, VenueClient
from makerkit.client import _client as client_module
from makerkit.core import (
    Forbidden,
    InvalidPrice,
    NotAuthorized,
    UnknownAccount,
    UnknownOrder,
    UnknownSymbol,
)
from makerkit.server import Settings, VenueService, create_app

ADMIN = "admin-key"


def settings(tmp_path: Path, backend: str) -> Settings:
    return Settings(
        journal=str(tmp_path / "v.db"), admin_key=ADMIN, symbols="AAA,BBB", backend=backend
    )


@pytest.fixture(params=["asgi", "direct"])
def live(tmp_path: Path, backend: str, request: pytest.FixtureRequest) -> Iterator[str]:
    """A real uvicorn server on 127.0.0.1 in a thread; yields its base URL.

    Twice: outbound frames through the ASGI send path, and written straight to
    the socket (``VenueWSProtocol``, what `makerkit serve` runs).
    """
    from makerkit.server._wsproto import VenueWSProtocol

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    ws: Any = VenueWSProtocol if request.param == "direct" else "websockets-sansio"
    config = uvicorn.Config(
        create_app(settings(tmp_path, backend)), host="127.0.0.1", port=port,
        log_level="warning", ws=ws, lifespan="on",
    )  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.01)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def test_errors_map_back_to_the_same_exceptions(
    tmp_path: Path, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def main() -> None:
        svc = VenueService(
            settings(tmp_path, backend).instruments(),
            journal_path=str(tmp_path / "a.db"),
            admin_key=ADMIN,
        )
        app = create_app(service=svc)
        app.state.service = svc
        await svc.start()
        transport = httpx.ASGITransport(app=app)
        try:
            async with VenueClient("http://venue", ADMIN, transport=transport) as admin:
                acc = await admin.create_account("t")
                assert acc.api_key
            async with VenueClient("http://venue", acc.api_key, transport=transport) as c:
                with pytest.raises(InvalidPrice):
                    await c.submit("AAA", "buy", "1", "10.001")
                with pytest.raises(UnknownSymbol):
                    await c.submit("ZZZ", "buy", "1", "10")
                with pytest.raises(UnknownOrder):
                    await c.cancel(12345)
                with pytest.raises(Forbidden):
                    await c.kill(None)
                order = await c.submit("AAA", "buy", "2", "10", client_order_id="k")
                assert (order.status, order.price) == ("new", "10.00")
                assert [o.order_id for o in await c.open_orders()] == [order.order_id]
                assert (await c.modify(order.order_id, qty="1")).remaining == "1"
                assert (await c.cancel(order.order_id)).status == "canceled"
                # lists come a page at a time: the client follows every page
                monkeypatch.setattr(client_module, "_PAGE", 2)
                placed = [(await c.submit("AAA", "buy", "1", "9")).order_id for _ in range(5)]
                assert [o.order_id for o in await c.open_orders()] == placed
            async with VenueClient("http://venue", ADMIN, transport=transport) as admin:
                with pytest.raises(UnknownAccount):
                    await admin.kill(987)
            async with VenueClient("http://venue", "wrong", transport=transport) as bad:
                with pytest.raises(NotAuthorized):
                    await bad.open_orders()
        finally:
            await svc.stop()

    asyncio.run(main())


def test_streams_mirror_the_book_under_load_over_loopback(live: str) -> None:
    ws_url = live.replace("http", "ws")

    async def main() -> None:
        async with VenueClient(live, ADMIN) as admin:
            keys = [(await admin.create_account(f"t{i}")).api_key for i in range(3)]
        md = MarketDataStream(ws_url, ["AAA"], channels=["book"])
        frames: list[dict[str, object]] = []

        async def listen() -> None:
            async for frame in md:
                frames.append(frame)

        listener = asyncio.create_task(listen())
        while md.books["AAA"].seq < 0:
            await asyncio.sleep(0.01)

        async def trader(key: str, seed: int) -> int:
            rng = random.Random(seed)
            acks = 0
            async with PrivateStream(ws_url, key) as ws, VenueClient(live, key) as rest:
                for i in range(150):
                    side = rng.choice(["buy", "sell"])
                    price = f"{100 + rng.randint(-8, 8) / 100:.2f}"
                    if i % 2:
                        order = await ws.submit("AAA", side, str(rng.randint(1, 5)), price)
                    else:
                        order = await rest.submit("AAA", side, str(rng.randint(1, 5)), price)
                    acks += order.status != "rejected"
                    if i % 9 == 0:
                        await rest.cancel_all("AAA")
                assert ws.gaps == 0
            return acks

        acks = await asyncio.gather(*(trader(k, s) for s, k in enumerate(keys)))
        async with VenueClient(live) as public:
            final = await public.book("AAA", depth=10_000)
        deadline = time.monotonic() + 10
        while md.books["AAA"].seq < final.seq:
            assert time.monotonic() < deadline, "market data fell behind"
            await asyncio.sleep(0.01)
        md.stop()
        listener.cancel()
        await asyncio.gather(listener, return_exceptions=True)  # let the socket close
        bids, asks = md.books["AAA"].levels(10_000)
        assert [(str(p), str(s)) for p, s in bids] == [(lv.price, lv.size) for lv in final.bids]
        assert [(str(p), str(s)) for p, s in asks] == [(lv.price, lv.size) for lv in final.asks]
        assert md.gaps == 0 and sum(acks) > 300
        assert any(f["type"] == "trade" for f in frames)

    asyncio.run(main())


def test_book_mirror_detects_gaps() -> None:
    md = MarketDataStream("ws://unused", ["X"])
    snapshot = {"type": "snapshot", "symbol": "X", "seq": 4, "bids": [["1.00", "2", 1]], "asks": []}
    assert not md._track(snapshot)
    assert not md._track(
        {"type": "delta", "symbol": "X", "seq": 3, "side": "bid", "price": "1.00", "size": "9"}
    )
    assert md.books["X"].bids == {Decimal("1.00"): Decimal("2")}  # the stale delta was skipped
    assert not md._track(
        {"type": "delta", "symbol": "X", "seq": 5, "side": "ask", "price": "1.10", "size": "3"}
    )
    assert md._track(
        {"type": "delta", "symbol": "X", "seq": 7, "side": "ask", "price": "1.10", "size": "0"}
    )
    assert md.books["X"].seq == -1  # waits for the resync snapshot
