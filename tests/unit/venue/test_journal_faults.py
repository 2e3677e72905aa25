"""The journal under faults: a full disk, a failing fsync, a lost -wal, torn and flipped snapshots.

Nothing acknowledged may be lost and nothing damaged may be loaded: a write
failure raises ``JournalUnavailable`` with nothing of the batch durable, and
recovery refuses (``RecoveryRefused``) any snapshot it cannot prove belongs to
the journal, naming the files and the ``--no-snapshot`` path.
"""

from __future__ import annotations

import random
import shutil
import sqlite3
from pathlib import Path
from typing import Any
from unittest.mock import Mock

import msgspec
import pytest

from makerkit.core import (
    ConfigError,
    Instrument,
    JournalUnavailable,
    OrderStatus,
    RecoveryRefused,
    RejectReason,
    Side,
    SimClock,
    TimeInForce,
)
from makerkit.venue import (
    BookDelta,
    CancelOrder,
    IdFloor,
    Journal,
    JournaledVenue,
    NewOrder,
    Venue,
)
from makerkit.venue._journal import JournalWriteError
from makerkit.venue._journal import _NativeWriter as NativeWriter
from makerkit.venue._venue import SNAPSHOT_FORMAT

INSTRUMENTS = [Instrument(symbol="AAA")]
T0 = 1_700_000_000_000_000_000


def state(jv: JournaledVenue) -> Any:
    v = jv.venue
    accounts = [a.account_id for a in v.accounts()]
    return msgspec.to_builtins(
        {
            "book": v.book("AAA").l3(10_000),
            "seq": v.public_seq("AAA"),
            "open": [v.open_orders(a) for a in accounts],
            "fills": [v.fills(a) for a in accounts],
            "positions": [v.risk.positions(a) for a in accounts],
        }
    )


# the journal's two writers: the native one (its own thread) where built, and Python's sqlite3
WRITERS = ["python", *(["native"] if NativeWriter is not None else [])]


@pytest.fixture(params=WRITERS, autouse=True)
def writer(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test here runs with each writer (a journal opened with no writer named)."""
    monkeypatch.setenv("MAKERKIT_JOURNAL_WRITER", request.param)
    return str(request.param)


def venue(path: Path, clock: SimClock | None = None, **kw: Any) -> JournaledVenue:
    return JournaledVenue(INSTRUMENTS, journal=Journal(path), clock=clock or SimClock(T0), **kw)


def orders(jv: JournaledVenue, clock: SimClock, n: int, *, start: int = 0) -> None:
    """``n`` orders from two accounts that trade with each other, some canceled."""
    for i in range(start, start + n):
        clock.advance_by(1_000 + i % 7)
        side = Side.BUY if i % 2 else Side.SELL
        jv.submit(
            1 + i % 2,
            NewOrder(
                symbol="AAA", side=side, price=100 + i % 5, qty=1 + i % 3, client_order_id=f"o{i}"
            ),
        )
        if i % 11 == 0:
            jv.cancel(1 + i % 2, CancelOrder(symbol="AAA", client_order_id=f"o{i - 4}"))


def accounts(jv: JournaledVenue) -> None:
    jv.add_account("alice", api_key="ka")
    jv.add_account("bob", api_key="kb")


def fill_disk(journal: Journal) -> None:
    """Make the database file unable to grow: SQLite then fails exactly as on a full disk."""
    journal.pragma(f"max_page_count = {journal.pragma('page_count')}")


def free_disk(journal: Journal) -> None:
    journal.pragma("max_page_count = 1073741823")


WRITE_ERRORS = (sqlite3.OperationalError, JournalWriteError)


# ---------------------------------------------------------------------- write failures


@pytest.mark.parametrize("writer", WRITERS)
def test_sync_is_full_by_default(tmp_path: Path, writer: str) -> None:
    full = Journal(tmp_path / "a.db", writer=writer)
    assert full.writer == writer
    assert full.sync == "full" and full.pragma("synchronous") == 2  # the writing connection
    assert full._db.execute("PRAGMA synchronous").fetchone()[0] == 2
    normal = Journal(tmp_path / "b.db", sync="normal", writer=writer)
    assert normal.pragma("synchronous") == 1
    with pytest.raises(ConfigError, match="sync"):
        Journal(tmp_path / "c.db", sync="off", writer=writer)
    with pytest.raises(ConfigError, match="writer"):
        Journal(tmp_path / "d.db", writer="rust")


def test_a_full_disk_fails_the_flush_and_nothing_of_the_batch_is_durable(tmp_path: Path) -> None:
    path = tmp_path / "venue.db"
    clock = SimClock(T0)
    jv = venue(path, clock)
    accounts(jv)
    orders(jv, clock, 20)
    durable = jv.flush()
    want = state(jv)
    fill_disk(jv.journal)
    orders(jv, clock, 300, start=20)  # more than the free pages hold
    with pytest.raises(JournalUnavailable, match="database or disk is full") as failed:
        jv.flush()
    assert isinstance(failed.value.__cause__, WRITE_ERRORS)
    assert f"commands {durable + 1}-" in str(failed.value) and str(path) in str(failed.value)
    assert jv.journal.durable_seq == durable and not jv.journal._db.in_transaction
    # the journal takes no later write, even once space is back: the venue in memory
    # holds commands it does not, so writing on would journal a history nobody saw
    free_disk(jv.journal)
    jv.submit(1, NewOrder(symbol="AAA", side=Side.BUY, price=90, qty=1))
    with pytest.raises(JournalUnavailable, match="failed write"):
        jv.flush()
    with pytest.raises(JournalUnavailable):
        jv.journal.check_headroom()
    jv.close()  # closes without writing
    again = venue(path)
    assert again.journal.durable_seq == durable and state(again) == want


def test_headroom_is_checked_by_writing(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "venue.db")
    journal.append(T0, 0, "noop", b"{}")
    journal.flush()
    fill_disk(journal)
    with pytest.raises(JournalUnavailable, match="cannot write 65536 bytes"):
        journal.check_headroom()
    assert journal.broken is None  # a probe failing breaks nothing
    free_disk(journal)
    journal.check_headroom()
    pages = journal.pragma("page_count")
    fill_disk(journal)  # the probe's pages were freed for the next commands
    journal.append(T0, 0, "noop", b"{}" * 1000)
    assert journal.flush() == 2
    assert journal.pragma("page_count") == pages


class FailingCommit:
    """A connection whose COMMIT fails as a failing fsync makes it fail."""

    def __init__(self, db: sqlite3.Connection, error: str = "disk I/O error") -> None:
        self.db = db
        self.error = error

    def execute(self, sql: str, *args: Any) -> Any:
        if sql == "COMMIT":
            raise sqlite3.OperationalError(self.error)
        return self.db.execute(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.db, name)


def fail_writes(journal: Journal) -> str:
    """Make the journal's next commit fail; return the error it fails with.

    The Python writer's COMMIT fails as a failing fsync makes it fail; the
    native writer's connection is made read-only, so its batch fails inside
    its transaction, as a write error does.
    """
    if journal.writer == "python":
        journal._db = FailingCommit(journal._db)  # type: ignore[assignment]
        return "disk I/O error"
    journal.pragma("query_only = 1")
    return "readonly database"


def test_a_failing_fsync_rolls_back_the_batch(tmp_path: Path) -> None:
    path = tmp_path / "venue.db"
    clock = SimClock(T0)
    jv = venue(path, clock)
    accounts(jv)
    orders(jv, clock, 10)
    durable = jv.flush()
    want = state(jv)
    real = jv.journal._db
    error = fail_writes(jv.journal)
    orders(jv, clock, 10, start=10)
    with pytest.raises(JournalUnavailable, match=error):
        jv.flush()
    assert not real.in_transaction  # rolled back, not left open
    assert jv.journal.durable_seq == jv.journal.appended_seq == durable
    again = venue(path)
    assert again.journal.durable_seq == durable and state(again) == want


def test_a_failing_snapshot_write_leaves_the_journal_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "venue.db"
    clock = SimClock(T0)
    jv = venue(path, clock, snapshot_every=10)
    accounts(jv)
    orders(jv, clock, 12)

    def no_space(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("makerkit.venue._journal.os.fsync", no_space)
    jv.flush()  # the snapshot it takes fails: logged, the commands are durable
    monkeypatch.undo()
    assert jv.snapshot_seq == 0 and jv.journal.durable_seq == jv.journal.appended_seq
    assert list((tmp_path / "venue.db.snapshots").iterdir()) == []  # no partial file
    want = state(jv)
    jv.close()
    assert state(venue(path)) == want


# ---------------------------------------------------------------------- snapshots


def snapshotted(path: Path, commands: int = 60) -> tuple[JournaledVenue, Path]:
    """A journal with a snapshot of its last command; return the venue and the file."""
    clock = SimClock(T0)
    jv = venue(path, clock)
    accounts(jv)
    orders(jv, clock, commands)
    seq = jv.snapshot()
    return jv, path.parent / f"{path.name}.snapshots" / f"snapshot-{seq:020d}.bin"


def checkpointed(path: Path, clock: SimClock) -> JournaledVenue:
    """A venue of 40 orders, all in the database file (its -wal emptied)."""
    jv = venue(path, clock)
    accounts(jv)
    orders(jv, clock, 40)
    jv.flush()
    jv.journal._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return jv


def without_wal(path: Path, folder: Path) -> Path:
    """A copy of the journal's database file and snapshots into ``folder``, its -wal lost."""
    folder.mkdir()
    shutil.copy(path, folder / path.name)
    snapshots = f"{path.name}.snapshots"
    shutil.copytree(path.parent / snapshots, folder / snapshots)
    return folder / path.name


def test_a_snapshot_ahead_of_the_journal_is_refused_and_no_snapshot_recovers(
    tmp_path: Path,
) -> None:
    # a power cut under synchronous=NORMAL: the -wal file is lost after a snapshot was
    # written, so the database file ends before the snapshot
    path = tmp_path / "live" / "venue.db"
    clock = SimClock(T0)
    jv = checkpointed(path, clock)
    kept = jv.journal.durable_seq
    want = state(jv)
    orders(jv, clock, 30, start=40)
    ahead = jv.snapshot()
    crashed = without_wal(path, tmp_path / "crashed")
    snapshot = crashed.parent / "venue.db.snapshots" / f"snapshot-{ahead:020d}.bin"

    with pytest.raises(RecoveryRefused) as refused:
        venue(crashed)
    message = str(refused.value)
    assert f"snapshot {snapshot} covers commands up to {ahead}" in message
    assert f"journal {crashed}" in message and f"the journal ends at {kept}" in message
    assert f"commands {kept + 1}-{ahead} (and any after them) were lost from the journal" in message
    assert f"handed out up to command {ahead} are read from its snapshot" in message
    assert "makerkit serve --no-snapshot" in message
    assert f"{crashed}.snapshots/rejected/" in message and "That path loses" in message
    assert refused.value.snapshot == str(snapshot) and refused.value.journal == str(crashed)

    # the safe path: the whole journal replayed, the snapshot files kept aside; the
    # sequence numbers go on above the snapshot's (see the test below)
    safe = venue(crashed, use_snapshots=False)
    assert safe.snapshot_seq == 0 and safe.recovered == kept
    assert state(safe) == want | {"seq": jv.venue.public_seq("AAA")}
    folder = crashed.parent / "venue.db.snapshots"
    assert list(folder.glob("*.bin")) == []
    assert (folder / "rejected" / snapshot.name).read_bytes() == snapshot_bytes(path, ahead)
    # and from there on the venue goes on as usual: new commands, a snapshot, a restart
    orders(safe, SimClock(T0 + 10**12), 15, start=1000)
    last = safe.snapshot()
    after = state(safe)
    safe.close()
    restarted = venue(crashed)
    assert restarted.snapshot_seq == last > kept and state(restarted) == after


@pytest.mark.parametrize("crash", [False, True])
def test_the_safe_path_never_hands_out_what_the_lost_commands_did(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, crash: bool
) -> None:
    path = tmp_path / "live" / "venue.db"
    clock = SimClock(T0)
    jv = checkpointed(path, clock)
    orders(jv, clock, 30, start=40)  # o40-o69: acknowledged, then lost with the -wal
    jv.submit(2, NewOrder(symbol="AAA", side=Side.SELL, price=200, qty=1))
    crossing = NewOrder(
        symbol="AAA",
        side=Side.BUY,
        price=200,
        qty=1,
        tif=TimeInForce.POST_ONLY,
        client_order_id="po",
    )
    refused = jv.submit(1, crossing)  # refused by the book after it took an order id
    assert refused.update.order_id > 0 and refused.update.status == OrderStatus.REJECTED
    jv.snapshot()
    told = jv.venue
    last_id, public = told.last_order_id, told.public_seq("AAA")
    private = {a: told.id_floor().private_seq[a] for a in (1, 2)}
    crashed = without_wal(path, tmp_path / "crashed")

    if crash:  # the process dies before the floor is durable: the next start reads it again
        with monkeypatch.context() as patch:
            patch.setattr(Journal, "flush", Mock(side_effect=KeyboardInterrupt))
            with pytest.raises(KeyboardInterrupt):
                venue(crashed, use_snapshots=False)
    safe = venue(crashed, use_snapshots=False)
    assert safe.venue.last_order_id == last_id and safe.venue.public_seq("AAA") == public
    clock = SimClock(T0 + 10**12)
    order = NewOrder(symbol="AAA", side=Side.BUY, price=90, qty=1, client_order_id="n0")
    new = safe.submit(1, order)
    assert new.update.order_id == last_id + 1  # never an id a client was told of
    assert new.update.seq == private[1] + 1
    assert [e.seq for e in new.events if isinstance(e, BookDelta)] == [public + 1]
    for n in (41, 69, 3):  # a lost client order id is refused; a replayed one answers again
        again = safe.submit(1 + n % 2, msgspec.structs.replace(order, client_order_id=f"o{n}"))
        if n < 40:
            assert again.update.order_id > 0 and again.events == ()
        else:
            assert again.update.reason == RejectReason.DUPLICATE_ORDER_ID
    again = safe.submit(1, msgspec.structs.replace(crossing, price=80))  # placeable now
    assert again.update.reason == RejectReason.DUPLICATE_ORDER_ID and not again.accepted
    after = state(safe)
    safe.close()
    # the floor is a journaled command: a replay without snapshots, or another safe-path
    # start (the files are aside by now), rebuilds the same venue
    replayed = venue(crashed, use_snapshots=False)
    assert state(replayed) == after and replayed.venue.last_order_id == last_id + 1
    replayed.close()


def test_a_damaged_snapshot_ahead_promises_no_floor(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "live" / "venue.db"
    clock = SimClock(T0)
    jv = checkpointed(path, clock)
    orders(jv, clock, 30, start=40)
    ahead = jv.snapshot()
    crashed = without_wal(path, tmp_path / "crashed")
    file = crashed.parent / "venue.db.snapshots" / f"snapshot-{ahead:020d}.bin"
    blob = bytearray(file.read_bytes())
    blob[-1] ^= 1  # its state no longer matches its checksum
    file.write_bytes(bytes(blob))

    with pytest.raises(RecoveryRefused) as refused:
        venue(crashed)
    assert "no snapshot ahead of the journal is intact" in str(refused.value)
    assert "read from its snapshot" not in str(refused.value)
    safe = venue(crashed, use_snapshots=False)
    assert safe.venue.last_order_id < jv.venue.last_order_id  # nothing to raise it from
    assert "no snapshot ahead of it can be read" in caplog.text


def test_a_floor_takes_client_ids_only_refused_here_but_placed_there() -> None:
    v = Venue(INSTRUMENTS, clock=SimClock(T0))
    a = v.add_account("a", api_key="k")[0].account_id
    cmd = NewOrder(symbol="ZZZ", side=Side.BUY, price=90, qty=1, client_order_id="r1")
    assert v.submit(a, cmd).update.order_id == 0  # refused before an id: may be tried again
    v.raise_floor(IdFloor(order_id=10, public_seq={}, private_seq={}, client_ids=[(a, "r1", 7)]))
    assert (a, "r1", 7) in v.id_floor().client_ids  # once its refusal is forgotten: a duplicate
    assert v.last_order_id == 10


def snapshot_bytes(journal: Path, seq: int) -> bytes:
    return (journal.parent / f"{journal.name}.snapshots" / f"snapshot-{seq:020d}.bin").read_bytes()


def test_no_snapshot_keeps_earlier_rejected_files(tmp_path: Path) -> None:
    path = tmp_path / "venue.db"
    jv, file = snapshotted(path)
    jv.close()
    first = file.read_bytes()
    venue(path, use_snapshots=False).close()
    shutil.copy(tmp_path / "venue.db.snapshots" / "rejected" / file.name, file)
    venue(path, use_snapshots=False).close()
    rejected = tmp_path / "venue.db.snapshots" / "rejected"
    assert sorted(p.name for p in rejected.iterdir()) == [file.name, f"{file.name}.1"]
    assert all(p.read_bytes() == first for p in rejected.iterdir())


def test_a_snapshot_of_another_history_is_refused(tmp_path: Path) -> None:
    # two journals of the same length, different commands: a snapshot of one placed
    # beside the other is not taken for it
    ours, _ = snapshotted(tmp_path / "a" / "venue.db")
    theirs, _ = snapshotted(tmp_path / "b" / "venue.db")
    theirs.submit(1, NewOrder(symbol="AAA", side=Side.BUY, price=1, qty=1))
    ours.submit(2, NewOrder(symbol="AAA", side=Side.BUY, price=2, qty=1))
    ours.flush()
    seq = theirs.snapshot()
    assert seq == ours.journal.durable_seq
    ours.close()
    folder = tmp_path / "a" / "venue.db.snapshots"
    shutil.copy(tmp_path / "b" / "venue.db.snapshots" / f"snapshot-{seq:020d}.bin", folder)
    with pytest.raises(RecoveryRefused, match="belongs to another history"):
        venue(tmp_path / "a" / "venue.db")


@pytest.mark.parametrize("keep", ["empty", "magic", "header", "checksum", "half", "last byte"])
def test_a_torn_snapshot_is_refused(tmp_path: Path, keep: str) -> None:
    path = tmp_path / "venue.db"
    jv, file = snapshotted(path)
    jv.close()
    blob = file.read_bytes()
    ends = [i for i, byte in enumerate(blob) if byte == ord("\n")][:3]
    cut = {
        "empty": 0,
        "magic": ends[0] - 3,
        "header": ends[1] - 10,
        "checksum": ends[2] - 1,
        "half": (ends[2] + len(blob)) // 2,
        "last byte": len(blob) - 1,
    }[keep]
    file.write_bytes(blob[:cut])
    with pytest.raises(RecoveryRefused, match=r"is (torn|damaged)"):
        venue(path)


def test_every_single_bit_flip_in_a_snapshot_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "venue.db"
    jv, file = snapshotted(path, commands=150)
    jv.close()
    blob = file.read_bytes()
    header_end = [i for i, byte in enumerate(blob) if byte == ord("\n")][2] + 1
    rng = random.Random(14)
    # a third of the flips in the header (format, seq, checksums), the rest in the state
    spots = rng.sample(range(header_end), 70) + rng.sample(range(header_end, len(blob)), 130)
    refused = 0
    for spot in spots:
        flipped = bytearray(blob)
        flipped[spot] ^= 1 << rng.randrange(8)
        file.write_bytes(bytes(flipped))
        try:
            venue(path).close()
        except RecoveryRefused:
            refused += 1
    assert refused == len(spots) == 200
    file.write_bytes(blob)
    assert venue(path).snapshot_seq == int(file.stem.removeprefix("snapshot-"))


def test_an_older_release_snapshot_file_is_skipped_unless_ahead(tmp_path: Path) -> None:
    path = tmp_path / "venue.db"
    jv, file = snapshotted(path)
    seq = jv.journal.durable_seq
    want = state(jv)
    jv.close()
    state_bytes = file.read_bytes().split(b"\n", 3)[3]
    # the layout releases before checksums wrote: "<format>\n<ts>\n<state>"
    file.write_bytes(f"{SNAPSHOT_FORMAT}\n{T0}\n".encode() + state_bytes)
    old = venue(path)
    assert old.snapshot_seq == 0 and old.recovered == seq and state(old) == want
    old.close()
    # ahead of the journal it still proves commands were lost: refused
    file.rename(file.with_name(f"snapshot-{seq + 5:020d}.bin"))
    with pytest.raises(RecoveryRefused, match=f"the journal ends at {seq}"):
        venue(path)
