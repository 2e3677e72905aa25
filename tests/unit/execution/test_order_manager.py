"""The order manager on ladders: keep what is close, respect the minimum life, pull at once."""

from __future__ import annotations

from makerkit.core import Level, OpenOrder, QuoteIntent
from makerkit.execution import Cancel, LiveQuote, OrderManager, Place


def order(oid: int, side: int, price: int, size: int = 1, placed: int = 0) -> OpenOrder:
    return OpenOrder(order_id=oid, side=side, price=price, size=size, left=size, placed_ns=placed)


def test_a_ladder_is_placed_best_first_and_a_matching_one_is_left_alone() -> None:
    m = OrderManager()
    rungs = [Level(98, 1), Level(100, 1), Level(99, 2)]
    cmds = m.plan_side(1, rungs, [], 0)
    assert cmds == [Place(side=1, price=100, size=1), Place(side=1, price=99, size=2),
                    Place(side=1, price=98, size=1)]  # fmt: skip
    resting = [order(1, 1, 100), order(2, 1, 99, 2), order(3, 1, 98)]
    assert m.plan_side(1, rungs, resting, 10) == []


def test_a_shifted_ladder_moves_only_the_rungs_that_changed() -> None:
    m = OrderManager()
    resting = [order(1, -1, 101), order(2, -1, 102), order(3, -1, 103)]
    cmds = m.plan_side(-1, [Level(102, 1), Level(103, 1), Level(104, 1)], resting, 5)
    assert cmds == [Cancel(order_id=1), Place(side=-1, price=104, size=1)]


def test_two_rungs_at_one_price_are_one_order_and_the_size_cap_applies() -> None:
    m = OrderManager(max_order_size=3)
    cmds = m.plan_side(1, [Level(50, 2), Level(50, 2), Level(49, 0)], [], 0)
    assert cmds == [Place(side=1, price=50, size=3)]


def test_young_orders_stand_for_unmatched_rungs_but_an_empty_side_is_pulled_at_once() -> None:
    m = OrderManager(min_quote_life_ns=100)
    resting = [order(1, 1, 100, placed=50), order(2, 1, 99, placed=0)]
    # at t=120 order 1 is young (70 ns), order 2 is not: 1 stays for the new best rung
    cmds = m.plan_side(1, [Level(101, 1), Level(97, 1)], resting, 120)
    assert cmds == [Cancel(order_id=2), Place(side=1, price=97, size=1)]
    assert m.plan_side(1, [], resting, 120) == [Cancel(order_id=1), Cancel(order_id=2)]


def test_tolerances_keep_a_nearby_order() -> None:
    m = OrderManager(price_tolerance=1, size_tolerance=1)
    resting = [order(1, -1, 105, size=3)]
    assert m.plan_side(-1, [Level(104, 2)], resting, 0) == []
    assert m.plan_side(-1, [Level(103, 2)], resting, 0) == [
        Cancel(order_id=1),
        Place(side=-1, price=103, size=2),
    ]


def test_the_one_level_plan_is_the_ladder_rule_with_one_rung() -> None:
    m = OrderManager(min_quote_life_ns=10, price_tolerance=1)
    live: dict[int, LiveQuote | None] = {
        1: LiveQuote(order_id=7, side=1, price=100, size=1, placed_ns=0),
        -1: LiveQuote(order_id=8, side=-1, price=103, size=1, placed_ns=0),
    }
    intent = QuoteIntent(bid_price=98, bid_size=1, ask_price=104, ask_size=1)
    assert m.plan(intent, live, 20) == [Cancel(order_id=7), Place(side=1, price=98, size=1)]
    assert m.plan(QuoteIntent.none(), live, 5) == [Cancel(order_id=7), Cancel(order_id=8)]
