"""Apply an :class:`~makerkit.data.OrderStream` to a book and count what happened."""

from __future__ import annotations

from collections import Counter
from typing import Any

import msgspec

from makerkit.backtest._gc import gc_paused
from makerkit.core import OrderType, RejectReason
from makerkit.data import ACTION_ADD, ACTION_CANCEL, ACTION_MARKET, OrderStream

__all__ = ["StreamStats", "apply_stream"]

_MARKET = OrderType.MARKET


class StreamStats(msgspec.Struct, kw_only=True):
    """Running totals of a stream applied to a book."""

    commands: int = 0
    accepted: int = 0
    fills: int = 0
    volume: int = 0
    last_price: int | None = None
    rejects: dict[str, int] = msgspec.field(default_factory=dict)

    def merge_rejects(self, counts: Counter[int]) -> None:
        """Add reject counts keyed by reason code."""
        for code, count in counts.items():
            name = RejectReason(code).name
            self.rejects[name] = self.rejects.get(name, 0) + count


def apply_stream(
    book: Any,
    stream: OrderStream,
    start: int = 0,
    stop: int | None = None,
    stats: StreamStats | None = None,
) -> StreamStats:
    """Apply rows ``start:stop`` of ``stream`` to ``book``; update and return ``stats``."""
    stats = stats if stats is not None else StreamStats()
    stop = len(stream) if stop is None else stop
    cols = (
        stream.action[start:stop].tolist(),
        stream.order_id[start:stop].tolist(),
        stream.side[start:stop].tolist(),
        stream.price[start:stop].tolist(),
        stream.qty[start:stop].tolist(),
        stream.tif[start:stop].tolist(),
        stream.ts[start:stop].tolist(),
    )
    submit, cancel, modify = book.submit, book.cancel, book.modify
    rejects: Counter[int] = Counter()
    fills = volume = accepted = 0
    last_price = stats.last_price
    with gc_paused():
        for action, oid, side, price, qty, tif, ts in zip(*cols, strict=True):
            if action == ACTION_ADD:
                res = submit(oid, side, price, qty, tif=tif, ts=ts)
            elif action == ACTION_CANCEL:
                res = cancel(oid, ts=ts)
            elif action == ACTION_MARKET:
                res = submit(oid, side, 0, qty, order_type=_MARKET, ts=ts)
            else:
                res = modify(oid, price=price or None, qty=qty, ts=ts)
            if res.reason and not res.fills and res.status == 4:  # REJECTED
                rejects[res.reason] += 1
                continue
            accepted += 1
            for fill in res.fills:
                fills += 1
                volume += fill.qty
                last_price = fill.price
    stats.commands += stop - start
    stats.accepted += accepted
    stats.fills += fills
    stats.volume += volume
    stats.last_price = last_price
    stats.merge_rejects(rejects)
    return stats
