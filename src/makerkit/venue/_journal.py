"""Event sourcing for the venue: every command is journaled, recovery replays them.

The venue is deterministic given its commands and their timestamps, so the
journal stores exactly that (account, kind, payload, ts) in SQLite (WAL);
replaying it rebuilds books, orders, positions, fills and sequence numbers
exactly. ``JournaledVenue`` is the venue the server runs: it stamps each
command with the live clock, applies it, appends it, and makes it durable
(``flush``) before anyone is told.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec

from makerkit.core import Clock, DataError, Instrument, SimClock, UnknownAccount
from makerkit.risk import AuditRecord, RiskLimits, RiskManager
from makerkit.venue._model import (
    Account,
    CancelAll,
    CancelOrder,
    FeeSchedule,
    FillReport,
    ModifyOrder,
    NewOrder,
    OrderUpdate,
    Outcome,
    Role,
    Trade,
)
from makerkit.venue._venue import SNAPSHOT_FORMAT, Venue

__all__ = ["Journal", "JournaledVenue"]

log = logging.getLogger("makerkit.venue")


def _json(obj: object) -> str:
    return msgspec.json.encode(obj).decode()


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


class Journal:
    """Append-only command log in SQLite (WAL); ``path=":memory:"`` for tests."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        # WAL + NORMAL survives a killed process (the point of this journal); power loss
        # may drop the last transactions, as documented by SQLite
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._pending: list[tuple[int, int, str, bytes]] = []
        self._events: list[EventRow] = []
        self._memory_snapshots: list[tuple[int, int, str, bytes]] = []
        row = self._db.execute("SELECT COALESCE(MAX(seq), 0) FROM commands").fetchone()
        self.durable_seq: int = row[0]
        self.appended_seq: int = row[0]

    def append(self, ts: int, account: int, kind: str, payload: bytes) -> int:
        """Buffer one command; return its journal sequence (durable after ``flush``)."""
        self.appended_seq += 1
        self._pending.append((ts, account, kind, payload))
        return self.appended_seq

    def record_event(self, row: EventRow) -> None:
        """Buffer one history row (ts, kind, account, symbol, order id, JSON)."""
        self._events.append(row)

    def flush(self) -> int:
        """Write buffered commands and history in one transaction; return the durable sequence."""
        if self._pending or self._events:
            rows, events = self._pending, self._events
            self._pending, self._events = [], []
            self._db.execute("BEGIN")
            self._db.executemany(
                "INSERT INTO commands (ts, account, kind, payload) VALUES (?, ?, ?, ?)", rows
            )
            self._db.executemany(
                "INSERT INTO events (ts, kind, account, symbol, order_id, payload)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                events,
            )
            self._db.execute("COMMIT")
            self.durable_seq = self.appended_seq
        return self.durable_seq

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
        return list(self._db.execute(sql, [*args, limit]))

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
        """Store the venue state after command ``seq`` (atomically); keep the newest ``keep``."""
        if seq != self.durable_seq or self._pending:
            msg = f"invalid snapshot, journal is durable to {self.durable_seq}, not {seq}"
            raise ValueError(msg)
        folder = self.snapshot_dir
        if folder is None:
            self._memory_snapshots = [(seq, ts, fmt, state), *self._memory_snapshots][:keep]
            return
        folder.mkdir(exist_ok=True)
        final = folder / f"snapshot-{seq:020d}.bin"
        tmp = final.with_suffix(f".tmp{os.getpid()}")
        with tmp.open("wb") as fh:
            fh.write(f"{fmt}\n{ts}\n".encode())
            fh.write(state)
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(final)  # a reader sees the old set or the new file, never half
        for old in sorted(folder.glob("snapshot-*.bin"), reverse=True)[keep:]:
            old.unlink(missing_ok=True)

    def snapshots(self) -> Iterator[tuple[int, int, str, bytes]]:
        """Yield stored snapshots (seq, ts, format, state), newest first."""
        folder = self.snapshot_dir
        if folder is None:
            yield from self._memory_snapshots
            return
        for file in sorted(folder.glob("snapshot-*.bin"), reverse=True):
            try:
                seq = int(file.stem.removeprefix("snapshot-"))
                fmt, ts, state = file.read_bytes().split(b"\n", 2)
                yield seq, int(ts), fmt.decode(), state
            except (OSError, ValueError) as exc:
                log.warning("skipping unreadable snapshot %s: %s", file, exc)

    def close(self) -> None:
        """Flush and close the database."""
        self.flush()
        self._db.close()


class JournaledVenue:
    """A venue whose every command is journaled; construct it to recover from the journal."""

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
    ) -> None:
        self._clock = clock
        self._sim = SimClock(0)
        self.venue = Venue(
            instruments,
            clock=self._sim,
            risk=RiskManager(default_limits),
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
        for seq, _, fmt, state in journal.snapshots():
            if fmt != SNAPSHOT_FORMAT:
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
            self.venue, self._sim, self.snapshot_seq = venue, venue.clock, seq
            break
        self.recovered = 0
        for seq, ts, account, kind, payload in journal.records(after=self.snapshot_seq):
            self._sim.advance_to(max(ts, self._sim.now_ns()))
            try:
                self._apply(account, kind, payload)
            except UnknownAccount as exc:  # older journals kept resets and limits of no one
                log.warning("journal command %d (%s) skipped: %s", seq, kind, exc)
            self.recovered += 1
        # from now on, history rows go to the journal with their commands
        self.venue.risk.sink = self._audit_row

    # ------------------------------------------------------------------ commands

    def _run(self, account: int, kind: str, payload: bytes) -> Any:
        now = max(self._clock.now_ns(), self._sim.now_ns())
        self._sim.advance_to(now)
        result = self._apply(account, kind, payload)
        self.journal.append(now, account, kind, payload)
        for outcome in result if isinstance(result, list) else [result]:
            if isinstance(outcome, Outcome):
                self._history(outcome)
        return result

    def _history(self, outcome: Outcome) -> None:
        record = self.journal.record_event
        for event in outcome.events:
            if isinstance(event, OrderUpdate):
                row: EventRow = (
                    event.ts_event,
                    "order",
                    event.account,
                    event.symbol,
                    event.order_id,
                    _json(event),
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
                continue  # book deltas are derivable; not kept as history
            record(row)

    def _audit_row(self, rec: AuditRecord) -> None:
        self.journal.record_event((rec.ts, "audit", rec.account, rec.symbol, None, _json(rec)))

    def _apply(self, account: int, kind: str, payload: bytes) -> Any:
        venue = self.venue
        if kind == "new":
            return venue.submit(account, msgspec.json.decode(payload, type=NewOrder))
        if kind == "cancel":
            return venue.cancel(account, msgspec.json.decode(payload, type=CancelOrder))
        if kind == "cancel_all":
            return venue.cancel_all(account, msgspec.json.decode(payload, type=CancelAll))
        if kind == "modify":
            return venue.modify(account, msgspec.json.decode(payload, type=ModifyOrder))
        if kind == "account":
            data = msgspec.json.decode(payload)
            return venue.add_account_hashed(
                data["name"], role=Role(data["role"]), key_hash=data["key_hash"]
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
        msg = f"journal: unknown command kind {kind!r}"
        raise ValueError(msg)

    def submit(self, account: int, cmd: NewOrder) -> Outcome:
        """Place an order (journaled)."""
        out: Outcome = self._run(account, "new", msgspec.json.encode(cmd))
        return out

    def cancel(self, account: int, cmd: CancelOrder) -> Outcome:
        """Cancel an order (journaled)."""
        out: Outcome = self._run(account, "cancel", msgspec.json.encode(cmd))
        return out

    def cancel_all(self, account: int, cmd: CancelAll | None = None) -> list[Outcome]:
        """Cancel every open order of the account (journaled)."""
        out: list[Outcome] = self._run(
            account, "cancel_all", msgspec.json.encode(cmd or CancelAll())
        )
        return out

    def modify(self, account: int, cmd: ModifyOrder) -> Outcome:
        """Modify an order (journaled)."""
        out: Outcome = self._run(account, "modify", msgspec.json.encode(cmd))
        return out

    def add_account(
        self, name: str, *, role: Role = Role.TRADER, api_key: str | None = None
    ) -> tuple[Account, str]:
        """Create an account (journaled with the key's hash only); return it and its key."""
        key = api_key or self.venue.new_api_key()
        payload = msgspec.json.encode(
            {"name": name, "role": role.value, "key_hash": self.venue.hash_key(key)}
        )
        account: Account = self._run(0, "account", payload)
        return account, key

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
            self.snapshot(background=self.background_snapshots)
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
        """Wait for a snapshot being written, then flush and close the journal."""
        self._reap_snapshot(block=True)
        self.journal.close()
