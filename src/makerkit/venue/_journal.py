"""Event sourcing for the venue: every command is journaled, recovery replays them.

The venue is deterministic given its commands and their timestamps, so the
journal stores exactly that (account, kind, payload, ts) in SQLite (WAL);
replaying it rebuilds books, orders, positions, fills and sequence numbers
exactly. ``JournaledVenue`` is the venue the server runs: it stamps each
command with the live clock, applies it, appends it, and makes it durable
(``flush``) before anyone is told.

Durability rules kept here: a commit is fsync'd (``synchronous=FULL``) unless
asked otherwise; a failed write raises ``JournalUnavailable`` and the journal
accepts no later write (what the venue applied in memory is no longer what
the journal holds: rebuild it from the file); a snapshot carries the checksum
of its state and the hash of the journal command it was taken after, and
recovery refuses (``RecoveryRefused``) any snapshot it cannot prove belongs to
this journal's history, naming the files and the safe path (``--no-snapshot``).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import sqlite3
from collections.abc import Callable, Iterator
from decimal import Decimal
from itertools import chain
from pathlib import Path
from typing import Any, NamedTuple

import msgspec

from makerkit.core import (
    Clock,
    ConfigError,
    DataError,
    Instrument,
    JournalUnavailable,
    RecoveryRefused,
    SimClock,
    UnknownAccount,
)
from makerkit.risk import AuditRecord, RiskLimits, RiskManager
from makerkit.venue._model import (
    Account,
    BookDelta,
    CancelAll,
    CancelOrder,
    FeeSchedule,
    FillReport,
    IdFloor,
    ModifyOrder,
    NewOrder,
    OrderUpdate,
    Outcome,
    Role,
    Trade,
)
from makerkit.venue._venue import SNAPSHOT_FORMAT, Venue

__all__ = ["Journal", "JournaledVenue", "Sealed"]

log = logging.getLogger("makerkit.venue")


class _NoNativeWriter(Exception):
    """Never raised: stands for the native writer's error where it is not built."""


# the native writer: absent from a build without the engine or without SQLite's headers
_NativeWriter: Any = None
JournalWriteError: type[Exception] = _NoNativeWriter
try:
    from makerkit import _native

    _NativeWriter, JournalWriteError = _native.JournalWriter, _native.JournalWriteError
except (ImportError, AttributeError):  # pragma: no cover - such builds write in Python
    pass


# The native writer commits off the GIL and takes the next batches while one commits;
# MAKERKIT_JOURNAL_WRITER=python writes in Python instead (same rows, one batch at a time)
_WRITERS = ("native", "python")


def _requested_writer() -> str:
    return os.environ.get("MAKERKIT_JOURNAL_WRITER") or "native"


def journal_writer() -> str:
    """The writer a file journal gets: ``native`` where it is built, unless ``python`` is asked."""
    chosen = _requested_writer()
    return "python" if chosen == "python" or _NativeWriter is None else chosen


_encode = msgspec.json.Encoder().encode
_ORDER_COMMANDS: dict[str, type] = {
    "new": NewOrder,
    "cancel": CancelOrder,
    "cancel_all": CancelAll,
    "modify": ModifyOrder,
}


# the live path decodes the bytes it journals with these, as replay does
_DECODE_COMMAND: dict[str, Callable[[bytes], Any]] = {
    kind: msgspec.json.Decoder(t).decode for kind, t in _ORDER_COMMANDS.items()
}


def _json(obj: object) -> str:
    return _encode(obj).decode()


_SCHEMA = """
CREATE TABLE IF NOT EXISTS commands (
    seq INTEGER PRIMARY KEY,
    ts INTEGER NOT NULL,
    account INTEGER NOT NULL,
    kind TEXT NOT NULL,
    payload BLOB NOT NULL
);
-- queryable history, written in the same transaction as the commands that caused it
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    ts INTEGER NOT NULL,
    kind TEXT NOT NULL,          -- order, fill, trade, audit
    account INTEGER,
    symbol TEXT,
    order_id INTEGER,
    payload TEXT NOT NULL        -- the event as JSON
);
CREATE INDEX IF NOT EXISTS events_by_account ON events (account, kind, id);
CREATE INDEX IF NOT EXISTS events_by_order ON events (order_id);
"""

EventRow = tuple[int, str, int | None, str | None, int | None, str]


class Sealed(NamedTuple):
    """A batch taken for its commit (the Python writer: written inside an open transaction)."""

    seq: int  # the journal sequence it makes durable
    last: tuple[int, int, str, bytes] | None  # its last command (ts, account, kind, payload)
    # the native writer's rows, written and committed together by ``commit``
    commands: list[tuple[int, int, str, bytes]] | None = None
    events: list[EventRow] | None = None


SYNC_MODES = ("full", "normal")

_INSERT_COMMAND = ("INSERT INTO commands (ts, account, kind, payload) VALUES ", "(?,?,?,?)")
_INSERT_EVENT = (
    "INSERT INTO events (ts, kind, account, symbol, order_id, payload) VALUES ",
    "(?,?,?,?,?,?)",
)
_CHUNK_MAX = 128  # rows a statement: the chunks of a batch are powers of two up to this


def _insert(db: sqlite3.Connection, statement: tuple[str, str], rows: list[Any]) -> None:
    """Insert ``rows`` in order, many a statement.

    One statement of n rows costs much less than n statements; chunks whose
    sizes are powers of two keep the distinct statements (cached) few.
    """
    head, values = statement
    at, left = 0, len(rows)
    while left:
        n = min(_CHUNK_MAX, 1 << (left.bit_length() - 1))
        sql = _SQL.get((head, n))
        if sql is None:
            sql = _SQL[(head, n)] = head + ",".join([values] * n)
        db.execute(sql, list(_chain(rows[at : at + n] if n < len(rows) else rows)))
        at += n
        left -= n


_SQL: dict[tuple[str, int], str] = {}
_chain = chain.from_iterable

# Snapshot file: magic line, header (JSON), the header's sha256, then the state.
# Every byte is covered by a checksum, so a damaged file is refused, never loaded.
_SNAPSHOT_MAGIC = b"makerkit-snapshot 2"
# what releases before it wrote: "<format>\n<ts>\n<state>", no checksum (never loaded)
_LEGACY_FORMAT = re.compile(rb"makerkit-[^/\s]+/venue-\d+")
_HEADER_MAX = 16 << 10  # a snapshot header is far shorter
_HEADROOM_BYTES = 64 << 10  # what a journal must be able to write before it is used again


class _SnapshotHeader(msgspec.Struct, forbid_unknown_fields=True):
    format: str  # the venue state's format (SNAPSHOT_FORMAT of the release that wrote it)
    seq: int  # the last journal command the state includes
    ts: int  # the venue clock after that command
    size: int  # bytes of state
    sha256: str  # of the state
    record: str  # hash of journal command `seq` (ts, account, kind, payload)


def record_hash(seq: int, ts: int, account: int, kind: str, payload: bytes) -> str:
    """Hash of one journal command: ties a snapshot to the history it was taken from."""
    digest = hashlib.sha256(f"{seq}\n{ts}\n{account}\n{kind}\n".encode())
    digest.update(payload if isinstance(payload, bytes) else str(payload).encode())
    return digest.hexdigest()


class Journal:
    """Append-only command log in SQLite (WAL); ``path=":memory:"`` for tests.

    ``sync="full"`` (the default) fsyncs every commit, so a power cut loses no
    acknowledged command; group commit makes that one fsync per batch.
    ``sync="normal"`` only survives a killed process (the WAL may lose its tail).
    """

    def __init__(self, path: str | Path, *, sync: str = "full", writer: str | None = None) -> None:
        if sync not in SYNC_MODES:
            msg = f"invalid `sync`, must be one of {', '.join(SYNC_MODES)}, was {sync!r}"
            raise ConfigError(msg)
        writer = writer or _requested_writer()
        if writer not in _WRITERS:
            msg = f"invalid journal `writer`, must be one of {', '.join(_WRITERS)}, was {writer!r}"
            raise ConfigError(msg)
        self.path = str(path)
        self.sync = sync
        self.broken: str | None = None  # why no write is accepted any more
        self._pending: list[tuple[int, int, str, bytes]] = []
        self._events: list[EventRow] = []
        self._memory_snapshots: list[tuple[int, int, str, bytes]] = []
        self._reader: sqlite3.Connection | None = None
        # Batches are written by the native writer (its own connection, off the GIL)
        # where there is one and the journal is a file; else by ``_db`` in Python.
        self._native: Any = None
        try:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self._db = self._connect()
            self._db.executescript(_SCHEMA)
            row = self._db.execute(
                "SELECT seq, ts, account, kind, payload FROM commands ORDER BY seq DESC LIMIT 1"
            ).fetchone()
            if writer == "native" and _NativeWriter is not None and self.path != ":memory:":
                self._native = self._open_native()
        except (sqlite3.Error, OSError, JournalWriteError) as exc:
            if hasattr(self, "_db"):
                self._db.close()
            msg = f"journal {self.path}: cannot open it: {exc}"
            raise JournalUnavailable(msg) from exc
        self.durable_seq: int = row[0] if row else 0
        self.appended_seq: int = self.durable_seq
        # the hash of command `durable_seq`, written into snapshots taken now
        self._durable_record = record_hash(*row) if row else ""

    def _reads(self) -> sqlite3.Connection:
        """History's own connection: it sees committed rows only.

        So it never meets a commit running on another thread (an in-memory
        journal has a single connection).
        """
        if self._reader is None:
            self._reader = self._db if self.path == ":memory:" else self._connect()
        return self._reader

    def _open_native(self) -> Any:
        return _NativeWriter(self.path, self.sync == "full")

    @property
    def writer(self) -> str:
        """Which writer commits: ``native`` (its own thread, no GIL) or ``python``."""
        return "python" if self._native is None else "native"

    def pragma(self, statement: str) -> int | None:
        """Run ``PRAGMA <statement>`` on the connection that writes; its first column, if any.

        For operators and tests (``max_page_count``, ``synchronous``); the
        statement is trusted.
        """
        sql = f"PRAGMA {statement}"
        if self._native is not None:
            value: int | None = self._native.query_int(sql)
            return value
        row = self._db.execute(sql).fetchone()
        return None if row is None else int(row[0])

    def _write_sql(self, sql: str) -> None:
        """Run a statement on the connection that writes (between batches)."""
        if self._native is not None:
            self._native.execute(sql)
        else:
            self._db.execute(sql)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(f"PRAGMA synchronous={self.sync.upper()}")
        return db

    def append(self, ts: int, account: int, kind: str, payload: bytes) -> int:
        """Buffer one command; return its journal sequence (durable after ``flush``)."""
        self.appended_seq += 1
        self._pending.append((ts, account, kind, payload))
        return self.appended_seq

    def record_event(self, row: EventRow) -> None:
        """Buffer one history row (ts, kind, account, symbol, order id, JSON)."""
        self._events.append(row)

    def flush(self) -> int:
        """Write buffered commands and history in one transaction; return the durable sequence.

        Raises ``JournalUnavailable`` when the write fails (disk full, I/O
        error): the transaction is rolled back, the buffered commands are
        dropped, and every later flush is refused too, since the caller's
        state now holds commands the journal does not.
        """
        sealed = self.seal()
        if sealed is not None:
            self.commit(sealed)
            self.settle(sealed)
        return self.durable_seq

    # A flush in three steps, so that the fsync can run off the caller's thread:
    # ``seal`` writes the buffered rows inside a transaction (on the owner's
    # thread, which goes on buffering the next batch), ``commit`` makes them
    # durable (any one thread: it mostly waits on the disk, without the GIL),
    # ``settle`` records the new durable position (the owner's thread again).
    # The Python writer has one sealed batch at a time; the native writer takes
    # several, committed in order.

    def seal(self) -> Sealed | None:
        """Write what is buffered into an open transaction; None when nothing is."""
        if self.broken is not None:
            msg = f"journal {self.path}: no longer written to after a failed write ({self.broken})"
            raise JournalUnavailable(msg)
        if not (self._pending or self._events):
            return None
        rows, events = self._pending, self._events
        self._pending, self._events = [], []
        if self._native is not None:  # written with its commit, on the committing thread
            return Sealed(self.appended_seq, rows[-1] if rows else None, rows, events)
        sealed = Sealed(self.appended_seq, rows[-1] if rows else None)
        try:
            self._db.execute("BEGIN")
            _insert(self._db, _INSERT_COMMAND, rows)
            _insert(self._db, _INSERT_EVENT, events)
        except (sqlite3.Error, OSError) as exc:
            raise self._broke(exc) from exc
        return sealed

    def commit(self, sealed: Sealed) -> None:
        """Commit a sealed batch (fsync'd with ``sync="full"``); safe off the owner's thread.

        The native writer writes the batch's rows here too, without the GIL.
        """
        try:
            if self._native is not None:
                self._native.write(sealed.commands or (), sealed.events or ())
            else:
                self._db.execute("COMMIT")
        except (sqlite3.Error, OSError, JournalWriteError) as exc:
            raise self._broke(exc) from exc

    # The native writer can also commit without a waiting thread: ``commit_later``
    # hands the batch to its own thread, ``completion_fd`` turns readable once a
    # batch ended, and ``commits_done`` tells which (and why one failed). An event
    # loop watches the descriptor, so no thread needs the GIL to report a commit.

    @property
    def completion_fd(self) -> int | None:
        """Readable once a batch handed to ``commit_later`` has ended (None: no native writer)."""
        return None if self._native is None else int(self._native.completion_fd)

    def commit_later(self, sealed: Sealed) -> int:
        """Hand a sealed batch to the native writer's thread; return its ticket.

        Batches commit in the order handed over; once one fails, every later
        one fails too, unwritten. Only with a native writer (``completion_fd``).
        """
        if self._native is None:
            msg = f"journal {self.path}: no native writer to commit in the background"
            raise RuntimeError(msg)
        try:
            return int(self._native.submit(sealed.commands or (), sealed.events or ()))
        except JournalWriteError as exc:
            raise self._broke(exc) from exc

    def commits_done(self) -> list[tuple[int, str | None]]:
        """The batches handed to ``commit_later`` that ended since the last call, in order.

        Each is (ticket, None) once committed, or (ticket, why) when it was not:
        pass ``why`` to ``commit_failed``.
        """
        if self._native is None:
            return []
        done: list[tuple[int, str | None]] = self._native.finished()
        return done

    def commit_failed(self, error: str) -> JournalUnavailable:
        """Record a failed background commit (as ``commit`` would); return the error to raise."""
        cause = JournalWriteError(error)
        failed = self._broke(cause)
        failed.__cause__ = cause
        return failed

    def settle(self, sealed: Sealed) -> None:
        """Record a committed batch as durable (one settled late never moves it back)."""
        if sealed.seq < self.durable_seq:  # a later batch (a synchronous flush) settled first
            return
        if sealed.last is not None:
            self._durable_record = record_hash(sealed.seq, *sealed.last)
        self.durable_seq = sealed.seq

    def _broke(self, exc: BaseException) -> JournalUnavailable:
        self._rollback()
        self.broken = str(exc)
        lost = self.appended_seq - self.durable_seq
        self.appended_seq = self.durable_seq
        msg = (
            f"journal {self.path}: cannot make commands {self.durable_seq + 1}-"
            f"{self.durable_seq + lost} durable: {exc}"
        )
        return JournalUnavailable(msg)

    def _rollback(self) -> None:
        # SQLite may have rolled back already (SQLITE_FULL does); never raise from here
        if self._native is not None:  # a batch rolls itself back; a probe may not have
            with contextlib.suppress(JournalWriteError):
                self._native.execute("ROLLBACK")
            return
        if self._db.in_transaction:
            try:
                self._db.execute("ROLLBACK")
            except sqlite3.Error as exc:
                log.warning("journal %s: rollback failed: %s", self.path, exc)

    def discard(self) -> None:
        """Drop what is buffered (the caller's state is being thrown away)."""
        self._pending, self._events = [], []
        self.appended_seq = self.durable_seq

    def check_headroom(self, nbytes: int = _HEADROOM_BYTES) -> None:
        """Write and fsync ``nbytes``, then free them; raise ``JournalUnavailable`` if it fails.

        A journal that failed for want of space is only used again once this
        much can be written: the freed pages are reused by the next commands.
        A checkpoint first gives back the space the -wal file holds, if it can.
        """
        if self.broken is not None:
            msg = f"journal {self.path}: no longer written to after a failed write ({self.broken})"
            raise JournalUnavailable(msg)
        write = self._write_sql  # the probe writes as the batches do
        try:
            write("PRAGMA wal_checkpoint(TRUNCATE)")
        except (sqlite3.Error, JournalWriteError) as exc:  # no room yet: the probe decides
            log.debug("journal %s: checkpoint failed: %s", self.path, exc)
        try:
            write("BEGIN")
            write(
                "CREATE TABLE IF NOT EXISTS headroom (id INTEGER PRIMARY KEY, data BLOB NOT NULL)"
            )
            blob = f"randomblob({int(nbytes)})"  # an integer: nothing to inject
            write(f"INSERT OR REPLACE INTO headroom VALUES (1, {blob})")  # noqa: S608
            write("COMMIT")
            write("DELETE FROM headroom")
        except (sqlite3.Error, OSError, JournalWriteError) as exc:
            self._rollback()
            msg = f"journal {self.path}: cannot write {nbytes} bytes: {exc}"
            raise JournalUnavailable(msg) from exc

    def record_at(self, seq: int) -> str | None:
        """The hash of durable command ``seq`` (None when the journal has no such command)."""
        row = self._db.execute(
            "SELECT seq, ts, account, kind, payload FROM commands WHERE seq = ?", (seq,)
        ).fetchone()
        return record_hash(*row) if row else None

    def history(
        self,
        *,
        account: int | None = None,
        kind: str | None = None,
        order_id: int | None = None,
        limit: int = 1000,
    ) -> list[tuple[int, int, str, int | None, str | None, int | None, str]]:
        """Query durable history, newest first: (id, ts, kind, account, symbol, order id, JSON)."""
        where, args = [], []
        for column, value in (("account", account), ("kind", kind), ("order_id", order_id)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        sql = "SELECT id, ts, kind, account, symbol, order_id, payload FROM events"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY id DESC LIMIT ?"
        return list(self._reads().execute(sql, [*args, limit]))

    def records(self, after: int = 0) -> Iterator[tuple[int, int, int, str, bytes]]:
        """Yield (seq, ts, account, kind, payload) in order, from command ``after + 1``."""
        yield from self._db.execute(
            "SELECT seq, ts, account, kind, payload FROM commands WHERE seq > ? ORDER BY seq",
            (after,),
        )

    # Snapshots are files beside the database, not rows in it: writing tens of
    # megabytes through the WAL would stall the next commits (and checkpoints).
    @property
    def snapshot_dir(self) -> Path | None:
        """Folder of the snapshot files (None for an in-memory journal)."""
        return None if self.path == ":memory:" else Path(self.path + ".snapshots")

    def write_snapshot(self, seq: int, ts: int, fmt: str, state: bytes, *, keep: int = 2) -> None:
        """Store the venue state after command ``seq`` (atomically); keep the newest ``keep``.

        Needs no database access (a forked writer calls it): the hash of
        command ``seq`` was kept when it became durable.
        """
        if seq != self.durable_seq or self._pending:
            msg = f"invalid snapshot, journal is durable to {self.durable_seq}, not {seq}"
            raise ValueError(msg)
        folder = self.snapshot_dir
        if folder is None:
            self._memory_snapshots = [(seq, ts, fmt, state), *self._memory_snapshots][:keep]
            return
        header = msgspec.json.encode(
            _SnapshotHeader(
                format=fmt,
                seq=seq,
                ts=ts,
                size=len(state),
                sha256=hashlib.sha256(state).hexdigest(),
                record=self._durable_record,
            )
        )
        folder.mkdir(exist_ok=True)
        final = folder / f"snapshot-{seq:020d}.bin"
        tmp = final.with_suffix(f".tmp{os.getpid()}")
        try:
            with tmp.open("wb") as fh:
                fh.write(_SNAPSHOT_MAGIC + b"\n" + header + b"\n")
                fh.write(hashlib.sha256(header).hexdigest().encode() + b"\n")
                fh.write(state)
                fh.flush()
                os.fsync(fh.fileno())
            tmp.replace(final)  # a reader sees the old set or the new file, never half
        except BaseException:
            tmp.unlink(missing_ok=True)  # a full disk leaves no partial file behind
            raise
        _fsync_dir(folder)  # the rename itself survives a power cut
        for old in _snapshot_files(folder)[keep:]:
            old.unlink(missing_ok=True)

    def snapshots(self) -> Iterator[tuple[int, int, str, bytes]]:
        """Yield stored snapshots (seq, ts, format, state), newest first, each one verified.

        Raises ``RecoveryRefused`` on a snapshot that cannot be proven to
        belong to this journal: damaged (checksum, torn file), ahead of the
        journal's last command, or taken after a command the journal does not
        hold. A file of an older release's layout is skipped (it has no
        checksum to prove it): replaying more of the journal is always safe.
        """
        folder = self.snapshot_dir
        if folder is None:
            yield from self._memory_snapshots
            return
        for file in _snapshot_files(folder):
            snap = self._verified(file)
            if snap is not None:
                yield snap

    def _verified(self, file: Path) -> tuple[int, int, str, bytes] | None:
        seq = _file_seq(file)
        try:
            blob = file.read_bytes()
        except OSError as exc:
            raise self._refusal(file, f"cannot be read ({exc})") from exc
        magic, _, rest = blob[:_HEADER_MAX].partition(b"\n")  # the state is not copied
        if magic != _SNAPSHOT_MAGIC:
            legacy_ts = rest.partition(b"\n")[0]
            if _LEGACY_FORMAT.fullmatch(magic) and legacy_ts.isdigit():
                self._check_not_ahead(file, seq)
                log.warning(
                    "skipping snapshot %s: an older release's file without a checksum (%s);"
                    " the journal is replayed instead",
                    file,
                    magic.decode(),
                )
                return None
            raise self._refusal(file, "is damaged: not a snapshot file (unknown first line)")
        header_raw, _, rest = rest.partition(b"\n")
        header_sum, newline, _ = rest.partition(b"\n")
        if not newline:
            raise self._refusal(file, "is torn: it ends inside its header")
        state = blob[len(magic) + len(header_raw) + len(header_sum) + 3 :]
        if hashlib.sha256(header_raw).hexdigest().encode() != header_sum:
            raise self._refusal(file, "is damaged: its header does not match its checksum")
        try:
            header = msgspec.json.decode(header_raw, type=_SnapshotHeader)
        except msgspec.DecodeError as exc:  # pragma: no cover - the header checksum matched
            raise self._refusal(file, f"is damaged: unreadable header ({exc})") from exc
        if header.seq != seq:
            raise self._refusal(file, f"is damaged: its header says command {header.seq}")
        self._check_not_ahead(file, seq)
        if len(state) != header.size:
            raise self._refusal(file, f"is torn: {len(state)} of its {header.size} bytes of state")
        if hashlib.sha256(state).hexdigest() != header.sha256:
            raise self._refusal(file, "is damaged: its state does not match its sha256 checksum")
        if self.record_at(seq) != header.record:
            raise self._refusal(
                file,
                f"was taken after a command {seq} that is not the journal's command {seq}:"
                " it belongs to another history (a journal replaced or rewritten?)",
                lost="whatever the snapshot held that the journal does not",
            )
        return seq, header.ts, header.format, state

    def _check_not_ahead(self, file: Path, seq: int) -> None:
        if seq > self.durable_seq:
            first = self.durable_seq + 1
            floor = next((t for t in self.lost_tails() if t[1] == SNAPSHOT_FORMAT), None)
            ids = (
                f"the order ids, client order ids and sequence numbers handed out up to command"
                f" {floor[0]} are read from its snapshot and not given again; any after it may be"
                if floor is not None
                else "no snapshot ahead of the journal is intact, so their order ids, client order"
                " ids and sequence numbers may be"
            )
            raise self._refusal(
                file,
                f"covers commands up to {seq} but the journal ends at {self.durable_seq}:"
                f" commands {first}-{seq} (and any after them) were lost from the journal"
                " (a lost -wal file?)",
                lost=f"those commands: orders and fills that may have been acknowledged ({ids}"
                " handed out again)",
            )

    def _refusal(self, file: Path, problem: str, *, lost: str = "") -> RecoveryRefused:
        rejected = Path(self.path + ".snapshots") / "rejected"
        loses = (
            f"That path loses {lost}."
            if lost
            else "That path loses nothing the journal holds (the start is slower: every"
            " command is replayed)."
        )
        msg = (
            f"snapshot {file} {problem}; journal {self.path}. Safe path: start with"
            " `makerkit serve --no-snapshot`, which replays the journal in full and moves the"
            f" snapshot files aside into {rejected}/ (kept for inspection). {loses}"
        )
        return RecoveryRefused(msg, snapshot=str(file), journal=self.path)

    def lost_tails(self) -> Iterator[tuple[int, str, bytes]]:
        """Yield the intact snapshots that cover more than the journal holds: (seq, format, state).

        Newest first. Such a snapshot is refused for recovery, yet it is the
        only record of what the lost commands up to it handed out; a damaged
        file (its checksums do not hold) proves nothing and is not yielded.
        """
        folder = self.snapshot_dir
        if folder is None or not folder.is_dir():
            return
        for file in _snapshot_files(folder):
            if _file_seq(file) <= self.durable_seq:
                return  # newest first: the rest are older still
            try:
                blob = file.read_bytes()
            except OSError:
                continue
            magic, _, rest = blob[:_HEADER_MAX].partition(b"\n")
            header_raw, _, rest = rest.partition(b"\n")
            header_sum, newline, _ = rest.partition(b"\n")
            if magic != _SNAPSHOT_MAGIC or not newline:
                continue
            if hashlib.sha256(header_raw).hexdigest().encode() != header_sum:
                continue
            try:
                header = msgspec.json.decode(header_raw, type=_SnapshotHeader)
            except msgspec.DecodeError:  # pragma: no cover - the header checksum matched
                continue
            state = blob[len(magic) + len(header_raw) + len(header_sum) + 3 :]
            if header.seq != _file_seq(file) or len(state) != header.size:
                continue
            if hashlib.sha256(state).hexdigest() == header.sha256:
                yield header.seq, header.format, state

    def sync_now(self) -> None:
        """Put what is committed on the disk whatever ``sync`` says (a checkpoint syncs it)."""
        self._write_sql("PRAGMA wal_checkpoint(FULL)")

    def reject_snapshots(self) -> list[Path]:
        """Move every snapshot file into ``<journal>.snapshots/rejected/``; return the new paths."""
        folder = self.snapshot_dir
        if folder is None:
            self._memory_snapshots = []
            return []
        if not folder.is_dir():
            return []
        rejected = folder / "rejected"
        moved = []
        for file in sorted(folder.glob("snapshot-*")):
            if not file.is_file():
                continue
            rejected.mkdir(exist_ok=True)
            target, n = rejected / file.name, 0
            while target.exists():  # an earlier --no-snapshot start moved one of that name
                n += 1
                target = rejected / f"{file.name}.{n}"
            file.replace(target)
            moved.append(target)
        if moved:
            _fsync_dir(folder)
        return moved

    def close(self) -> None:
        """Flush (unless a write failed) and close the database."""
        try:
            if self.broken is None:
                self.flush()
        finally:
            if self._native is not None:
                self._native.close()
            if self._reader is not None and self._reader is not self._db:
                self._reader.close()
            self._db.close()


def _file_seq(file: Path) -> int:
    return int(file.name.removeprefix("snapshot-").removesuffix(".bin"))


def _snapshot_files(folder: Path) -> list[Path]:
    """Snapshot files in the folder, newest first (other names are ignored)."""
    found = []
    for file in folder.glob("snapshot-*.bin"):
        try:
            found.append((_file_seq(file), file))
        except ValueError:
            log.warning("ignoring %s: not a snapshot file name", file)
    return [file for _, file in sorted(found, reverse=True)]


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class JournaledVenue:
    """A venue whose every command is journaled; construct it to recover from the journal.

    Recovery loads the newest snapshot it can prove consistent with the
    journal, then replays the commands after it; ``use_snapshots=False``
    replays the whole journal and moves the snapshot files aside (the safe
    path when a snapshot is refused).
    """

    def __init__(
        self,
        instruments: list[Instrument],
        *,
        journal: Journal,
        clock: Clock,
        default_limits: RiskLimits | None = None,
        fees: FeeSchedule | None = None,
        backend: str | None = None,
        snapshot_every: int = 0,
        history_limit: int = 100_000,
        background_snapshots: bool = False,
        use_snapshots: bool = True,
    ) -> None:
        self._clock = clock
        self._sim = SimClock(0)
        self.venue = Venue(
            instruments,
            clock=self._sim,
            # a pass says no more than the order's own history row; refusals, trips,
            # resets and limit changes are what the audit log is read for, and under
            # load passes would push them out of it within seconds
            risk=RiskManager(default_limits, audit_passes=False),
            fees=fees,
            backend=backend,
            history_limit=history_limit,
        )
        self.journal = journal
        self.snapshot_every = snapshot_every
        self.background_snapshots = background_snapshots
        self._snapshot_child: tuple[int, int] | None = None  # (writer pid, its seq)
        # recovery: the newest usable snapshot, then the commands after it
        self.snapshot_seq = 0
        for seq, _, fmt, state in journal.snapshots() if use_snapshots else ():
            if fmt != SNAPSHOT_FORMAT:  # another release's state: replaying more is safe
                log.warning("skipping snapshot %d of format %s", seq, fmt)
                continue
            try:
                venue = Venue.restore(state, backend=backend)
            except DataError as exc:
                log.warning("skipping snapshot %d: %s", seq, exc)
                continue
            if not isinstance(venue.clock, SimClock):
                continue
            venue.history_limit = history_limit  # this start's setting wins
            venue.risk.audit_passes = False  # an older snapshot's venue audited passes
            self.venue, self._sim, self.snapshot_seq = venue, venue.clock, seq
            break
        self.recovered = 0
        for seq, ts, account, kind, payload in journal.records(after=self.snapshot_seq):
            self._sim.catch_up(ts)
            try:
                self._apply(account, kind, payload)
            except UnknownAccount as exc:  # older journals kept resets and limits of no one
                log.warning("journal command %d (%s) skipped: %s", seq, kind, exc)
            self.recovered += 1
        # from now on, history rows go to the journal with their commands
        self.venue.risk.sink = self._audit_row
        if not use_snapshots:
            self._set_snapshots_aside(backend)

    def _set_snapshots_aside(self, backend: str | None) -> None:
        """The safe path's last step: the floor of a lost tail made durable, then the files moved.

        In that order, so a crash in between leaves the snapshot where the next
        ``--no-snapshot`` start reads its floor again (a second floor changes nothing).
        """
        journal = self.journal
        floor = self._lost_floor(journal, backend)
        if floor is not None:
            log.warning(
                "the journal ends at command %d, before the snapshot of command %d: order ids,"
                " client order ids and sequence numbers go on above what that snapshot had"
                " handed out (what commands after it handed out left no trace)",
                journal.durable_seq,
                floor[0],
            )
            # journaled, so every later replay of this journal hands out the same ids
            self._run(0, "floor", msgspec.json.encode(floor[1]))
            journal.flush()
            journal.sync_now()  # on the disk before the files move, even with sync=normal
        elif journal.snapshot_dir is not None and any(
            _file_seq(f) > journal.durable_seq for f in _snapshot_files(journal.snapshot_dir)
        ):
            log.warning(
                "the journal ends at command %d, before a snapshot, and no snapshot ahead of it"
                " can be read: order ids, client order ids and sequence numbers the lost"
                " commands handed out may be handed out again",
                journal.durable_seq,
            )
        moved = journal.reject_snapshots()
        if moved:
            log.warning(
                "not using snapshots: %d snapshot files moved aside into %s; the whole journal"
                " %s was replayed",
                len(moved),
                moved[0].parent,
                journal.path,
            )

    @staticmethod
    def _lost_floor(journal: Journal, backend: str | None) -> tuple[int, IdFloor] | None:
        """What the newest readable snapshot ahead of the journal handed out, and its command."""
        for seq, fmt, state in journal.lost_tails():
            if fmt != SNAPSHOT_FORMAT:
                log.warning("snapshot %d of format %s: its ids cannot be read", seq, fmt)
                continue
            try:
                return seq, Venue.restore(state, backend=backend).id_floor()
            except DataError as exc:
                log.warning("snapshot %d: its ids cannot be read (%s)", seq, exc)
        return None

    # ------------------------------------------------------------------ commands

    def _run(self, account: int, kind: str, payload: bytes) -> Any:
        # the live path applies the journaled bytes too, decoded as replay decodes them:
        # the venue it builds is the replayed one, down to its snapshot's bytes
        now = self._sim.catch_up(self._clock.now_ns())
        result = self._apply(account, kind, payload)
        self.journal.append(now, account, kind, payload)
        if type(result) is Outcome:
            self._history(result)
        elif isinstance(result, list):
            for outcome in result:
                if isinstance(outcome, Outcome):
                    self._history(outcome)
        return result

    def _history(self, outcome: Outcome) -> None:
        record = self.journal._events.append  # record_event, without a call a row
        for event in outcome.events:
            kind = type(event)
            if kind is BookDelta:
                continue  # book deltas are derivable; not kept as history
            if kind is OrderUpdate:
                row: EventRow = (
                    event.ts_event,
                    "order",
                    event.account,  # type: ignore[union-attr]
                    event.symbol,
                    event.order_id,  # type: ignore[union-attr]
                    _encode(event).decode(),
                )
            elif isinstance(event, FillReport):
                row = (
                    event.ts_event,
                    "fill",
                    event.account,
                    event.symbol,
                    event.order_id,
                    _json(event),
                )
            elif isinstance(event, Trade):
                row = (event.ts_event, "trade", None, event.symbol, None, _json(event))
            else:
                continue
            record(row)

    def _audit_row(self, rec: AuditRecord) -> None:
        # A pass says no more than the order's own history row: replaying the journal
        # gives it again. Refusals, trips, resets and limit changes are kept.
        if rec.decision != "pass":
            self.journal.record_event((rec.ts, "audit", rec.account, rec.symbol, None, _json(rec)))

    def _apply_command(self, account: int, kind: str, command: Any) -> Any:
        venue = self.venue
        if kind == "new":
            return venue.submit(account, command)
        if kind == "cancel":
            return venue.cancel(account, command)
        if kind == "cancel_all":
            return venue.cancel_all(account, command)
        return venue.modify(account, command)

    def _apply(self, account: int, kind: str, payload: bytes) -> Any:
        venue = self.venue
        decode = _DECODE_COMMAND.get(kind)
        if decode is not None:
            return self._apply_command(account, kind, decode(payload))
        if kind == "account":
            data = msgspec.json.decode(payload)
            return venue.add_account_hashed(
                data["name"],
                role=Role(data["role"]),
                key_hash=data["key_hash"],
                secret=data.get("secret"),
            )
        if kind == "kill":
            data = msgspec.json.decode(payload)
            return venue.kill(data["account"], data["reason"])
        if kind == "reset":
            return venue.reset(msgspec.json.decode(payload)["account"])
        if kind == "limits":
            data = msgspec.json.decode(payload)
            limits = msgspec.convert(data["limits"], RiskLimits)
            venue.set_limits(limits, account=data["account"], symbol=data["symbol"])
            return None
        if kind == "rotate_key":
            data = msgspec.json.decode(payload)
            return venue.rotate_key(data["account"], data["key_hash"])
        if kind == "max_open_orders":
            venue.set_max_open_orders(msgspec.json.decode(payload)["max_open_orders"])
            return None
        if kind == "deposit":
            data = msgspec.json.decode(payload)
            venue.deposit(data["account"], data["asset"], Decimal(data["amount"]))
            return None
        if kind == "allow_short":
            venue.set_allow_short(msgspec.json.decode(payload)["allow_short"])
            return None
        if kind == "floor":
            venue.raise_floor(msgspec.json.decode(payload, type=IdFloor))
            return None
        msg = f"journal: unknown command kind {kind!r}"
        raise ValueError(msg)

    def _order(self, account: int, kind: str, payload: bytes, apply: Any) -> Outcome:
        """``_run`` for a command answered by one outcome: ``apply(account, decoded command)``."""
        now = self._sim.catch_up(self._clock.now_ns())
        outcome: Outcome = apply(account, _DECODE_COMMAND[kind](payload))
        self.journal.append(now, account, kind, payload)
        self._history(outcome)
        return outcome

    def submit(self, account: int, cmd: NewOrder) -> Outcome:
        """Place an order (journaled)."""
        return self._order(account, "new", _encode(cmd), self.venue.submit)

    def cancel(self, account: int, cmd: CancelOrder) -> Outcome:
        """Cancel an order (journaled)."""
        return self._order(account, "cancel", _encode(cmd), self.venue.cancel)

    def cancel_all(self, account: int, cmd: CancelAll | None = None) -> list[Outcome]:
        """Cancel every open order of the account (journaled)."""
        cmd = cmd or CancelAll()
        out: list[Outcome] = self._run(account, "cancel_all", _encode(cmd))
        return out

    def modify(self, account: int, cmd: ModifyOrder) -> Outcome:
        """Modify an order (journaled)."""
        return self._order(account, "modify", _encode(cmd), self.venue.modify)

    def add_account(
        self,
        name: str,
        *,
        role: Role = Role.TRADER,
        api_key: str | None = None,
        api_secret: str | None = None,
    ) -> tuple[Account, str]:
        """Create an account; return it and its key.

        The key is journaled as its hash only. The signing secret (read back
        with ``venue.api_secret``) is journaled as it is: an HMAC cannot be
        checked against a hash, so the journal file is as secret as the keys.
        """
        key = api_key or self.venue.new_api_key()
        payload = msgspec.json.encode(
            {
                "name": name,
                "role": role.value,
                "key_hash": self.venue.hash_key(key),
                "secret": api_secret or self.venue.new_api_key(),
            }
        )
        account: Account = self._run(0, "account", payload)
        return account, key

    def deposit(self, account: int, asset: str, amount: Decimal) -> None:
        """Credit (negative: debit) an account's asset (journaled)."""
        payload = {"account": account, "asset": asset, "amount": str(amount)}
        self._run(0, "deposit", msgspec.json.encode(payload))

    def set_allow_short(self, allow: bool) -> None:
        """Whether balances may go negative (journaled: it decides which orders pass)."""
        self._run(0, "allow_short", msgspec.json.encode({"allow_short": bool(allow)}))

    def kill(self, account: int | None, reason: str = "manual") -> list[Outcome]:
        """Trip a kill switch and cancel the affected orders (journaled)."""
        out: list[Outcome] = self._run(
            0, "kill", msgspec.json.encode({"account": account, "reason": reason})
        )
        return out

    def reset(self, account: int | None) -> None:
        """Lift a kill switch (journaled)."""
        self._run(0, "reset", msgspec.json.encode({"account": account}))

    def set_limits(self, limits: RiskLimits, *, account: int | None, symbol: str | None) -> None:
        """Change risk limits at run time (journaled)."""
        payload = msgspec.json.encode({"limits": limits, "account": account, "symbol": symbol})
        self._run(0, "limits", payload)

    def rotate_key(self, account: int, api_key: str) -> Account:
        """Replace an account's API key (journaled as its hash); the old key stops working."""
        payload = msgspec.json.encode(
            {"account": account, "key_hash": self.venue.hash_key(api_key)}
        )
        out: Account = self._run(0, "rotate_key", payload)
        return out

    def set_max_open_orders(self, cap: int | None) -> None:
        """Change the per-account cap on open orders (journaled: replay decides the same)."""
        self._run(0, "max_open_orders", msgspec.json.encode({"max_open_orders": cap}))

    def order(self, account: int, order_id: int) -> OrderUpdate | None:
        """Return the latest state of an order, from memory or, once retired, the journal."""
        live = self.venue.order(account, order_id)
        if live is not None:
            return live
        rows = self.journal.history(account=account, kind="order", order_id=order_id, limit=1)
        return msgspec.json.decode(rows[0][6], type=OrderUpdate) if rows else None

    def flush(self) -> int:
        """Make every command so far durable; return the durable journal sequence.

        Every ``snapshot_every`` commands this also stores a snapshot, so that
        recovery replays at most that many commands.
        """
        seq = self.journal.flush()
        self.maybe_snapshot()
        return seq

    def maybe_snapshot(self) -> bool:
        """Start a snapshot if ``snapshot_every`` durable commands passed since the last one.

        With ``background_snapshots`` the state is written by a forked child
        (copy-on-write), so the venue does not pause while it is serialised.
        """
        self._reap_snapshot(block=False)
        due = (
            self.snapshot_every > 0
            and self._snapshot_child is None
            and self.journal.durable_seq - self.snapshot_seq >= self.snapshot_every
        )
        if due:
            try:
                self.snapshot(background=self.background_snapshots)
            except OSError as exc:  # no room for the file: the journal alone is still whole
                log.warning("snapshot of command %d failed: %s", self.journal.durable_seq, exc)
                return False
        return due

    def snapshot(self, *, background: bool = False) -> int:
        """Store the venue state now (after making the journal durable); return its seq.

        In the background, the returned seq is that of the last finished snapshot.
        """
        seq = self.journal.flush()
        if seq <= self.snapshot_seq:
            return self.snapshot_seq
        ts = self._sim.now_ns()
        if background and hasattr(os, "fork") and self.journal.snapshot_dir is not None:
            self._reap_snapshot(block=True)  # one writer at a time
            pid = os.fork()
            if pid == 0:  # the child: serialise the frozen copy, write it, leave
                code = 1
                try:
                    self.journal.write_snapshot(seq, ts, SNAPSHOT_FORMAT, self.venue.snapshot())
                    code = 0
                finally:
                    os._exit(code)
            self._snapshot_child = (pid, seq)
            return self.snapshot_seq
        self.journal.write_snapshot(seq, ts, SNAPSHOT_FORMAT, self.venue.snapshot())
        self.snapshot_seq = seq
        return seq

    def _reap_snapshot(self, *, block: bool) -> None:
        if self._snapshot_child is None:
            return
        pid, seq = self._snapshot_child
        done, status = os.waitpid(pid, 0 if block else os.WNOHANG)
        if done == 0:
            return  # still writing
        self._snapshot_child = None
        if os.waitstatus_to_exitcode(status) == 0:
            self.snapshot_seq = max(self.snapshot_seq, seq)
        else:
            log.warning("snapshot of command %d failed in its writer process", seq)

    def close(self) -> None:
        """Wait for a snapshot being written, then flush and close the journal.

        After a failed write nothing more is flushed: the journal just closes.
        """
        self._reap_snapshot(block=True)
        self.journal.close()
