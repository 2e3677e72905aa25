"""The native writer takes the next batches while one commits: order and durability still hold.

The writer is held by SQLite itself: a connection of the test's holds the
journal's write lock, and the writer waits for it (a busy timeout) before it
writes anything. So batches pile up in the writer, really unwritten, until
the test lets go.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")

from makerkit.core import JournalUnavailable
from makerkit.server import _service
from makerkit.server._service import VenueService, _NativeCommits
from makerkit.venue import Journal, Sealed
from makerkit.venue._journal import _NativeWriter as NativeWriter
from tests.unit.server.test_commit_thread import until
from tests.unit.server.test_durability import Disk, open_venue, order, run, service, state

pytestmark = pytest.mark.skipif(NativeWriter is None, reason="built without SQLite's headers")


@pytest.fixture(autouse=True)
def native(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAKERKIT_JOURNAL_WRITER", "native")


@pytest.fixture
def disk(monkeypatch: pytest.MonkeyPatch) -> Disk:
    disk = Disk()
    open_native = Journal._open_native

    def limited_native(journal: Journal) -> Any:
        writer = open_native(journal)
        disk.add(writer.query_int)
        return writer

    monkeypatch.setattr(Journal, "_open_native", limited_native)
    return disk


class Held:
    """The journal's write lock, held by the test; counts the batches handed to the writer."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, svc: VenueService) -> None:
        journal = svc.jv.journal
        assert journal.writer == "native"
        journal.pragma("busy_timeout = 20000")  # the writer waits for the lock, never fails
        self.handed: list[int] = []
        real = Journal.commit_later

        def counted(journal: Journal, sealed: Sealed) -> int:
            self.handed.append(sealed.seq)
            return real(journal, sealed)

        monkeypatch.setattr(Journal, "commit_later", counted)
        self.lock = sqlite3.connect(journal.path, isolation_level=None)
        self.lock.execute("BEGIN IMMEDIATE")

    def release(self) -> None:
        self.lock.execute("ROLLBACK")
        self.lock.close()


async def stopped_and_replayed(svc: VenueService, path: Path) -> None:
    """Stop ``svc``; the whole journal, replayed, must rebuild the venue it left."""
    want = state(svc)
    await svc.stop()
    again = service(path, use_snapshots=False)
    assert state(again) == want
    again.jv.close()


def test_batches_handed_over_during_a_commit_are_told_in_order_once_durable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_service, "_IN_FLIGHT", 3)  # three out at once, whatever the default

    async def scenario() -> None:
        svc = service(tmp_path / "venue.db")
        alice, _, sub = await open_venue(svc)
        journal = svc.jv.journal
        durable = journal.durable_seq
        held = Held(monkeypatch, svc)
        acks: list[int] = []
        for i in range(3):  # three batches, each sealed and handed over before any commits
            svc.execute_then(order(svc, alice, 40 + i), lambda _, i=i: acks.append(i))
            await until(lambda i=i: len(held.handed) == i + 1)
        read = asyncio.ensure_future(svc.durable(lambda: svc.venue.public_seq("AAA")))
        await asyncio.sleep(0.02)
        assert acks == [] and not read.done() and sub.queue.empty()
        assert journal.durable_seq == durable and held.handed == sorted(held.handed)
        held.release()
        await until(lambda: len(acks) == 3)
        assert acks == [0, 1, 2] and journal.durable_seq == journal.appended_seq
        assert await read == svc.venue.public_seq("AAA")
        await stopped_and_replayed(svc, tmp_path / "venue.db")

    run(scenario)


def test_a_failed_batch_fails_every_batch_handed_over_after_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, disk: Disk
) -> None:
    async def scenario() -> None:
        svc = service(tmp_path / "venue.db")
        alice, _, sub = await open_venue(svc)
        journal = svc.jv.journal
        while not sub.queue.empty():
            sub.queue.get_nowait()
        want, durable = state(svc), journal.durable_seq
        disk.fill()
        held = Held(monkeypatch, svc)
        acks: list[int] = []
        errors: list[JournalUnavailable] = []
        # bursts: each needs more pages than the full disk has free (the start's 64 KiB
        # headroom probe left some)
        for batch in range(2):
            for i in range(600):
                svc.execute_then(order(svc, alice, 1000 * batch + i), acks.append, errors.append)
            await until(lambda b=batch: len(held.handed) == b + 1)
        held.release()
        await until(lambda: len(errors) == 1200)
        assert all("database or disk is full" in str(e) for e in errors)
        assert acks == [] and sub.queue.empty()  # nothing told, nothing published
        assert svc.health()["status"] == "failed" and journal.durable_seq == durable
        disk.free()
        assert svc.try_recover()
        assert state(svc) == want  # neither batch reached the journal
        await svc.stop()

    run(scenario)


def test_a_batch_reported_after_the_venue_was_rebuilt_stops_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its own waiters are told; the rebuilt venue and its journal go on untouched."""

    async def scenario() -> None:
        svc = service(tmp_path / "venue.db")
        alice, _, _ = await open_venue(svc)
        out: list[asyncio.Future[None]] = []

        def unreported(native: _NativeCommits, sealed: Sealed) -> asyncio.Future[None]:
            out.append(asyncio.get_running_loop().create_future())
            return out[-1]  # handed over, never reported (a writer stuck in a commit)

        with monkeypatch.context() as patch:
            patch.setattr(_NativeCommits, "commit", unreported)
            acks: list[object] = []
            errors: list[JournalUnavailable] = []
            svc.execute_then(order(svc, alice, 50), acks.append, errors.append)
            await until(lambda: len(out) == 1)
            svc._fail(JournalUnavailable("the disk went away"))
        assert svc.health()["status"] == "failed" and svc.try_recover()
        want = state(svc)  # rebuilt from the file: without the batch still out
        out[0].set_exception(JournalUnavailable("journal closed"))
        await until(lambda: len(errors) == 1)
        assert acks == [] and "not made durable" in str(errors[0])
        assert svc.health()["status"] == "ok" and state(svc) == want
        placed = await svc.execute(order(svc, alice, 60))
        assert placed.accepted
        await stopped_and_replayed(svc, tmp_path / "venue.db")

    run(scenario)
