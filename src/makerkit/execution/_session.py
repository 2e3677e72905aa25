"""One trading session: a market maker, its order manager, its orders and its books of account.

Every venue kind (the simulated market, the replay core, the live client)
implements the small ``Gateway`` protocol; its driver only moves time, tells
the session what its orders did (``accepted``, ``filled``, ``rejected``,
``closed``) and asks it to ``decide``. The session builds the strategy's
context, turns its target ladders into the fewest commands the
``OrderManager`` allows, sends immediate (hedge) orders, keeps position,
cash and fees per instrument, and counts what a report needs: orders sent,
the most resting orders held at once per side, every fill and refusal.
A strategy that raises is stopped cleanly: its quotes are pulled and the
reason kept in ``stopped``.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Mapping
from typing import Protocol, cast

from makerkit.core import (
    BookView,
    ConfigError,
    FillReport,
    Immediate,
    InstrumentView,
    Ladder,
    Level,
    MarketContext,
    MarketMaker,
    MarketMakerBase,
    OneLevelMaker,
    OpenOrder,
    Orders,
    StrategyContext,
)
from makerkit.execution._manager import Cancel, OrderManager, Place

__all__ = ["Gateway", "TradingSession"]


class Gateway(Protocol):
    """A venue as the session sees it; results come back through the session's methods."""

    def place(self, symbol: str, order_id: int, side: int, price: int, size: int, ts_ns: int
              ) -> None:  # fmt: skip
        """Send a limit order that may rest (post-only where the venue is set so)."""
        ...

    def cancel(self, symbol: str, order_id: int, ts_ns: int) -> None:
        """Cancel a resting order."""
        ...

    def take(self, symbol: str, order_id: int, side: int, size: int, price: int | None,
             ts_ns: int) -> None:  # fmt: skip
        """Send an immediate order: IOC at ``price``, or market when None."""
        ...


def _whole(value: object) -> bool:
    """An int (numpy's too), not a float that happens to be whole, not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


class _Account:
    """One instrument's orders and books of account."""

    __slots__ = ("cash", "fees", "live", "position")

    def __init__(self) -> None:
        self.position = 0
        self.cash = 0.0  # ticks x lots, after fees
        self.fees = 0.0
        self.live: dict[int, dict[int, OpenOrder]] = {1: {}, -1: {}}  # side -> id -> order


class TradingSession:
    """A market maker trading through a ``Gateway``; see the module docstring."""

    def __init__(
        self,
        strategy: MarketMaker,
        gateway: Gateway,
        *,
        manager: OrderManager,
        book: Callable[[str, int], BookView],
        fee: Callable[[str, int, int, bool], float],
        first_order_id: int = 1,
        touch: Callable[[str], tuple[int | None, int, int | None, int]] | None = None,
    ) -> None:
        self.strategy = strategy
        self.gateway = gateway
        self.manager = manager
        self.symbols: tuple[str, ...] = tuple(strategy.symbols)
        self.depth = int(strategy.depth)
        self._book = book
        # (bid, its size, ask, its size) without building a view: a one-level strategy's read
        self._touch = touch or self._touch_from_book
        self._fee = fee
        self._next_id = first_order_id - 1
        self.accounts = {s: _Account() for s in self.symbols}
        self.features: Mapping[str, float] = {}
        self.prediction: float | None = None
        self.stopped: str | None = None
        self.orders_sent = 0
        self.cancels_sent = 0
        self.max_live = {1: 0, -1: 0}
        # ts, symbol, side, price, qty, maker, fee: every fill, in order
        self.fills: list[tuple[int, str, int, int, int, bool, float]] = []
        self.rejected: list[int] = []  # when each order was refused
        # nobody listens to fills when on_fill is the base class's: no context to build
        self._listens = getattr(type(strategy), "on_fill", None) is not MarketMakerBase.on_fill
        # a one-level Strategy takes the hot path: its own context, one rung a side
        self._one = strategy if isinstance(strategy, OneLevelMaker) else None
        inner = self._one.inner if self._one is not None else strategy
        self._label = type(inner).__name__
        self._decide_name = "quote" if self._one is not None else "decide"

    # ------------------------------------------------------------------ reading

    def view(self, symbol: str) -> InstrumentView:
        """One instrument as the strategy sees it now."""
        acc = self.accounts[symbol]
        book = self._book(symbol, self.depth)
        mid = book.mid
        orders = (*acc.live[1].values(), *acc.live[-1].values())
        return InstrumentView(
            book=book,
            orders=orders,
            position=acc.position,
            pnl=acc.cash + acc.position * mid if mid is not None else acc.cash,
            fees=acc.fees,
        )

    def context(self, ts_ns: int) -> MarketContext:
        """What the strategy may look at now."""
        return MarketContext(
            ts_ns=ts_ns,
            instruments={s: self.view(s) for s in self.symbols},
            features=self.features,
            prediction=self.prediction,
        )

    def _touch_from_book(self, symbol: str) -> tuple[int | None, int, int | None, int]:
        book = self._book(symbol, 1)
        bid, ask = (book.bids or (None,))[0], (book.asks or (None,))[0]
        return (bid.price if bid else None, bid.size if bid else 0,
                ask.price if ask else None, ask.size if ask else 0)  # fmt: skip

    def best_live(self, symbol: str, side: int) -> int | None:
        """The best price of our resting orders on one side (None: none rest)."""
        live = self.accounts[symbol].live[side]
        if len(live) <= 1:
            return next(iter(live.values())).price if live else None
        prices = [o.price for o in live.values()]
        return max(prices) if side > 0 else min(prices)

    def live_orders(self, symbol: str) -> list[OpenOrder]:
        """Our resting orders on ``symbol``, bids first."""
        live = self.accounts[symbol].live
        return [*live[1].values(), *live[-1].values()]

    # ------------------------------------------------------------------ deciding

    def decide(self, ts_ns: int, *, timer: bool = False) -> None:
        """Ask the strategy (``decide``, or ``on_timer`` when ``timer``) and carry it out."""
        if self._one is not None and self.stopped is None and not timer:
            self._decide_one(self._one, ts_ns)
            return
        orders: Orders | None = None
        if self.stopped is None:
            name = "on_timer" if timer else self._decide_name
            try:
                ctx = self.context(ts_ns)
                orders = self.strategy.on_timer(ctx) if timer else self.strategy.decide(ctx)
                if not isinstance(cast(object, orders), (Orders, type(None))):
                    msg = f"must return makerkit.core.Orders, returned {type(orders).__name__}"
                    raise ConfigError(msg)
            except Exception as exc:  # any strategy error stops the run cleanly
                self.stopped = f"{type(exc).__name__} in {self._label}.{name}: {exc}"
        if self.stopped is not None:
            orders = Orders.none(self.symbols)  # pull everything, then stop
        if orders is not None:
            self.execute(orders, ts_ns)

    def execute(self, orders: Orders, ts_ns: int) -> None:
        """Move the resting orders towards the targets, then send the immediate orders.

        Orders that name a symbol the strategy does not trade, or are not the
        API's types, send nothing: the strategy is stopped and pulled.
        """
        problem = self._problem(orders)
        if problem is not None:
            self.stopped = self.stopped or f"ConfigError in {self._label}: {problem}"
            orders = Orders.none(self.symbols)
        for symbol, ladder in orders.quotes.items():
            live = self.accounts[symbol].live
            for side in (1, -1):
                resting = list(live[side].values())
                plan = self.manager.plan_side(side, ladder.side(side), resting, ts_ns)
                self._carry_out(symbol, side, plan, ts_ns)
        for order in orders.immediate:
            self._next_id += 1
            self.orders_sent += 1
            self.gateway.take(order.symbol, self._next_id, order.side, order.size, order.price,
                              ts_ns)  # fmt: skip

    def _decide_one(self, one: OneLevelMaker, ts_ns: int) -> None:
        """``decide`` for a one-level ``Strategy``: the same rules, none of the ladder's cost."""
        symbol = one.symbols[0]
        acc = self.accounts[symbol]
        bid, bid_size, ask, ask_size = self._touch(symbol)
        position, cash = acc.position, acc.cash
        ctx = StrategyContext(
            ts_ns=ts_ns, best_bid=bid, best_ask=ask, bid_size=bid_size, ask_size=ask_size,
            position=position, features=self.features, prediction=self.prediction,
            pnl=cash + position * (bid + ask) / 2 if bid is not None and ask is not None else cash,
        )  # fmt: skip
        try:
            intent = one.inner.quote(ctx)
            sides = ((1, intent.bid_price, intent.bid_size),
                     (-1, intent.ask_price, intent.ask_size))  # fmt: skip
            for _, price, size in sides:
                if not (_whole(size) and (price is None or _whole(price))):
                    msg = f"prices and sizes are ticks and lots (ints), was {intent!r}"
                    raise ConfigError(msg)
        except Exception as exc:  # any strategy error stops the run cleanly
            self.stopped = f"{type(exc).__name__} in {self._label}.quote: {exc}"
            self.execute(Orders.none(self.symbols), ts_ns)
            return
        step_one, gateway = self.manager.step_one, self.gateway
        for side, price, size in sides:
            live = acc.live[side]
            if len(live) > 1:  # left from before (a live restart): the ladder rule tidies up
                rungs = () if price is None else (Level(price, size),)
                self._carry_out(symbol, side, self.manager.plan_side(
                    side, rungs, list(live.values()), ts_ns), ts_ns)  # fmt: skip
                continue
            current = next(iter(live.values())) if live else None
            cancel, place, size = step_one(price, size, current, ts_ns)
            if cancel is not None:
                del live[cancel]
                self.cancels_sent += 1
                gateway.cancel(symbol, cancel, ts_ns)
            if place is not None:
                self._next_id += 1
                self.orders_sent += 1
                gateway.place(symbol, self._next_id, side, place, size, ts_ns)

    def _carry_out(self, symbol: str, side: int, cmds: list[Place | Cancel], ts_ns: int) -> None:
        """Send one side's commands: cancels (no longer live at once) and places."""
        for cmd in cmds:
            if isinstance(cmd, Cancel):
                self.cancel(symbol, cmd.order_id, ts_ns)
            else:
                self._next_id += 1
                self.orders_sent += 1
                self.gateway.place(symbol, self._next_id, side, cmd.price, cmd.size, ts_ns)

    def _problem(self, orders: Orders) -> str | None:
        """Why ``orders`` cannot be carried out (None: they can)."""
        for symbol, ladder in orders.quotes.items():
            if symbol not in self.accounts:
                return f"quotes for {symbol!r}, not one of its symbols {self.symbols}"
            if not isinstance(cast(object, ladder), Ladder):
                return f"quotes[{symbol!r}] must be a Ladder, was {type(ladder).__name__}"
            for rung in (*ladder.bids, *ladder.asks):
                if not isinstance(cast(object, rung), Level):
                    return f"ladder rungs must be Level(price, size), was {rung!r}"
                if not (_whole(rung.price) and _whole(rung.size)):
                    return f"prices and sizes are ticks and lots (ints), was {rung!r}"
        for order in orders.immediate:
            if not isinstance(cast(object, order), Immediate):
                return f"immediate orders must be Immediate, was {type(order).__name__}"
            if order.symbol not in self.accounts:
                return f"an immediate order on {order.symbol!r}, not one of {self.symbols}"
            if not _whole(order.size) or not (order.price is None or _whole(order.price)):
                return f"prices and sizes are ticks and lots (ints), was {order!r}"
        return None

    def cancel(self, symbol: str, order_id: int, ts_ns: int) -> None:
        """Cancel one of our resting orders (it stops counting as live at once)."""
        live = self.accounts[symbol].live
        for side in (1, -1):
            live[side].pop(order_id, None)
        self.cancels_sent += 1
        self.gateway.cancel(symbol, order_id, ts_ns)

    # ------------------------------------------------------------------ reports from the venue

    def accepted(self, symbol: str, order_id: int, side: int, price: int, resting: int,
                 ts_ns: int) -> None:  # fmt: skip
        """The venue took an order; ``resting`` of it rests (0: it all traded at once)."""
        if resting <= 0:
            return
        live = self.accounts[symbol].live
        live[side][order_id] = OpenOrder(order_id=order_id, side=side, price=price,
                                         size=resting, left=resting, placed_ns=ts_ns)  # fmt: skip
        if len(self.accounts) == 1:
            count = len(live[side])
        else:
            count = sum(len(a.live[side]) for a in self.accounts.values())
        if count > self.max_live[side]:
            self.max_live[side] = count

    def filled(self, symbol: str, order_id: int, side: int, price: int, qty: int, maker: bool,
               ts_ns: int, fee: float | None = None) -> None:  # fmt: skip
        """An order of ours traded ``qty`` at ``price``; the strategy hears of it at once.

        ``fee`` (tick-lots) when the venue says what it charged; else the session's fee rule.
        """
        acc = self.accounts[symbol]
        acc.position += side * qty
        acc.cash -= side * qty * price
        if fee is None:
            fee = self._fee(symbol, price, qty, maker)
        acc.fees += fee
        acc.cash -= fee
        self.fills.append((ts_ns, symbol, side, price, qty, maker, fee))
        order = acc.live[side].get(order_id)
        if order is not None:
            acc.live[side][order_id] = OpenOrder(
                order_id=order_id, side=side, price=order.price, size=order.size,
                left=max(order.left - qty, 0), placed_ns=order.placed_ns,
            )  # fmt: skip
        if self.stopped is not None or not self._listens:
            return
        report = FillReport(symbol=symbol, order_id=order_id, side=side, price=price, qty=qty,
                            maker=maker, ts_ns=ts_ns)  # fmt: skip
        try:
            self.strategy.on_fill(report, self.context(ts_ns))
        except Exception as exc:  # stopped at the next decision
            self.stopped = f"{type(exc).__name__} in {self._label}.on_fill: {exc}"

    def rejected_order(self, symbol: str, order_id: int, ts_ns: int) -> None:
        """The venue refused an order (post-only would have crossed, or a risk check)."""
        self.rejected.append(ts_ns)
        self.closed(symbol, order_id)

    def closed(self, symbol: str, order_id: int) -> None:
        """An order rests no more (filled in full, cancelled, refused)."""
        live = self.accounts[symbol].live
        for side in (1, -1):
            live[side].pop(order_id, None)

    # ------------------------------------------------------------------ summary

    @property
    def max_live_orders(self) -> dict[str, int]:
        """The most resting orders held at once per side, all instruments together."""
        return {"bid": self.max_live[1], "ask": self.max_live[-1]}
