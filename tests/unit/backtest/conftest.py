"""Helpers shared by the backtest tests."""

from __future__ import annotations

from makerkit.data import LobsterDay, LobsterMessages


def head(day: LobsterDay, rows: int) -> LobsterDay:
    """The first ``rows`` messages of a LOBSTER day, with their orderbook rows."""
    m = day.messages
    cut = {f: getattr(m, f)[:rows] for f in ("ts_ns", "type", "order_id", "size", "price",
                                             "direction")}  # fmt: skip
    return LobsterDay(
        messages=LobsterMessages(**cut, path=m.path), book=day.book[:rows], levels=day.levels,
        orderbook_path=day.orderbook_path,
    )  # fmt: skip
