"""The server's core: one journaled venue, group commit, and event fan-out.

Commands run synchronously on the event loop (the venue is single-writer, so
they are serialised by construction). Each command's events wait in a batch;
a flusher task commits the journal for the whole batch in one transaction,
then publishes the batch in order and releases the waiting acks. So nothing
is acknowledged or published before it is durable. A subscriber gets one
WebSocket frame per batch: a single message object, or a JSON array of them.

When the journal cannot write (disk full, I/O error) the service stops order
entry at once: every waiter of the failed batch gets ``JournalUnavailable``,
none of its events is published, every new command is refused without
touching the venue, and ``failure`` says why. The venue in memory then holds
commands that never became durable, so it is rebuilt from the journal file
(``try_recover``, retried in the background) once the journal can write again.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import queue
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import msgspec

from makerkit.core import (
    Clock,
    Instrument,
    JournalUnavailable,
    L1Snapshot,
    LiveClock,
    NotAuthorized,
    OrderStatus,
    RejectReason,
    Side,
    format_units,
)
from makerkit.risk import MONEY_SCALE
from makerkit.venue import (
    BookDelta,
    Event,
    FeeSchedule,
    FillReport,
    Journal,
    JournaledVenue,
    OrderUpdate,
    Outcome,
    Role,
    Sealed,
    Trade,
)

if TYPE_CHECKING:
    from makerkit.server._settings import Settings

__all__ = ["Subscriber", "VenueService"]

log = logging.getLogger("makerkit.server")

T = TypeVar("T")
# a command's ack waiting for its batch's commit: (on_durable, its argument, on_error);
# on_durable(argument) is called once durable, on_error(exc) if the commit fails
_Waiter = tuple[Callable[[Any], None], Any, Callable[[JournalUnavailable], None] | None]
_STATUS = {s: s.name.lower() for s in OrderStatus}
_SIDE = {Side.BUY: "buy", Side.SELL: "sell"}
_encode = msgspec.json.Encoder().encode
# an order update as the wire has it (``order_out`` encoded), formatted in one step
_ORDER_JSON = (
    b'{"order_id":%d,"client_order_id":%b,"symbol":%b,"side":%b,"price":%b,"qty":%b,'
    b'"filled":%b,"remaining":%b,"status":%b,"reason":%b,"seq":%d,"ts":%d}'
)
_STATUS_JSON = {s: _encode(name) for s, name in _STATUS.items()}
_SIDE_JSON = {s: _encode(name) for s, name in _SIDE.items()}
_REASON_JSON = {r: _encode(r.name) for r in RejectReason}
_MARKET_EVENTS: frozenset[type] = frozenset((BookDelta, Trade))  # public: sent at md ticks
_MEMO_MAX = 4096  # decimal strings remembered per grid: prices and sizes repeat


def _call(callback: Callable[[], None]) -> None:
    callback()


class _Units:
    """JSON decimal strings of integer ticks (or lots) on one grid, the recent ones remembered."""

    __slots__ = ("memo", "places", "scale")

    def __init__(self, scale: int, places: int) -> None:
        self.scale = scale
        self.places = places
        self.memo: dict[int, bytes] = {}

    def json(self, units: int) -> bytes:
        """``units`` as a JSON string, e.g. ``b'"100.25"'``."""
        text = self.memo.get(units)
        if text is None:
            if len(self.memo) >= _MEMO_MAX:
                self.memo.clear()
            text = self.memo[units] = _encode(format_units(units * self.scale, self.places))
        return text


def _grid_units(grid: tuple[int, int, int, int]) -> tuple[_Units, _Units]:
    tick, price_places, lot, size_places = grid
    return _Units(tick, price_places), _Units(lot, size_places)


_SLOW_CONSUMER = (  # as _error_frame in _ws writes it
    b'{"type":"error","code":"SLOW_CONSUMER","message":"send queue overflowed; resubscribe",'
    b'"req_id":null}'
)


def _resolve(future: asyncio.Future[None], error: BaseException | None) -> None:
    if future.done():  # its waiter is gone
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)


class _JournalThread:
    """The journal's own thread: runs commits one at a time, off the event loop.

    A commit mostly waits on the disk (the fsync), without the GIL; the loop
    hands one over with a queue put and is told through ``call_soon_threadsafe``.
    """

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[
            tuple[Callable[[], None], asyncio.AbstractEventLoop, asyncio.Future[None]] | None
        ] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._work, name="makerkit-journal", daemon=True)
        self._thread.start()

    def run(self, job: Callable[[], None]) -> asyncio.Future[None]:
        """Run ``job`` on the journal's thread; the future is done (or failed) when it is."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._jobs.put((job, loop, future))
        return future

    def _work(self) -> None:
        while (item := self._jobs.get()) is not None:
            job, loop, future = item
            error: BaseException | None = None
            try:
                job()
            except BaseException as exc:  # told to the loop, which answers every waiter
                error = exc
            with contextlib.suppress(RuntimeError):  # the loop closed: nobody waits
                loop.call_soon_threadsafe(_resolve, future, error)

    def shutdown(self) -> None:
        """Finish the jobs handed over, then end the thread."""
        self._jobs.put(None)
        self._thread.join()


# native commits handed to the writer's thread before the loop waits for one: one commits
# while the next fills; more only splits the load into smaller batches, each costing the
# loop its own overhead (4 ran 0.88-0.90x of 2 under the pipelined WS load)
_IN_FLIGHT = 2


async def _quietly(future: asyncio.Future[None]) -> None:
    """Wait for an earlier commit; its failure was handled by its own task."""
    with contextlib.suppress(Exception):
        await asyncio.shield(future)


class _NativeCommits:
    """Commits on the native journal writer's own thread, each end read from its pipe.

    The writer's thread never takes the GIL: the loop learns that a batch is
    durable when the writer's descriptor turns readable, so a busy loop hands
    nothing over to another thread and waits for no switch interval.
    """

    def __init__(self, journal: Journal, fd: int) -> None:
        self.journal = journal
        self._fd = fd
        self._loop = asyncio.get_running_loop()
        self._waiting: dict[int, asyncio.Future[None]] = {}
        self._loop.add_reader(fd, self._ended)

    def commit(self, sealed: Sealed) -> asyncio.Future[None]:
        """Hand ``sealed`` to the writer; the future is done (or failed) once it has ended."""
        future = self._loop.create_future()
        self._waiting[self.journal.commit_later(sealed)] = future
        return future

    def _ended(self) -> None:
        for ticket, error in self.journal.commits_done():
            future = self._waiting.pop(ticket, None)
            if future is None or future.done():
                continue
            if error is None:
                future.set_result(None)
            else:
                future.set_exception(self.journal.commit_failed(error))

    def close(self) -> None:
        """Stop watching the writer (its batches have ended: nothing is left waiting)."""
        self._loop.remove_reader(self._fd)
        self._ended()
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(JournalUnavailable(f"journal {self.journal.path} closed"))
                future.exception()
        self._waiting.clear()


def _md_payload(
    frames: list[tuple[str, str | None, bytes]], channels: frozenset[tuple[str, str]]
) -> bytes:
    """What a subscriber to ``channels`` gets of a tick: one object, a JSON array, or nothing."""
    mine = [
        frame
        for symbol, channel, frame in frames
        if (channel != "l1" and (symbol, "book") in channels)
        or (channel is not None and (symbol, channel) in channels)
    ]
    if len(mine) > 1:
        return b"[" + b",".join(mine) + b"]"
    return mine[0] if mine else b""


class Subscriber:
    """One WebSocket connection's outbound queue; a slow reader is cut off, never waited for."""

    def __init__(self, account: int | None = None, capacity: int = 20_000, raw: Any = None) -> None:
        self.account = account
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=capacity)
        # (symbol, channel); replaced, never changed in place: it is also the key that
        # lets every subscriber with the same subscriptions share one market-data frame
        self.channels: frozenset[tuple[str, str]] = frozenset()
        self.overflowed = False
        self.staged: list[bytes] = []  # messages of the batch being published
        # a RawSender (server._wsproto): frames go to the socket in order, written at
        # the end of the event loop's turn instead of through the queue and a sender task
        self.raw = raw
        self._out: list[bytes] = []
        # frames held back while a subscription's snapshot waits to be durable
        self._held: list[bytes] | None = None
        self._awaited = 0

    def _write(self) -> None:
        out, self._out = self._out, []
        if self.overflowed or not out:
            return
        if len(out) == 1:
            payload = out[0]
        else:  # a pushed frame may already be an array: splice its elements in
            payload = b"[" + b",".join(f[1:-1] if f[:1] == b"[" else f for f in out) + b"]"
        if not self.raw.send(payload):
            self.overflowed = True  # gone, or too far behind: told why, then dropped
            self.raw.send(_SLOW_CONSUMER)
            self.raw.close(1013, "slow consumer")

    def stage(self, message: bytes) -> None:
        """Hold a message until the batch is sent as one frame."""
        self.staged.append(message)

    def send_staged(self) -> None:
        """Send the staged messages: one object, or a JSON array of them."""
        staged, self.staged = self.staged, []
        if len(staged) == 1:
            self.push(staged[0])
        elif staged:
            self.push(b"[" + b",".join(staged) + b"]")

    def hold(self) -> None:
        """Hold every frame back until ``release``: a snapshot is waiting to be durable."""
        self._awaited += 1
        if self._held is None:
            self._held = []

    def release(self, first: bytes | None) -> None:
        """Send ``first`` (a snapshot, or an error), then, once nothing is awaited, what was held.

        The snapshot was read when the subscription came, so the deltas held
        since follow it: no gap, and nothing shown before it is durable.
        """
        self._awaited -= 1
        held = self._held or []
        if self._awaited <= 0:
            self._awaited, self._held = 0, None
        if first is not None:
            self._push(first)
        if self._held is None:
            for frame in held:
                self._push(frame)

    def push(self, frame: bytes) -> None:
        """Queue a frame (or write it); on overflow mark the subscriber to be closed."""
        if self._held is not None:
            self._held.append(frame)
        elif self.raw is not None and not self.overflowed:
            self._out.append(frame)  # the common case of _push, inlined
            if len(self._out) == 1:
                self._schedule_write()
        else:
            self._push(frame)

    def _schedule_write(self) -> None:
        try:
            asyncio.get_running_loop().call_soon(self._write)
        except RuntimeError:  # no loop running (driven directly): write now
            self._write()

    def _push(self, frame: bytes) -> None:
        if self.overflowed:
            return
        if self.raw is not None:
            # what is pushed in one turn of the event loop leaves as one frame, as the
            # queue's sender batched it: a burst of acks is one write, not hundreds
            self._out.append(frame)
            if len(self._out) == 1:
                self._schedule_write()
            return
        try:
            self.queue.put_nowait(frame)
        except asyncio.QueueFull:
            self.overflowed = True
            with contextlib.suppress(asyncio.QueueFull):
                self.queue.put_nowait(None)


class VenueService:
    """Owns the journaled venue, the group-commit flusher and the subscribers.

    ``jv`` and ``venue`` are replaced when the venue is rebuilt after a journal
    failure: read them at call time, never keep them.
    """

    def __init__(
        self,
        instruments: list[Instrument],
        *,
        journal_path: str,
        clock: Clock | None = None,
        fees: FeeSchedule | None = None,
        backend: str | None = None,
        admin_key: str | None = None,
        flush_interval_s: float = 0.0,
        snapshot_every: int = 100_000,
        history_limit: int = 100_000,
        md_interval_s: float = 0.005,
        use_snapshots: bool = True,
        sync: str = "full",
        retry_interval_s: float = 1.0,
    ) -> None:
        self.instruments = {inst.symbol: inst for inst in instruments}
        self.journal_path = journal_path
        # what building the venue again (after a journal failure) needs
        self._listed = list(instruments)
        self._clock = clock or LiveClock()
        self._fees = fees
        self._backend = backend
        self._snapshot_every = snapshot_every
        self._history_limit = history_limit
        self._sync = sync
        self.jv = self._recover(Journal(journal_path, sync=sync), use_snapshots=use_snapshots)
        self.venue = self.jv.venue
        # why order entry is stopped (the journal cannot write); None while it runs
        self.failure: str | None = None
        self._retry_interval = retry_interval_s
        self._retry_error: str | None = None
        self._recovery: asyncio.Task[None] | None = None
        self._stopping = False
        if admin_key:
            admins = [a for a in self.venue.accounts() if a.role is Role.ADMIN]
            if not admins:
                self.jv.add_account("admin", role=Role.ADMIN, api_key=admin_key)
                self.jv.flush()
            else:
                try:
                    self.venue.authenticate(admin_key, admin=True)
                except NotAuthorized:  # a new key was configured: it replaces the old one
                    self.jv.rotate_key(admins[0].account_id, admin_key)
                    self.jv.flush()
        self._flush_interval = flush_interval_s
        self._batch: list[Event] = []
        self._after: list[_Waiter] = []  # acks waiting for this batch's commit
        self._batch_done: asyncio.Future[None] | None = None
        self._wake: asyncio.Event | None = None
        self._flusher: asyncio.Task[None] | None = None
        # commands are committed by the flusher from start() until stop()'s last commit;
        # before and after, each one commits at once (tests driving the service directly)
        self._looping = False
        self._committing: asyncio.Future[None] | None = None
        self._writer: _JournalThread | None = None
        self._native: _NativeCommits | None = None  # the native writer's background commits
        self.public: dict[str, set[Subscriber]] = {s: set() for s in self.instruments}
        self.private: dict[int, set[Subscriber]] = {}
        self._last_l1: dict[str, tuple[Any, ...]] = {}
        # wire formatting: each symbol's grid once, and an update's body once per batch
        self._grids = {s: i.grid for s, i in self.instruments.items()}
        self._units = {s: _grid_units(grid) for s, grid in self._grids.items()}
        self._plain_units = _grid_units((1, 0, 1, 0))  # an unlisted symbol: integers as they are
        self._symbol_json = {s: _encode(s) for s in self.instruments}
        self._out_memo: dict[int, tuple[OrderUpdate, dict[str, Any]]] = {}
        self._json_memo: dict[int, tuple[OrderUpdate, bytes]] = {}
        # Market data leaves in ticks of md_interval_s: one frame per subscriber
        # per tick instead of per commit keeps 50 subscribers from starving the
        # order path. Private events and acks are never held back.
        self._md_interval = md_interval_s
        self._md_pending: list[Event] = []
        # each symbol's L1 as its last durable batch left it: the live venue may
        # already hold the next batch's commands, not durable yet
        self._md_l1: dict[str, L1Snapshot] = {}
        self._md_timer: asyncio.TimerHandle | None = None
        # Fan-outs in another wire format (the Binance facade), told what subscribers are
        # told, under the same durability: ``tap.sealed(batch)`` runs while the venue is
        # exactly the batch's state and may return a callback run once the batch is
        # published; ``tap.market(events, l1s)`` runs at each market-data tick.
        self.taps: list[Any] = []

    @classmethod
    def from_settings(cls, settings: Settings) -> VenueService:
        """The service the server's settings describe (recovers the venue from the journal)."""
        return cls(
            settings.instruments(),
            journal_path=settings.journal,
            fees=FeeSchedule(maker_ppm=settings.maker_fee_ppm, taker_ppm=settings.taker_fee_ppm),
            backend=settings.backend,
            admin_key=settings.admin_key,
            flush_interval_s=settings.flush_interval_ms / 1000,
            snapshot_every=settings.snapshot_every,
            history_limit=settings.history_limit,
            md_interval_s=settings.md_interval_ms / 1000,
            use_snapshots=settings.use_snapshots,
            sync=settings.journal_sync,
        )

    def _recover(self, journal: Journal, *, use_snapshots: bool) -> JournaledVenue:
        """Build the venue from the journal file: newest proven snapshot, then replay."""
        return JournaledVenue(
            self._listed,
            journal=journal,
            clock=self._clock,
            fees=self._fees,
            backend=self._backend,
            snapshot_every=self._snapshot_every,
            history_limit=self._history_limit,
            background_snapshots=True,  # a forked writer: the venue never pauses for one
            use_snapshots=use_snapshots,
        )

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Start the group-commit flusher."""
        # what recovery built lives as long as the venue: keep it out of GC passes
        gc.collect()
        gc.freeze()
        self._stopping = False
        self._wake = asyncio.Event()
        # one thread for the journal's commits: the fsync waits there, not on the loop
        self._writer = _JournalThread()
        self._flusher = asyncio.create_task(self._flush_loop(), name="makerkit-journal-flusher")
        self._looping = True
        if self.failure is None:
            try:  # a journal that cannot write is told now (/health, every order), not at
                self.jv.journal.check_headroom()  # the first command
            except JournalUnavailable as exc:
                self._fail(exc)
        if self.failure is not None:
            self._start_recovery()

    async def stop(self) -> None:
        """Commit what is pending and close the journal.

        After a journal failure nothing is committed (the failed batch was
        answered and dropped) and nothing waits on the journal: a SIGINT'd
        server stops at once.
        """
        self._stopping = True
        for task in (self._recovery, self._flusher):
            if task is None:
                continue
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
            except Exception:  # pragma: no cover - both loops catch their errors
                log.exception("%s ended with an error", task.get_name())
        self._recovery = self._flusher = None
        if self._committing is not None:  # a commit on the journal's thread: let it finish
            with contextlib.suppress(Exception):
                await self._committing
            self._committing = None
        if self._writer is not None:
            self._writer.shutdown()
            self._writer = None
        self._close_native()
        # what arrived meanwhile waited for this last commit; later commands commit at once
        self._commit()  # nothing when failed; if this commit fails, its waiters are answered
        self._looping = False
        if self._md_timer is not None:
            self._md_timer.cancel()
        self._flush_md()
        try:
            self.jv.close()
        except JournalUnavailable as exc:  # nothing unanswered was in it: just log
            log.error("journal closed without its last flush: %s", exc)
        gc.unfreeze()  # what start() froze may be collected again

    def health(self) -> dict[str, Any]:
        """Liveness: ``status`` is ``failed`` while the journal cannot write (``failure``: why)."""
        return {
            "status": "ok" if self.failure is None else "failed",
            "failure": self.failure,
            "symbols": len(self.instruments),
            "accounts": len(self.venue.accounts()),
            "journal_commands": self.jv.journal.durable_seq,
        }

    # ------------------------------------------------------------------ commands

    def _unavailable(self) -> JournalUnavailable:
        return JournalUnavailable(
            f"journal unavailable ({self.failure}): the venue takes no command and shows no"
            " state until its journal can write again"
        )

    def _refuse_if_failed(self) -> None:
        if self.failure is not None:
            raise self._unavailable()

    def _pending(self) -> bool:
        """Has a command been applied that is not committed and published yet?"""
        journal = self.jv.journal
        return journal.appended_seq != journal.durable_seq or bool(self._batch or self._after)

    async def _until_committed(self) -> None:
        if self._batch_done is None:
            self._batch_done = asyncio.get_running_loop().create_future()
        done = self._batch_done
        assert self._wake is not None  # noqa: S101 - set in start()
        self._wake.set()
        try:
            await asyncio.shield(done)
        except JournalUnavailable as exc:  # each waiter raises its own exception
            raise JournalUnavailable(str(exc)) from exc.__cause__

    async def execute(self, command: Callable[[], T]) -> T:
        """Run one venue command now; return once it is durable (its market data follows).

        Raises ``JournalUnavailable`` without running it while the journal is
        failed, and when its batch cannot be made durable.
        """
        self._refuse_if_failed()
        result = command()
        self._collect(result)
        if not self._looping:  # no event loop task (tests driving it directly)
            self._commit()
            self._refuse_if_failed()
            return result
        await self._until_committed()
        return result

    def execute_then(
        self,
        command: Callable[[], T],
        on_durable: Callable[[T], None],
        on_error: Callable[[JournalUnavailable], None] | None = None,
    ) -> T:
        """Run one venue command now; call ``on_durable(result)`` once it is durable.

        The caller does not wait, so one connection can pipeline many commands
        into the same commit; callbacks run in command order after the batch's
        events are published. If the batch cannot be made durable,
        ``on_error(exc)`` is called instead. While the journal is failed this
        raises ``JournalUnavailable`` at once, without running the command.
        """
        if self.failure is not None:
            raise self._unavailable()
        result = command()
        if result.__class__ is Outcome:  # _collect's common case
            self._batch += result.events  # type: ignore[attr-defined]
        else:
            self._collect(result)
        self._after.append((on_durable, result, on_error))
        if not self._looping:
            self._commit()
        else:
            assert self._wake is not None  # noqa: S101 - set in start()
            self._wake.set()
        return result

    async def durable(self, read: Callable[[], T]) -> T:
        """Compute ``read()`` now; return it once every command applied so far is durable.

        So a read never shows state a crash could take back. No wait when
        nothing is pending. Raises ``JournalUnavailable`` while the journal is
        failed, or when the pending batch cannot be committed.
        """
        self._refuse_if_failed()
        value = read()
        if not self._pending():
            return value
        if not self._looping:
            self._commit()
            self._refuse_if_failed()
            return value
        await self._until_committed()
        return value

    def after_durable(
        self,
        callback: Callable[[], None],
        on_error: Callable[[JournalUnavailable], None] | None = None,
    ) -> None:
        """Call ``callback()`` once every command applied so far is durable (at once if so).

        It runs after the pending batch's events are published and its acks
        sent. If that commit fails it is dropped (``on_error(exc)`` when
        given); while the journal is failed this raises ``JournalUnavailable``.
        """
        self._refuse_if_failed()
        if not self._pending():
            callback()
            return
        self._after.append((_call, callback, on_error))
        if not self._looping:
            self._commit()
        else:
            assert self._wake is not None  # noqa: S101 - set in start()
            self._wake.set()

    def _collect(self, result: object) -> None:
        if isinstance(result, Outcome):
            self._batch.extend(result.events)
        elif isinstance(result, list):
            for item in result:
                if isinstance(item, Outcome):
                    self._batch.extend(item.events)

    async def _flush_loop(self) -> None:
        """Commit batches as they come; an error is answered and logged, never the loop's end.

        Each commit runs as its own task, shielded: stopping the loop never
        leaves a commit half done on the journal's thread. With the native
        writer the next batch is sealed and handed over while earlier ones
        commit (up to ``_IN_FLIGHT``): its thread goes from one batch to the
        next without waiting for the loop, and each batch is still published
        and acknowledged only after every earlier one.
        """
        assert self._wake is not None  # noqa: S101 - set in start()
        in_flight: list[asyncio.Future[None]] = []
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self._flush_interval:
                await asyncio.sleep(self._flush_interval)  # let a burst join this commit
            task = asyncio.ensure_future(self._commit_async(self._committing))
            self._committing = task
            in_flight = [t for t in in_flight if not t.done()]
            in_flight.append(task)
            if self.jv.journal.completion_fd is not None and len(in_flight) < _IN_FLIGHT:
                continue
            try:
                await asyncio.shield(in_flight[0])
            except asyncio.CancelledError:
                raise
            except Exception:  # pragma: no cover - _commit_async catches what it can foresee
                log.exception("journal flusher: unexpected error; flushing goes on")

    async def _commit_async(self, previous: asyncio.Future[None] | None = None) -> None:
        """``_commit`` with the fsync on the journal's thread: the loop goes on meanwhile.

        The batch is sealed here; commands that arrive during the fsync form
        the next batch, and nothing of them is published or acknowledged
        before their own commit. ``previous`` (the commit before this one,
        maybe still running) ends before this batch is settled or released.
        """
        if self.failure is not None:
            if previous is not None:
                await _quietly(previous)
            return
        journal = self.jv.journal
        try:
            sealed = journal.seal()
        except Exception as exc:
            if previous is not None:
                await _quietly(previous)
            self._fail(exc)
            return
        batch, self._batch = self._batch, []
        done, self._batch_done = self._batch_done, None
        after, self._after = self._after, []
        # the venue is exactly the sealed batch's state now: later commands go to the next
        l1s = self._l1s(batch)
        later = [tap.sealed(batch) for tap in self.taps]
        try:
            committed: asyncio.Future[None] | None = None
            if sealed is not None:
                native = self._native_commits(journal)
                if native is not None:
                    committed = native.commit(sealed)  # handed over now, behind any earlier batch
                else:
                    assert self._writer is not None  # noqa: S101 - set in start()
                    committed = self._writer.run(lambda: journal.commit(sealed))
            if previous is not None:
                await _quietly(previous)
            if committed is not None:
                await committed
        except Exception as exc:
            if journal is not self.jv.journal:
                # the venue was rebuilt from the journal file while this batch was out
                # (its report came after the recovery): the batch is in neither, so only
                # its own waiters are told, and the rebuilt venue goes on
                reason = f"journal unavailable ({exc}): the command was not made durable"
                self._tell_failed(after, done, lambda: JournalUnavailable(reason))
                return
            # the sealed batch goes first: its waiters are answered with the rest
            self._batch = batch + self._batch
            self._after = after + self._after
            if done is not None and not done.done():
                done.set_exception(JournalUnavailable(str(exc)))
                done.exception()  # retrieved: no warning if its waiter is gone
            self._fail(exc)
            return
        # durable, so told even if the journal failed since (a snapshot's flush): a
        # rebuilt venue replays it
        if sealed is not None:
            journal.settle(sealed)
        self._release(batch, after, done, l1s, later)

    def _native_commits(self, journal: Journal) -> _NativeCommits | None:
        """The background commits of ``journal``'s native writer (None: it has none)."""
        native = self._native
        if native is not None and native.journal is journal:
            return native
        self._close_native()
        fd = journal.completion_fd
        if fd is None:
            return None
        self._native = _NativeCommits(journal, fd)
        return self._native

    def _close_native(self) -> None:
        if self._native is not None:
            self._native.close()
            self._native = None

    def _commit(self) -> None:
        """Make the batch durable, then publish it and release its waiters (in that order).

        If the journal cannot write, nobody is left waiting: see ``_fail``.
        """
        if self.failure is not None:
            return  # the batch was answered and dropped; nothing new is accepted
        try:
            self.jv.journal.flush()
        except Exception as exc:  # disk full, I/O error, or a bug: answer, never hang
            self._fail(exc)
            return
        batch, self._batch = self._batch, []
        done, self._batch_done = self._batch_done, None
        after, self._after = self._after, []
        later = [tap.sealed(batch) for tap in self.taps]
        self._release(batch, after, done, self._l1s(batch), later)

    def _l1s(self, batch: list[Event]) -> dict[str, L1Snapshot]:
        """The L1 of each symbol the batch moved, as the batch left it."""
        touched = {e.symbol for e in batch if e.__class__ in _MARKET_EVENTS}
        return {symbol: self.l1(symbol) for symbol in touched}

    def _release(
        self,
        batch: list[Event],
        after: list[_Waiter],
        done: asyncio.Future[None] | None,
        l1s: dict[str, L1Snapshot],
        later: list[Callable[[], None] | None] | None = None,
    ) -> None:
        """Publish a durable batch, then run its callbacks and wake its waiters."""
        self._md_l1.update(l1s)  # published with the batch's deltas, at the next tick
        try:
            self._publish_batch(batch)
            for publish in later or ():
                if publish is not None:
                    publish()
        except Exception:  # pragma: no cover - the batch is durable: still release its acks
            log.exception("publishing a committed batch failed")
        for on_durable, value, _ in after:
            try:
                on_durable(value)
            except Exception:
                log.exception("a callback of a committed command failed")
        if done is not None and not done.done():
            done.set_result(None)
        self._out_memo.clear()
        self._json_memo.clear()
        # after everyone was told: a snapshot delays no ack of this batch
        try:
            self.jv.maybe_snapshot()
        except JournalUnavailable as exc:  # its flush took commands the callbacks ran
            self._fail(exc)
        except Exception:  # pragma: no cover - a snapshot is an optimisation
            log.exception("snapshot failed")

    def _publish_batch(self, batch: list[Event]) -> None:
        staged: set[Subscriber] = set()
        md = self._md_pending
        private = self.private
        order_json = self.order_json
        for event in batch:
            kind = event.__class__
            if kind is OrderUpdate:  # _publish's private case, inlined: most events are these
                subs = private.get(event.account)  # type: ignore[union-attr]
                if subs:
                    frame = b'{"type":"order",' + order_json(event)[1:]  # type: ignore[arg-type]
                    for sub in subs:
                        sub.staged.append(frame)
                        staged.add(sub)
            elif kind is BookDelta or kind is Trade:
                md.append(event)
            else:
                self._publish(event, staged)
        for sub in staged:  # one frame per subscriber per batch
            sub.send_staged()
        if md and self._md_timer is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # driven without an event loop: nothing to wait on
                loop = None
            if self._md_interval > 0 and loop is not None:
                self._md_timer = loop.call_later(self._md_interval, self._flush_md)
            else:
                self._flush_md()

    # ------------------------------------------------------------------ journal failure

    def _fail(self, exc: BaseException) -> None:
        """Stop order entry: answer every waiter of the uncommitted batch, publish none of it."""
        cause = exc.__cause__ if isinstance(exc, JournalUnavailable) and exc.__cause__ else exc
        if self.failure is None:
            self.failure = str(cause) if isinstance(exc, JournalUnavailable) else repr(cause)
            log.error(
                "journal unavailable, order entry stopped until it can write again: %s",
                exc,
                exc_info=exc,
            )
        self.jv.journal.discard()
        self._batch = []  # never durable: never published
        after, self._after = self._after, []
        done, self._batch_done = self._batch_done, None
        self._tell_failed(after, done, self._unavailable)
        self._start_recovery()

    @staticmethod
    def _tell_failed(
        after: list[_Waiter],
        done: asyncio.Future[None] | None,
        error: Callable[[], JournalUnavailable],
    ) -> None:
        """Answer every waiter of a batch that will never be durable, each with its own error."""
        for _, _, on_error in after:
            if on_error is None:
                continue
            try:
                on_error(error())
            except Exception:
                log.exception("an error callback of a failed command failed")
        if done is not None and not done.done():
            done.set_exception(error())
            done.exception()  # retrieved: a waiter gone meanwhile leaves no warning

    def _start_recovery(self) -> None:
        if self._stopping or (self._recovery is not None and not self._recovery.done()):
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # driven without an event loop: the caller calls try_recover()
            return
        self._recovery = loop.create_task(self._recover_loop(), name="makerkit-journal-recovery")

    async def _recover_loop(self) -> None:
        while self.failure is not None:
            await asyncio.sleep(self._retry_interval)
            try:
                self.try_recover()
            except Exception:  # pragma: no cover - try_recover catches what it can foresee
                log.exception("journal recovery attempt failed; retrying")

    def try_recover(self) -> bool:
        """Rebuild the venue from the journal once it can write again; True when running.

        The venue in memory holds commands that never became durable, so it is
        thrown away: a new one is recovered from the journal file (snapshot and
        replay) and replaces ``jv`` and ``venue``. The journal must first prove
        it can write (``Journal.check_headroom``), else it stays failed.
        """
        if self.failure is None:
            return True
        journal: Journal | None = None
        try:
            journal = Journal(self.journal_path, sync=self._sync)
            journal.check_headroom()
            jv = self._recover(journal, use_snapshots=True)
        except Exception as exc:  # still full, unreadable, or refused: stay stopped
            if journal is not None:
                with contextlib.suppress(Exception):
                    journal.close()
            if str(exc) != self._retry_error:
                self._retry_error = str(exc)
                log.error("journal still unavailable (retrying): %s", exc)
            return False
        old, self.jv, self.venue = self.jv, jv, jv.venue
        self._close_native()  # the failed journal's: its writer commits nothing more
        try:
            old.close()  # its journal is failed: nothing is written, its snapshot writer is awaited
        except Exception as exc:  # pragma: no cover - closing a failed journal
            log.warning("closing the failed journal: %s", exc)
        self._last_l1.clear()
        self.failure = self._retry_error = None
        if self._flusher is not None:  # keep the new venue out of GC passes, as start() does
            gc.unfreeze()
            gc.collect()
            gc.freeze()
        log.warning(
            "journal %s writable again: venue rebuilt at command %d (%d replayed);"
            " order entry resumed",
            self.journal_path,
            jv.journal.durable_seq,
            jv.recovered,
        )
        return True

    # ------------------------------------------------------------------ fan-out

    def _flush_md(self) -> None:
        """Publish the durable market data gathered since the last tick, in order.

        The tick's frames are encoded once, and the frame a subscriber gets is
        built once per distinct set of subscriptions: a hundred readers of the
        same books cost one join and a hundred writes, not a hundred passes
        over every delta.
        """
        self._md_timer = None
        pending, self._md_pending = self._md_pending, []
        l1s, self._md_l1 = self._md_l1, {}
        public = self.public
        # (symbol, channel that also gets it besides "book", frame); l1 frames go to "l1" only
        frames: list[tuple[str, str | None, bytes]] = []
        symbols: set[str] = set()
        for event in pending:
            symbol = event.symbol
            if public.get(symbol):  # else nobody is told
                symbols.add(symbol)
                channel = "trades" if event.__class__ is Trade else None
                frames.append((symbol, channel, _encode(self.public_frame(event))))  # type: ignore[arg-type]
        symbols.update(s for s in l1s if public.get(s))
        subs = set().union(*(public[s] for s in symbols))
        keys = {sub.channels for sub in subs}  # the distinct subscriptions
        for symbol in sorted(l1s):
            frame = self._l1_frame_if_new(symbol, l1s[symbol], keys)
            if frame is not None:
                frames.append((symbol, "l1", frame))
        if frames:
            memo: dict[frozenset[tuple[str, str]], bytes] = {}
            for sub in subs:
                key = sub.channels
                payload = memo.get(key)
                if payload is None:
                    payload = memo[key] = _md_payload(frames, key)
                if payload:
                    sub.push(payload)
        for tap in self.taps:
            tap.market(pending, l1s)

    def _publish(self, event: Event, staged: set[Subscriber]) -> None:
        if isinstance(event, (OrderUpdate, FillReport)):
            subs = self.private.get(event.account)
            if subs:
                frame = (
                    b'{"type":"order",' + self.order_json(event)[1:]
                    if isinstance(event, OrderUpdate)
                    else _encode(self.private_frame(event))
                )
                for sub in subs:
                    sub.stage(frame)
                    staged.add(sub)
            return
        subs = self.public.get(event.symbol)
        if not subs:
            return
        frame = _encode(self.public_frame(event))
        channel = "trades" if isinstance(event, Trade) else ""
        for sub in subs:
            if (event.symbol, "book") in sub.channels or (
                channel and (event.symbol, channel) in sub.channels
            ):
                sub.stage(frame)
                staged.add(sub)

    def _l1_frame_if_new(
        self, symbol: str, l1: L1Snapshot, readers: set[frozenset[tuple[str, str]]]
    ) -> bytes | None:
        """The L1 frame when the top of book changed and one of ``readers`` reads its l1."""
        key = (l1.bid_price, l1.bid_size, l1.ask_price, l1.ask_size)
        if self._last_l1.get(symbol) == key:
            return None
        self._last_l1[symbol] = key
        if any((symbol, "l1") in channels for channels in readers):
            return _encode(self.l1_frame(symbol, l1))
        return None

    # ------------------------------------------------------------------ frames

    def l1(self, symbol: str) -> L1Snapshot:
        """Return the symbol's best bid and ask with its public sequence."""
        book = self.venue.book(symbol)
        return L1Snapshot.from_best(book.best_bid(), book.best_ask(), self.venue.public_seq(symbol))

    def l1_frame(self, symbol: str, l1: L1Snapshot) -> dict[str, Any]:
        """Encode an L1 state for the wire."""
        inst = self.instruments[symbol]
        return {
            "type": "l1",
            "symbol": symbol,
            "seq": l1.seq,
            "bid": inst.price_str(l1.bid_price) if l1.bid_price is not None else None,
            "bid_size": inst.size_str(l1.bid_size),
            "ask": inst.price_str(l1.ask_price) if l1.ask_price is not None else None,
            "ask_size": inst.size_str(l1.ask_size),
        }

    def book_frame(self, symbol: str, depth: int = 1_000_000) -> dict[str, Any]:
        """A full L2 snapshot consistent with the symbol's public sequence."""
        inst = self.instruments[symbol]
        snap = self.venue.book(symbol).l2(depth)
        return {
            "type": "snapshot",
            "symbol": symbol,
            "seq": self.venue.public_seq(symbol),
            "bids": [
                [inst.price_str(lv.price), inst.size_str(lv.size), lv.count] for lv in snap.bids
            ],
            "asks": [
                [inst.price_str(lv.price), inst.size_str(lv.size), lv.count] for lv in snap.asks
            ],
        }

    def public_frame(self, event: BookDelta | Trade) -> dict[str, Any]:
        """Encode a public event for the wire."""
        inst = self.instruments[event.symbol]
        if isinstance(event, Trade):
            return {
                "type": "trade",
                "symbol": event.symbol,
                "seq": event.seq,
                "price": inst.price_str(event.price),
                "qty": inst.size_str(event.qty),
                "aggressor": _SIDE[event.aggressor],
                "ts": event.ts_event,
            }
        return {
            "type": "delta",
            "symbol": event.symbol,
            "seq": event.seq,
            "side": "bid" if event.side is Side.BUY else "ask",
            "price": inst.price_str(event.price),
            "size": inst.size_str(event.size),
            "ts": event.ts_event,
        }

    def order_out(self, u: OrderUpdate) -> dict[str, Any]:
        """Encode an order update (REST body, private frame and ack: built once for all)."""
        seen = self._out_memo.get(id(u))
        if seen is not None and seen[0] is u:
            return seen[1]
        out = self.order_body(u)
        self._out_memo[id(u)] = (u, out)  # holding `u` keeps its id unique until cleared
        return out

    def order_body(self, u: OrderUpdate) -> dict[str, Any]:
        """``order_out`` without the memo, for reads.

        The memo is emptied only by a commit: on a quiet venue every read would stay in it.
        """
        grid = self._grids.get(u.symbol)
        if grid is None:  # an unlisted symbol (a refused order): integers as they are
            tick, price_places, lot, size_places = 1, 0, 1, 0
        else:
            tick, price_places, lot, size_places = grid
        return {
            "order_id": u.order_id,
            "client_order_id": u.client_order_id,
            "symbol": u.symbol,
            "side": _SIDE[u.side],
            "price": None if u.price is None else format_units(u.price * tick, price_places),
            "qty": format_units(u.qty * lot, size_places),
            "filled": format_units(u.filled * lot, size_places),
            "remaining": format_units(u.remaining * lot, size_places),
            "status": _STATUS[u.status],
            "reason": u.reason.name,
            "seq": u.seq,
            "ts": u.ts_event,
        }

    def order_json(self, u: OrderUpdate) -> bytes:
        """``order_out(u)`` encoded, once per batch: the private frame and the ack share it."""
        seen = self._json_memo.get(id(u))
        if seen is not None and seen[0] is u:
            return seen[1]
        prices, sizes = self._units.get(u.symbol) or self._plain_units
        cid = u.client_order_id
        price = u.price
        body = _ORDER_JSON % (
            u.order_id,
            b"null" if cid is None else _encode(cid),
            self._symbol_json.get(u.symbol) or _encode(u.symbol),
            _SIDE_JSON[u.side],
            b"null" if price is None else prices.memo.get(price) or prices.json(price),
            sizes.memo.get(u.qty) or sizes.json(u.qty),
            sizes.memo.get(u.filled) or sizes.json(u.filled),
            sizes.memo.get(u.remaining) or sizes.json(u.remaining),
            _STATUS_JSON[u.status],
            _REASON_JSON[u.reason],
            u.seq,
            u.ts_event,
        )
        self._json_memo[id(u)] = (u, body)
        return body

    def fill_out(self, f: FillReport) -> dict[str, Any]:
        """Encode a fill (REST body and private frame); fee in quote currency."""
        inst = self.instruments[f.symbol]
        return {
            "order_id": f.order_id,
            "client_order_id": f.client_order_id,
            "symbol": f.symbol,
            "side": _SIDE[f.side],
            "price": inst.price_str(f.price),
            "qty": inst.size_str(f.qty),
            "liquidity": f.liquidity,
            "fee": self.money(f.symbol, f.fee, micro=True),
            "trade_seq": f.trade_seq,
            "seq": f.seq,
            "ts": f.ts_event,
        }

    def private_frame(self, event: OrderUpdate | FillReport) -> dict[str, Any]:
        """Encode a private event with its type."""
        if isinstance(event, OrderUpdate):
            return {"type": "order", **self.order_out(event)}
        return {"type": "fill", **self.fill_out(event)}

    def money(self, symbol: str, amount: int, *, micro: bool = False) -> str:
        """Turn tick-lots (or micro tick-lots) into a quote-currency decimal string."""
        inst = self.instruments[symbol]
        value = (inst.tick * inst.lot) * amount
        if micro:
            value = value / MONEY_SCALE
        return format(value.normalize(), "f")
