"""The server's core: one journaled venue, group commit, and event fan-out.

Commands run synchronously on the event loop (the venue is single-writer, so
they are serialised by construction). Each command's events wait in a batch;
a flusher task commits the journal for the whole batch in one transaction,
then publishes the batch in order and releases the waiting acks. So nothing
is acknowledged or published before it is durable. A subscriber gets one
WebSocket frame per batch: a single message object, or a JSON array of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import Callable
from typing import Any, TypeVar

import msgspec

from makerkit.core import (
    Clock,
    Instrument,
    L1Snapshot,
    LiveClock,
    NotAuthorized,
    OrderStatus,
    Side,
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
    Trade,
)

__all__ = ["Subscriber", "VenueService"]

T = TypeVar("T")
_STATUS = {s: s.name.lower() for s in OrderStatus}
_SIDE = {Side.BUY: "buy", Side.SELL: "sell"}
_encode = msgspec.json.Encoder().encode


_SLOW_CONSUMER = (  # as _error_frame in _app writes it
    b'{"type":"error","code":"SLOW_CONSUMER","message":"send queue overflowed; resubscribe",'
    b'"req_id":null}'
)


class Subscriber:
    """One WebSocket connection's outbound queue; a slow reader is cut off, never waited for."""

    def __init__(self, account: int | None = None, capacity: int = 20_000, raw: Any = None) -> None:
        self.account = account
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=capacity)
        self.channels: set[tuple[str, str]] = set()  # (symbol, channel)
        self.overflowed = False
        self.staged: list[bytes] = []  # messages of the batch being published
        # a RawSender (server._wsproto): frames go to the socket in order, written at
        # the end of the event loop's turn instead of through the queue and a sender task
        self.raw = raw
        self._out: list[bytes] = []

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

    def push(self, frame: bytes) -> None:
        """Queue a frame (or write it); on overflow mark the subscriber to be closed."""
        if self.overflowed:
            return
        if self.raw is not None:
            # what is pushed in one turn of the event loop leaves as one frame, as the
            # queue's sender batched it: a burst of acks is one write, not hundreds
            self._out.append(frame)
            if len(self._out) == 1:
                try:
                    asyncio.get_running_loop().call_soon(self._write)
                except RuntimeError:  # no loop running (driven directly): write now
                    self._write()
            return
        try:
            self.queue.put_nowait(frame)
        except asyncio.QueueFull:
            self.overflowed = True
            with contextlib.suppress(asyncio.QueueFull):
                self.queue.put_nowait(None)


class VenueService:
    """Owns the journaled venue, the group-commit flusher and the subscribers."""

    def __init__(
        self,
        instruments: list[Instrument],
        *,
        journal_path: str,
        clock: Clock | None = None,
        fees: FeeSchedule | None = None,
        backend: str | None = None,
        admin_key: str | None = None,
        flush_interval_s: float = 0.0005,
        snapshot_every: int = 100_000,
        history_limit: int = 100_000,
        md_interval_s: float = 0.005,
    ) -> None:
        self.instruments = {inst.symbol: inst for inst in instruments}
        self.jv = JournaledVenue(
            instruments,
            journal=Journal(journal_path),
            clock=clock or LiveClock(),
            fees=fees,
            backend=backend,
            snapshot_every=snapshot_every,
            history_limit=history_limit,
            background_snapshots=True,  # a forked writer: the venue never pauses for one
        )
        self.venue = self.jv.venue
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
        self._after: list[Callable[[], None]] = []  # acks waiting for this batch's commit
        self._batch_done: asyncio.Future[None] | None = None
        self._wake: asyncio.Event | None = None
        self._flusher: asyncio.Task[None] | None = None
        self.public: dict[str, set[Subscriber]] = {s: set() for s in self.instruments}
        self.private: dict[int, set[Subscriber]] = {}
        self._last_l1: dict[str, tuple[Any, ...]] = {}
        # Market data leaves in ticks of md_interval_s: one frame per subscriber
        # per tick instead of per commit keeps 50 subscribers from starving the
        # order path. Private events and acks are never held back.
        self._md_interval = md_interval_s
        self._md_pending: list[Event] = []
        self._md_timer: asyncio.TimerHandle | None = None

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Start the group-commit flusher."""
        # what recovery built lives as long as the venue: keep it out of GC passes
        gc.collect()
        gc.freeze()
        self._wake = asyncio.Event()
        self._flusher = asyncio.create_task(self._flush_loop(), name="makerkit-journal-flusher")

    async def stop(self) -> None:
        """Flush what is pending and close the journal."""
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
        self._commit()
        if self._md_timer is not None:
            self._md_timer.cancel()
        self._flush_md()
        self.jv.close()
        gc.unfreeze()  # what start() froze may be collected again

    # ------------------------------------------------------------------ commands

    async def execute(self, command: Callable[[], T]) -> T:
        """Run one venue command now; return once it is durable (its market data follows)."""
        result = command()
        self._collect(result)
        if self._flusher is None:  # no event loop task (tests driving it directly)
            self._commit()
            return result
        if self._batch_done is None:
            self._batch_done = asyncio.get_running_loop().create_future()
        done = self._batch_done
        assert self._wake is not None  # noqa: S101 - set in start()
        self._wake.set()
        await asyncio.shield(done)
        return result

    def execute_then(self, command: Callable[[], T], on_durable: Callable[[T], None]) -> T:
        """Run one venue command now; call ``on_durable(result)`` once it is durable.

        The caller does not wait, so one connection can pipeline many commands
        into the same commit; callbacks run in command order after the batch's
        events are published.
        """
        result = command()
        self._collect(result)
        self._after.append(lambda: on_durable(result))
        if self._flusher is None:
            self._commit()
        else:
            assert self._wake is not None  # noqa: S101 - set in start()
            self._wake.set()
        return result

    def _collect(self, result: object) -> None:
        if isinstance(result, Outcome):
            self._batch.extend(result.events)
        elif isinstance(result, list):
            for item in result:
                if isinstance(item, Outcome):
                    self._batch.extend(item.events)

    async def _flush_loop(self) -> None:
        assert self._wake is not None  # noqa: S101 - set in start()
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self._flush_interval:
                await asyncio.sleep(self._flush_interval)  # let a burst join this commit
            self._commit()

    def _commit(self) -> None:
        self.jv.journal.flush()
        batch, self._batch = self._batch, []
        done, self._batch_done = self._batch_done, None
        staged: set[Subscriber] = set()
        md = self._md_pending
        for event in batch:
            if isinstance(event, (BookDelta, Trade)):
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
        after, self._after = self._after, []
        for callback in after:
            callback()
        if done is not None and not done.done():
            done.set_result(None)
        # after everyone was told: a snapshot delays no ack of this batch
        self.jv.maybe_snapshot()

    # ------------------------------------------------------------------ fan-out

    def _flush_md(self) -> None:
        """Publish the durable market data gathered since the last tick, in order."""
        self._md_timer = None
        pending, self._md_pending = self._md_pending, []
        touched: dict[str, None] = {}
        staged: set[Subscriber] = set()
        for event in pending:
            self._publish(event, staged)
            touched[event.symbol] = None
        for symbol in sorted(touched):
            self._publish_l1(symbol, staged)
        for sub in staged:  # one frame per subscriber per tick
            sub.send_staged()

    def _publish(self, event: Event, staged: set[Subscriber]) -> None:
        if isinstance(event, (OrderUpdate, FillReport)):
            subs = self.private.get(event.account)
            if subs:
                frame = _encode(self.private_frame(event))
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

    def _publish_l1(self, symbol: str, staged: set[Subscriber]) -> None:
        l1 = self.l1(symbol)
        key = (l1.bid_price, l1.bid_size, l1.ask_price, l1.ask_size)
        if self._last_l1.get(symbol) == key:
            return
        self._last_l1[symbol] = key
        subs = [s for s in self.public.get(symbol, ()) if (symbol, "l1") in s.channels]
        if subs:
            frame = _encode(self.l1_frame(symbol, l1))
            for sub in subs:
                sub.stage(frame)
                staged.add(sub)

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
        """Encode an order update (REST body and private frame)."""
        inst = self.instruments.get(u.symbol)
        price = None
        if u.price is not None:
            price = inst.price_str(u.price) if inst else str(u.price)
        size = inst.size_str if inst else str
        return {
            "order_id": u.order_id,
            "client_order_id": u.client_order_id,
            "symbol": u.symbol,
            "side": _SIDE[u.side],
            "price": price,
            "qty": size(u.qty),
            "filled": size(u.filled),
            "remaining": size(u.remaining),
            "status": _STATUS[u.status],
            "reason": u.reason.name,
            "seq": u.seq,
            "ts": u.ts_event,
        }

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
