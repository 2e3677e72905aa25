"""The market driver: simulated order flow on every listed symbol, through the venue.

Each symbol gets the order-flow simulator (Python, the same draws as the
research engine) driving the venue's own book through a *port*: its orders
are real venue orders of one ``market`` account, journaled and published like
anyone's, so strategies trade against them and the flow reacts to strategies'
quotes (it sees the whole book). The driver paces itself to ``rate`` commands
per second per symbol. An anchor (a real source's quote, polled) moves the
simulator's fundamental value, and the informed flow pulls the book after it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

from makerkit.core import (
    Instrument,
    LoopTimer,
    MakerkitError,
    OrderType,
    SelfTradePrevention,
    Side,
    Timer,
)
from makerkit.data import MarketSimulator, SimParams
from makerkit.risk import RiskLimits
from makerkit.server._service import VenueService
from makerkit.venue import CancelAll, CancelOrder, FillReport, NewOrder, Outcome

__all__ = ["MarketDriver"]

log = logging.getLogger("makerkit.server.driver")

MARKET_ACCOUNT = "market-sim"
Anchor = Callable[[], Awaitable[float | None]]


class _Fill:
    __slots__ = ("maker_order_id", "qty")

    def __init__(self, maker_order_id: int, qty: int) -> None:
        self.maker_order_id = maker_order_id
        self.qty = qty


class _Result:
    __slots__ = ("fills", "reason")

    def __init__(self, reason: int, fills: list[_Fill]) -> None:
        self.reason = reason
        self.fills = fills


class _VenuePort:
    """The engine contract the simulator expects, on top of one symbol of the venue."""

    def __init__(self, service: VenueService, symbol: str, account: int) -> None:
        self.service = service
        self.symbol = symbol
        self.account = account
        self.to_venue: dict[int, int] = {}
        self.to_sim: dict[int, int] = {}

    @property
    def book(self) -> Any:
        return self.service.venue.book(self.symbol)

    def _run(self, command: Callable[[], Outcome]) -> Outcome:
        # applied now, durable with the next group commit; nobody waits on it
        return self.service.execute_then(command, _ignore)

    def submit(self, order_id: int, side: int, price: int, qty: int, **kw: Any) -> _Result:
        market = kw.get("order_type") == OrderType.MARKET
        cmd = NewOrder(
            symbol=self.symbol,
            side=Side(side),
            price=None if market else price,
            qty=qty,
            order_type=OrderType.MARKET if market else OrderType.LIMIT,
            stp=SelfTradePrevention.NONE,  # one account stands for many independent traders
        )
        out = self._run(lambda: self.service.jv.submit(self.account, cmd))
        if not out.accepted:
            return _Result(int(out.update.reason), [])
        venue_id = out.update.order_id
        if out.update.remaining:
            self.to_venue[order_id] = venue_id
            self.to_sim[venue_id] = order_id
        fills = [
            _Fill(self.to_sim.get(e.order_id, -1), e.qty)
            for e in out.events
            if isinstance(e, FillReport) and e.account == self.account and e.liquidity == "maker"
        ]
        return _Result(0, fills)

    def cancel(self, order_id: int, *, ts: int = 0) -> None:
        venue_id = self.to_venue.pop(order_id, None)
        if venue_id is None:
            return
        self.to_sim.pop(venue_id, None)
        cmd = CancelOrder(symbol=self.symbol, order_id=venue_id)
        self._run(lambda: self.service.jv.cancel(self.account, cmd))

    def remaining(self, order_id: int) -> int:
        venue_id = self.to_venue.get(order_id)
        left = 0 if venue_id is None else int(self.book.remaining(venue_id))
        if left == 0 and venue_id is not None:
            del self.to_venue[order_id]
            self.to_sim.pop(venue_id, None)
        return left

    def order(self, order_id: int) -> Any:
        venue_id = self.to_venue.get(order_id)
        return None if venue_id is None else self.book.order(venue_id)

    def best_bid(self) -> tuple[int, int] | None:
        best: tuple[int, int] | None = self.book.best_bid()
        return best

    def best_ask(self) -> tuple[int, int] | None:
        best: tuple[int, int] | None = self.book.best_ask()
        return best


def _ignore(_: object) -> None:
    return None


class MarketDriver:
    """Simulated flow on ``symbols`` at ``rate`` commands/s each, anchored when asked."""

    def __init__(
        self,
        service: VenueService,
        symbols: list[str] | None = None,
        *,
        rate: float = 1000.0,
        params: SimParams | None = None,
        seed: int = 7,
        anchors: dict[str, Anchor] | None = None,
        anchor_every_s: float = 1.0,
        tick_s: float = 0.01,
        timer: Timer | None = None,
    ) -> None:
        if rate <= 0:
            msg = f"invalid `rate`, must be > 0 commands/s, was {rate}"
            raise ValueError(msg)
        self.service = service
        self.symbols = symbols or sorted(service.instruments)
        self.rate = rate
        self.params = params
        self.seed = seed
        self.anchors = anchors or {}
        self.anchor_every_s = anchor_every_s
        self.tick_s = tick_s
        self.timer: Timer = timer or LoopTimer()  # a test passes a ManualTimer and steps it
        self.sims: dict[str, MarketSimulator] = {}
        self.commands = 0
        self._tasks: list[asyncio.Task[None]] = []

    def _account(self) -> int:
        jv = self.service.jv
        for acct in jv.venue.accounts():
            if acct.name == MARKET_ACCOUNT:
                return acct.account_id
        acct, _ = jv.add_account(MARKET_ACCOUNT)
        return acct.account_id

    def _start_price(self, inst: Instrument) -> int:
        book = self.service.venue.book(inst.symbol)
        bid, ask = book.best_bid(), book.best_ask()
        if bid and ask:
            return int((bid[0] + ask[0]) // 2)
        return max(int(Decimal(100) / inst.tick), 2)  # about 100 in the quote currency

    async def start(self, *, pace: bool = True) -> None:
        """Take a clean slate (the market account's old orders go) and start pacing.

        ``pace=False`` prepares the simulators only; ``step`` then drives them.
        """
        account = self._account()
        jv = self.service.jv
        # no risk limits of its own: it is the market, not a participant
        await self.service.execute(
            lambda: jv.set_limits(RiskLimits(), account=account, symbol=None)
        )
        await self.service.execute(lambda: jv.cancel_all(account, CancelAll()))
        # open where the real market is, when it answers (all symbols asked at once)
        anchored = [s for s in self.symbols if s in self.anchors]
        try:
            opening = dict(
                zip(
                    anchored,
                    await asyncio.wait_for(
                        asyncio.gather(*(self._anchor_ticks(s) for s in anchored)), timeout=10.0
                    ),
                    strict=True,
                )
            )
        except TimeoutError:
            opening = {}
        for k, symbol in enumerate(self.symbols):
            inst = self.service.instruments[symbol]
            base = self.params or SimParams.default()
            start = opening.get(symbol) or self._start_price(inst)
            params = SimParams(
                **{f: getattr(base, f) for f in SimParams.__struct_fields__ if f != "start_price"},
                start_price=start,
            )
            port = _VenuePort(self.service, symbol, account)
            self.sims[symbol] = MarketSimulator.on_book(port, params, seed=self.seed + k)
        if not pace:
            return
        self._tasks.append(asyncio.create_task(self._pace(), name="makerkit-market-driver"))
        for symbol in self.anchors:
            self._tasks.append(asyncio.create_task(self._follow(symbol)))

    async def stop(self) -> None:
        """Stop the flow (its resting orders stay until the next start)."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    async def _pace(self) -> None:
        timer = self.timer
        started = timer.elapsed_s()
        done = 0
        while True:
            await timer.sleep(self.tick_s)
            due = int((timer.elapsed_s() - started) * self.rate) - done
            # never try to catch up more than a second's worth after a stall
            due = min(due, int(self.rate))
            if due <= 0:
                continue
            if self.service.failure is not None:  # the journal cannot write: the market waits
                done += due
                continue
            self.step(due)
            done += due

    def step(self, commands: int) -> None:
        """Emit ``commands`` more simulated commands on every symbol, now."""
        for sim in self.sims.values():
            try:
                sim.run(commands, record=False)
            except MakerkitError as exc:  # a refused command must not stop the market
                log.warning("market driver: %s", exc)
        self.commands += commands * len(self.sims)

    async def _anchor_ticks(self, symbol: str) -> int | None:
        """The anchor's price in ticks, or None when it has none right now."""
        try:
            price = await self.anchors[symbol]()
        except MakerkitError as exc:  # offline, rate-limited: keep the last value
            log.warning("anchor for %s: %s", symbol, exc)
            return None
        if price is None or not price > 0:
            return None
        inst = self.service.instruments[symbol]
        return max(int((Decimal(repr(price)) / inst.tick).to_integral_value()), 2)

    async def follow_once(self, symbol: str, anchor: Anchor | None = None) -> int | None:
        """Move ``symbol``'s fundamental value to the anchor's price; return it in ticks."""
        if anchor is not None:
            self.anchors[symbol] = anchor
        ticks = await self._anchor_ticks(symbol)
        if ticks is not None:
            self.sims[symbol].value = ticks
        return ticks

    async def _follow(self, symbol: str) -> None:
        while True:
            await self.timer.sleep(self.anchor_every_s)
            await self.follow_once(symbol)
