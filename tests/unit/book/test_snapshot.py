"""Book snapshots: export_state / restore rebuild a book exactly, in either engine."""

from __future__ import annotations

import random

import pytest

from makerkit.book import available_backends, make_book
from makerkit.core import BookState, DataError, Order, Side


def busy_book(backend: str, seed: int = 3) -> object:
    rng = random.Random(seed)
    book = make_book(backend, fill_history=64)
    for i in range(1, 2500):
        side = rng.choice((1, -1))
        book.submit(
            i, side, 100 + rng.randint(-8, 8), rng.randint(1, 9), account=rng.randint(1, 3), ts=i
        )
        if rng.random() < 0.3:
            book.cancel(rng.randint(1, i))
        if rng.random() < 0.1:
            book.modify(rng.randint(1, i), qty=rng.randint(1, 4))
    return book


def continue_trading(book: object, seed: int) -> list[object]:
    rng = random.Random(seed)
    out = []
    for i in range(5000, 6500):
        side = rng.choice((1, -1))
        out.append(
            book.submit(
                i,
                side,
                100 + rng.randint(-8, 8),
                rng.randint(1, 20),
                account=rng.randint(1, 3),
                ts=i,
            )
        )
        if rng.random() < 0.2:
            out.append(book.cancel(rng.randint(1, i)))
    return out


@pytest.mark.parametrize("target", available_backends())
def test_restore_rebuilds_queues_sequence_and_history(backend: str, target: str) -> None:
    book = busy_book(backend)
    state = book.export_state()
    assert state.orders and state.fills and state.seq > 0
    copy = make_book(target, fill_history=64)
    copy.restore(state)
    assert copy.export_state() == state
    assert copy.l3(1000) == book.l3(1000)
    # the same commands from here give the same fills, in the same queue order
    assert continue_trading(copy, seed=9) == continue_trading(book, seed=9)
    assert copy.export_state() == book.export_state()


def order(order_id: int, side: Side, price: int, **kw: int) -> Order:
    fields = {"qty": 5, "remaining": 5} | kw
    return Order(order_id=order_id, side=side, price=price, **fields)


@pytest.mark.parametrize(
    ("orders", "reason"),
    [
        ((order(1, Side.BUY, 100), order(1, Side.BUY, 99)), "duplicate_order_id"),
        ((order(1, Side.BUY, 100), order(2, Side.SELL, 100)), "invalid_field"),  # crosses
        ((order(1, Side.BUY, 100, remaining=6),), "non_positive_qty"),
        ((order(1, Side.BUY, 0),), "non_positive_price"),
        ((order(0, Side.BUY, 100),), "invalid_order_id"),
    ],
)
def test_a_bad_state_raises_and_leaves_the_book_empty(
    backend: str, orders: tuple[Order, ...], reason: str
) -> None:
    book = make_book(backend)
    with pytest.raises(DataError, match=reason):
        book.restore(BookState(seq=7, orders=orders))
    assert len(book) == 0 and book.seq == 0 and book.best_bid() is None


def test_restore_needs_an_unused_book(backend: str) -> None:
    book = make_book(backend)
    book.submit(1, 1, 100, 1)
    with pytest.raises(DataError, match="empty"):
        book.restore(BookState(seq=0, orders=()))
    assert book.remaining(1) == 1
