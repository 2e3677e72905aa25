"""Hypothesis state machine: book invariants hold after every command, on every backend."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from makerkit.book import available_backends, make_book
from makerkit.core import OrderStatus
from makerkit.testing import BookCommand, book_commands


class BookMachine(RuleBasedStateMachine):
    """Keeps a shadow of resting orders built only from command results."""

    def __init__(self) -> None:
        super().__init__()
        self.book: Any = None
        self.shadow: dict[int, list[int]] = {}  # order id -> [side, price, remaining, priority]
        self.priority = 0
        self.last_seq = 0

    @initialize(backend=st.sampled_from(available_backends()))
    def start(self, backend: str) -> None:
        self.book = make_book(backend)

    @rule(cmd=book_commands())
    def command(self, cmd: BookCommand) -> None:
        before = self.book.l3(1000)
        res = cmd.apply(self.book)
        if res.status is OrderStatus.REJECTED:
            assert res.seq == 0 and not res.fills
            assert self.book.l3(1000) == before, "a rejected command changed the book"
            return
        assert res.seq > self.last_seq
        seqs = [f.seq for f in res.fills]
        assert seqs == sorted(seqs) and (not seqs or seqs[0] > res.seq)
        self.last_seq = max([res.seq, *seqs])
        for fill in res.fills:
            maker = self.shadow[fill.maker_order_id]
            assert fill.price == maker[1]
            maker[2] -= fill.qty
            assert maker[2] >= 0
            if maker[2] == 0:
                del self.shadow[fill.maker_order_id]
        for oid in res.canceled:
            del self.shadow[oid]
        oid = cmd.order_id
        if cmd.kind in ("submit", "market"):
            assert sum(f.qty for f in res.fills) == res.filled
            assert res.filled + res.remaining <= cmd.qty
            if res.remaining:
                self.priority += 1
                self.shadow[oid] = [cmd.side, cmd.price, res.remaining, self.priority]
        elif cmd.kind in ("cancel",):
            del self.shadow[oid]
        elif cmd.kind in ("reduce", "execute"):
            if res.remaining == 0:
                self.shadow.pop(oid, None)
            else:
                self.shadow[oid][2] = res.remaining
        elif cmd.kind == "modify":
            old = self.shadow.pop(oid)
            if res.remaining:
                price = cmd.price or old[1]
                keeps = price == old[1] and res.remaining <= old[2] and not res.fills
                if not keeps:
                    self.priority += 1
                self.shadow[oid] = [
                    old[0],
                    price,
                    res.remaining,
                    old[3] if keeps else self.priority,
                ]

    @invariant()
    def never_crossed(self) -> None:
        if self.book is None:
            return
        bid, ask = self.book.best_bid(), self.book.best_ask()
        if bid and ask:
            assert bid[0] < ask[0]

    @invariant()
    def levels_match_orders_and_shadow(self) -> None:
        if self.book is None:
            return
        l2 = self.book.l2(1000)
        l3 = self.book.l3(1000)
        seen: dict[int, list[int]] = {}
        for side, levels, orders in ((1, l2.bids, l3.bids), (-1, l2.asks, l3.asks)):
            prices = [lv.price for lv in levels]
            assert prices == sorted(prices, reverse=side == 1)
            for lv, l3lv in zip(levels, orders, strict=True):
                assert lv.price == l3lv.price
                assert lv.size == sum(o.qty for o in l3lv.orders) > 0
                assert lv.count == len(l3lv.orders)
                prio = [self.shadow[o.order_id][3] for o in l3lv.orders]
                assert prio == sorted(prio), "FIFO violated within a level"
                for o in l3lv.orders:
                    seen[o.order_id] = [side, lv.price, o.qty]
        assert seen == {k: v[:3] for k, v in self.shadow.items()}
        assert len(self.book) == len(seen)


BookMachine.TestCase.settings = settings(
    max_examples=150,
    stateful_step_count=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestBookMachine = BookMachine.TestCase


@pytest.mark.parametrize("backend", available_backends())
def test_quantity_is_conserved_over_a_long_random_stream(backend: str) -> None:
    """Every lot entered is resting, filled (twice: maker and taker side) or cancelled."""
    import numpy as np

    from makerkit.backtest import apply_stream
    from makerkit.data import synthetic_stream

    stream = synthetic_stream(20_000, seed=3)
    book = make_book(backend)
    stats = apply_stream(book, stream)
    assert stats.fills > 1000 and stats.accepted > 10_000
    resting = sum(o.remaining for o in book.orders())
    l2 = book.l2(10_000)
    assert resting == sum(lv.size for lv in (*l2.bids, *l2.asks))
    assert np.all(np.diff([f.seq for f in book.fills()]) > 0)
