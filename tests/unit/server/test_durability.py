"""The venue service under journal faults: nothing undurable is told, nothing hangs.

A full disk is SQLite's own: ``PRAGMA max_page_count`` at the file's size makes
every write that needs a page fail with SQLITE_FULL, exactly as a full disk
does; raising it again is space freed. The event loop runs the service as the
server does; no wall-clock wait decides an outcome (recovery is driven by
calling ``try_recover``, the venue clock is simulated).
"""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import msgspec
import pytest

pytest.importorskip("fastapi")

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from makerkit.cli import app as cli
from makerkit.core import Instrument, JournalUnavailable, Side, SimClock
from makerkit.server import Settings, create_app
from makerkit.server._service import Subscriber, VenueService
from makerkit.venue import Journal, JournaledVenue, NewOrder, Outcome
from makerkit.venue._journal import JournalWriteError
from makerkit.venue._journal import _NativeWriter as NativeWriter

INSTRUMENTS = [Instrument(symbol="AAA")]
T0 = 1_700_000_000_000_000_000


class Disk:
    """Every journal writer opened while it is patched; ``fill`` and ``free`` them.

    A writer is a function running one SQL statement on a connection that
    writes (a Python connection, or a native writer's own).
    """

    def __init__(self) -> None:
        self.full = False
        self.writers: list[Callable[[str], Any]] = []

    def limit(self, run: Callable[[str], Any]) -> None:
        pages = run("PRAGMA page_count") if self.full else 1073741823
        run(f"PRAGMA max_page_count = {pages}")

    def add(self, run: Callable[[str], Any]) -> None:
        self.writers.append(run)
        if self.full:
            self.limit(run)

    def fill(self) -> None:
        self.full = True
        self.apply()

    def free(self) -> None:
        self.full = False
        self.apply()

    def apply(self) -> None:
        for run in list(self.writers):
            try:
                self.limit(run)
            except (sqlite3.ProgrammingError, JournalWriteError):  # closed meanwhile
                self.writers.remove(run)


WRITERS = ["python", *(["native"] if NativeWriter is not None else [])]


@pytest.fixture(params=WRITERS, autouse=True)
def writer(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test here runs with each journal writer."""
    monkeypatch.setenv("MAKERKIT_JOURNAL_WRITER", request.param)
    return str(request.param)


@pytest.fixture
def disk(monkeypatch: pytest.MonkeyPatch) -> Disk:
    disk = Disk()
    connect, open_native = Journal._connect, Journal._open_native

    def limited(journal: Journal) -> sqlite3.Connection:
        db = connect(journal)
        disk.add(lambda sql: db.execute(sql).fetchone()[0])
        return db

    def limited_native(journal: Journal) -> Any:
        native = open_native(journal)
        disk.add(native.query_int)
        return native

    monkeypatch.setattr(Journal, "_connect", limited)
    monkeypatch.setattr(Journal, "_open_native", limited_native)
    return disk


def service(path: Path, **kw: Any) -> VenueService:
    kw = {"retry_interval_s": 3600.0, "flush_interval_s": 0.0, "md_interval_s": 0.0, **kw}
    return VenueService(INSTRUMENTS, journal_path=str(path), clock=SimClock(T0), **kw)


def run(scenario: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(scenario())


def state(svc: VenueService | JournaledVenue) -> Any:
    v = svc.venue
    accounts = [a.account_id for a in v.accounts()]
    return msgspec.to_builtins(
        {
            "book": v.book("AAA").l3(10_000),
            "seq": v.public_seq("AAA"),
            "accounts": accounts,
            "open": [v.open_orders(a) for a in accounts],
            "fills": [v.fills(a) for a in accounts],
            "positions": [v.risk.positions(a) for a in accounts],
        }
    )


def order(svc: VenueService, account: int, i: int, side: Side = Side.BUY) -> Callable[[], Outcome]:
    cmd = NewOrder(symbol="AAA", side=side, price=100 + i % 3, qty=1, client_order_id=f"c{i}")
    return lambda: svc.jv.submit(account, cmd)


def frames(sub: Subscriber) -> list[Any]:
    out = []
    while not sub.queue.empty():
        frame = sub.queue.get_nowait()
        assert frame is not None
        data = msgspec.json.decode(frame)
        out.extend(data if isinstance(data, list) else [data])
    return out


async def open_venue(svc: VenueService) -> tuple[int, int, Subscriber]:
    """Two accounts, some durable trading, and a subscriber to everything of alice's and AAA."""
    await svc.start()
    alice = (await svc.execute(lambda: svc.jv.add_account("alice", api_key="ka")))[0].account_id
    bob = (await svc.execute(lambda: svc.jv.add_account("bob", api_key="kb")))[0].account_id
    for i in range(10):
        await svc.execute(order(svc, alice if i % 2 else bob, i, Side.BUY if i % 2 else Side.SELL))
    sub = Subscriber(alice)
    svc.private.setdefault(alice, set()).add(sub)
    svc.public["AAA"].add(sub)
    sub.channels |= {("AAA", "book"), ("AAA", "trades"), ("AAA", "l1")}
    return alice, bob, sub


# ---------------------------------------------------------------------- a full disk


def test_a_full_disk_answers_the_batch_refuses_new_commands_and_recovers(
    tmp_path: Path, disk: Disk, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "venue.db"

    async def scenario() -> None:
        svc = service(path)
        alice, _, sub = await open_venue(svc)
        durable, want = svc.jv.journal.durable_seq, state(svc)
        frames(sub)
        disk.fill()
        # a pipelined burst (WebSocket order entry) and an awaited command in one batch
        acks: list[Any] = []
        errors: list[JournalUnavailable] = []
        first = None
        for i in range(100, 300):
            out = svc.execute_then(order(svc, alice, i), acks.append, errors.append)
            first = first or out.update.order_id
        with pytest.raises(JournalUnavailable, match="database or disk is full"):
            await svc.execute(order(svc, alice, 300))
        assert acks == [] and len(errors) == 200
        assert all("database or disk is full" in str(e) for e in errors)
        assert frames(sub) == []  # none of the failed batch's events was published
        assert svc.failure == "database or disk is full"
        assert svc.health()["status"] == "failed"
        assert any(
            r.levelname == "ERROR" and "database or disk is full" in r.getMessage()
            for r in caplog.records
        )
        # every new command is refused at once, without touching the venue
        touched: list[int] = []
        with pytest.raises(JournalUnavailable):
            await svc.execute(lambda: touched.append(1))
        with pytest.raises(JournalUnavailable):
            svc.execute_then(lambda: touched.append(1), acks.append, errors.append)
        with pytest.raises(JournalUnavailable):
            await svc.durable(lambda: svc.venue.open_orders(alice))
        assert touched == [] and acks == []
        # no room yet: the venue stays stopped
        assert not svc.try_recover() and svc.health()["failure"] is not None
        disk.free()
        assert svc.try_recover()
        assert svc.health()["failure"] is None and svc.health()["status"] == "ok"
        # rebuilt from the journal: exactly the durable state, none of the failed batch
        assert svc.jv.journal.durable_seq == durable and state(svc) == want
        assert await svc.durable(lambda: state(svc)) == want
        # order entry goes on; the failed orders' ids were never acknowledged to anyone
        again = await svc.execute(order(svc, alice, 100))
        assert again.accepted and again.update.order_id == first
        assert [f["type"] for f in frames(sub)][:1] == ["order"]
        want = state(svc)
        await svc.stop()
        assert state(JournaledVenue(INSTRUMENTS, journal=Journal(path), clock=SimClock(0))) == want

    run(scenario)


def test_stop_returns_at_once_when_the_journal_has_failed(tmp_path: Path, disk: Disk) -> None:
    path = tmp_path / "venue.db"

    async def scenario() -> None:
        svc = service(path)
        alice, _, _ = await open_venue(svc)
        durable = svc.jv.journal.durable_seq
        disk.fill()
        waiters = [asyncio.create_task(svc.execute(order(svc, alice, i))) for i in range(50, 250)]
        await asyncio.wait(waiters)
        assert all(isinstance(w.exception(), JournalUnavailable) for w in waiters)
        disk.free()  # the failed batch must not be written on the way out
        await asyncio.wait_for(svc.stop(), timeout=10)  # a guard against a hang only
        assert Journal(path).durable_seq == durable

    run(scenario)


def test_the_background_task_recovers_when_space_comes_back(tmp_path: Path, disk: Disk) -> None:
    path = tmp_path / "venue.db"

    async def scenario() -> None:
        svc = service(path, retry_interval_s=0.0)
        alice, _, _ = await open_venue(svc)
        want = state(svc)
        disk.fill()
        waiters = [asyncio.create_task(svc.execute(order(svc, alice, i))) for i in range(50, 250)]
        await asyncio.wait(waiters)
        assert all(isinstance(w.exception(), JournalUnavailable) for w in waiters)
        for _ in range(20):  # the retries run (and fail: still full) without blocking the loop
            await asyncio.sleep(0)
        assert svc.health()["failure"] is not None
        disk.free()
        for _ in range(20):  # the next retry succeeds
            await asyncio.sleep(0)
        assert svc.health()["failure"] is None and state(svc) == want
        await svc.stop()

    run(scenario)


def test_a_venue_started_on_a_full_disk_says_so_before_any_order(
    tmp_path: Path, disk: Disk
) -> None:
    path = tmp_path / "venue.db"

    async def scenario() -> None:
        svc = service(path)
        alice, _, _ = await open_venue(svc)
        want = state(svc)
        await svc.stop()
        disk.full = True  # every journal opened from now on finds no room
        svc = service(path)
        await svc.start()
        assert svc.health()["failure"] is not None  # /health fails before any command
        with pytest.raises(JournalUnavailable):
            await svc.execute(order(svc, alice, 99))
        assert not svc.try_recover()  # still full
        disk.free()
        assert svc.try_recover()
        assert svc.health()["failure"] is None and state(svc) == want
        await svc.execute(order(svc, alice, 99))
        await svc.stop()

    run(scenario)


# ---------------------------------------------------------------------- a failing fsync


class FailingCommit:
    """A connection whose COMMIT fails as a failing fsync makes it fail."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def execute(self, sql: str, *args: Any) -> Any:
        if sql == "COMMIT":
            msg = "disk I/O error"
            raise sqlite3.OperationalError(msg)
        return self.db.execute(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.db, name)


def test_a_failing_fsync_answers_every_waiter_and_the_venue_rebuilds(
    tmp_path: Path, writer: str
) -> None:
    path = tmp_path / "venue.db"

    async def scenario() -> None:
        svc = service(path)
        alice, bob, sub = await open_venue(svc)
        want = state(svc)
        frames(sub)
        journal = svc.jv.journal
        assert journal.writer == writer
        if writer == "python":
            journal._db = FailingCommit(journal._db)  # type: ignore[assignment]
            error = "disk I/O error"
        else:  # its connection read-only: the batch fails inside its transaction
            journal.pragma("query_only = 1")
            error = "readonly database"
        errors: list[JournalUnavailable] = []
        svc.execute_then(order(svc, bob, 20, Side.SELL), print, errors.append)
        waiters = [asyncio.create_task(svc.execute(order(svc, alice, i))) for i in range(21, 30)]
        read = asyncio.create_task(svc.durable(lambda: svc.venue.open_orders(alice)))
        after: list[str] = []
        svc.after_durable(lambda: after.append("ran"), lambda e: after.append("dropped"))
        await asyncio.wait([*waiters, read])
        assert len(errors) == 1 and after == ["dropped"]
        assert all(isinstance(t.exception(), JournalUnavailable) for t in [*waiters, read])
        assert error in str(read.exception()) and frames(sub) == []
        assert svc.try_recover()  # a new connection: its fsync works
        assert state(svc) == want
        await svc.execute(order(svc, alice, 21))
        await svc.stop()

    run(scenario)


def test_an_unexpected_error_never_kills_the_flusher(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def scenario() -> None:
        svc = service(tmp_path / "venue.db")
        alice, _, _ = await open_venue(svc)

        def broken(_: object) -> None:
            msg = "a bug in an ack"
            raise RuntimeError(msg)

        acks: list[Any] = []
        svc.execute_then(order(svc, alice, 40), broken)
        svc.execute_then(order(svc, alice, 41), acks.append)
        await svc.execute(order(svc, alice, 42))
        assert len(acks) == 1  # the callbacks after a failing one still ran
        monkeypatch.setattr(svc.jv.journal, "seal", lambda: 1 / 0)  # the flusher seals
        with pytest.raises(JournalUnavailable, match="ZeroDivisionError"):
            await svc.execute(order(svc, alice, 43))
        assert svc._flusher is not None and not svc._flusher.done()
        assert svc.try_recover()
        await svc.execute(order(svc, alice, 44))
        await svc.stop()

    run(scenario)


# ---------------------------------------------------------------------- durable reads


def test_reads_are_returned_once_what_they_show_is_durable(tmp_path: Path) -> None:
    async def scenario() -> None:
        svc = service(tmp_path / "venue.db")
        alice, _, _ = await open_venue(svc)
        journal = svc.jv.journal
        # nothing pending: answered without waiting (the coroutine never suspends)
        quiet = svc.durable(lambda: journal.durable_seq)
        with pytest.raises(StopIteration) as answered:
            quiet.send(None)
        assert answered.value.value == journal.durable_seq
        ran: list[int] = []
        svc.after_durable(lambda: ran.append(journal.durable_seq))
        assert ran == [journal.durable_seq]
        # a command applied, not durable yet: the read sees it, and waits for its commit
        acked: list[int] = []
        svc.execute_then(order(svc, alice, 50), lambda _: acked.append(journal.durable_seq))
        svc.after_durable(lambda: ran.append(journal.durable_seq))
        assert journal.durable_seq < journal.appended_seq and len(ran) == 1
        seen = await svc.durable(lambda: (journal.appended_seq, len(svc.venue.open_orders(alice))))
        assert journal.durable_seq >= seen[0] and acked == [seen[0]] and ran[1] == seen[0]
        await svc.stop()

    run(scenario)


# ---------------------------------------------------------------------- the app and the CLI


def test_the_app_answers_503_and_refuses_websocket_orders_with_their_req_id(
    tmp_path: Path, disk: Disk
) -> None:
    settings = Settings(journal=str(tmp_path / "venue.db"), symbols="AAA", admin_key="adm")
    svc = VenueService.from_settings(settings)
    svc._retry_interval = 3600.0
    with TestClient(create_app(settings, service=svc)) as client:
        key = client.post(
            "/admin/accounts", json={"name": "alice"}, headers={"X-API-Key": "adm"}
        ).json()["api_key"]
        body = {"symbol": "AAA", "side": "buy", "qty": "1", "price": "1.00"}
        assert client.post("/orders", json=body, headers={"X-API-Key": key}).status_code == 200
        disk.fill()
        # each order is its own batch: the first ones fit in the file's free pages (the
        # start's 64 KiB headroom probe left some)
        answers = [
            client.post("/orders", json=body, headers={"X-API-Key": key}) for _ in range(400)
        ]
        failed = next(i for i, a in enumerate(answers) if a.status_code != 200)
        assert {a.status_code for a in answers[failed:]} == {503}
        assert {a.json()["code"] for a in answers[failed:]} == {"JOURNAL_UNAVAILABLE"}
        assert "database or disk is full" in answers[-1].json()["message"]
        assert answers[-1].headers["Retry-After"] == "1"
        with client.websocket_connect(f"/ws/private?api_key={key}") as ws:
            ws.send_json({"op": "order", "req_id": 7, **body})
            frame = ws.receive_json()
            frame = frame[0] if isinstance(frame, list) else frame
            assert frame["code"] == "JOURNAL_UNAVAILABLE" and frame["req_id"] == 7
        disk.free()
        assert client.portal is not None
        assert client.portal.call(svc.try_recover)
        assert client.post("/orders", json=body, headers={"X-API-Key": key}).status_code == 200


def test_serve_refuses_a_snapshot_ahead_of_the_journal_with_exit_code_3(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    live = tmp_path / "live" / "venue.db"
    jv = JournaledVenue(INSTRUMENTS, journal=Journal(live), clock=SimClock(T0))
    for i in range(5):
        jv.add_account(f"a{i}", api_key=f"k{i}")
        if i == 2:  # the database file holds three commands, the -wal the rest
            seq = jv.flush()
            jv.journal._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    snapshot = jv.snapshot()
    path = tmp_path / "venue.db"
    shutil.copy(live, path)  # the -wal file lost
    shutil.copytree(tmp_path / "live" / "venue.db.snapshots", tmp_path / "venue.db.snapshots")
    folder = tmp_path / "venue.db.snapshots"
    ahead = folder / f"snapshot-{snapshot:020d}.bin"
    started: list[Any] = []
    monkeypatch.setattr("uvicorn.run", lambda app, **kw: started.append(app))
    monkeypatch.setattr("gc.set_threshold", lambda *_: None)  # serve's, not the tests'

    args = ["serve", "--journal", str(path), "--symbols", "AAA"]
    refused = CliRunner().invoke(cli, args)
    assert refused.exit_code == 3 and started == []
    assert refused.stderr.startswith("error: recovery refused: snapshot ")
    assert "venue on http" not in refused.stderr  # a failed start never reads as a running one
    assert f"the journal ends at {seq}" in refused.stderr and "--no-snapshot" in refused.stderr
    safe = CliRunner().invoke(cli, [*args, "--no-snapshot"])
    assert safe.exit_code == 0 and len(started) == 1
    assert "makerkit venue on http://127.0.0.1:8000" in safe.stderr
    assert (folder / "rejected" / ahead.name).exists() and not ahead.exists()
