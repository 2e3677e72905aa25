"""The venue: lifecycle, fees, sequences, idempotency, isolation, risk, kill switches."""

from __future__ import annotations

import pickle
from typing import Any

import msgspec
import pytest

from makerkit.core import (
    Instrument,
    NotAuthorized,
    OrderStatus,
    OrderType,
    RejectReason,
    Side,
    SimClock,
    TimeInForce,
)
from makerkit.risk import MONEY_SCALE, RiskLimits, RiskManager
from makerkit.venue import (
    BookDelta,
    CancelAll,
    CancelOrder,
    FeeSchedule,
    FillReport,
    ModifyOrder,
    NewOrder,
    OrderUpdate,
    Role,
    Trade,
    Venue,
)

BUY, SELL = Side.BUY, Side.SELL
T0 = 1_700_000_000_000_000_000


def make_venue(
    backend: str, limits: RiskLimits | None = None, **kw: Any
) -> tuple[Venue, SimClock, int, int, int]:
    clock = SimClock(T0)
    venue = Venue(
        [Instrument(symbol="AAA", tick_size="0.01"), Instrument(symbol="BBB", tick_size="0.5")],
        clock=clock,
        risk=RiskManager(limits),
        fees=FeeSchedule(maker_ppm=-100, taker_ppm=300),
        backend=backend,
        **kw,
    )
    alice, _ = venue.add_account("alice", api_key="key-alice")
    bob, _ = venue.add_account("bob", api_key="key-bob")
    admin, _ = venue.add_account("ops", role=Role.ADMIN, api_key="key-admin")
    return venue, clock, alice.account_id, bob.account_id, admin.account_id


def order(symbol: str, side: Side, price: int | None, qty: int, **kw: Any) -> NewOrder:
    return NewOrder(symbol=symbol, side=side, price=price, qty=qty, **kw)


def test_auth_keys_roles_and_hashing(backend: str) -> None:
    venue, *_ = make_venue(backend)
    assert venue.authenticate("key-bob").name == "bob"
    assert venue.authenticate("key-admin", admin=True).role is Role.ADMIN
    with pytest.raises(NotAuthorized):
        venue.authenticate("nope")
    with pytest.raises(NotAuthorized):
        venue.authenticate(None)
    with pytest.raises(NotAuthorized, match="not an admin"):
        venue.authenticate("key-alice", admin=True)
    assert "key-alice" not in repr(vars(venue))  # only hashes are kept
    _, key = venue.add_account("carol")
    assert len(key) >= 32 and venue.authenticate(key).name == "carol"


def test_fill_flow_fees_positions_and_sequences(backend: str) -> None:
    venue, clock, alice, bob, _ = make_venue(backend)
    rest = venue.submit(alice, order("AAA", SELL, 10_000, 5, client_order_id="a1"))
    assert rest.update.status is OrderStatus.NEW and rest.update.order_id > 0
    clock.advance_by(1000)
    hit = venue.submit(bob, order("AAA", BUY, 10_001, 3))
    assert hit.update.status is OrderStatus.FILLED
    trades = [e for e in hit.events if isinstance(e, Trade)]
    fills = [e for e in hit.events if isinstance(e, FillReport)]
    assert [(t.price, t.qty, t.aggressor) for t in trades] == [(10_000, 3, BUY)]
    maker = next(f for f in fills if f.account == alice)
    taker = next(f for f in fills if f.account == bob)
    assert (maker.liquidity, maker.fee) == ("maker", -100 * 30_000)
    assert (taker.liquidity, taker.fee) == ("taker", 300 * 30_000)
    assert maker.client_order_id == "a1" and maker.trade_seq == trades[0].seq
    assert venue.risk.position(alice, "AAA").qty == -3
    assert venue.risk.position(bob, "AAA").qty == 3
    assert [o.remaining for o in venue.open_orders(alice)] == [2]
    assert venue.order(alice, rest.update.order_id).status is OrderStatus.PARTIALLY_FILLED
    # private sequences run 1, 2, 3... per account; public ones per symbol
    private = [
        e.seq
        for e in (*rest.events, *hit.events)
        if isinstance(e, (OrderUpdate, FillReport)) and e.account == alice
    ]
    assert private == list(range(1, len(private) + 1))
    public = [e.seq for e in (*rest.events, *hit.events) if isinstance(e, (Trade, BookDelta))]
    assert public == list(range(1, len(public) + 1)) and venue.public_seq("AAA") == public[-1]
    assert venue.public_seq("BBB") == 0


def test_book_deltas_rebuild_the_book(backend: str) -> None:
    venue, clock, alice, bob, _ = make_venue(backend)
    mirror: dict[tuple[int, int], int] = {}
    commands = [
        (alice, order("AAA", SELL, 10_005, 4)),
        (alice, order("AAA", SELL, 10_006, 4)),
        (bob, order("AAA", BUY, 10_000, 7)),
        (bob, order("AAA", BUY, 10_006, 6)),
        (alice, order("AAA", SELL, 9_990, 20, tif=TimeInForce.IOC)),
        (bob, order("AAA", BUY, 0, 1, order_type=OrderType.MARKET)),
    ]
    for account, cmd in commands:
        clock.advance_by(10)
        for e in venue.submit(account, cmd).events:
            if isinstance(e, BookDelta):
                mirror[(int(e.side), e.price)] = e.size
    l2 = venue.book("AAA").l2(50)
    want = {(1, lv.price): lv.size for lv in l2.bids} | {(-1, lv.price): lv.size for lv in l2.asks}
    assert {k: v for k, v in mirror.items() if v} == want


def test_idempotent_client_order_ids(backend: str) -> None:
    venue, _, alice, _, _ = make_venue(backend)
    first = venue.submit(alice, order("AAA", BUY, 9_000, 1, client_order_id="x"))
    again = venue.submit(alice, order("AAA", BUY, 9_500, 9, client_order_id="x"))
    assert again.update is first.update and len(venue.open_orders(alice)) == 1
    bad = venue.submit(alice, order("ZZZ", BUY, 1, 1, client_order_id="y"))
    assert bad.update.reason is RejectReason.UNKNOWN_SYMBOL
    assert venue.submit(alice, order("AAA", BUY, 1, 1, client_order_id="y")).update is bad.update


def test_a_repeated_order_that_traded_emits_nothing_again(backend: str) -> None:
    venue, _, alice, bob, _ = make_venue(backend)
    venue.submit(alice, order("AAA", SELL, 9_000, 5))
    first = venue.submit(bob, order("AAA", BUY, 9_000, 2, client_order_id="t"))
    assert any(isinstance(e, FillReport) for e in first.events)
    seq, fills = venue.public_seq("AAA"), (venue.fills(alice), venue.fills(bob))
    again = venue.submit(bob, order("AAA", BUY, 9_000, 2, client_order_id="t"))
    # the same ack; no second trade, book delta or fill report to publish
    assert again.update == first.update and again.events == ()
    assert venue.public_seq("AAA") == seq and (venue.fills(alice), venue.fills(bob)) == fills


def test_accounts_cannot_touch_each_others_orders(backend: str) -> None:
    venue, _, alice, bob, _ = make_venue(backend)
    mine = venue.submit(alice, order("AAA", BUY, 9_000, 1, client_order_id="c")).update
    for out in (
        venue.cancel(bob, CancelOrder(symbol="AAA", order_id=mine.order_id)),
        venue.cancel(bob, CancelOrder(symbol="AAA", client_order_id="c")),
        venue.modify(bob, ModifyOrder(symbol="AAA", order_id=mine.order_id, qty=5)),
    ):
        assert out.update.reason is RejectReason.UNKNOWN_ORDER and out.update.account == bob
    assert venue.order(bob, mine.order_id) is None
    assert venue.cancel_all(bob) == []
    assert venue.open_orders(alice)[0].remaining == 1
    assert venue.fills(bob) == []


def test_cancel_cancel_all_and_modify(backend: str) -> None:
    venue, _, alice, _, _ = make_venue(backend)
    ids = [
        venue.submit(alice, order(sym, BUY, 100, 1)).update.order_id
        for sym in ("AAA", "AAA", "BBB")
    ]
    out = venue.cancel(alice, CancelOrder(symbol="AAA", order_id=ids[0]))
    assert out.update.status is OrderStatus.CANCELED
    assert (
        venue.cancel(alice, CancelOrder(symbol="AAA", order_id=ids[0])).update.reason
        is RejectReason.UNKNOWN_ORDER
    )
    moved = venue.modify(alice, ModifyOrder(symbol="AAA", order_id=ids[1], price=101, qty=3))
    assert (moved.update.price, moved.update.remaining) == (101, 3)
    assert venue.book("AAA").best_bid() == (101, 3)
    assert [o.update.symbol for o in venue.cancel_all(alice, CancelAll(symbol="BBB"))] == ["BBB"]
    assert [o.order_id for o in venue.open_orders(alice)] == [ids[1]]
    assert len(venue.cancel_all(alice)) == 1 and venue.open_orders(alice) == []


@pytest.mark.parametrize(
    ("limits", "cmd", "reason"),
    [
        (RiskLimits(max_order_qty=5), order("AAA", BUY, 100, 6), RejectReason.MAX_ORDER_QTY),
        (RiskLimits(max_notional=1000), order("AAA", BUY, 101, 10), RejectReason.MAX_NOTIONAL),
        (RiskLimits(max_position=10), order("AAA", BUY, 99, 8), RejectReason.MAX_POSITION),
        (RiskLimits(collar_ticks=50), order("AAA", BUY, 10_100, 1), RejectReason.PRICE_COLLAR),
    ],
)
def test_pre_trade_rules_reject_and_audit(
    backend: str, limits: RiskLimits, cmd: NewOrder, reason: RejectReason
) -> None:
    venue, _, alice, bob, _ = make_venue(backend)
    venue.submit(bob, order("AAA", SELL, 10_010, 5))
    venue.submit(bob, order("AAA", BUY, 9_990, 5))  # mid 10,000
    venue.submit(alice, order("AAA", BUY, 98, 3))  # 3 lots already open on the buy side
    venue.risk.set_limits(limits, account=alice)
    before = venue.book("AAA").l3(100)
    out = venue.submit(alice, cmd)
    assert (out.update.status, out.update.reason) == (OrderStatus.REJECTED, reason)
    assert venue.book("AAA").l3(100) == before
    record = list(venue.risk.audit_for(alice))[-1]
    assert (record.decision, record.rule) == ("reject", reason.name.lower())
    assert record.limit and record.value


def test_the_mid_judges_a_market_orders_notional_and_a_collar_only(backend: str) -> None:
    """A limit order is judged at its own price; the mid is read for a market order or a collar."""
    venue, _, alice, bob, _ = make_venue(backend)
    venue.submit(bob, order("AAA", SELL, 10_010, 50))
    venue.submit(bob, order("AAA", BUY, 9_990, 50))  # mid 10,000
    venue.risk.set_limits(RiskLimits(max_notional=50_000), account=alice)
    market = order("AAA", BUY, None, 6, order_type=OrderType.MARKET)  # 6 x 10,000 at the mid
    assert venue.submit(alice, market).update.reason is RejectReason.MAX_NOTIONAL
    assert venue.submit(alice, order("AAA", BUY, 8_000, 6)).accepted  # 48,000 at its price
    venue.risk.set_limits(RiskLimits(collar_ticks=100), account=alice)
    assert venue.submit(alice, order("AAA", BUY, 9_900, 1)).accepted  # 100 from the mid
    far = venue.submit(alice, order("AAA", BUY, 9_899, 1))
    assert far.update.reason is RejectReason.PRICE_COLLAR


def test_the_limits_an_account_gets_follow_every_change() -> None:
    """Limits are looked up once per (account, symbol) until one changes, then afresh."""
    risk = RiskManager()
    assert risk.limits_for(7, "AAA") == RiskLimits()
    risk.set_limits(RiskLimits(max_order_qty=9))  # the default
    assert risk.limits_for(7, "AAA").max_order_qty == 9
    risk.set_limits(RiskLimits(max_order_qty=5), symbol="AAA")
    assert risk.limits_for(7, "AAA").max_order_qty == 5
    assert risk.limits_for(7, "BBB").max_order_qty == 9
    risk.set_limits(RiskLimits(max_order_qty=3), account=7)
    assert risk.limits_for(7, "AAA").max_order_qty == 3
    risk.set_limits(RiskLimits(max_order_qty=1), account=7, symbol="AAA")
    assert risk.limits_for(7, "AAA").max_order_qty == 1
    assert risk.limits_for(8, "AAA").max_order_qty == 5
    # what was looked up is no part of the state: a snapshot is the same either way
    fresh = RiskManager()
    for limits, where in (
        (RiskLimits(max_order_qty=9), {}),
        (RiskLimits(max_order_qty=5), {"symbol": "AAA"}),
        (RiskLimits(max_order_qty=3), {"account": 7}),
        (RiskLimits(max_order_qty=1), {"account": 7, "symbol": "AAA"}),
    ):
        fresh.set_limits(limits, **where)
    assert pickle.dumps(fresh) == pickle.dumps(risk)
    restored = pickle.loads(pickle.dumps(risk))  # noqa: S301 - our own bytes
    assert restored.limits_for(7, "BBB").max_order_qty == 3
    restored.set_limits(RiskLimits(max_order_qty=2), account=7)
    assert restored.limits_for(7, "BBB").max_order_qty == 2


def test_rate_limit_and_duplicate_window(backend: str) -> None:
    venue, clock, alice, _, _ = make_venue(
        backend, RiskLimits(max_msgs_per_sec=2, burst=2, duplicate_window_ns=1_000_000)
    )
    assert venue.submit(alice, order("AAA", BUY, 100, 1)).accepted
    dup = venue.submit(alice, order("AAA", BUY, 100, 1))
    assert dup.update.reason is RejectReason.DUPLICATE_ORDER
    limited = venue.submit(alice, order("AAA", BUY, 101, 1))
    assert limited.update.reason is RejectReason.RATE_LIMIT
    clock.advance_by(1_000_000_000)  # a second refills the bucket
    assert venue.submit(alice, order("AAA", BUY, 100, 1)).accepted


def test_daily_loss_kill_switch_cancels_and_blocks_until_reset(backend: str) -> None:
    limit = 50 * MONEY_SCALE  # 50 tick-lots
    venue, clock, alice, bob, _ = make_venue(backend, RiskLimits(daily_loss_limit=limit))
    venue.submit(alice, order("AAA", BUY, 1_000, 10))  # alice long 10 @ 10.00 once hit
    venue.submit(alice, order("AAA", BUY, 900, 1, client_order_id="deep"))
    venue.submit(bob, order("AAA", SELL, 1_000, 10))
    assert venue.risk.position(alice, "AAA").qty == 10
    # the market falls: a trade at 98.50 with quotes 98.50 / 99.50 marks alice to the
    # 99.00 mid, 10 ticks x 10 lots = 100 tick-lots down, beyond the 50 allowed
    carol, _ = venue.add_account("carol")
    venue.submit(bob, order("AAA", SELL, 995, 1))
    venue.submit(bob, order("AAA", BUY, 985, 5))
    assert not venue.risk.is_killed(alice)  # marks move on trades
    clock.advance_by(1)
    out = venue.submit(carol.account_id, order("AAA", SELL, 985, 1))
    assert any(isinstance(e, Trade) for e in out.events)
    assert venue.risk.position(alice, "AAA").unrealized == -100
    assert venue.risk.is_killed(alice)
    assert venue.open_orders(alice) == []  # her resting orders were cancelled
    blocked = venue.submit(alice, order("AAA", BUY, 900, 1))
    assert blocked.update.reason is RejectReason.KILL_SWITCH
    assert any(r.rule == "daily_loss" and r.decision == "trip" for r in venue.risk.audit_for(alice))
    venue.reset(alice)
    assert venue.submit(alice, order("AAA", BUY, 900, 1)).accepted


def test_manual_and_venue_wide_kill_switch(backend: str) -> None:
    venue, _, alice, bob, _ = make_venue(backend)
    venue.submit(alice, order("AAA", BUY, 100, 1))
    venue.submit(bob, order("AAA", BUY, 100, 1))
    cancelled = venue.kill(alice, "manual test")
    assert [o.update.status for o in cancelled] == [OrderStatus.CANCELED]
    assert venue.submit(alice, order("AAA", BUY, 100, 1)).update.reason is RejectReason.KILL_SWITCH
    assert venue.submit(bob, order("AAA", BUY, 100, 1)).accepted
    venue.kill(None, "venue halt")
    assert venue.open_orders(bob) == []
    assert venue.submit(bob, order("AAA", BUY, 100, 1)).update.reason is RejectReason.KILL_SWITCH
    venue.reset(None)
    venue.reset(alice)
    assert venue.submit(alice, order("AAA", BUY, 100, 1)).accepted
    state = venue.risk.state(alice, T0)
    assert not state.killed and not state.venue_killed


def test_same_commands_and_clock_give_the_same_events(backend: str) -> None:
    def run() -> bytes:
        venue, clock, alice, bob, _ = make_venue(backend, RiskLimits(max_order_qty=50))
        out = []
        for i in range(300):
            clock.advance_by(1_000 + i)
            who = alice if i % 2 else bob
            side = BUY if (i * 7) % 3 else SELL
            price = 10_000 + ((i * 13) % 9) - 4
            out.append(
                venue.submit(who, order("AAA", side, price, 1 + (i % 60), client_order_id=f"c{i}"))
            )
            if i % 5 == 0:
                out.extend(venue.cancel_all(who, CancelAll(symbol="AAA")))
        return msgspec.json.encode([o.events for o in out])

    assert run() == run()


def test_unknown_account_is_not_authorized(backend: str) -> None:
    venue, *_ = make_venue(backend)
    with pytest.raises(NotAuthorized):
        venue.submit(99, order("AAA", BUY, 1, 1))


def test_history_is_bounded_and_old_client_ids_are_never_reused(backend: str) -> None:
    venue, clock, alice, bob, _ = make_venue(backend, history_limit=5)
    for i in range(40):
        clock.advance_by(1)
        venue.submit(alice, order("AAA", SELL, 9_000, 1, client_order_id=f"s{i}"))
        venue.submit(bob, order("AAA", BUY, 9_000, 1, client_order_id=f"b{i}"))  # trades
    venue.submit(alice, order("AAA", SELL, 9_100, 1, client_order_id="open"))
    # memory holds the open order, at most 2x the limit of finished ones, and capped fills
    assert len(venue._orders) <= 2 * 5 + 1 + 2
    assert len(venue.fills(alice)) <= 2 * 5 and len(venue.fills(bob)) <= 2 * 5
    assert venue.fills(bob)[-1].client_order_id == "b39"
    # a recent client id gets its first answer again; a forgotten one is refused, never placed
    recent = venue.submit(bob, order("AAA", BUY, 9_000, 1, client_order_id="b39"))
    assert recent.events == () and recent.update.status is OrderStatus.FILLED
    seq = venue.public_seq("AAA")
    old = venue.submit(bob, order("AAA", BUY, 9_100, 1, client_order_id="b0"))
    assert old.update.status is OrderStatus.REJECTED
    assert old.update.reason is RejectReason.DUPLICATE_ORDER_ID
    assert venue.open_orders(alice)[0].client_order_id == "open"  # untouched
    assert venue.public_seq("AAA") == seq and venue.open_orders(bob) == []
