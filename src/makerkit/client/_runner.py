"""Run a strategy live against the venue: the same class as in the backtesters.

The strategy trades through the execution layer (``makerkit.execution``):
every ``decision_ms`` the runner reads each of its books, its new fills and
its open orders over the REST API, tells the ``TradingSession`` about them,
asks it to decide, and sends the commands the order manager's rules allow
(quotes, cancels, immediate hedge orders). On exit (time is up, a signal, or
the strategy raised) it cancels its orders: a stopped strategy never leaves
quotes behind.
"""

from __future__ import annotations

import asyncio
import math
import time
from decimal import Decimal
from typing import Any

import msgspec

from makerkit.client._client import VenueClient
from makerkit.core import (
    BookView,
    Clock,
    Level,
    LiveClock,
    Predictor,
    RejectReason,
    RiskLimitBreached,
    UnknownOrder,
    as_market_maker,
)
from makerkit.execution import OrderManager, TradingSession
from makerkit.features import FeatureConfig, FeatureStream

__all__ = ["LiveRunner", "LiveSummary"]

_FEATURE_LEVELS = 3


class LiveSummary(msgspec.Struct, kw_only=True):
    """What a live run did."""

    decisions: int = 0
    placed: int = 0
    cancelled: int = 0
    fills: int = 0
    position: int = 0  # of the first symbol
    positions: dict[str, int] = msgspec.field(default_factory=dict)
    max_live_orders: dict[str, int] = msgspec.field(default_factory=dict)
    throttled: int = 0  # decisions cut short by the venue's message rate
    refused: int = 0  # orders a risk limit refused (the run goes on; a kill switch stops it)
    stopped: str | None = None


class _Outbox:
    """The session's gateway live: commands wait here until the runner sends them."""

    def __init__(self) -> None:
        self.commands: list[tuple[Any, ...]] = []

    def place(self, symbol: str, order_id: int, side: int, price: int, size: int, ts_ns: int
              ) -> None:  # fmt: skip
        self.commands.append(("place", symbol, order_id, side, price, size, ts_ns))

    def cancel(self, symbol: str, order_id: int, ts_ns: int) -> None:
        self.commands.append(("cancel", symbol, order_id))

    def take(self, symbol: str, order_id: int, side: int, size: int, price: int | None,
             ts_ns: int) -> None:  # fmt: skip
        self.commands.append(("take", symbol, order_id, side, price, size, ts_ns))


class LiveRunner:
    """Drive ``strategy`` through ``client`` (prices in ticks inside).

    ``symbol`` names the instrument a one-level ``Strategy`` trades; a
    ``MarketMaker`` trades its own ``symbols``.
    """

    def __init__(
        self,
        strategy: Any,
        client: VenueClient,
        symbol: str = "AAA",
        *,
        decision_ms: float = 100.0,
        min_quote_life_ms: float = 0.0,
        price_tolerance: int = 0,
        post_only: bool = True,
        predictor: Predictor | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.strategy = as_market_maker(strategy, symbol)
        self.symbols = self.strategy.symbols
        self.symbol = self.symbols[0]
        self.clock = clock or LiveClock()
        self.client = client
        self.decision_s = decision_ms / 1000
        self.outbox = _Outbox()
        self.session = TradingSession(
            self.strategy, self.outbox,
            manager=OrderManager(min_quote_life_ns=int(min_quote_life_ms * 1e6),
                                 price_tolerance=price_tolerance),
            book=lambda sym, depth: self._books[sym],
            fee=lambda _s, _p, _q, _m: 0.0,  # the venue's fees come with the fills
        )  # fmt: skip
        self.features = FeatureStream(FeatureConfig(levels=_FEATURE_LEVELS))
        self.tif = "post_only" if post_only else "gtc"
        self.predictor = predictor
        self.summary = LiveSummary()
        self._tick: dict[str, Decimal] = {}
        self._lot: dict[str, Decimal] = {}
        self._books: dict[str, BookView] = {}
        self._venue_id: dict[int, int] = {}  # the session's order id -> the venue's
        self._local_id: dict[int, int] = {}  # and back
        self._fill_seq = -1
        self._next_timer: int | None = None
        self._wants_features = bool(getattr(self.strategy, "wants_features", True)) or (
            predictor is not None
        )

    def _ticks(self, symbol: str, price: str) -> int:
        return int(Decimal(price) / self._tick[symbol])

    def _lots(self, symbol: str, size: str) -> int:
        return int(Decimal(size) / self._lot[symbol])

    async def setup(self) -> None:
        """Learn the instruments' grids, the positions held, and skip fills from before.

        ``run`` calls it first. Orders left open by an earlier run are not the
        session's: ``step`` cancels them.
        """
        listed = {i.symbol: i for i in await self.client.instruments()}
        for symbol in self.symbols:
            inst = listed.get(symbol)
            if inst is None:
                msg = f"unknown symbol {symbol!r}"
                raise ValueError(msg)
            self._tick[symbol], self._lot[symbol] = Decimal(inst.tick_size), Decimal(inst.lot_size)
        fills = await self.client.fills()
        self._fill_seq = max((f.seq for f in fills), default=-1)
        for pos in await self.client.positions():
            if pos.symbol in self.session.accounts:
                self.session.accounts[pos.symbol].position = self._lots(pos.symbol, pos.qty)

    async def _read(self, now: int) -> None:
        """Books, new fills and open orders: the session sees what the venue holds now."""
        depth = max(self.strategy.depth, _FEATURE_LEVELS)
        session = self.session
        for symbol in self.symbols:
            book = await self.client.book(symbol, depth)
            bids = tuple(Level(self._ticks(symbol, lv.price), self._lots(symbol, lv.size))
                         for lv in book.bids)  # fmt: skip
            asks = tuple(Level(self._ticks(symbol, lv.price), self._lots(symbol, lv.size))
                         for lv in book.asks)  # fmt: skip
            self._books[symbol] = BookView(bids=bids[: self.strategy.depth],
                                           asks=asks[: self.strategy.depth])  # fmt: skip
            if symbol == self.symbol and bids and asks and self._wants_features:
                session.features = self.features.on_book(
                    now, [lv.price for lv in bids], [lv.size for lv in bids],
                    [lv.price for lv in asks], [lv.size for lv in asks],
                )  # fmt: skip
        held = {p.symbol: self._lots(p.symbol, p.qty) for p in await self.client.positions()
                if p.symbol in session.accounts}  # fmt: skip
        if any(held.get(s, 0) != a.position for s, a in session.accounts.items()):
            for fill in await self.client.fills():  # only when a position moved: one call less
                if fill.seq <= self._fill_seq or fill.symbol not in session.accounts:
                    continue
                self._fill_seq = fill.seq
                self.summary.fills += 1
                sym = fill.symbol
                # what the venue charged, in tick-lots (its fee is in the quote currency)
                paid = float(Decimal(fill.fee) / (self._tick[sym] * self._lot[sym]))
                session.filled(
                    sym, self._local_id.get(fill.order_id, -fill.order_id),
                    1 if fill.side == "buy" else -1, self._ticks(sym, fill.price),
                    self._lots(sym, fill.qty), fill.liquidity == "maker", fill.ts, fee=paid,
                )  # fmt: skip
            for sym, qty in held.items():  # the venue's position is the truth
                session.accounts[sym].position = qty
        for symbol in self.symbols:
            open_now = {o.order_id: o for o in await self.client.open_orders(symbol)}
            for order in session.live_orders(symbol):
                venue = open_now.pop(self._venue_id.get(order.order_id, -1), None)
                if venue is None:
                    session.closed(symbol, order.order_id)
                    gone = self._venue_id.pop(order.order_id, None)  # the maps stay small
                    self._local_id.pop(gone if gone is not None else -1, None)
            for stale in open_now:  # not the session's: left by an earlier run
                await self._cancel(symbol, stale)
        if self.predictor is not None and session.features:
            forecast = self.predictor.predict(session.features)
            session.prediction = forecast if math.isfinite(forecast) else None

    async def _cancel(self, symbol: str, venue_id: int) -> None:
        try:
            await self.client.cancel(venue_id, symbol)
            self.summary.cancelled += 1
        except UnknownOrder:  # it traded (or went) since we looked: nothing to pull
            pass

    async def _send(self) -> None:
        """Send what the session decided, in order; report the venue's answers back."""
        commands, self.outbox.commands = self.outbox.commands, []
        for cmd in commands:
            kind, symbol, local = cmd[0], cmd[1], cmd[2]
            if kind == "cancel":
                venue_id = self._venue_id.pop(local, None)
                if venue_id is not None:
                    self._local_id.pop(venue_id, None)
                    await self._cancel(symbol, venue_id)
                continue
            _, _, _, side, price, size, ts = cmd
            tick, lot = self._tick[symbol], self._lot[symbol]
            try:
                order = await self.client.submit(
                    symbol, "buy" if side == 1 else "sell", size * lot,
                    None if price is None else price * tick,
                    type="market" if price is None else "limit",
                    tif=self.tif if kind == "place" else "ioc", stp="cancel_newest",
                )  # fmt: skip
            except RiskLimitBreached as exc:
                if exc.reason in (RejectReason.KILL_SWITCH, RejectReason.RATE_LIMIT):
                    raise  # stop (killed) or skip the rest of this decision (rate)
                # a limit (position, open orders, notional): this order is refused, go on
                self.summary.refused += 1
                self.session.rejected_order(symbol, local, ts)
                continue
            if order.status == "rejected":  # it would have crossed: no quote this time
                self.session.rejected_order(symbol, local, ts)
                continue
            self._venue_id[local], self._local_id[order.order_id] = order.order_id, local
            self.summary.placed += 1
            if kind == "place" and order.status in ("new", "partially_filled"):
                self.session.accepted(symbol, local, side, price, size, ts)

    async def step(self) -> None:
        """One decision: read, decide, send."""
        now = self.clock.now_ns()
        await self._read(now)
        self.session.decide(now)
        timer = self.strategy.timer_ms
        if timer:  # on_timer at its own period, checked at every decision
            period = int(timer * 1e6)
            if self._next_timer is None:
                self._next_timer = now + period
            elif now >= self._next_timer:  # on its own schedule: a late decision does not
                missed = (now - self._next_timer) // period + 1  # push the next one later
                self._next_timer += missed * period
                self.session.decide(now, timer=True)
        await self._send()
        self.summary.decisions += 1
        self.summary.position = self.session.accounts[self.symbol].position
        self.summary.positions = {s: a.position for s, a in self.session.accounts.items()}
        self.summary.max_live_orders = self.session.max_live_orders
        if self.session.stopped is not None:
            raise _Stopped(self.session.stopped)

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
                except _Stopped as exc:  # the strategy raised: its quotes were pulled
                    self.summary.stopped = str(exc)
                    break
                except Exception as exc:  # the venue failed: stop cleanly
                    self.summary.stopped = f"{type(exc).__name__}: {exc}"
                    break
                await asyncio.sleep(max(0.0, self.decision_s - (time.monotonic() - started)))
        finally:
            await self._pull_quotes()
        return self.summary

    async def _pull_quotes(self, tries: int = 5) -> None:
        """Cancel what is left; a rate limit is waited out, a kill switch left nothing."""
        for symbol in self.symbols:
            for _ in range(tries):
                try:
                    cancelled = await self.client.cancel_all(symbol)
                except RiskLimitBreached as exc:
                    if exc.reason is not RejectReason.RATE_LIMIT:
                        return  # a kill switch cancelled every order already
                    await asyncio.sleep(1.0)
                    continue
                self.summary.cancelled += len(cancelled)
                break


class _Stopped(Exception):
    """The strategy raised; the session pulled its quotes and kept the reason."""
