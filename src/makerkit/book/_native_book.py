"""The C++ engine behind the same contract as :class:`~makerkit.book.PyOrderBook`.

The extension returns plain tuples; this thin layer turns them into the
project's frozen result types, so code above ``book`` cannot tell the
engines apart (the differential test checks exactly that).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from makerkit import _native
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

__all__ = ["NativeOrderBook"]

_STATUS = {s.value: s for s in OrderStatus}
_REASON = {r.value: r for r in RejectReason}
_SIDES = {1: Side.BUY, -1: Side.SELL}
_KEEP: int = _native.KEEP
_EMPTY: tuple[Any, ...] = ()


def _fill(t: tuple[int, ...]) -> Fill:
    seq, maker, taker, price, qty, aggressor, maker_account, taker_account, ts = t
    return Fill(
        seq=seq,
        maker_order_id=maker,
        taker_order_id=taker,
        price=price,
        qty=qty,
        aggressor=_SIDES[aggressor],
        maker_account=maker_account,
        taker_account=taker_account,
        ts_event=ts,
        ts_recv=ts,
    )


class NativeOrderBook:
    """C++ order book for one instrument. Not thread-safe."""

    backend = "native"

    def __init__(self, *, fill_history: int | None = 100_000) -> None:
        self._fill_history = fill_history
        self._engine: Any = _native.Engine(-1 if fill_history is None else fill_history)

    @property
    def engine(self) -> Any:
        """Return the raw extension object (for the batch functions of ``makerkit._native``)."""
        return self._engine

    def _result(self, order_id: int, packed: tuple[int, ...]) -> CommandResult:
        status, reason, filled, remaining, seq, n_fills, n_canceled = packed
        if n_fills or n_canceled:
            engine = self._engine
            fills = tuple(_fill(t) for t in engine.last_fills()) if n_fills else _EMPTY
            canceled = tuple(engine.last_canceled()) if n_canceled else _EMPTY
            return CommandResult(
                order_id=order_id,
                status=_STATUS[status],
                reason=_REASON[reason],
                filled=filled,
                remaining=remaining,
                fills=fills,
                canceled=canceled,
                seq=seq,
            )
        return CommandResult(
            order_id=order_id,
            status=_STATUS[status],
            reason=_REASON[reason],
            filled=filled,
            remaining=remaining,
            seq=seq,
        )

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
        return self._result(
            order_id,
            self._engine.submit(order_id, side, price, qty, order_type, tif, account, stp, ts),
        )

    def cancel(self, order_id: int, *, ts: int = 0) -> CommandResult:
        """Remove a resting order."""
        return self._result(order_id, self._engine.cancel(order_id, ts))

    def reduce(self, order_id: int, qty: int, *, ts: int = 0) -> CommandResult:
        """Cancel ``qty`` of a resting order, keeping its priority (all of it cancels the order)."""
        return self._result(order_id, self._engine.reduce(order_id, qty, ts))

    def execute(self, order_id: int, qty: int, *, ts: int = 0) -> CommandResult:
        """Trade ``qty`` of a resting order against an aggressor outside the book."""
        return self._result(order_id, self._engine.execute(order_id, qty, ts))

    def modify(
        self, order_id: int, *, price: int | None = None, qty: int | None = None, ts: int = 0
    ) -> CommandResult:
        """Change price and/or remaining size of a resting order (same rules as the reference)."""
        return self._result(
            order_id,
            self._engine.modify(
                order_id, _KEEP if price is None else price, _KEEP if qty is None else qty, ts
            ),
        )

    # ------------------------------------------------------------------ batch

    def apply_stream_batch(
        self,
        action: np.ndarray[Any, Any],
        order_id: np.ndarray[Any, Any],
        side: np.ndarray[Any, Any],
        price: np.ndarray[Any, Any],
        qty: np.ndarray[Any, Any],
        tif: np.ndarray[Any, Any],
        ts: np.ndarray[Any, Any],
    ) -> tuple[int, int, int, int, list[int], np.ndarray[Any, Any]]:
        """Apply a whole command stream in C++.

        Returns (accepted, fills, volume, last price, rejects by reason code,
        fills as an n x 9 int64 array: seq, maker, taker, price, qty,
        aggressor, maker account, taker account, ts).
        """
        result: tuple[int, int, int, int, list[int], np.ndarray[Any, Any]] = _native.apply_stream(
            self._engine, action, order_id, side, price, qty, tif, ts
        )
        return result

    def apply_l3_batch(
        self,
        type: np.ndarray[Any, Any],
        order_id: np.ndarray[Any, Any],
        side: np.ndarray[Any, Any],
        price: np.ndarray[Any, Any],
        qty: np.ndarray[Any, Any],
        ts: np.ndarray[Any, Any],
    ) -> int:
        """Apply a market-by-order feed in C++ (1 add, 2 reduce, 3 delete, 4 execute).

        Returns how many events were rejected (0 for a consistent feed).
        """
        return int(_native.apply_l3(self._engine, type, order_id, side, price, qty, ts))

    def replay_lobster_batch(
        self,
        *,
        type: np.ndarray[Any, Any],
        order_id: np.ndarray[Any, Any],
        size: np.ndarray[Any, Any],
        price: np.ndarray[Any, Any],
        direction: np.ndarray[Any, Any],
        ts: np.ndarray[Any, Any],
        orderbook: np.ndarray[Any, Any],
        levels: int,
        tick: int,
        check: bool = True,
        record_l1: bool = False,
    ) -> dict[str, Any]:
        """Replay a LOBSTER day inside C++, checking every orderbook row (see backtest)."""
        result: dict[str, Any] = _native.replay_lobster(
            self._engine, type, order_id, size, price, direction, ts, orderbook,
            levels, tick, check, record_l1,
        )  # fmt: skip
        return result

    # ------------------------------------------------------------------ views

    @property
    def seq(self) -> int:
        """Return the sequence number of the last accepted command or fill."""
        return int(self._engine.seq)

    def __len__(self) -> int:
        return len(self._engine)

    def __contains__(self, order_id: object) -> bool:
        return isinstance(order_id, int) and order_id in self._engine

    def remaining(self, order_id: int) -> int:
        """Return the open size of a live order, or 0 when it is not resting."""
        return int(self._engine.remaining(order_id))

    def best_bid(self) -> tuple[int, int] | None:
        """Return (price, size) of the best bid, or None."""
        best: tuple[int, int] | None = self._engine.best(1)
        return best

    def best_ask(self) -> tuple[int, int] | None:
        """Return (price, size) of the best ask, or None."""
        best: tuple[int, int] | None = self._engine.best(-1)
        return best

    def l1(self) -> L1Snapshot:
        """Return the best bid and ask."""
        return L1Snapshot.from_best(self.best_bid(), self.best_ask(), self.seq)

    def l2(self, depth: int = 10) -> L2Snapshot:
        """Return the best ``depth`` levels per side with size and order count."""
        engine = self._engine
        return L2Snapshot(
            bids=tuple(BookLevel(*lv) for lv in engine.levels(1, depth)),
            asks=tuple(BookLevel(*lv) for lv in engine.levels(-1, depth)),
            seq=self.seq,
        )

    def l3(self, depth: int = 10) -> L3Snapshot:
        """Return the best ``depth`` levels per side with every order in priority."""
        return L3Snapshot(bids=self._l3(1, depth), asks=self._l3(-1, depth), seq=self.seq)

    def _l3(self, side: int, depth: int) -> tuple[L3Level, ...]:
        engine = self._engine
        return tuple(
            L3Level(price=p, orders=tuple(L3Order(*o) for o in engine.orders_at(side, p)))
            for p in engine.top(side, depth)[0]
        )

    def top(self, side: Side | int, depth: int) -> tuple[list[int], list[int]]:
        """Return (prices, sizes) of the best ``depth`` levels of ``side``."""
        prices, sizes = self._engine.top(side, depth)
        return prices, sizes

    def top_equals(
        self,
        depth: int,
        ask_prices: list[int],
        ask_sizes: list[int],
        bid_prices: list[int],
        bid_sizes: list[int],
    ) -> bool:
        """Return True when the best ``depth`` levels equal the given lists."""
        return bool(self._engine.top_equals(depth, ask_prices, ask_sizes, bid_prices, bid_sizes))

    def depth_at(self, side: Side | int, price: int) -> int:
        """Return the total resting size at ``price`` on ``side`` (0 if no level)."""
        return int(self._engine.depth_at(side, price))

    def orders_at(self, side: Side | int, price: int) -> tuple[L3Order, ...]:
        """Return the orders resting at ``price`` on ``side`` in time priority."""
        return tuple(L3Order(*o) for o in self._engine.orders_at(side, price))

    def order(self, order_id: int) -> Order | None:
        """Return a snapshot of a live order, or None if it is not resting."""
        t = self._engine.order(order_id)
        if t is None:
            return None
        oid, side, price, qty, remaining, filled, account, otype, tif, stp, ts = t
        return Order(
            order_id=oid,
            side=_SIDES[side],
            price=price,
            qty=qty,
            remaining=remaining,
            filled=filled,
            account=account,
            order_type=OrderType(otype),
            tif=TimeInForce(tif),
            stp=SelfTradePrevention(stp),
            status=OrderStatus.PARTIALLY_FILLED if filled else OrderStatus.NEW,
            ts_event=ts,
        )

    def orders(self) -> Iterable[Order]:
        """Yield every live order (bids then asks, each in priority)."""
        for oid in self._engine.order_ids():
            snapshot = self.order(oid)
            if snapshot is not None:
                yield snapshot

    def fills(self) -> list[Fill]:
        """Return the retained fill history, oldest first."""
        return [_fill(t) for t in self._engine.fills()]

    # ------------------------------------------------------------------ snapshots

    def export_state(self) -> BookState:
        """Return everything needed to rebuild this book exactly (see ``restore``)."""
        return BookState(seq=self.seq, orders=tuple(self.orders()), fills=tuple(self.fills()))

    def restore(self, state: BookState) -> None:
        """Rebuild an empty book from ``state``; a bad state raises and leaves it empty."""
        engine = self._engine
        if len(engine) or engine.seq:
            msg = "invalid restore, the book must be empty and unused"
            raise DataError(msg)
        for o in state.orders:
            code = engine.restore_order(
                o.order_id, int(o.side), o.price, o.qty, o.remaining, o.filled, o.account,
                int(o.order_type), int(o.tif), int(o.stp), o.ts_event,
            )  # fmt: skip
            if code:
                self.__init__(fill_history=self._fill_history)  # type: ignore[misc]
                msg = f"invalid snapshot order {o.order_id}: {_REASON[code].name.lower()}"
                raise DataError(msg)
        engine.restore_history(
            state.seq,
            [
                (f.seq, f.maker_order_id, f.taker_order_id, f.price, f.qty, int(f.aggressor),
                 f.maker_account, f.taker_account, f.ts_event)
                for f in state.fills
            ],
        )  # fmt: skip
