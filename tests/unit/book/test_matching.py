"""Every matching rule and reject reason, on every built backend."""

from __future__ import annotations

from typing import Any

import pytest

from makerkit.book import make_book
from makerkit.core import (
    OrderStatus,
    OrderType,
    RejectReason,
    SelfTradePrevention,
    Side,
    TimeInForce,
)

BUY, SELL = Side.BUY, Side.SELL


@pytest.fixture
def book(backend: str) -> Any:
    return make_book(backend)


def state(book: Any) -> tuple[Any, ...]:
    """Everything observable about a book, to prove a reject changed nothing."""
    return (book.l3(100), book.seq, len(book), tuple(book.fills()))


def test_limit_orders_rest_and_form_levels(book: Any) -> None:
    assert book.submit(1, BUY, 100, 5).status is OrderStatus.NEW
    assert book.submit(2, BUY, 100, 3).status is OrderStatus.NEW
    assert book.submit(3, BUY, 99, 7).ok
    assert book.submit(4, SELL, 102, 4).ok
    snap = book.l2(10)
    assert [(lv.price, lv.size, lv.count) for lv in snap.bids] == [(100, 8, 2), (99, 7, 1)]
    assert [(lv.price, lv.size, lv.count) for lv in snap.asks] == [(102, 4, 1)]
    l1 = book.l1()
    assert (l1.bid_price, l1.bid_size, l1.ask_price, l1.ask_size) == (100, 8, 102, 4)
    assert l1.spread == 2
    assert book.best_bid() == (100, 8)
    assert book.best_ask() == (102, 4)


def test_price_time_priority_and_partial_fills(book: Any) -> None:
    book.submit(1, SELL, 101, 5)
    book.submit(2, SELL, 100, 5)
    book.submit(3, SELL, 100, 5)
    res = book.submit(4, BUY, 101, 12)
    assert res.status is OrderStatus.FILLED
    assert [(f.maker_order_id, f.price, f.qty) for f in res.fills] == [
        (2, 100, 5),
        (3, 100, 5),
        (1, 101, 2),
    ]
    assert all(f.taker_order_id == 4 and f.aggressor is Side.BUY for f in res.fills)
    assert book.order(1).remaining == 3
    assert book.order(1).status is OrderStatus.PARTIALLY_FILLED
    assert 2 not in book and 3 not in book


def test_limit_remainder_rests_after_matching(book: Any) -> None:
    book.submit(1, SELL, 100, 3)
    res = book.submit(2, BUY, 101, 10)
    assert res.status is OrderStatus.PARTIALLY_FILLED
    assert (res.filled, res.remaining) == (3, 7)
    assert book.best_bid() == (101, 7)
    assert book.best_ask() is None


def test_fill_prices_are_maker_prices_and_sequence_grows(book: Any) -> None:
    book.submit(1, BUY, 100, 2)
    book.submit(2, BUY, 99, 2)
    res = book.submit(3, SELL, 90, 4)
    assert [f.price for f in res.fills] == [100, 99]
    seqs = [res.seq] + [f.seq for f in res.fills]
    assert seqs == sorted(seqs) and len(set(seqs)) == 3
    assert book.seq == seqs[-1]
    assert [f.seq for f in book.fills()] == [f.seq for f in res.fills]


def test_market_order_sweeps_and_expires_rest(book: Any) -> None:
    book.submit(1, SELL, 100, 2)
    book.submit(2, SELL, 105, 2)
    res = book.submit(3, BUY, 0, 10, order_type=OrderType.MARKET)
    assert [(f.price, f.qty) for f in res.fills] == [(100, 2), (105, 2)]
    assert res.status is OrderStatus.EXPIRED
    assert (res.filled, res.remaining) == (4, 0)
    assert len(book) == 0


def test_market_order_on_empty_side_is_rejected(book: Any) -> None:
    book.submit(1, BUY, 100, 2)
    before = state(book)
    res = book.submit(2, BUY, 0, 1, order_type=OrderType.MARKET)
    assert (res.status, res.reason) == (OrderStatus.REJECTED, RejectReason.NO_LIQUIDITY)
    assert state(book) == before


def test_market_post_only_is_invalid(book: Any) -> None:
    book.submit(1, SELL, 100, 2)
    before = state(book)
    res = book.submit(2, BUY, 0, 1, order_type=OrderType.MARKET, tif=TimeInForce.POST_ONLY)
    assert res.reason is RejectReason.INVALID_TIF
    assert state(book) == before


def test_ioc_fills_what_it_can_and_never_rests(book: Any) -> None:
    book.submit(1, SELL, 100, 3)
    res = book.submit(2, BUY, 100, 5, tif=TimeInForce.IOC)
    assert (res.status, res.filled, res.remaining) == (OrderStatus.EXPIRED, 3, 0)
    assert book.best_bid() is None
    res = book.submit(3, BUY, 100, 5, tif=TimeInForce.IOC)
    assert (res.status, res.filled) == (OrderStatus.EXPIRED, 0)
    assert len(book) == 0


def test_fok_fills_completely_or_changes_nothing(book: Any) -> None:
    book.submit(1, SELL, 100, 3)
    book.submit(2, SELL, 101, 3)
    before = state(book)
    res = book.submit(3, BUY, 101, 7, tif=TimeInForce.FOK)
    assert (res.status, res.reason) == (OrderStatus.REJECTED, RejectReason.FOK_NOT_FILLABLE)
    assert state(book) == before
    res = book.submit(4, BUY, 100, 4, tif=TimeInForce.FOK)
    assert res.reason is RejectReason.FOK_NOT_FILLABLE
    res = book.submit(5, BUY, 101, 6, tif=TimeInForce.FOK)
    assert (res.status, res.filled) == (OrderStatus.FILLED, 6)
    assert len(book) == 0


def test_post_only_rests_or_is_rejected(book: Any) -> None:
    book.submit(1, SELL, 100, 3)
    before = state(book)
    res = book.submit(2, BUY, 100, 1, tif=TimeInForce.POST_ONLY)
    assert res.reason is RejectReason.POST_ONLY_WOULD_CROSS
    assert state(book) == before
    assert book.submit(3, BUY, 99, 1, tif=TimeInForce.POST_ONLY).status is OrderStatus.NEW


def test_cancel_removes_and_unknown_is_rejected(book: Any) -> None:
    book.submit(1, BUY, 100, 5)
    res = book.cancel(1)
    assert res.status is OrderStatus.CANCELED
    assert len(book) == 0 and book.best_bid() is None
    before = state(book)
    assert book.cancel(1).reason is RejectReason.UNKNOWN_ORDER
    assert book.cancel(77).reason is RejectReason.UNKNOWN_ORDER
    assert state(book) == before


def test_modify_size_down_keeps_priority(book: Any) -> None:
    book.submit(1, BUY, 100, 5)
    book.submit(2, BUY, 100, 5)
    res = book.modify(1, qty=2)
    assert res.ok and res.remaining == 2
    assert [o.order_id for o in book.l3().bids[0].orders] == [1, 2]
    assert book.l2().bids[0].size == 7


def test_modify_size_up_or_price_change_loses_priority(book: Any) -> None:
    book.submit(1, BUY, 100, 5)
    book.submit(2, BUY, 100, 5)
    book.submit(3, BUY, 100, 5)
    book.modify(1, qty=6)
    assert [o.order_id for o in book.l3().bids[0].orders] == [2, 3, 1]
    book.modify(2, price=99)
    book.modify(2, price=100)
    assert [o.order_id for o in book.l3().bids[0].orders] == [3, 1, 2]


def test_modify_into_the_spread_matches(book: Any) -> None:
    book.submit(1, SELL, 101, 2)
    book.submit(2, BUY, 99, 5)
    res = book.modify(2, price=101)
    assert [(f.maker_order_id, f.qty) for f in res.fills] == [(1, 2)]
    assert res.status is OrderStatus.PARTIALLY_FILLED
    assert book.best_bid() == (101, 3)


def test_modify_rejects_change_nothing(book: Any) -> None:
    book.submit(1, SELL, 101, 2)
    book.submit(2, BUY, 99, 5, tif=TimeInForce.POST_ONLY)
    before = state(book)
    assert book.modify(2, price=101).reason is RejectReason.POST_ONLY_WOULD_CROSS
    assert book.modify(2, qty=0).reason is RejectReason.NON_POSITIVE_QTY
    assert book.modify(2, price=-1).reason is RejectReason.NON_POSITIVE_PRICE
    assert book.modify(9, qty=1).reason is RejectReason.UNKNOWN_ORDER
    assert state(book) == before


def test_reduce_keeps_priority_and_full_reduce_cancels(book: Any) -> None:
    book.submit(1, SELL, 100, 5)
    book.submit(2, SELL, 100, 5)
    assert book.reduce(1, 2).remaining == 3
    assert [o.order_id for o in book.l3().asks[0].orders] == [1, 2]
    assert book.reduce(1, 3).status is OrderStatus.CANCELED
    assert book.reduce(2, 0).reason is RejectReason.NON_POSITIVE_QTY
    assert book.reduce(1, 1).reason is RejectReason.UNKNOWN_ORDER


def test_execute_trades_a_named_resting_order(book: Any) -> None:
    book.submit(1, SELL, 100, 5)
    book.submit(2, SELL, 100, 5)
    res = book.execute(2, 3)
    assert [(f.maker_order_id, f.taker_order_id, f.qty, f.aggressor) for f in res.fills] == [
        (2, 0, 3, Side.BUY)
    ]
    assert res.status is OrderStatus.PARTIALLY_FILLED
    before = state(book)
    assert book.execute(2, 3).reason is RejectReason.QTY_EXCEEDS_REMAINING
    assert book.execute(2, 0).reason is RejectReason.NON_POSITIVE_QTY
    assert book.execute(3, 1).reason is RejectReason.UNKNOWN_ORDER
    assert state(book) == before
    assert book.execute(2, 2).status is OrderStatus.FILLED
    assert 2 not in book


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"order_id": 0}, RejectReason.INVALID_ORDER_ID),
        ({"order_id": -5}, RejectReason.INVALID_ORDER_ID),
        ({"side": 0}, RejectReason.INVALID_FIELD),
        ({"qty": 0}, RejectReason.NON_POSITIVE_QTY),
        ({"qty": -3}, RejectReason.NON_POSITIVE_QTY),
        ({"price": 0}, RejectReason.NON_POSITIVE_PRICE),
        ({"order_id": 1}, RejectReason.DUPLICATE_ORDER_ID),
        ({"tif": 9}, RejectReason.INVALID_TIF),
        ({"stp": 7}, RejectReason.INVALID_FIELD),
        ({"order_type": 5}, RejectReason.INVALID_FIELD),
    ],
)
def test_invalid_submissions_are_rejected_untouched(
    book: Any, kwargs: dict[str, int], reason: RejectReason
) -> None:
    book.submit(1, BUY, 100, 5)
    before = state(book)
    args = {"order_id": 2, "side": BUY, "price": 100, "qty": 1} | kwargs
    res = book.submit(
        args.pop("order_id"), args.pop("side"), args.pop("price"), args.pop("qty"), **args
    )
    assert (res.status, res.reason) == (OrderStatus.REJECTED, reason)
    assert res.seq == 0 and not res.fills
    assert state(book) == before


def test_stp_cancel_newest_stops_the_incoming_order(book: Any) -> None:
    book.submit(1, SELL, 100, 2, account=7)
    book.submit(2, SELL, 100, 2, account=8)
    book.submit(3, SELL, 101, 2, account=7)
    res = book.submit(4, BUY, 101, 6, account=8, stp=SelfTradePrevention.CANCEL_NEWEST)
    assert [(f.maker_order_id, f.qty) for f in res.fills] == [(1, 2)]
    assert (res.status, res.reason) == (OrderStatus.CANCELED, RejectReason.SELF_TRADE)
    assert book.order(2) is not None and 4 not in book


def test_stp_cancel_oldest_removes_resting_and_continues(book: Any) -> None:
    book.submit(1, SELL, 100, 2, account=8)
    book.submit(2, SELL, 100, 2, account=7)
    res = book.submit(3, BUY, 100, 3, account=8, stp=SelfTradePrevention.CANCEL_OLDEST)
    assert res.canceled == (1,)
    assert [(f.maker_order_id, f.qty) for f in res.fills] == [(2, 2)]
    assert res.status is OrderStatus.PARTIALLY_FILLED
    assert book.best_bid() == (100, 1)


def test_stp_cancel_both(book: Any) -> None:
    book.submit(1, SELL, 100, 2, account=8)
    book.submit(2, SELL, 100, 2, account=7)
    res = book.submit(3, BUY, 100, 3, account=8, stp=SelfTradePrevention.CANCEL_BOTH)
    assert res.canceled == (1,)
    assert not res.fills
    assert (res.status, res.reason) == (OrderStatus.CANCELED, RejectReason.SELF_TRADE)
    assert book.best_ask() == (100, 2) and book.best_bid() is None


def test_stp_none_and_anonymous_accounts_may_self_trade(book: Any) -> None:
    book.submit(1, SELL, 100, 2, account=8)
    res = book.submit(2, BUY, 100, 1, account=8, stp=SelfTradePrevention.NONE)
    assert [f.qty for f in res.fills] == [1]
    book.submit(3, SELL, 100, 2)
    res = book.submit(4, BUY, 100, 3)
    assert sum(f.qty for f in res.fills) == 3


def test_fok_with_stp_counts_only_tradable_liquidity(book: Any) -> None:
    book.submit(1, SELL, 100, 5, account=8)
    book.submit(2, SELL, 100, 2, account=7)
    before = state(book)
    res = book.submit(3, BUY, 100, 3, account=8, tif=TimeInForce.FOK)
    assert res.reason is RejectReason.FOK_NOT_FILLABLE
    assert state(book) == before
    res = book.submit(
        4, BUY, 100, 2, account=8, tif=TimeInForce.FOK, stp=SelfTradePrevention.CANCEL_OLDEST
    )
    assert res.status is OrderStatus.FILLED and res.canceled == (1,)


def test_views_l3_orders_and_fill_history_bound(backend: str) -> None:
    book = make_book(backend, fill_history=2)
    for oid in range(1, 4):
        book.submit(oid, SELL, 100, 1, account=oid)
    book.submit(10, BUY, 100, 3)
    assert [f.maker_order_id for f in book.fills()] == [2, 3]
    book.submit(11, BUY, 98, 1, account=4)
    l3 = book.l3()
    assert [(o.order_id, o.qty, o.account) for o in l3.bids[0].orders] == [(11, 1, 4)]
    assert [o.order_id for o in book.orders()] == [11]
    assert book.depth_at(BUY, 98) == 1 and book.depth_at(SELL, 100) == 0
    assert book.remaining(11) == 1 and book.remaining(10) == 0
