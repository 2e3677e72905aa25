"""Reference limit order book and matching engine in pure Python.

This module is the readable specification of matching: the C++ engine must
produce exactly the same results for the same commands.

Rules
-----
* Price-time priority. Fills happen at the resting (maker) order's price.
* Limit orders match what they cross, then the rest follows the time in force:
  GTC rests, IOC expires, FOK fills in full or is rejected untouched,
  POST_ONLY is rejected untouched if it would cross.
* Market orders sweep the opposite side (GTC is treated as IOC); an empty
  opposite side rejects them with NO_LIQUIDITY.
* Self-trade prevention uses the incoming order's mode and applies when both
  orders carry the same non-zero account: CANCEL_NEWEST cancels the rest of
  the incoming order, CANCEL_OLDEST cancels the resting order and goes on,
  CANCEL_BOTH does both.
* Modify: a smaller size at the same price keeps time priority; a price change
  or a larger size re-enters the order at the back of its new level (and may
  match). The size given is the new *remaining* size.
* A rejected command returns its reason and changes nothing, including the
  sequence number.
* Every accepted command takes the next sequence number, then each fill it
  produces takes one more.

Layout
------
Each side keeps a sorted list of prices with a parallel list of level sizes
(bids ascending with the best at the end, asks ascending with the best first)
and a dict from price to the FIFO of orders at that price. Python dicts keep
insertion order and delete in O(1), which makes them a FIFO that also allows
cancelling from the middle.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import deque
from collections.abc import Iterable

import msgspec

from makerkit.core import (
    BookLevel,
    BookState,
    CommandResult,
    Fill,
    L1Snapshot,
    L2Snapshot,
    L3Level,
    L3Order,
    L3Snapshot,
    Order,
    OrderStatus,
    OrderType,
    RejectReason,
    SelfTradePrevention,
    Side,
    TimeInForce,
)
from makerkit.core.errors import DataError

__all__ = ["PyOrderBook"]

_BUY = 1
_SELL = -1
_LIMIT = OrderType.LIMIT
_MARKET = OrderType.MARKET
_GTC = TimeInForce.GTC
_IOC = TimeInForce.IOC
_FOK = TimeInForce.FOK
_POST_ONLY = TimeInForce.POST_ONLY
_STP_NONE = SelfTradePrevention.NONE
_STP_NEWEST = SelfTradePrevention.CANCEL_NEWEST
_STP_OLDEST = SelfTradePrevention.CANCEL_OLDEST
_NEW = OrderStatus.NEW
_PARTIAL = OrderStatus.PARTIALLY_FILLED
_FILLED = OrderStatus.FILLED
_CANCELED = OrderStatus.CANCELED
_REJECTED = OrderStatus.REJECTED
_EXPIRED = OrderStatus.EXPIRED
_SIDES = {1: Side.BUY, -1: Side.SELL}


class _Resting(msgspec.Struct, gc=False):
    """Mutable state of a live order (internal)."""

    order_id: int
    side: int
    price: int
    qty: int
    remaining: int
    filled: int
    account: int
    order_type: int
    tif: int
    stp: int
    ts: int


def _restore_check(o: Order, live: dict[int, _Resting], opposite: _Ladder) -> RejectReason:
    """Why a snapshot order could not be resting in this book (same checks as the C++ engine)."""
    if o.order_id <= 0:
        return RejectReason.INVALID_ORDER_ID
    if o.order_id in live:
        return RejectReason.DUPLICATE_ORDER_ID
    if o.side not in (_BUY, _SELL):
        return RejectReason.INVALID_FIELD
    if o.price <= 0:
        return RejectReason.NON_POSITIVE_PRICE
    if o.remaining <= 0 or o.qty < o.remaining or o.filled < 0:
        return RejectReason.NON_POSITIVE_QTY
    if o.order_type != _LIMIT or not 0 <= o.tif <= 3 or not 0 <= o.stp <= 3:
        return RejectReason.INVALID_FIELD
    best = opposite.best()
    if best is not None and (best <= o.price if o.side == _BUY else best >= o.price):
        return RejectReason.INVALID_FIELD  # a resting order never crosses the other side
    return RejectReason.NONE


def _reject(order_id: int, reason: RejectReason) -> CommandResult:
    return CommandResult(order_id=order_id, status=_REJECTED, reason=reason)


class _Ladder:
    """One side of the book: sorted prices, parallel sizes, FIFO per price."""

    __slots__ = ("best_first", "levels", "prices", "sizes", "verified")

    def __init__(self, best_first: bool) -> None:
        # asks: best (lowest) price at index 0; bids: best (highest) at index -1
        self.best_first = best_first
        self.prices: list[int] = []
        self.sizes: list[int] = []
        self.levels: dict[int, dict[int, _Resting]] = {}
        # (prices, sizes, depth) last found equal to the top of this side while untouched
        self.verified: tuple[list[int], list[int], int] | None = None

    def best(self) -> int | None:
        prices = self.prices
        if not prices:
            return None
        return prices[0] if self.best_first else prices[-1]

    def add(self, order: _Resting) -> None:
        self.verified = None
        price = order.price
        level = self.levels.get(price)
        if level is None:
            self.levels[price] = {order.order_id: order}
            i = bisect_left(self.prices, price)
            self.prices.insert(i, price)
            self.sizes.insert(i, order.remaining)
        else:
            level[order.order_id] = order
            self.sizes[bisect_left(self.prices, price)] += order.remaining

    def take(self, order: _Resting, qty: int) -> None:
        """Remove ``qty`` of ``order`` from its level; drop the order (and level) at zero."""
        self.verified = None
        price = order.price
        i = bisect_left(self.prices, price)
        order.remaining -= qty
        if order.remaining == 0:
            level = self.levels[price]
            del level[order.order_id]
            if not level:
                del self.levels[price]
                del self.prices[i]
                del self.sizes[i]
                return
        self.sizes[i] -= qty

    def top(self, depth: int) -> tuple[list[int], list[int]]:
        """Return (prices, sizes) of the best ``depth`` levels, best first."""
        if self.best_first:
            return self.prices[:depth], self.sizes[:depth]
        return self.prices[: -depth - 1 : -1], self.sizes[: -depth - 1 : -1]

    def price_order(self) -> list[int]:
        return self.prices if self.best_first else self.prices[::-1]


class PyOrderBook:
    """Reference order book for one instrument.

    Not thread-safe: one writer drives it (the venue is a single-writer state
    machine).
    """

    backend = "python"

    def __init__(self, *, fill_history: int | None = 100_000) -> None:
        self._bids = _Ladder(best_first=False)
        self._asks = _Ladder(best_first=True)
        self._orders: dict[int, _Resting] = {}
        self._seq = 0
        self._fills: deque[Fill] = deque(maxlen=fill_history)

    # ------------------------------------------------------------------ commands

    def submit(
        self,
        order_id: int,
        side: Side | int,
        price: int,
        qty: int,
        *,
        order_type: OrderType | int = OrderType.LIMIT,
        tif: TimeInForce | int = TimeInForce.GTC,
        account: int = 0,
        stp: SelfTradePrevention | int = SelfTradePrevention.CANCEL_NEWEST,
        ts: int = 0,
    ) -> CommandResult:
        """Enter a new order, match what it crosses and apply its time in force."""
        if order_id <= 0:
            return _reject(order_id, RejectReason.INVALID_ORDER_ID)
        if side == _BUY:
            own, opposite = self._bids, self._asks
        elif side == _SELL:
            own, opposite = self._asks, self._bids
        else:
            return _reject(order_id, RejectReason.INVALID_FIELD)
        if qty <= 0:
            return _reject(order_id, RejectReason.NON_POSITIVE_QTY)
        if order_id in self._orders:
            return _reject(order_id, RejectReason.DUPLICATE_ORDER_ID)
        if not 0 <= stp <= 3:
            return _reject(order_id, RejectReason.INVALID_FIELD)
        if order_type == _LIMIT:
            if price <= 0:
                return _reject(order_id, RejectReason.NON_POSITIVE_PRICE)
            if not 0 <= tif <= 3:
                return _reject(order_id, RejectReason.INVALID_TIF)
            limit: int | None = price
            prices = opposite.prices
            if not prices or (prices[0] > price if side == _BUY else prices[-1] < price):
                # does not cross: the common case for a market maker
                if tif == _FOK:
                    return _reject(order_id, RejectReason.FOK_NOT_FILLABLE)
                self._seq = seq = self._seq + 1
                if tif == _IOC:
                    return CommandResult(order_id=order_id, status=_EXPIRED, seq=seq)
                order = _Resting(order_id, side, price, qty, qty, 0, account, 0, tif, stp, ts)
                self._orders[order_id] = order
                own.add(order)
                return CommandResult(order_id=order_id, status=_NEW, remaining=qty, seq=seq)
            if tif == _POST_ONLY:
                return _reject(order_id, RejectReason.POST_ONLY_WOULD_CROSS)
        elif order_type == _MARKET:
            if tif == _POST_ONLY or not 0 <= tif <= 3:
                return _reject(order_id, RejectReason.INVALID_TIF)
            if not opposite.prices:
                return _reject(order_id, RejectReason.NO_LIQUIDITY)
            limit = None
            if tif == _GTC:
                tif = _IOC
        else:
            return _reject(order_id, RejectReason.INVALID_FIELD)

        if tif == _FOK and self._fillable(side, limit, qty, account, stp) < qty:
            return _reject(order_id, RejectReason.FOK_NOT_FILLABLE)
        self._seq += 1
        seq = self._seq
        order = _Resting(order_id, side, price, qty, qty, 0, account, order_type, tif, stp, ts)
        fills, canceled, stopped = self._match(order, limit, ts)
        rests = (
            not stopped
            and order.remaining > 0
            and order_type == OrderType.LIMIT
            and tif in (_GTC, _POST_ONLY)
        )
        if rests:
            self._orders[order_id] = order
            own.add(order)
            status = _PARTIAL if order.filled else _NEW
            remaining = order.remaining
        else:
            remaining = 0
            if order.remaining == 0:
                status = _FILLED
            elif stopped:
                status = _CANCELED
            else:
                status = _EXPIRED
        return CommandResult(
            order_id=order_id,
            status=status,
            reason=RejectReason.SELF_TRADE if stopped else RejectReason.NONE,
            filled=order.filled,
            remaining=remaining,
            fills=tuple(fills),
            canceled=tuple(canceled),
            seq=seq,
        )

    def cancel(self, order_id: int, *, ts: int = 0) -> CommandResult:
        """Remove a resting order."""
        order = self._orders.pop(order_id, None)
        if order is None:
            return _reject(order_id, RejectReason.UNKNOWN_ORDER)
        (self._bids if order.side == _BUY else self._asks).take(order, order.remaining)
        self._seq += 1
        return CommandResult(
            order_id=order_id, status=_CANCELED, filled=order.filled, remaining=0, seq=self._seq
        )

    def reduce(self, order_id: int, qty: int, *, ts: int = 0) -> CommandResult:
        """Cancel ``qty`` of a resting order, keeping its priority (all of it cancels the order)."""
        order = self._orders.get(order_id)
        if order is None:
            return _reject(order_id, RejectReason.UNKNOWN_ORDER)
        if qty <= 0:
            return _reject(order_id, RejectReason.NON_POSITIVE_QTY)
        if qty >= order.remaining:
            return self.cancel(order_id, ts=ts)
        (self._bids if order.side == _BUY else self._asks).take(order, qty)
        self._seq += 1
        return CommandResult(
            order_id=order_id,
            status=_PARTIAL if order.filled else _NEW,
            filled=order.filled,
            remaining=order.remaining,
            seq=self._seq,
        )

    def execute(self, order_id: int, qty: int, *, ts: int = 0) -> CommandResult:
        """Trade ``qty`` of a resting order against an aggressor outside the book.

        Used to replay L3 feeds, where executions name the resting order.
        """
        order = self._orders.get(order_id)
        if order is None:
            return _reject(order_id, RejectReason.UNKNOWN_ORDER)
        if qty <= 0:
            return _reject(order_id, RejectReason.NON_POSITIVE_QTY)
        if qty > order.remaining:
            return _reject(order_id, RejectReason.QTY_EXCEEDS_REMAINING)
        self._seq += 1
        seq = self._seq
        order.filled += qty
        (self._bids if order.side == _BUY else self._asks).take(order, qty)
        if order.remaining == 0:
            del self._orders[order_id]
        self._seq += 1
        fill = Fill(
            seq=self._seq,
            maker_order_id=order_id,
            taker_order_id=0,
            price=order.price,
            qty=qty,
            aggressor=Side.SELL if order.side == _BUY else Side.BUY,
            maker_account=order.account,
            ts_event=ts,
            ts_recv=ts,
        )
        self._fills.append(fill)
        return CommandResult(
            order_id=order_id,
            status=_FILLED if order.remaining == 0 else _PARTIAL,
            filled=order.filled,
            remaining=order.remaining,
            fills=(fill,),
            seq=seq,
        )

    def modify(
        self, order_id: int, *, price: int | None = None, qty: int | None = None, ts: int = 0
    ) -> CommandResult:
        """Change price and/or remaining size of a resting order.

        Size down at the same price keeps priority; anything else re-enters
        the order at the back and may match.
        """
        order = self._orders.get(order_id)
        if order is None:
            return _reject(order_id, RejectReason.UNKNOWN_ORDER)
        new_price = order.price if price is None else price
        new_qty = order.remaining if qty is None else qty
        if new_price <= 0:
            return _reject(order_id, RejectReason.NON_POSITIVE_PRICE)
        if new_qty <= 0:
            return _reject(order_id, RejectReason.NON_POSITIVE_QTY)
        ladder = self._bids if order.side == _BUY else self._asks
        if new_price == order.price and new_qty <= order.remaining:
            if new_qty < order.remaining:
                order.qty -= order.remaining - new_qty
                ladder.take(order, order.remaining - new_qty)
            self._seq += 1
            return CommandResult(
                order_id=order_id,
                status=_PARTIAL if order.filled else _NEW,
                filled=order.filled,
                remaining=order.remaining,
                seq=self._seq,
            )
        opposite = self._asks if order.side == _BUY else self._bids
        best = opposite.best()
        crosses = best is not None and (
            best <= new_price if order.side == _BUY else best >= new_price
        )
        if crosses and order.tif == _POST_ONLY:
            return _reject(order_id, RejectReason.POST_ONLY_WOULD_CROSS)
        self._seq += 1
        seq = self._seq
        ladder.take(order, order.remaining)
        del self._orders[order_id]
        order.price = new_price
        order.qty = order.filled + new_qty
        order.remaining = new_qty
        order.ts = ts
        fills: list[Fill] = []
        canceled: list[int] = []
        stopped = False
        if crosses:
            fills, canceled, stopped = self._match(order, new_price, ts)
        if stopped or order.remaining == 0:
            return CommandResult(
                order_id=order_id,
                status=_CANCELED if stopped else _FILLED,
                reason=RejectReason.SELF_TRADE if stopped else RejectReason.NONE,
                filled=order.filled,
                remaining=0,
                fills=tuple(fills),
                canceled=tuple(canceled),
                seq=seq,
            )
        self._orders[order_id] = order
        ladder.add(order)
        return CommandResult(
            order_id=order_id,
            status=_PARTIAL if order.filled else _NEW,
            filled=order.filled,
            remaining=order.remaining,
            fills=tuple(fills),
            canceled=tuple(canceled),
            seq=seq,
        )

    # ------------------------------------------------------------------ matching

    def _fillable(self, side: int, limit: int | None, qty: int, account: int, stp: int) -> int:
        """Return how much an order could fill right now, without changing anything."""
        opposite = self._asks if side == _BUY else self._bids
        stp_active = account != 0 and stp != _STP_NONE
        total = 0
        for price in opposite.price_order():
            if limit is not None and (price > limit if side == _BUY else price < limit):
                break
            for maker in opposite.levels[price].values():
                if stp_active and maker.account == account:
                    if stp == _STP_OLDEST:
                        continue
                    return total
                total += maker.remaining
                if total >= qty:
                    return total
        return total

    def _match(
        self, taker: _Resting, limit: int | None, ts: int
    ) -> tuple[list[Fill], list[int], bool]:
        """Match ``taker`` against the opposite side; return fills, STP cancels, stopped flag."""
        side = taker.side
        opposite = self._asks if side == _BUY else self._bids
        aggressor = _SIDES[side]
        stp = taker.stp
        stp_active = taker.account != 0 and stp != _STP_NONE
        fills: list[Fill] = []
        canceled: list[int] = []
        orders = self._orders
        while taker.remaining > 0 and opposite.prices:
            price = opposite.prices[0] if side == _BUY else opposite.prices[-1]
            if limit is not None and (price > limit if side == _BUY else price < limit):
                break
            level = opposite.levels[price]
            for maker in list(level.values()):
                if stp_active and maker.account == taker.account:
                    if stp == _STP_NEWEST:
                        return fills, canceled, True
                    # CANCEL_OLDEST and CANCEL_BOTH remove the resting order
                    del orders[maker.order_id]
                    opposite.take(maker, maker.remaining)
                    canceled.append(maker.order_id)
                    if stp != _STP_OLDEST:
                        return fills, canceled, True
                    continue
                qty = min(taker.remaining, maker.remaining)
                taker.remaining -= qty
                taker.filled += qty
                maker.filled += qty
                opposite.take(maker, qty)
                if maker.remaining == 0:
                    del orders[maker.order_id]
                self._seq += 1
                fill = Fill(
                    seq=self._seq,
                    maker_order_id=maker.order_id,
                    taker_order_id=taker.order_id,
                    price=price,
                    qty=qty,
                    aggressor=aggressor,
                    maker_account=maker.account,
                    taker_account=taker.account,
                    ts_event=ts,
                    ts_recv=ts,
                )
                fills.append(fill)
                self._fills.append(fill)
                if taker.remaining == 0:
                    break
        return fills, canceled, False

    # ------------------------------------------------------------------ views

    @property
    def seq(self) -> int:
        """Return the sequence number of the last accepted command or fill."""
        return self._seq

    def __len__(self) -> int:
        return len(self._orders)

    def __contains__(self, order_id: object) -> bool:
        return order_id in self._orders

    def remaining(self, order_id: int) -> int:
        """Return the open size of a live order, or 0 when it is not resting."""
        order = self._orders.get(order_id)
        return order.remaining if order is not None else 0

    def best_bid(self) -> tuple[int, int] | None:
        """Return (price, size) of the best bid, or None."""
        ladder = self._bids
        return (ladder.prices[-1], ladder.sizes[-1]) if ladder.prices else None

    def best_ask(self) -> tuple[int, int] | None:
        """Return (price, size) of the best ask, or None."""
        ladder = self._asks
        return (ladder.prices[0], ladder.sizes[0]) if ladder.prices else None

    def l1(self) -> L1Snapshot:
        """Return the best bid and ask."""
        return L1Snapshot.from_best(self.best_bid(), self.best_ask(), self._seq)

    def l2(self, depth: int = 10) -> L2Snapshot:
        """Return the best ``depth`` levels per side with size and order count."""
        return L2Snapshot(
            bids=self._levels(self._bids, depth),
            asks=self._levels(self._asks, depth),
            seq=self._seq,
        )

    def l3(self, depth: int = 10) -> L3Snapshot:
        """Return the best ``depth`` levels per side with every order in priority."""
        return L3Snapshot(
            bids=self._l3_levels(self._bids, depth),
            asks=self._l3_levels(self._asks, depth),
            seq=self._seq,
        )

    def top(self, side: Side | int, depth: int) -> tuple[list[int], list[int]]:
        """Return (prices, sizes) of the best ``depth`` levels of ``side`` (cheap, for checks)."""
        return (self._bids if side == _BUY else self._asks).top(depth)

    def depth_at(self, side: Side | int, price: int) -> int:
        """Return the total resting size at ``price`` on ``side`` (0 if no level)."""
        ladder = self._bids if side == _BUY else self._asks
        level = ladder.levels.get(price)
        return sum(o.remaining for o in level.values()) if level else 0

    def orders_at(self, side: Side | int, price: int) -> tuple[L3Order, ...]:
        """Return the orders resting at ``price`` on ``side`` in time priority."""
        ladder = self._bids if side == _BUY else self._asks
        level = ladder.levels.get(price, {})
        return tuple(L3Order(o.order_id, o.remaining, o.account) for o in level.values())

    def top_equals(
        self,
        depth: int,
        ask_prices: list[int],
        ask_sizes: list[int],
        bid_prices: list[int],
        bid_sizes: list[int],
    ) -> bool:
        """Return True when the best ``depth`` levels equal the given lists (replay checks).

        A side that has not changed since it was last found equal to the very
        same list objects is not compared again, so callers must not mutate
        lists they passed in.
        """
        asks = self._asks
        memo = asks.verified
        if (
            memo is None
            or memo[0] is not ask_prices
            or memo[1] is not ask_sizes
            or memo[2] != depth
        ):
            if asks.sizes[:depth] != ask_sizes or asks.prices[:depth] != ask_prices:
                return False
            asks.verified = (ask_prices, ask_sizes, depth)
        bids = self._bids
        memo = bids.verified
        if (
            memo is None
            or memo[0] is not bid_prices
            or memo[1] is not bid_sizes
            or memo[2] != depth
        ):
            end = -depth - 1
            if bids.sizes[:end:-1] != bid_sizes or bids.prices[:end:-1] != bid_prices:
                return False
            bids.verified = (bid_prices, bid_sizes, depth)
        return True

    def order(self, order_id: int) -> Order | None:
        """Return a snapshot of a live order, or None if it is not resting."""
        o = self._orders.get(order_id)
        if o is None:
            return None
        return Order(
            order_id=o.order_id,
            side=_SIDES[o.side],
            price=o.price,
            qty=o.qty,
            remaining=o.remaining,
            filled=o.filled,
            account=o.account,
            order_type=OrderType(o.order_type),
            tif=TimeInForce(o.tif),
            stp=SelfTradePrevention(o.stp),
            status=_PARTIAL if o.filled else _NEW,
            ts_event=o.ts,
        )

    def orders(self) -> Iterable[Order]:
        """Yield every live order (bids then asks, each in priority)."""
        for ladder in (self._bids, self._asks):
            for price in ladder.price_order():
                for oid in ladder.levels[price]:
                    snapshot = self.order(oid)
                    if snapshot is not None:
                        yield snapshot

    def fills(self) -> list[Fill]:
        """Return the retained fill history, oldest first."""
        return list(self._fills)

    # ------------------------------------------------------------------ snapshots

    def export_state(self) -> BookState:
        """Return everything needed to rebuild this book exactly (see ``restore``)."""
        return BookState(seq=self._seq, orders=tuple(self.orders()), fills=tuple(self._fills))

    def restore(self, state: BookState) -> None:
        """Rebuild an empty book from ``state``; a bad state raises and leaves it empty."""
        if self._orders or self._seq:
            msg = "invalid restore, the book must be empty and unused"
            raise DataError(msg)
        try:
            for o in state.orders:
                reason = _restore_check(
                    o, self._orders, self._asks if o.side == _BUY else self._bids
                )
                if reason is not RejectReason.NONE:
                    msg = f"invalid snapshot order {o.order_id}: {reason.name.lower()}"
                    raise DataError(msg)
                order = _Resting(
                    o.order_id, int(o.side), o.price, o.qty, o.remaining, o.filled, o.account,
                    0, int(o.tif), int(o.stp), o.ts_event,
                )  # fmt: skip
                self._orders[o.order_id] = order
                (self._bids if o.side == _BUY else self._asks).add(order)
        except DataError:
            self.__init__(fill_history=self._fills.maxlen)  # type: ignore[misc]
            raise
        self._seq = state.seq
        self._fills.extend(state.fills)

    @staticmethod
    def _levels(ladder: _Ladder, depth: int) -> tuple[BookLevel, ...]:
        prices, sizes = ladder.top(depth)
        return tuple(
            BookLevel(p, s, len(ladder.levels[p])) for p, s in zip(prices, sizes, strict=True)
        )

    @staticmethod
    def _l3_levels(ladder: _Ladder, depth: int) -> tuple[L3Level, ...]:
        prices, _ = ladder.top(depth)
        return tuple(
            L3Level(
                price=p,
                orders=tuple(
                    L3Order(o.order_id, o.remaining, o.account) for o in ladder.levels[p].values()
                ),
            )
            for p in prices
        )
