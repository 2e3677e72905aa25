"""The fsync runs on the journal's thread: the loop goes on, showing and acking nothing early."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")

from makerkit.core import Side
from makerkit.server import _service
from makerkit.server._service import Subscriber, VenueService
from makerkit.server._ws import _subscribe
from makerkit.venue import Journal, NewOrder, Sealed
from makerkit.wire import WsSubscribe, parse_ws_request
from tests.unit.server.test_durability import (
    frames,
    open_venue,
    order,
    run,
    service,
    state,
    writer,  # noqa: F401 - each test, each writer
)


class Gates:
    """Each commit waits until the test lets it through: a slow disk, one batch at a time.

    The Python writer's commit runs on the journal's thread and is held there.
    The native writer's thread needs no Python, so its batch is held by SQLite
    itself: a connection of the test's holds the journal's write lock, and the
    writer waits for it (a busy timeout) before it writes anything.
    """

    def __init__(self, monkeypatch: pytest.MonkeyPatch, svc: VenueService) -> None:
        self.arrived = threading.Semaphore(0)
        self.passes = threading.Semaphore(0)
        self.threads: list[str] = []
        self.native = svc.jv.journal.writer == "native"
        # one batch at a time, so each pass is one batch (test_pipelined_commits holds several)
        monkeypatch.setattr(_service, "_IN_FLIGHT", 1)
        if self.native:
            self._native(monkeypatch, svc)
            return
        real = Journal.commit

        def gated(journal: Journal, sealed: Sealed) -> None:
            self.threads.append(threading.current_thread().name)
            self.arrived.release()
            assert self.passes.acquire(timeout=10)  # the disk is slow: the loop must not wait
            real(journal, sealed)

        monkeypatch.setattr(Journal, "commit", gated)

    def _native(self, monkeypatch: pytest.MonkeyPatch, svc: VenueService) -> None:
        journal = svc.jv.journal
        journal.pragma("busy_timeout = 20000")  # the writer waits for the lock, never fails
        self.lock = sqlite3.connect(journal.path, isolation_level=None)
        self.held = False
        self.credit = 0  # passes given before their commit came
        real = Journal.commit_later

        def gated(journal: Journal, sealed: Sealed) -> int:
            if self.credit:
                self.credit -= 1
            else:
                self.lock.execute("BEGIN IMMEDIATE")  # the writer is idle: taken at once
                self.held = True
            self.arrived.release()
            return real(journal, sealed)

        monkeypatch.setattr(Journal, "commit_later", gated)

    async def reached(self) -> None:
        """Wait (on the loop's side) until a commit is waiting."""
        for _ in range(2000):
            if self.arrived.acquire(blocking=False):
                return
            await asyncio.sleep(0.001)
        msg = "no commit reached the journal's writer"
        raise AssertionError(msg)

    def let_one_through(self) -> None:
        if not self.native:
            self.passes.release()
        elif self.held:
            self.held = False
            self.lock.execute("ROLLBACK")
        else:
            self.credit += 1


async def until(check: Callable[[], bool]) -> None:
    for _ in range(2000):
        if check():
            return
        await asyncio.sleep(0.001)
    msg = "never happened"
    raise AssertionError(msg)


def bid(svc: VenueService, account: int, price: int) -> Callable[[], Any]:
    cmd = NewOrder(symbol="AAA", side=Side.BUY, price=price, qty=1)
    return lambda: svc.jv.submit(account, cmd)


def test_commands_during_a_commit_wait_for_their_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def scenario() -> None:
        svc = service(tmp_path / "venue.db")
        alice, _, _ = await open_venue(svc)
        journal = svc.jv.journal
        gates = Gates(monkeypatch, svc)
        acks: list[str] = []
        svc.execute_then(order(svc, alice, 20), lambda _: acks.append("first"))
        await gates.reached()
        assert gates.native or gates.threads[0].startswith("makerkit-journal")
        first_seq = journal.appended_seq
        # the loop still runs commands while the fsync waits
        svc.execute_then(order(svc, alice, 21), lambda _: acks.append("second"))
        await asyncio.sleep(0.01)
        assert acks == [] and journal.durable_seq < first_seq
        # history reads its own connection: rows of an uncommitted batch are not there
        shown = [row[6] for row in journal.history(account=alice, kind="order", limit=1000)]
        assert not any('"c20"' in payload for payload in shown)
        gates.let_one_through()
        await gates.reached()  # the second command's own commit, waiting in turn
        assert acks == ["first"] and journal.durable_seq == first_seq
        gates.let_one_through()
        await until(lambda: len(acks) == 2)
        assert acks == ["first", "second"]
        assert journal.durable_seq == journal.appended_seq == first_seq + 1
        shown = [row[6] for row in journal.history(account=alice, kind="order", limit=1000)]
        assert any('"c20"' in payload for payload in shown)
        gates.let_one_through()  # what stop() commits, if anything
        await svc.stop()

    run(scenario)


def test_snapshots_and_l1_show_only_durable_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def scenario() -> None:
        svc = service(tmp_path / "venue.db")
        alice, _, watcher = await open_venue(svc)
        frames(watcher)
        gates = Gates(monkeypatch, svc)
        seq = svc.venue.public_seq
        durable_seq = seq("AAA")
        # the best bid grows by a lot in one batch, and again in the next (applied
        # during the first one's fsync)
        best = svc.venue.book("AAA").best_bid()
        svc.execute_then(bid(svc, alice, best[0]), lambda _: None)
        await gates.reached()
        after_first = seq("AAA")
        svc.execute_then(bid(svc, alice, best[0]), lambda _: None)
        assert seq("AAA") > after_first > durable_seq
        # a subscriber arrives now: its snapshot shows both orders, so it waits for both
        late = Subscriber(alice)
        subscribe = parse_ws_request('{"op":"subscribe","channel":"book","symbol":"AAA"}')
        assert isinstance(subscribe, WsSubscribe)
        _subscribe(svc, late, subscribe)
        assert frames(late) == []
        gates.let_one_through()
        await gates.reached()
        svc._flush_md()  # the first batch's market data goes out now
        l1s = [f for f in frames(watcher) if f["type"] == "l1"]
        # the L1 of the first batch, as that batch left it: not with the second order
        assert l1s and l1s[-1]["seq"] == after_first
        assert l1s[-1]["bid_size"] == str(best[1] + 1)
        assert frames(late) == []  # its snapshot would show the second, undurable order
        gates.let_one_through()
        await until(lambda: not late.queue.empty())
        got = frames(late)
        assert got[0]["type"] == "snapshot" and got[0]["seq"] == seq("AAA")
        # held deltas follow it: older ones (a client drops them), then no gap
        top = got[0]["seq"]
        newer = [f["seq"] for f in got[1:] if f["type"] == "delta" and f["seq"] > top]
        assert newer == list(range(top + 1, top + 1 + len(newer)))
        gates.let_one_through()
        await svc.stop()

    run(scenario)


def test_commands_that_come_while_stopping_are_committed_last(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def scenario() -> None:
        svc: VenueService = service(tmp_path / "venue.db")
        alice, _, _ = await open_venue(svc)
        gates = Gates(monkeypatch, svc)
        acks: list[int] = []
        svc.execute_then(order(svc, alice, 30), lambda out: acks.append(out.update.order_id))
        await gates.reached()
        stopping = asyncio.ensure_future(svc.stop())
        await asyncio.sleep(0.01)  # stop() waits for the commit in flight
        # a command now (a cancel-on-disconnect, say) waits for stop()'s last commit
        late = asyncio.ensure_future(svc.execute(order(svc, alice, 31)))
        await asyncio.sleep(0.01)
        gates.let_one_through()
        gates.let_one_through()  # stop()'s own commit
        await stopping
        out = await late
        assert svc.failure is None and len(acks) == 1
        reopened = Journal(tmp_path / "venue.db")
        assert reopened.durable_seq == svc.jv.journal.durable_seq
        rows = [r[6] for r in reopened.history(account=alice, kind="order", limit=100)]
        assert any(f'"order_id":{out.update.order_id}' in r for r in rows)
        reopened.close()

    run(scenario)


def test_snapshots_are_taken_while_commands_keep_coming(tmp_path: Path) -> None:
    async def scenario() -> None:
        svc = service(tmp_path / "venue.db", snapshot_every=7)
        alice, bob, _ = await open_venue(svc)
        acks: list[int] = []
        for i in range(60):  # pipelined: commits follow each other while snapshots fall due
            svc.execute_then(order(svc, alice if i % 2 else bob, 100 + i), acks.append)
            if i % 3 == 0:
                await asyncio.sleep(0)
        await until(lambda: len(acks) == 60)
        want = state(svc)
        await svc.stop()  # waits for a snapshot being written (by a forked child)
        assert svc.jv.snapshot_seq > 0
        again = service(tmp_path / "venue.db")  # from the newest snapshot
        assert again.jv.snapshot_seq == svc.jv.snapshot_seq and state(again) == want
        again.jv.close()

    run(scenario)
