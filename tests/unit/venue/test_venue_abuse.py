"""The venue against hostile clients and admin mistakes (issue 14, items 3, 7, 8 and 12).

Every message counts against its account's rate and is refused under a kill
switch; open orders are capped per account; heavy cancels and listings come in
slices and pages; admin commands for missing accounts change nothing; a new
admin key replaces the old one across a restart. All of it replays exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest

from makerkit.core import (
    ConfigError,
    Instrument,
    NotAuthorized,
    OrderStatus,
    OrderType,
    RejectReason,
    Side,
    SimClock,
    TimeInForce,
    UnknownAccount,
    rejection,
)
from makerkit.core.errors import RiskLimitBreached
from makerkit.risk import MONEY_SCALE, RiskLimits, RiskManager
from makerkit.venue import (
    CancelAll,
    CancelOrder,
    Journal,
    JournaledVenue,
    ModifyOrder,
    NewOrder,
    Outcome,
    Role,
    Trade,
    Venue,
)

BUY, SELL = Side.BUY, Side.SELL
T0 = 1_700_000_000_000_000_000
SECOND = 1_000_000_000
DAY = 86_400 * SECOND
INSTRUMENTS = [Instrument(symbol="AAA", tick_size="0.01"), Instrument(symbol="BBB")]


def make_venue(
    backend: str, limits: RiskLimits | None = None, **kw: Any
) -> tuple[Venue, SimClock, int, int]:
    clock = SimClock(T0)
    venue = Venue(INSTRUMENTS, clock=clock, risk=RiskManager(limits), backend=backend, **kw)
    alice, _ = venue.add_account("alice", api_key="key-alice")
    bob, _ = venue.add_account("bob", api_key="key-bob")
    return venue, clock, alice.account_id, bob.account_id


def order(symbol: str, side: Side, price: int | None, qty: int, **kw: Any) -> NewOrder:
    return NewOrder(symbol=symbol, side=side, price=price, qty=qty, **kw)


def unknown_cancel(venue: Venue, account: int) -> Outcome:
    return venue.cancel(account, CancelOrder(symbol="AAA", order_id=999_999))


def unknown_modify(venue: Venue, account: int) -> Outcome:
    return venue.modify(account, ModifyOrder(symbol="AAA", order_id=999_999, qty=1))


def closed_cancel(venue: Venue, account: int) -> Outcome:
    return venue.cancel(account, CancelOrder(symbol="AAA", client_order_id="closed"))


def cancel_all(venue: Venue, account: int) -> Outcome | None:
    """The refusal, or None for an accepted cancel-all (of nothing: nothing is open)."""
    outs = venue.cancel_all(account, CancelAll())
    assert outs == [] or Venue.refusal(outs) is not None
    return Venue.refusal(outs)


MESSAGES: dict[str, Callable[[Venue, int], Outcome | None]] = {
    "cancel_unknown": unknown_cancel,
    "cancel_closed": closed_cancel,
    "modify_unknown": unknown_modify,
    "cancel_all": cancel_all,
    "order_unknown_symbol": lambda v, a: v.submit(a, order("ZZZ", BUY, 1, 1)),
}


# ---------------------------------------------------------------- item 3: rate and kill


@pytest.mark.parametrize("kind", sorted(MESSAGES))
def test_every_message_counts_against_the_rate(backend: str, kind: str) -> None:
    venue, clock, alice, bob = make_venue(backend)
    placed = venue.submit(alice, order("AAA", BUY, 100, 1, client_order_id="closed")).update
    venue.cancel(alice, CancelOrder(symbol="AAA", order_id=placed.order_id))
    venue.risk.set_limits(RiskLimits(max_msgs_per_sec=20, burst=20), account=alice)
    send = MESSAGES[kind]
    # a flood at 100x the rate within one second: only the burst gets through
    answers = []
    for _ in range(2_000):
        clock.advance_by(SECOND // 2_000)
        out = send(venue, alice)
        answers.append(RejectReason.NONE if out is None else out.update.reason)
    limited = answers.count(RejectReason.RATE_LIMIT)
    assert 2_000 - 20 - 20 - 1 <= limited <= 2_000 - 20
    # the refusals were audited against the rate rule; bob is not affected
    assert list(venue.risk.audit_for(alice))[-1].rule == "rate_limit"
    assert venue.submit(bob, order("AAA", BUY, 100, 1)).accepted


@pytest.mark.parametrize("kind", sorted(MESSAGES))
@pytest.mark.parametrize("venue_wide", [False, True])
def test_a_killed_account_is_refused_every_message(
    backend: str, kind: str, *, venue_wide: bool
) -> None:
    venue, _, alice, _ = make_venue(backend)
    placed = venue.submit(alice, order("AAA", BUY, 100, 1, client_order_id="closed")).update
    venue.cancel(alice, CancelOrder(symbol="AAA", order_id=placed.order_id))
    venue.kill(None if venue_wide else alice, "test")
    out = MESSAGES[kind](venue, alice)
    assert out is not None
    assert (out.update.status, out.update.reason) == (
        OrderStatus.REJECTED,
        RejectReason.KILL_SWITCH,
    )
    assert out.events == (out.update,)  # the refusal is the account's next private event


def test_a_refused_cancel_all_cancels_nothing_and_says_so(backend: str) -> None:
    venue, _, alice, _ = make_venue(backend, RiskLimits(max_msgs_per_sec=1, burst=3))
    ids = [venue.submit(alice, order("AAA", BUY, 100 + i, 1)).update.order_id for i in range(3)]
    outs = venue.cancel_all(alice, CancelAll(symbol="AAA"))
    refused = Venue.refusal(outs)
    assert refused is not None and len(outs) == 1
    update = refused.update
    assert (update.status, update.reason, update.order_id) == (
        OrderStatus.REJECTED,
        RejectReason.RATE_LIMIT,
        0,
    )
    assert update.symbol == "AAA" and update.account == alice
    assert [o.order_id for o in venue.open_orders(alice)] == ids
    # the reason maps to the exception a server raises for it
    assert isinstance(rejection(update.reason), RiskLimitBreached)
    # the operator's follow-up slices are not rate checked
    done = venue.cancel_all(alice, CancelAll(symbol="AAA", rate_checked=False))
    assert Venue.refusal(done) is None
    assert [o.update.order_id for o in done] == ids and venue.open_count(alice) == 0
    assert Venue.refusal([]) is None  # an accepted cancel-all of nothing


def test_the_venues_own_cancel_alls_are_not_rate_checked(backend: str) -> None:
    limit = 50 * MONEY_SCALE
    venue, clock, alice, bob = make_venue(backend)
    carol = venue.add_account("carol")[0].account_id
    venue.risk.set_limits(
        RiskLimits(max_msgs_per_sec=1, burst=3, daily_loss_limit=limit), account=alice
    )
    venue.submit(alice, order("AAA", BUY, 1_000, 10))
    venue.submit(alice, order("AAA", BUY, 900, 1))
    venue.submit(alice, order("AAA", BUY, 899, 1))  # alice's bucket is now empty
    venue.submit(bob, order("AAA", SELL, 1_000, 10))
    venue.submit(bob, order("AAA", SELL, 995, 1))
    venue.submit(bob, order("AAA", BUY, 985, 5))
    clock.advance_by(1)
    out = venue.submit(carol, order("AAA", SELL, 985, 1))  # marks alice 100 tick-lots down
    assert any(isinstance(e, Trade) for e in out.events)
    assert venue.risk.is_killed(alice)
    assert venue.open_count(alice) == 0  # the daily-loss trip cancelled both, no tokens needed
    # and a manual kill cancels however many orders the account has
    venue.reset(alice)
    venue.risk.set_limits(RiskLimits(max_msgs_per_sec=1, burst=2), account=bob)
    for i in range(2):
        venue.submit(bob, order("BBB", BUY, 10 + i, 1))
    assert venue.submit(bob, order("BBB", BUY, 20, 1)).update.reason is RejectReason.RATE_LIMIT
    assert venue.open_count(bob) == 4  # two resting from before, two new
    assert [o.update.status for o in venue.kill(bob)] == [OrderStatus.CANCELED] * 4
    assert venue.open_count(bob) == 0


def test_refusing_an_order_keeps_the_first_answer_of_its_client_id(backend: str) -> None:
    venue, clock, alice, _ = make_venue(backend, RiskLimits(max_msgs_per_sec=1, burst=1))
    first = venue.submit(alice, order("AAA", BUY, 100, 1, client_order_id="x"))
    assert first.accepted
    again = venue.submit(alice, order("AAA", BUY, 100, 1, client_order_id="x"))
    assert again.update.reason is RejectReason.RATE_LIMIT  # a repeat is a message too
    clock.advance_by(SECOND)
    assert venue.submit(alice, order("AAA", BUY, 100, 1, client_order_id="x")).update is (
        first.update
    )


# ---------------------------------------------------------------- item 7: caps, slices, pages


def test_open_orders_are_capped_per_account(backend: str) -> None:
    venue, _, alice, bob = make_venue(backend, max_open_orders=3)
    ids = [venue.submit(alice, order("AAA", BUY, 100 + i, 1)).update.order_id for i in range(3)]
    capped = venue.submit(alice, order("BBB", BUY, 1, 1, client_order_id="over"))
    assert (capped.update.status, capped.update.reason) == (
        OrderStatus.REJECTED,
        RejectReason.MAX_OPEN_ORDERS,
    )
    assert isinstance(rejection(RejectReason.MAX_OPEN_ORDERS), RiskLimitBreached)
    assert venue.open_count(alice) == 3
    # orders that cannot rest are still taken; other accounts have their own count
    assert venue.submit(bob, order("AAA", SELL, 200, 5)).accepted
    ioc = venue.submit(alice, order("AAA", BUY, 200, 1, tif=TimeInForce.IOC))
    assert ioc.update.status is OrderStatus.FILLED
    market = venue.submit(alice, order("AAA", BUY, None, 1, order_type=OrderType.MARKET))
    assert market.update.status is OrderStatus.FILLED
    assert venue.submit(bob, order("AAA", BUY, 100, 1)).accepted
    # a cancel makes room
    venue.cancel(alice, CancelOrder(symbol="AAA", order_id=ids[0]))
    assert venue.submit(alice, order("AAA", BUY, 99, 1)).accepted
    # the cap is a venue setting: kept in snapshots, changed by a command
    restored = Venue.restore(venue.snapshot(), backend=backend)
    assert restored.max_open_orders == 3
    assert restored.submit(alice, order("AAA", BUY, 98, 1)).update.reason is (
        RejectReason.MAX_OPEN_ORDERS
    )
    restored.set_max_open_orders(None)
    assert restored.submit(alice, order("AAA", BUY, 98, 1)).accepted
    with pytest.raises(ConfigError, match="max_open_orders"):
        restored.set_max_open_orders(0)
    with pytest.raises(ConfigError, match="max_open_orders"):
        Venue(INSTRUMENTS, clock=SimClock(0), max_open_orders=0)


def test_cancel_all_in_slices_takes_the_oldest_up_to_a_pinned_id(backend: str) -> None:
    venue, clock, alice, _ = make_venue(backend)
    ids = []
    for i in range(10):
        clock.advance_by(1)
        ids.append(venue.submit(alice, order("AAA" if i % 3 else "BBB", BUY, 10 + i, 1)))
    oids = [o.update.order_id for o in ids]
    # modifying an order keeps its place in the oldest-first order
    venue.modify(alice, ModifyOrder(symbol="AAA", order_id=oids[1], price=50, qty=2))
    pinned = venue.last_order_id
    assert pinned == oids[-1]
    late = venue.submit(alice, order("AAA", BUY, 5, 1)).update.order_id  # after the request
    first = venue.cancel_all(alice, CancelAll(limit=4, max_order_id=pinned))
    assert [o.update.order_id for o in first] == oids[:4]
    rest: list[int] = []
    while True:
        page = venue.cancel_all(alice, CancelAll(limit=4, max_order_id=pinned, rate_checked=False))
        rest.extend(o.update.order_id for o in page)
        if len(page) < 4:
            break
    assert rest == oids[4:]
    assert [o.order_id for o in venue.open_orders(alice)] == [late]
    # a symbol narrows a slice
    more = [venue.submit(alice, order(s, BUY, 7, 1)).update for s in ("BBB", "AAA", "BBB")]
    sliced = venue.cancel_all(alice, CancelAll(symbol="BBB", limit=1))
    assert [o.update.order_id for o in sliced] == [more[0].order_id]
    with pytest.raises(ConfigError, match="limit"):
        CancelAll(limit=0)
    with pytest.raises(msgspec.ValidationError, match="limit"):
        msgspec.json.decode(b'{"limit": -1}', type=CancelAll)


def test_open_orders_and_fills_come_in_pages(backend: str) -> None:
    venue, clock, alice, bob = make_venue(backend)
    assert venue.last_order_id == 0 and venue.open_count(alice) == 0
    for i in range(25):
        clock.advance_by(1)
        venue.submit(alice, order("AAA" if i % 2 else "BBB", SELL, 1_000 + i, 2))
    for _ in range(12):
        clock.advance_by(1)
        venue.submit(bob, order("AAA", BUY, 2_000, 1))
        venue.submit(bob, order("BBB", BUY, 2_000, 1))
    everything = venue.open_orders(alice)
    assert venue.open_count(alice) == len(everything)
    pages: list[Any] = []
    after = 0
    while page := venue.open_orders(alice, after=after, limit=4):
        assert len(page) <= 4
        pages.extend(page)
        after = page[-1].order_id
    assert pages == everything
    assert (
        venue.open_orders(alice, "AAA", after=0, limit=2)
        == [o for o in everything if o.symbol == "AAA"][:2]
    )
    assert venue.open_orders(alice, limit=0) == []
    fills = venue.fills(alice)
    assert len(fills) == 24
    got: list[Any] = []
    after_seq = 0
    while fill_page := venue.fills(alice, after_seq=after_seq, limit=5):
        got.extend(fill_page)
        after_seq = fill_page[-1].seq
    assert got == fills
    assert venue.fills(alice, "BBB", after_seq=fills[3].seq) == [
        f for f in fills[4:] if f.symbol == "BBB"
    ]
    with pytest.raises(ConfigError, match="limit"):
        venue.fills(alice, limit=-1)
    with pytest.raises(ConfigError, match="limit"):
        venue.open_orders(alice, limit=-1)


# ---------------------------------------------------------------- item 8: unknown accounts


def test_admin_commands_for_a_missing_account_change_nothing(backend: str) -> None:
    venue, _, alice, _ = make_venue(backend)
    audit = list(venue.risk.audit)
    before = venue.snapshot()
    missing = 3  # the id the next account will get
    with pytest.raises(UnknownAccount, match="unknown account 3"):
        venue.kill(missing, "typo")
    with pytest.raises(UnknownAccount):
        venue.reset(missing)
    with pytest.raises(UnknownAccount):
        venue.set_limits(RiskLimits(max_order_qty=1), account=missing)
    with pytest.raises(UnknownAccount):
        venue.rotate_key(missing, Venue.hash_key("k"))
    assert list(venue.risk.audit) == audit and venue.snapshot() == before
    # the account created later is born like any other: not killed, default limits
    carol = venue.add_account("carol")[0].account_id
    assert carol == missing and not venue.risk.is_killed(carol)
    assert venue.submit(carol, order("AAA", BUY, 100, 5)).accepted
    assert venue.risk.limits_for(carol, "*") == RiskLimits()
    venue.set_limits(RiskLimits(max_order_qty=1), account=alice)
    assert venue.risk.limits_for(alice, "AAA").max_order_qty == 1


def test_kill_switches_venue_wide_and_per_account_are_independent(backend: str) -> None:
    venue, _, alice, bob = make_venue(backend)
    venue.kill(alice, "alice only")
    venue.kill(None, "halt")
    venue.reset(None)  # lifts the halt, not alice's own switch
    assert venue.submit(bob, order("AAA", BUY, 100, 1)).accepted
    assert venue.submit(alice, order("AAA", BUY, 100, 1)).update.reason is RejectReason.KILL_SWITCH
    venue.kill(None, "halt again")
    venue.reset(alice)  # lifts alice's switch, not the halt
    assert venue.submit(alice, order("AAA", BUY, 100, 1)).update.reason is RejectReason.KILL_SWITCH
    venue.reset(None)
    venue.reset(None)  # a switch that is off: nothing changes
    venue.reset(bob)
    assert venue.submit(alice, order("AAA", BUY, 100, 1)).accepted


def test_a_reset_starts_the_daily_loss_count_afresh(backend: str) -> None:
    limit = 50 * MONEY_SCALE
    venue, clock, alice, bob = make_venue(backend, RiskLimits(daily_loss_limit=limit))
    carol = venue.add_account("carol")[0].account_id
    venue.submit(alice, order("AAA", BUY, 1_000, 10))
    venue.submit(bob, order("AAA", SELL, 1_000, 10))
    venue.submit(bob, order("AAA", SELL, 995, 1))
    venue.submit(bob, order("AAA", BUY, 985, 5))
    clock.advance_by(1)
    venue.submit(carol, order("AAA", SELL, 985, 1))  # alice 100 tick-lots down
    assert venue.risk.is_killed(alice)
    venue.reset(alice)
    # the market does not move: the loss before the reset is not counted again
    clock.advance_by(1)
    venue.submit(carol, order("AAA", SELL, 985, 1))
    assert not venue.risk.is_killed(alice)
    assert venue.risk.state(alice, clock.now_ns()).daily_pnl_micro == 0
    # a further 60 tick-lots down trips it again
    venue.submit(bob, order("AAA", SELL, 989, 1))
    venue.submit(bob, order("AAA", BUY, 977, 1))
    clock.advance_by(1)
    venue.submit(carol, order("AAA", SELL, 977, 1))  # mid (977 + 989) / 2 = 983: -20 more
    venue.submit(bob, order("AAA", BUY, 965, 1))
    venue.submit(carol, order("AAA", SELL, 965, 2))
    assert venue.risk.state(alice, clock.now_ns()).daily_pnl_micro < -limit
    assert venue.risk.is_killed(alice)


def test_reading_the_risk_state_changes_no_later_decision(backend: str) -> None:
    """A REST read on a new day must not move that day's loss baseline (replay has no reads)."""
    limit = 50 * MONEY_SCALE

    def run(*, read: bool) -> bytes:
        venue, clock, alice, bob = make_venue(backend, RiskLimits(daily_loss_limit=limit))
        carol = venue.add_account("carol")[0].account_id
        out = [
            venue.submit(alice, order("AAA", BUY, 1_000, 10)),
            venue.submit(bob, order("AAA", SELL, 1_000, 10)),
            venue.submit(bob, order("AAA", SELL, 1_005, 1)),
            venue.submit(bob, order("AAA", BUY, 995, 5)),
        ]
        clock.advance_by(DAY)  # a new day
        if read:
            venue.risk.state(alice, clock.now_ns())
        out.append(venue.submit(carol, order("AAA", SELL, 985, 5)))  # the price falls
        out.append(venue.submit(bob, order("AAA", SELL, 990, 1)))
        out.append(venue.submit(carol, order("AAA", BUY, 990, 1)))
        out.append(venue.submit(alice, order("AAA", SELL, 2_000, 1)))
        return (
            msgspec.json.encode([o.events for o in out]) + str(venue.risk.is_killed(alice)).encode()
        )

    assert run(read=True) == run(read=False)


# ---------------------------------------------------------------- item 12: key rotation


def test_rotating_a_key_retires_the_old_one(backend: str) -> None:
    venue, _, alice, bob = make_venue(backend)
    account = venue.rotate_key(alice, Venue.hash_key("new-alice"))
    assert account.account_id == alice
    assert venue.authenticate("new-alice").account_id == alice
    with pytest.raises(NotAuthorized):
        venue.authenticate("key-alice")
    with pytest.raises(ConfigError, match="already in use"):
        venue.rotate_key(alice, Venue.hash_key("key-bob"))
    assert venue.authenticate("key-bob").account_id == bob
    assert venue.authenticate("new-alice").account_id == alice
    venue.rotate_key(alice, Venue.hash_key("new-alice"))  # the same key: nothing changes
    restored = Venue.restore(venue.snapshot(), backend=backend)
    assert restored.authenticate("new-alice").account_id == alice


def test_a_new_admin_key_replaces_the_old_one_across_restarts(tmp_path: Path) -> None:
    pytest.importorskip("fastapi")
    from makerkit.server._service import VenueService

    path = str(tmp_path / "venue.db")

    def start(key: str) -> VenueService:
        return VenueService(INSTRUMENTS, journal_path=path, clock=SimClock(T0), admin_key=key)

    first = start("old-admin-key")
    admin = first.venue.authenticate("old-admin-key", admin=True)
    trader, trader_key = first.jv.add_account("trader")
    first.jv.close()
    second = start("new-admin-key")
    assert second.venue.authenticate("new-admin-key", admin=True) == admin
    with pytest.raises(NotAuthorized):
        second.venue.authenticate("old-admin-key")
    assert second.venue.authenticate(trader_key) == trader
    commands = second.jv.journal.durable_seq
    second.jv.close()
    third = start("new-admin-key")  # the same key again: nothing to rotate
    assert third.jv.journal.durable_seq == commands
    assert third.venue.authenticate("new-admin-key", admin=True) == admin
    assert [a.role for a in third.venue.accounts()] == [Role.ADMIN, Role.TRADER]
    third.jv.close()
    with pytest.raises(ConfigError, match="already in use"):
        start(trader_key)  # a trader's key cannot become the admin's


def test_admin_kill_of_a_missing_account_answers_404(tmp_path: Path, backend: str) -> None:
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from makerkit.server import create_app
    from tests.unit.server.conftest import ADMIN, make_settings

    with TestClient(create_app(make_settings(tmp_path, backend))) as client:
        h = {"X-API-Key": ADMIN}
        for path in ("/admin/kill", "/admin/reset"):
            res = client.post(path, json={"account_id": 5, "reason": "typo"}, headers=h)
            assert res.status_code == 404 and res.json()["code"] == "UNKNOWN_ACCOUNT", res.text
        res = client.put("/admin/limits", json={"account_id": 5, "max_order_qty": 1}, headers=h)
        assert res.status_code == 404 and res.json()["code"] == "UNKNOWN_ACCOUNT", res.text
        made = client.post("/admin/accounts", json={"name": "five"}, headers=h).json()
        assert made["account_id"] == 2  # the admin is 1
        key = {"X-API-Key": made["api_key"]}
        body = {"symbol": "AAA", "side": "buy", "qty": "1", "price": "1"}
        assert client.post("/orders", json=body, headers=key).json()["status"] == "new"


def test_cancel_on_disconnect_is_not_refused_by_the_rate_limit(
    tmp_path: Path, backend: str
) -> None:
    """The account spent its tokens: the cancel-all of its disconnect still runs."""
    pytest.importorskip("fastapi")
    import json

    from fastapi.testclient import TestClient

    from makerkit.server import create_app
    from tests.unit.server.conftest import ADMIN, make_settings

    app = create_app(make_settings(tmp_path, backend))
    with TestClient(app) as client:
        h = {"X-API-Key": ADMIN}
        made = client.post("/admin/accounts", json={"name": "flooder"}, headers=h).json()
        limits = {"account_id": made["account_id"], "max_msgs_per_sec": 0.01, "burst": 2}
        assert client.put("/admin/limits", json=limits, headers=h).status_code == 200
        url = f"/ws/private?api_key={made['api_key']}&cancel_on_disconnect=true"
        with client.websocket_connect(url) as ws:
            for i in range(2):
                body = {"op": "order", "symbol": "BBB", "side": "buy", "qty": "1", "price": "5"}
                ws.send_text(json.dumps({**body, "req_id": i}))
            acks = 0
            while acks < 2:
                frame = ws.receive_json()
                acks += sum(
                    m.get("type") == "ack" for m in (frame if isinstance(frame, list) else [frame])
                )
        venue = app.state.service.venue  # its own reads would spend tokens it has not got
        assert venue.open_count(made["account_id"]) == 0


# ---------------------------------------------------------------- determinism


def drive(jv: JournaledVenue, clock: SimClock) -> list[Any]:
    """A hostile mix: floods past the rate, kills, refusals, slices, caps, rotations."""
    a = jv.add_account("alice", api_key="ka", api_secret="sa")[0].account_id
    b = jv.add_account("bob", api_key="kb", api_secret="sb")[0].account_id
    jv.add_account("ops", role=Role.ADMIN, api_key="kadmin", api_secret="sadmin")
    jv.set_limits(RiskLimits(max_msgs_per_sec=50, burst=10), account=a, symbol=None)
    jv.set_max_open_orders(8)
    out: list[Any] = []
    for i in range(300):
        clock.advance_by(3_000_000 + (i * 7919) % 1_000_000)
        who = a if i % 3 else b
        sym = "AAA" if i % 2 else "BBB"
        side = BUY if (i * 5) % 7 < 3 else SELL
        price = 1_000 + (i * 11) % 9 - 4
        out.append(jv.submit(who, order(sym, side, price, 1 + i % 4, client_order_id=f"o{i}")))
        if i % 4 == 0:
            out.append(jv.cancel(who, CancelOrder(symbol=sym, order_id=10_000 + i)))
        if i % 5 == 0:
            out.append(
                jv.modify(who, ModifyOrder(symbol="AAA", client_order_id=f"o{i - 3}", qty=2))
            )
        if i % 23 == 0:
            pinned = jv.venue.last_order_id
            out.extend(jv.cancel_all(who, CancelAll(limit=2, max_order_id=pinned)))
            out.extend(
                jv.cancel_all(who, CancelAll(limit=2, max_order_id=pinned, rate_checked=False))
            )
        if i == 150:
            out.extend(jv.kill(a, "flood"))
            jv.rotate_key(b, "kb2")
        if i == 200:
            jv.reset(a)
            jv.set_max_open_orders(4)
        with pytest.raises(UnknownAccount):
            jv.kill(99, "nobody")
    return out


def test_the_hostile_mix_replays_exactly(tmp_path: Path, backend: str) -> None:
    path = tmp_path / "venue.db"

    def live() -> tuple[bytes, JournaledVenue]:
        clock = SimClock(T0)
        journal = Journal(path if not path.exists() else tmp_path / "again.db")
        jv = JournaledVenue(INSTRUMENTS, journal=journal, clock=clock, backend=backend)
        events = msgspec.json.encode(
            [o.events if isinstance(o, Outcome) else o for o in drive(jv, clock)]
        )
        jv.flush()
        return events, jv

    events, first = live()
    again, second = live()
    assert events == again  # the same commands and clock: the same bytes
    assert b'"reason":20' in events and b'"reason":22' in events and b'"reason":24' in events
    want = first.venue.snapshot()
    assert second.venue.snapshot() == want
    first.journal.close()
    replayed = JournaledVenue(
        INSTRUMENTS, journal=Journal(path), clock=SimClock(0), backend=backend
    )
    assert replayed.venue.snapshot() == want  # the journal rebuilds it byte for byte
    assert replayed.venue.authenticate("kb2").name == "bob"
    with pytest.raises(NotAuthorized):
        replayed.venue.authenticate("kb")
    assert replayed.venue.max_open_orders == 4


def test_a_snapshot_from_before_this_change_is_not_used() -> None:
    from makerkit.venue._venue import SNAPSHOT_FORMAT

    assert not SNAPSHOT_FORMAT.endswith("/venue-1")


def test_old_journals_with_admin_commands_for_no_one_still_recover(tmp_path: Path) -> None:
    """Before the fix a reset or limits for a missing account was applied and journaled."""
    path = tmp_path / "venue.db"
    clock = SimClock(T0)
    jv = JournaledVenue(INSTRUMENTS, journal=Journal(path), clock=clock)
    jv.add_account("alice", api_key="ka")
    for kind, payload in (
        ("reset", {"account": 7}),
        ("limits", {"limits": {"max_order_qty": 1}, "account": 7, "symbol": None}),
    ):
        jv.journal.append(clock.now_ns(), 0, kind, msgspec.json.encode(payload))
    jv.submit(1, order("AAA", BUY, 100, 1))
    jv.flush()
    jv.journal.close()
    again = JournaledVenue(INSTRUMENTS, journal=Journal(path), clock=SimClock(0))
    assert again.recovered == 4 and again.venue.open_count(1) == 1


def test_the_hostile_mix_gives_the_same_bytes_on_both_engines(tmp_path: Path) -> None:
    from makerkit.book import available_backends

    engines = available_backends()
    if len(engines) < 2:
        pytest.skip("one book engine built")
    runs = []
    for engine in engines:
        clock = SimClock(T0)
        journal = Journal(tmp_path / f"{engine}.db")
        jv = JournaledVenue(INSTRUMENTS, journal=journal, clock=clock, backend=engine)
        outs = drive(jv, clock)
        runs.append(msgspec.json.encode([o.events if isinstance(o, Outcome) else o for o in outs]))
        jv.journal.close()
    assert all(run == runs[0] for run in runs)
