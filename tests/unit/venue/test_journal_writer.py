"""The journal's native writer: the same rows as Python's sqlite3 writes, committed off the GIL.

Batches handed over in the background commit in order and report through a
pipe; once one fails, no later one is written.
"""

from __future__ import annotations

import select
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from makerkit.core import Instrument, JournalUnavailable, Side, SimClock
from makerkit.venue import CancelOrder, Journal, JournaledVenue, NewOrder
from makerkit.venue._journal import JournalWriteError, _NativeWriter, journal_writer

pytestmark = pytest.mark.skipif(_NativeWriter is None, reason="built without the native writer")

INSTRUMENTS = [Instrument(symbol="AAA")]
T0 = 1_700_000_000_000_000_000


def trade(jv: JournaledVenue, clock: SimClock, n: int) -> None:
    """Orders that rest, trade and are canceled: every kind of history row."""
    for i in range(n):
        clock.advance_by(1_000 + i)
        jv.submit(
            1 + i % 2,
            NewOrder(
                symbol="AAA",
                side=Side.BUY if i % 2 else Side.SELL,
                price=100 + i % 4,
                qty=1 + i % 3,
                client_order_id=f"o{i}",
            ),
        )
        if i % 5 == 0:
            jv.cancel(1 + i % 2, CancelOrder(symbol="AAA", client_order_id=f"o{i - 2}"))
        if i % 7 == 0:
            jv.flush()
    jv.flush()


def rows(path: Path) -> tuple[list[Any], list[Any]]:
    """Every stored row with the SQLite type of each value (BLOB and TEXT told apart)."""
    db = sqlite3.connect(path)
    try:
        commands = db.execute(
            "SELECT seq, ts, account, kind, payload, typeof(kind), typeof(payload)"
            " FROM commands ORDER BY seq"
        ).fetchall()
        events = db.execute(
            "SELECT id, ts, kind, account, symbol, order_id, payload, typeof(account),"
            " typeof(symbol), typeof(order_id), typeof(payload) FROM events ORDER BY id"
        ).fetchall()
    finally:
        db.close()
    return commands, events


def journaled(path: Path, writer: str) -> tuple[JournaledVenue, SimClock]:
    clock = SimClock(T0)
    jv = JournaledVenue(INSTRUMENTS, journal=Journal(path, writer=writer), clock=clock)
    jv.add_account("alice", api_key="ka", api_secret="sa")
    jv.add_account("bob", api_key="kb", api_secret="sb")
    return jv, clock


def test_the_native_writer_stores_what_the_python_writer_stores(tmp_path: Path) -> None:
    for writer in ("python", "native"):
        jv, clock = journaled(tmp_path / f"{writer}.db", writer)
        assert jv.journal.writer == writer
        trade(jv, clock, 120)
        jv.close()
    native, python = rows(tmp_path / "native.db"), rows(tmp_path / "python.db")
    assert len(native[0]) > 120 and len(native[1]) > 120  # commands, and fills and trades
    assert {r[2] for r in native[1]} >= {"order", "fill", "trade"}
    assert native == python
    # and a journal written natively replays to the same venue
    again = JournaledVenue(INSTRUMENTS, journal=Journal(tmp_path / "native.db"), clock=SimClock(0))
    ref = JournaledVenue(INSTRUMENTS, journal=Journal(tmp_path / "python.db"), clock=SimClock(0))
    assert again.venue.snapshot() == ref.venue.snapshot()


def wait_readable(fd: int) -> None:
    readable, _, _ = select.select([fd], [], [], 10)  # a guard against a hang only
    assert readable, "the writer never reported"


def test_background_commits_report_in_order_through_the_pipe(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.db", writer="native")
    fd = journal.completion_fd
    assert fd is not None
    tickets = []
    for k in range(5):
        journal.append(T0 + k, 1, "noop", b'{"k":%d}' % k)
        journal.record_event((T0 + k, "audit", 1, None, None, f'{{"k":{k}}}'))
        sealed = journal.seal()
        assert sealed is not None
        tickets.append(journal.commit_later(sealed))
    assert tickets == sorted(tickets) and len(set(tickets)) == 5
    done: list[tuple[int, str | None]] = []
    while len(done) < 5:
        wait_readable(fd)
        done += journal.commits_done()
    assert done == [(t, None) for t in tickets]
    # committed: a fresh connection sees every row, BLOB commands and TEXT history
    commands, events = rows(tmp_path / "j.db")
    assert [c[4] for c in commands] == [b'{"k":%d}' % k for k in range(5)]
    assert {c[6] for c in commands} == {"blob"} and {e[10] for e in events} == {"text"}
    assert [e[7:10] for e in events] == [("integer", "null", "null")] * 5
    journal.close()


def test_a_batch_settled_after_a_later_flush_moves_nothing_back(tmp_path: Path) -> None:
    """Two batches in flight, then a synchronous flush (a snapshot's) settles first."""
    journal = Journal(tmp_path / "j.db", writer="native")
    fd = journal.completion_fd
    assert fd is not None
    sealed = []
    for k in range(2):
        journal.append(T0 + k, 1, "noop", b'{"k":%d}' % k)
        batch = journal.seal()
        assert batch is not None
        journal.commit_later(batch)
        sealed.append(batch)
    journal.append(T0 + 2, 1, "noop", b'{"k":2}')
    assert journal.flush() == 3  # written behind the two in flight, settled first
    done: list[tuple[int, str | None]] = []
    while len(done) < 2:
        wait_readable(fd)
        done += journal.commits_done()
    for batch in sealed:  # late: what they record is older than what is durable
        journal.settle(batch)
    assert journal.durable_seq == 3
    journal.write_snapshot(3, T0, "test", b"state")
    journal.close()
    again = Journal(tmp_path / "j.db")
    assert [s[0] for s in again.snapshots()] == [3]  # its record is command 3's: it verifies
    again.close()


def test_a_failed_background_batch_stops_every_later_one(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.db", writer="native")
    journal.append(T0, 1, "noop", b"{}")
    assert journal.flush() == 1
    journal.pragma(f"max_page_count = {journal.pragma('page_count')}")  # a full disk
    fd = journal.completion_fd
    assert fd is not None
    big = b"x" * 200_000  # more than the file can take
    journal.append(T0 + 1, 1, "noop", big)
    first = journal.commit_later(journal.seal())  # type: ignore[arg-type]
    journal.append(T0 + 2, 1, "noop", b"{}")  # small: the last page's free space may hold it
    second = journal.commit_later(journal.seal())  # type: ignore[arg-type]
    done: list[tuple[int, str | None]] = []
    while len(done) < 2:
        wait_readable(fd)
        done += journal.commits_done()
    journal.pragma("max_page_count = 1073741823")  # space is back: nothing is written later
    assert [t for t, _ in done] == [first, second]
    assert "database or disk is full" in str(done[0][1])
    assert "earlier failed write" in str(done[1][1])  # never written out of order
    failed = journal.commit_failed(str(done[0][1]))
    assert isinstance(failed, JournalUnavailable) and "commands 2-3" in str(failed)
    with pytest.raises(JournalUnavailable, match="failed write"):
        journal.flush()
    journal.close()
    commands, _ = rows(tmp_path / "j.db")
    assert [c[0] for c in commands] == [1]


def test_bad_rows_are_refused_before_anything_is_written(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.db", writer="native")
    native = journal._native
    with pytest.raises(TypeError, match="tuple of 4"):
        native.write([(T0, 1, "noop")], [])
    with pytest.raises(TypeError, match="payload"):
        native.write([(T0, 1, "noop", 5)], [])
    with pytest.raises(TypeError, match="tuple of 6"):
        native.write([], [(T0, "audit", None, None, None)])
    journal.close()
    assert rows(tmp_path / "j.db") == ([], [])
    with pytest.raises(JournalWriteError, match="closed"):
        native.write([(T0, 1, "noop", b"{}")], [])


def test_an_in_memory_journal_writes_in_python(tmp_path: Path) -> None:
    assert Journal(":memory:").writer == "python"  # the native writer's connection is its own
    assert Journal(tmp_path / "j.db", writer="python").completion_fd is None


def test_the_writer_is_native_unless_python_is_asked_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MAKERKIT_JOURNAL_WRITER", raising=False)
    assert journal_writer() == "native" == Journal(tmp_path / "a.db").writer
    monkeypatch.setenv("MAKERKIT_JOURNAL_WRITER", "python")
    assert journal_writer() == "python" == Journal(tmp_path / "b.db").writer
