"""Run a strategy live against the venue: the same class as in the backtester.

Every ``decision_ms`` the runner reads the book, its open orders and its
position over the REST API, asks the strategy for quotes, and sends the
commands the order manager's rules allow. Fills are passed to ``on_fill``
as they are found. On exit (time is up, a signal, or the strategy raised)
it cancels its orders: a stopped strategy never leaves quotes behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from decimal import Decimal
from typing import Any

import msgspec

from makerkit.client._client import VenueClient
from makerkit.core import (
    Clock,
    LiveClock,
    Predictor,
    QuoteIntent,
    RejectReason,
    RiskLimitBreached,
    StrategyContext,
    UnknownOrder,
)
from makerkit.features import FeatureConfig, FeatureStream
from makerkit.strategies import Cancel, LiveQuote, OrderManager, Place

__all__ = ["LiveRunner", "LiveSummary"]


class LiveSummary(msgspec.Struct, kw_only=True):
    """What a live run did."""

    decisions: int = 0
    placed: int = 0
    cancelled: int = 0
    fills: int = 0
    position: int = 0
    throttled: int = 0  # decisions cut short by the venue's message rate
    stopped: str | None = None


class LiveRunner:
    """Drive ``strategy`` on ``symbol`` through ``client`` (prices in ticks inside)."""

    def __init__(
        self,
        strategy: Any,
        client: VenueClient,
        symbol: str,
        *,
        decision_ms: float = 100.0,
        min_quote_life_ms: float = 0.0,
        price_tolerance: int = 0,
        post_only: bool = True,
        predictor: Predictor | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.strategy = strategy
        self.clock = clock or LiveClock()
        self.client = client
        self.symbol = symbol
        self.decision_s = decision_ms / 1000
        self.manager = OrderManager(
            min_quote_life_ns=int(min_quote_life_ms * 1e6), price_tolerance=price_tolerance
        )
        self.features = FeatureStream(FeatureConfig(levels=3))
        self.tif = "post_only" if post_only else "gtc"
        self.predictor = predictor
        self.summary = LiveSummary()
        self._tick = Decimal(0)
        self._lot = Decimal(0)
        self._placed_at: dict[int, int] = {}
        self._placed_size: dict[int, int] = {}  # lots asked for: a partial fill is no requote
        self._fill_seq = -1

    def _ticks(self, price: str) -> int:
        return int(Decimal(price) / self._tick)

    def _lots(self, size: str) -> int:
        return int(Decimal(size) / self._lot)

    async def setup(self) -> None:
        """Learn the instrument's grid and skip fills from before; ``run`` calls it first."""
        inst = next((i for i in await self.client.instruments() if i.symbol == self.symbol), None)
        if inst is None:
            msg = f"unknown symbol {self.symbol!r}"
            raise ValueError(msg)
        self._tick, self._lot = Decimal(inst.tick_size), Decimal(inst.lot_size)
        fills = await self.client.fills(self.symbol)
        self._fill_seq = max((f.seq for f in fills), default=-1)

    async def _context(self, now: int) -> tuple[StrategyContext, dict[int, LiveQuote | None]]:
        book = await self.client.book(self.symbol, 3)
        bids = [(self._ticks(lv.price), self._lots(lv.size)) for lv in book.bids]
        asks = [(self._ticks(lv.price), self._lots(lv.size)) for lv in book.asks]
        features: dict[str, float] = {}
        if bids and asks:
            features = self.features.on_book(
                now, [p for p, _ in bids], [s for _, s in bids],
                [p for p, _ in asks], [s for _, s in asks],
            )  # fmt: skip
        live: dict[int, LiveQuote | None] = {1: None, -1: None}
        orders = await self.client.open_orders(self.symbol)
        still_open = {order.order_id for order in orders}
        for kept in (self._placed_at, self._placed_size):  # forget the orders that are gone
            for order_id in [k for k in kept if k not in still_open]:
                del kept[order_id]
        for order in orders:
            side = 1 if order.side == "buy" else -1
            quote = LiveQuote(
                order_id=order.order_id, side=side, price=self._ticks(order.price or "0"),
                size=self._placed_size.get(order.order_id, self._lots(order.remaining)),
                placed_ns=self._placed_at.get(order.order_id, now),
            )  # fmt: skip
            if live[side] is None:
                live[side] = quote
            else:  # one quote per side: anything more is stale
                with contextlib.suppress(UnknownOrder):
                    await self.client.cancel(order.order_id, self.symbol)
                    self.summary.cancelled += 1
        position = 0
        for pos in await self.client.positions():
            if pos.symbol == self.symbol:
                position = self._lots(pos.qty)
        ctx = StrategyContext(
            ts_ns=now,
            best_bid=bids[0][0] if bids else None,
            best_ask=asks[0][0] if asks else None,
            bid_size=bids[0][1] if bids else 0,
            ask_size=asks[0][1] if asks else 0,
            position=position,
            features=features,
        )
        if self.predictor is not None and features:
            forecast = self.predictor.predict(features)
            if math.isfinite(forecast):
                ctx = msgspec.structs.replace(ctx, prediction=forecast)
        return ctx, live

    async def _new_fills(self, ctx: StrategyContext) -> None:
        for fill in await self.client.fills(self.symbol):
            if fill.seq <= self._fill_seq:
                continue
            self._fill_seq = fill.seq
            self.summary.fills += 1
            side = 1 if fill.side == "buy" else -1
            self.strategy.on_fill(side, self._ticks(fill.price), self._lots(fill.qty), ctx)

    async def step(self) -> None:
        """One decision: read, decide, send."""
        now = self.clock.now_ns()
        ctx, live = await self._context(now)
        if ctx.position != self.summary.position:
            await self._new_fills(ctx)
            self.summary.position = ctx.position
        intent: QuoteIntent = self.strategy.quote(ctx)
        for cmd in self.manager.plan(intent, live, now):
            if isinstance(cmd, Cancel):
                try:
                    await self.client.cancel(cmd.order_id, self.symbol)
                    self.summary.cancelled += 1
                except UnknownOrder:  # it traded (or went) since we looked: nothing to pull
                    pass
                continue
            assert isinstance(cmd, Place)  # noqa: S101 - the manager emits nothing else
            order = await self.client.submit(
                self.symbol, "buy" if cmd.side == 1 else "sell",
                cmd.size * self._lot, cmd.price * self._tick, tif=self.tif,
                stp="cancel_newest",
            )  # fmt: skip
            if order.status == "rejected":  # it would have crossed: no quote this time
                continue
            self._placed_at[order.order_id] = now
            self._placed_size[order.order_id] = cmd.size
            self.summary.placed += 1
        self.summary.decisions += 1

    async def run(self, *, seconds: float | None = None) -> LiveSummary:
        """Decide every ``decision_ms`` until ``seconds`` pass (or forever); then clean up."""
        await self.setup()
        deadline = None if seconds is None else time.monotonic() + seconds
        try:
            while deadline is None or time.monotonic() < deadline:
                started = time.monotonic()
                try:
                    await self.step()
                except RiskLimitBreached as exc:
                    if exc.reason is not RejectReason.RATE_LIMIT:  # a kill switch: stop
                        self.summary.stopped = f"{type(exc).__name__}: {exc}"
                        break
                    self.summary.throttled += 1  # over the rate: the next decision comes
                except Exception as exc:  # the strategy or the venue failed: stop cleanly
                    self.summary.stopped = f"{type(exc).__name__}: {exc}"
                    break
                await asyncio.sleep(max(0.0, self.decision_s - (time.monotonic() - started)))
        finally:
            await self._pull_quotes()
        return self.summary

    async def _pull_quotes(self, tries: int = 5) -> None:
        """Cancel what is left; a rate limit is waited out, a kill switch left nothing."""
        for _ in range(tries):
            try:
                cancelled = await self.client.cancel_all(self.symbol)
            except RiskLimitBreached as exc:
                if exc.reason is not RejectReason.RATE_LIMIT:
                    return  # a kill switch cancelled every order already
                await asyncio.sleep(1.0)
                continue
            self.summary.cancelled += len(cancelled)
            return
