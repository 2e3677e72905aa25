"""Market-data fan-out: each subscriber gets exactly its channels, in order, whoever else reads."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import msgspec
import pytest

pytest.importorskip("fastapi")

from makerkit.core import Instrument, Side, SimClock
from makerkit.server._service import Subscriber, VenueService
from makerkit.venue import NewOrder

T0 = 1_700_000_000_000_000_000
SYMBOLS = ("AAA", "BBB")
EVERYTHING = frozenset((s, c) for s in SYMBOLS for c in ("book", "trades", "l1"))


def _frames(sub: Subscriber) -> tuple[list[bytes], list[dict[str, Any]]]:
    raw: list[bytes] = []
    while not sub.queue.empty():
        frame = sub.queue.get_nowait()
        assert frame is not None
        raw.append(frame)
    out: list[dict[str, Any]] = []
    for frame in raw:
        data = msgspec.json.decode(frame)
        out.extend(data if isinstance(data, list) else [data])
    return raw, out


def _wants(channels: frozenset[tuple[str, str]], frame: dict[str, Any]) -> bool:
    """The channel rules, written out: book has deltas and trades, trades and l1 their own."""
    symbol, kind = frame["symbol"], frame["type"]
    if kind == "delta":
        return (symbol, "book") in channels
    if kind == "trade":
        return (symbol, "book") in channels or (symbol, "trades") in channels
    assert kind == "l1"
    return (symbol, "l1") in channels


async def _trade(svc: VenueService, subs: list[Subscriber]) -> int:
    """Subscribe ``subs``, then rest and cross orders on both symbols; the number of trades."""
    await svc.start()
    a = (await svc.execute(lambda: svc.jv.add_account("a", api_key="ka")))[0].account_id
    b = (await svc.execute(lambda: svc.jv.add_account("b", api_key="kb")))[0].account_id
    for sub in subs:
        for symbol, _ in sub.channels:
            svc.public[symbol].add(sub)
    trades = 0
    for i in range(12):
        symbol = SYMBOLS[i % 2]
        price = 100 + i % 3
        for account, side in ((a, Side.BUY), (b, Side.SELL)):
            cmd = NewOrder(
                symbol=symbol, side=side, price=price, qty=2, client_order_id=f"{i}{side}"
            )
            await svc.execute(lambda acc=account, c=cmd: svc.jv.submit(acc, c))
        trades += 1
    svc._flush_md()
    await svc.stop()
    return trades


def test_each_subscriber_gets_its_channels_and_equal_subscriptions_share_one_frame(
    tmp_path: Path,
) -> None:
    everything = Subscriber()
    everything.channels = EVERYTHING
    readers = {
        "book_a": frozenset({("AAA", "book")}),
        "book_a_twin": frozenset({("AAA", "book")}),
        "trades_b": frozenset({("BBB", "trades")}),
        "l1_both": frozenset({("AAA", "l1"), ("BBB", "l1")}),
        "book_b_trades_a": frozenset({("BBB", "book"), ("AAA", "trades")}),
        "l1_a_book_b": frozenset({("AAA", "l1"), ("BBB", "book")}),
    }
    subs = {name: Subscriber() for name in readers}
    for name, channels in readers.items():
        subs[name].channels = channels
    svc = VenueService(
        [Instrument(symbol=s) for s in SYMBOLS],
        journal_path=str(tmp_path / "venue.db"),
        clock=SimClock(T0),
        flush_interval_s=0.0,
        md_interval_s=0.0,
    )
    trades = asyncio.run(_trade(svc, [everything, *subs.values()]))

    _, seen = _frames(everything)
    assert sum(f["type"] == "trade" for f in seen) == trades
    for symbol in SYMBOLS:  # every public event of each book, none missing, in order
        seqs = [f["seq"] for f in seen if f["symbol"] == symbol and f["type"] != "l1"]
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
        assert any(f["type"] == "l1" and f["symbol"] == symbol for f in seen)

    got = {name: _frames(sub) for name, sub in subs.items()}
    for name, channels in readers.items():
        want = [f for f in seen if _wants(channels, f)]
        assert want, name
        assert got[name][1] == want, name
    twin, other = got["book_a_twin"][0], got["book_a"][0]
    assert len(twin) == len(other) and all(x is y for x, y in zip(twin, other, strict=True))
