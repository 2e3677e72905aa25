"""The fsync runs on the journal's thread; the loop goes on, and acknowledges nothing early."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

pytest.importorskip("fastapi")

from makerkit.venue import Journal, Sealed
from tests.unit.server.test_durability import open_venue, order, run, service


def test_commands_during_a_commit_wait_for_their_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def scenario() -> None:
        svc = service(tmp_path / "venue.db")
        alice, _, _ = await open_venue(svc)
        journal = svc.jv.journal
        release = threading.Event()
        threads: list[str] = []
        real_commit = Journal.commit

        def slow_commit(self: Journal, sealed: Sealed) -> None:
            threads.append(threading.current_thread().name)
            release.wait(10)  # the disk is slow: the loop must not wait with it
            real_commit(self, sealed)

        monkeypatch.setattr(Journal, "commit", slow_commit)
        acks: list[str] = []
        svc.execute_then(order(svc, alice, 20), lambda _: acks.append("first"))
        for _ in range(100):  # the first batch reaches its commit
            await asyncio.sleep(0.001)
            if threads:
                break
        assert threads and threads[0].startswith("makerkit-journal")
        first_seq = journal.appended_seq
        # the loop still runs commands while the fsync waits
        svc.execute_then(order(svc, alice, 21), lambda _: acks.append("second"))
        await asyncio.sleep(0.01)
        assert acks == [] and journal.durable_seq < first_seq
        # history reads its own connection: rows of an uncommitted batch are not there
        shown = [row[6] for row in journal.history(account=alice, kind="order", limit=1000)]
        assert not any('"c20"' in payload for payload in shown)
        release.set()
        for _ in range(1000):
            await asyncio.sleep(0.001)
            if len(acks) == 2:
                break
        assert acks == ["first", "second"]  # each after its own commit, in order
        assert journal.durable_seq == journal.appended_seq == first_seq + 1
        shown = [row[6] for row in journal.history(account=alice, kind="order", limit=1000)]
        assert any('"c20"' in payload for payload in shown)
        await svc.stop()

    run(scenario)


def test_stop_waits_for_a_commit_in_flight(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async def scenario() -> None:
        svc = service(tmp_path / "venue.db")
        alice, _, _ = await open_venue(svc)
        started = threading.Event()
        real_commit = Journal.commit

        def slow_commit(self: Journal, sealed: Sealed) -> None:
            started.set()
            threading.Event().wait(0.2)
            real_commit(self, sealed)

        monkeypatch.setattr(Journal, "commit", slow_commit)
        acks: list[int] = []
        svc.execute_then(order(svc, alice, 30), lambda out: acks.append(out.update.order_id))
        while not started.is_set():
            await asyncio.sleep(0.001)
        await svc.stop()  # never a COMMIT half done on the other thread
        assert len(acks) == 1
        reopened = Journal(tmp_path / "venue.db")
        assert reopened.durable_seq == svc.jv.journal.durable_seq
        reopened.close()

    run(scenario)
