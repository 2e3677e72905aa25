"""Gateways of the execution layer to the backtesters' markets.

``SimGateway``: our orders in the simulated market's real matching engine
(one book per symbol). ``ReplayGateway``: our orders in the replay core,
whose queue model decides their fills. The backtesters and the RL
environments drive a ``makerkit.execution.TradingSession`` through them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from makerkit.backtest._core_protocol import ReplayCore
from makerkit.book import Book
from makerkit.core import BookView, Level, OrderStatus, OrderType, Predictor, TimeInForce
from makerkit.execution import TradingSession

__all__ = ["OUR_IDS", "ReplayGateway", "SimGateway", "book_view", "observe", "timer_step"]

OUR_IDS = 1 << 40  # our order ids in a simulated book: far above any simulated one
_NO_LIMIT = 1 << 62  # a market buy's limit: the core stops at the edge of what it tracks
_ACCOUNT = 1


class SimGateway:
    """The execution layer's gateway to the simulated books: our orders in the real engine."""

    def __init__(self, books: dict[str, Book], post_only: bool) -> None:
        self.books = books
        self.tif = TimeInForce.POST_ONLY if post_only else TimeInForce.GTC
        self.session: TradingSession | None = None

    def place(self, symbol: str, order_id: int, side: int, price: int, size: int, ts_ns: int
              ) -> None:  # fmt: skip
        s = self.session
        assert s is not None  # noqa: S101 - bound before the first decision
        res = self.books[symbol].submit(order_id, side, price, size, order_type=OrderType.LIMIT,
                                        tif=self.tif, account=_ACCOUNT, ts=ts_ns)  # fmt: skip
        if res.status == OrderStatus.REJECTED:
            s.rejected_order(symbol, order_id, ts_ns)
        for f in res.fills:  # we crossed: taker fills at the makers' prices
            s.filled(symbol, order_id, side, f.price, f.qty, False, ts_ns)
        s.accepted(symbol, order_id, side, price, res.remaining, ts_ns)

    def cancel(self, symbol: str, order_id: int, ts_ns: int) -> None:
        self.books[symbol].cancel(order_id, ts=ts_ns)

    def take(self, symbol: str, order_id: int, side: int, size: int, price: int | None,
             ts_ns: int) -> None:  # fmt: skip
        s = self.session
        assert s is not None  # noqa: S101 - bound before the first decision
        kind = OrderType.MARKET if price is None else OrderType.LIMIT
        res = self.books[symbol].submit(
            order_id, side, price or 0, size, order_type=kind, tif=TimeInForce.IOC,
            account=_ACCOUNT, ts=ts_ns,
        )  # fmt: skip
        if res.status == OrderStatus.REJECTED:
            s.rejected_order(symbol, order_id, ts_ns)
        for f in res.fills:
            s.filled(symbol, order_id, side, f.price, f.qty, False, ts_ns)

    def poll(self, ts_ns: int) -> None:
        """Report the passive fills of our resting orders since the last look."""
        s = self.session
        assert s is not None  # noqa: S101 - bound before the first decision
        for symbol, book in self.books.items():
            for order in s.live_orders(symbol):
                left = int(book.remaining(order.order_id))
                traded = order.left - left
                if traded > 0:
                    s.filled(symbol, order.order_id, order.side, order.price, traded, True, ts_ns)
                if left == 0:
                    s.closed(symbol, order.order_id)


def book_view(book: Book, depth: int) -> BookView:
    """The top ``depth`` levels of an engine book."""
    if depth == 1:
        bid, ask = book.best_bid(), book.best_ask()
        return BookView(bids=(Level(*bid),) if bid else (), asks=(Level(*ask),) if ask else ())
    return BookView.from_columns(*book.top(1, depth), *book.top(-1, depth))


class ReplayGateway:
    """The execution layer's gateway to the replay core (its queue model decides fills)."""

    def __init__(self, core: ReplayCore, symbol: str) -> None:
        self.core = core
        self.symbol = symbol
        self.session: TradingSession | None = None

    def place(self, symbol: str, order_id: int, side: int, price: int, size: int, ts_ns: int
              ) -> None:  # fmt: skip
        assert self.session is not None  # noqa: S101 - bound before the first decision
        self.core.submit(order_id, side, price, size)
        # it rests from now for the strategy; a refusal or fill comes back as a notice
        self.session.accepted(symbol, order_id, side, price, size, ts_ns)

    def cancel(self, symbol: str, order_id: int, ts_ns: int) -> None:
        self.core.cancel(order_id)

    def take(self, symbol: str, order_id: int, side: int, size: int, price: int | None,
             ts_ns: int) -> None:  # fmt: skip
        # IOC against the recorded book on arrival (no market impact); a market order is
        # an IOC with no limit. Its fills and the canceled rest come back as notices.
        if price is None:
            price = _NO_LIMIT if side > 0 else 0
        self.core.take(order_id, side, price, size)


def observe(
    session: TradingSession,
    ts_ns: int,
    features: Any,
    top: Callable[[], tuple[Any, ...]] | tuple[Any, ...] | None,
    predictor: Predictor | None,
    signals: Callable[[Mapping[str, float]], Mapping[str, float]] | None,
) -> None:
    """What a decision at ``ts_ns`` sees beyond the books: the features and the forecast.

    ``features`` (a ``FeatureStream`` or None) moves on with ``top``, the
    first instrument's top levels (bid prices, sizes, ask prices, sizes), or a
    function that reads them only when needed; the callers pass None when the
    book is one-sided.
    """
    if features is not None and top is not None:
        feat = features.on_book(ts_ns, *(top() if callable(top) else top))
        if signals is not None:
            feat.update(signals(feat))
        session.features = feat
    if predictor is not None:
        forecast = predictor.predict(session.features)
        session.prediction = forecast if math.isfinite(forecast) else None


def timer_step(ts_ns: int, next_timer: int | None, timer_ns: int) -> tuple[int, bool]:
    """The timer after a decision at ``ts_ns``: (its next time, whether it fires now).

    It keeps its own schedule, as live: a late decision fires it once and does
    not push the schedule back.
    """
    if next_timer is None:
        return ts_ns + timer_ns, False
    if ts_ns >= next_timer:
        return next_timer + ((ts_ns - next_timer) // timer_ns + 1) * timer_ns, True
    return next_timer, False
