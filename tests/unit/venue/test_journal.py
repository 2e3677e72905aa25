"""Journal and recovery: a venue rebuilt from its journal equals the one that wrote it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec

from makerkit.core import Instrument, Side, SimClock
from makerkit.risk import RiskLimits
from makerkit.venue import (
    CancelAll,
    CancelOrder,
    Journal,
    JournaledVenue,
    ModifyOrder,
    NewOrder,
    Role,
)

INSTRUMENTS = [Instrument(symbol="AAA"), Instrument(symbol="BBB", tick_size="0.5")]


def state(jv: JournaledVenue) -> Any:
    v = jv.venue
    accounts = [a.account_id for a in v.accounts()]
    return msgspec.to_builtins(
        {
            "books": [v.book(s).l3(10_000) for s in ("AAA", "BBB")],
            "seq": [v.public_seq(s) for s in ("AAA", "BBB")],
            "open": [v.open_orders(a) for a in accounts],
            "fills": [v.fills(a) for a in accounts],
            "positions": [v.risk.positions(a) for a in accounts],
            "killed": [v.risk.is_killed(a) for a in accounts],
        }
    )


def drive(jv: JournaledVenue, clock: SimClock) -> None:
    a, _ = jv.add_account("alice", api_key="ka")
    b, _ = jv.add_account("bob", api_key="kb")
    jv.add_account("ops", role=Role.ADMIN, api_key="kadmin")
    jv.set_limits(RiskLimits(max_order_qty=40), account=a.account_id, symbol=None)
    for i in range(400):
        clock.advance_by(997 + i % 13)
        who = a.account_id if i % 2 else b.account_id
        sym = "AAA" if i % 3 else "BBB"
        side = Side.BUY if (i * 5) % 7 < 3 else Side.SELL
        jv.submit(
            who,
            NewOrder(
                symbol=sym,
                side=side,
                price=1000 + (i * 11) % 9 - 4,
                qty=1 + i % 45,
                client_order_id=f"o{i}",
            ),
        )
        if i % 17 == 0:
            jv.cancel(who, CancelOrder(symbol=sym, client_order_id=f"o{i - 2}"))
        if i % 29 == 0:
            jv.modify(who, ModifyOrder(symbol="AAA", client_order_id=f"o{i - 1}", qty=2))
        if i % 101 == 0:
            jv.cancel_all(who, CancelAll(symbol="BBB"))
    jv.kill(b.account_id, "test")


def test_recovery_rebuilds_everything_exactly(tmp_path: Path, backend: str) -> None:
    path = tmp_path / "venue.db"
    clock = SimClock(1_700_000_000_000_000_000)
    first = JournaledVenue(INSTRUMENTS, journal=Journal(path), clock=clock, backend=backend)
    drive(first, clock)
    first.flush()
    want = state(first)
    first.journal.close()
    second = JournaledVenue(INSTRUMENTS, journal=Journal(path), clock=SimClock(0), backend=backend)
    assert second.recovered > 400
    assert state(second) == want
    assert second.venue.authenticate("kb").name == "bob"
    # the same client order id after recovery still gives the same answer
    again = second.submit(
        1, NewOrder(symbol="AAA", side=Side.BUY, price=1, qty=1, client_order_id="o3")
    )
    assert again.update.client_order_id == "o3" and again.update.price != 1


def test_unflushed_commands_are_not_durable(tmp_path: Path) -> None:
    path = tmp_path / "venue.db"
    clock = SimClock(1)
    jv = JournaledVenue(INSTRUMENTS, journal=Journal(path), clock=clock)
    jv.add_account("alice", api_key="ka")
    assert jv.flush() == 1
    jv.submit(1, NewOrder(symbol="AAA", side=Side.BUY, price=10, qty=1))
    assert jv.journal.durable_seq == 1 and jv.journal.appended_seq == 2
    reopened = JournaledVenue(INSTRUMENTS, journal=Journal(path), clock=clock)
    assert reopened.recovered == 1 and reopened.venue.open_orders(1) == []
