"""The exchange: instruments and their books, accounts, order lifecycle, fees, risk.

A single-writer state machine: every method is one command, time comes only
from the injected ``Clock``, and the same commands with the same clock give
the same events, byte for byte. Not thread-safe by design; the server
serialises commands onto it.
"""

from __future__ import annotations

import hashlib
import pickle
import secrets
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from contextvars import ContextVar
from decimal import Decimal
from typing import Any

import msgspec

from makerkit import __version__
from makerkit.book import make_book
from makerkit.core import (
    BookState,
    Clock,
    ConfigError,
    DataError,
    Forbidden,
    Instrument,
    NotAuthorized,
    OrderStatus,
    OrderType,
    RejectReason,
    RiskLimitBreached,
    Side,
    TimeInForce,
    UnknownAccount,
)
from makerkit.risk import MONEY_SCALE, RiskLimits, RiskManager
from makerkit.venue._model import (
    Account,
    Balance,
    BookDelta,
    CancelAll,
    CancelOrder,
    Event,
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

__all__ = ["Venue"]

_OPEN = (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED)
_BOOK_FILL_HISTORY = 1000
# Bump when the venue's, the risk manager's or the books' internal state
# changes shape: a snapshot of another format is skipped and recovery replays
# the whole journal instead.
SNAPSHOT_FORMAT = f"makerkit-{__version__}/venue-3"
# the engine that books rebuilt from a snapshot use (None: the selected one)
_restore_backend: ContextVar[str | None] = ContextVar("restore_backend", default=None)
_SIDES = {1: Side.BUY, -1: Side.SELL}
_RESTING_TIFS = (TimeInForce.GTC, TimeInForce.POST_ONLY)


class _Order(msgspec.Struct):
    """The venue's record of an order (mutable, internal)."""

    order_id: int
    account: int
    symbol: str
    client_order_id: str | None
    side: Side
    price: int | None
    qty: int
    filled: int
    remaining: int
    status: OrderStatus
    reason: RejectReason


class _Listing:
    """One instrument with its book and public sequence."""

    __slots__ = (
        "book",
        "fees",
        "instrument",
        "last_trade",
        "min_lots",
        "min_notional",
        "seq",
        "symbol",
    )

    def __init__(self, instrument: Instrument, book: Any, fees: FeeSchedule) -> None:
        self.instrument = instrument
        self.book = book
        self.fees = fees
        self.seq = 0
        self.last_trade: int | None = None
        self._minimums()

    def _minimums(self) -> None:
        # derived from the instrument, not snapshotted: the symbol, and the smallest
        # order in the units orders arrive in (lots; ticks x lots)
        self.symbol = self.instrument.symbol
        self.min_lots = self.instrument.min_lots
        self.min_notional = self.instrument.min_notional_units

    # books are snapshotted as their state, not as engine objects, so a
    # snapshot taken with one engine restores into either
    def __getstate__(self) -> dict[str, Any]:
        return {
            "instrument": self.instrument,
            "fees": self.fees,
            "seq": self.seq,
            "last_trade": self.last_trade,
            "book": msgspec.msgpack.encode(self.book.export_state()),
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.instrument = state["instrument"]
        self.fees = state["fees"]
        self.seq = state["seq"]
        self.last_trade = state["last_trade"]
        self._minimums()
        book_state = msgspec.msgpack.decode(state["book"], type=BookState)
        self.book = make_book(_restore_backend.get(), fill_history=_BOOK_FILL_HISTORY)
        self.book.restore(book_state)


class Venue:
    """A multi-symbol exchange with accounts, risk and sequenced events."""

    def __init__(
        self,
        instruments: Sequence[Instrument],
        *,
        clock: Clock,
        risk: RiskManager | None = None,
        fees: FeeSchedule | None = None,
        symbol_fees: dict[str, FeeSchedule] | None = None,
        backend: str | None = None,
        history_limit: int = 100_000,
        max_open_orders: int | None = None,
    ) -> None:
        if history_limit < 1:
            msg = f"invalid `history_limit`, must be >= 1, was {history_limit}"
            raise ConfigError(msg)
        _check_max_open_orders(max_open_orders)
        if not instruments:
            msg = "invalid `instruments`, must list at least one instrument, was empty"
            raise ConfigError(msg)
        self.clock = clock
        self.risk = risk or RiskManager()
        default_fees = fees or FeeSchedule()
        self._listings: dict[str, _Listing] = {}
        for inst in instruments:
            if inst.symbol in self._listings:
                msg = f"invalid `instruments`, symbol {inst.symbol!r} is listed twice"
                raise ConfigError(msg)
            book = make_book(backend, fill_history=_BOOK_FILL_HISTORY)
            self._listings[inst.symbol] = _Listing(
                inst, book, (symbol_fees or {}).get(inst.symbol, default_fees)
            )
        self._accounts: dict[int, Account] = {}
        self._keys: dict[str, int] = {}  # sha256(api key) -> account id
        # account id -> the secret its signed requests are checked with (never shown again)
        self._secrets: dict[int, str] = {}
        self._deposits: dict[tuple[int, str], Decimal] = {}  # (account, asset) -> amount
        self._assets = sorted({a for i in instruments for a in (i.base_asset, i.quote_asset)})
        # True: balances may go negative (a margin venue); False: an order must be covered
        self.allow_short = True
        self._account_seq: dict[int, int] = {}
        self._orders: dict[int, _Order] = {}
        self._open: dict[int, dict[int, None]] = {}  # account -> open order ids (ordered)
        self._open_qty: dict[tuple[int, str, int], int] = {}  # (account, symbol, side) -> lots
        self._by_client: dict[tuple[int, str], int] = {}  # (account, client id) -> order id
        # idempotent answers: the first ack of each client order id
        self._acks: dict[tuple[int, str], OrderUpdate] = {}
        self._fills: dict[int, list[FillReport]] = {}
        # Memory (and so snapshots and restarts) stay bounded: beyond the newest
        # `history_limit` finished orders and fills per account, history lives
        # in the journal only; a finished order's client id is still known, so a
        # repeat of it is refused rather than placed twice.
        self.history_limit = history_limit
        self._retired: dict[tuple[int, str], int] = {}  # (account, client id) -> order id
        self._compact_at = 2 * history_limit
        self._next_order_id = 0
        # at most this many open orders per account (None: no cap); it decides which
        # orders are accepted, so a journaled venue changes it only by a command
        self.max_open_orders = max_open_orders

    # ------------------------------------------------------------------ snapshots

    # The bulky history (every order, idempotent answer and fill) goes through
    # msgpack: pickling that many structs one by one is ten times slower.
    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        encode = msgspec.msgpack.encode
        state["_orders"] = encode(list(self._orders.values()))
        state["_acks"] = encode([(a, c, u) for (a, c), u in self._acks.items()])
        state["_fills"] = encode(self._fills)
        state["_retired"] = encode([(a, c, oid) for (a, c), oid in self._retired.items()])
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        decode = msgspec.msgpack.decode
        orders = decode(state["_orders"], type=list[_Order])
        acks = decode(state["_acks"], type=list[tuple[int, str, OrderUpdate]])
        state["_orders"] = {o.order_id: o for o in orders}
        state["_acks"] = {(a, c): u for a, c, u in acks}
        state["_fills"] = decode(state["_fills"], type=dict[int, list[FillReport]])
        retired = decode(state["_retired"], type=list[tuple[int, str, int]])
        state["_retired"] = {(a, c): oid for a, c, oid in retired}
        self.__dict__.update(state)

    def snapshot(self) -> bytes:
        """Serialise the whole venue state (books as their orders, in priority).

        The audit sink of the risk manager is not part of it: the owner sets it
        again after ``restore``.
        """
        return pickle.dumps((SNAPSHOT_FORMAT, self), protocol=pickle.HIGHEST_PROTOCOL)

    @classmethod
    def restore(cls, blob: bytes, *, backend: str | None = None) -> Venue:
        """Rebuild a venue from ``snapshot()`` bytes (trusted: they come from our journal)."""
        token = _restore_backend.set(backend)
        try:
            fmt, venue = pickle.loads(blob)  # noqa: S301 - our own journal, same trust as its commands
        except Exception as exc:
            msg = f"invalid venue snapshot: {exc}"
            raise DataError(msg) from exc
        finally:
            _restore_backend.reset(token)
        if fmt != SNAPSHOT_FORMAT or not isinstance(venue, cls):
            msg = f"invalid venue snapshot, format {fmt!r}, expected {SNAPSHOT_FORMAT!r}"
            raise DataError(msg)
        return venue

    # ------------------------------------------------------------------ accounts

    def add_account(
        self,
        name: str,
        *,
        role: Role = Role.TRADER,
        api_key: str | None = None,
        api_secret: str | None = None,
    ) -> tuple[Account, str]:
        """Create an account; return it with its API key (shown once, stored hashed).

        Its signing secret (``api_secret``, or a fresh one) is read with ``api_secret()``.
        """
        key = api_key or self.new_api_key()
        account = self.add_account_hashed(
            name, role=role, key_hash=self.hash_key(key), secret=api_secret or self.new_api_key()
        )
        return account, key

    def add_account_hashed(
        self, name: str, *, role: Role, key_hash: str, secret: str | None = None
    ) -> Account:
        """Create an account from the hash of its key (journal recovery uses this).

        ``secret`` is kept as it is: signatures are HMACs, so the venue needs the
        secret itself, not a hash. Accounts journaled before secrets existed have none.
        """
        if key_hash in self._keys:
            msg = "invalid `api_key`, already in use"
            raise ConfigError(msg)
        account = Account(account_id=len(self._accounts) + 1, name=name, role=role)
        self._accounts[account.account_id] = account
        self._keys[key_hash] = account.account_id
        self._account_seq[account.account_id] = 0
        if secret is not None:
            self._secrets[account.account_id] = secret
        return account

    def api_secret(self, account_id: int) -> str | None:
        """The secret that signs the account's requests (None: it has none)."""
        return self._secrets.get(account_id)

    # ------------------------------------------------------------------ balances

    def assets(self) -> list[str]:
        """Every asset the listed instruments name, sorted."""
        return list(self._assets)

    def deposit(self, account: int, asset: str, amount: Decimal) -> None:
        """Credit (or with a negative amount, debit) an account's asset.

        Raises UnknownAccount or ConfigError (an unlisted asset, a non-finite
        amount, or a debit below what the account holds on a venue without
        shorting), having changed nothing.
        """
        self._known(account)
        if asset not in self._assets:
            msg = f"invalid `asset`, must be one of {self._assets}, was {asset!r}"
            raise ConfigError(msg)
        if not amount.is_finite() or amount == 0:
            msg = f"invalid `amount`, must be finite and non-zero, was {amount}"
            raise ConfigError(msg)
        if amount < 0 and not self.allow_short:
            free = self._free(account).get(asset, Decimal(0))
            if free + amount < 0:
                msg = f"invalid `amount`, {asset} free is {free}, the debit is {-amount}"
                raise ConfigError(msg)
        key = (account, asset)
        self._deposits[key] = self._deposits.get(key, Decimal(0)) + amount

    def set_allow_short(self, allow: bool) -> None:
        """Whether balances may go negative; orders already open stay."""
        self.allow_short = bool(allow)

    def balances(self, account: int) -> list[Balance]:
        """Every asset of the account: deposits plus what its fills moved, less fees."""
        self._require_account(account)
        locked = self._locked(account)
        return [
            Balance(asset=asset, free=total - locked[asset], locked=locked[asset])
            for asset, total in self._holdings(account).items()
        ]

    def _holdings(self, account: int) -> dict[str, Decimal]:
        total = {asset: Decimal(0) for asset in self._assets}
        for (acc, asset), amount in self._deposits.items():
            if acc == account:
                total[asset] += amount
        for pos in self.risk.positions(account):
            inst = self._listings[pos.symbol].instrument
            total[inst.base_asset] += inst.lot * pos.qty
            cash = Decimal(pos.cash) - Decimal(pos.fees) / MONEY_SCALE
            total[inst.quote_asset] += inst.tick * inst.lot * cash
        return total

    def _locked(self, account: int) -> dict[str, Decimal]:
        locked = {asset: Decimal(0) for asset in self._assets}
        for oid in self._open.get(account, ()):
            order = self._orders[oid]
            inst = self._listings[order.symbol].instrument
            if order.side is Side.SELL:
                locked[inst.base_asset] += inst.lot * order.remaining
            elif order.price is not None:
                locked[inst.quote_asset] += inst.tick * inst.lot * order.price * order.remaining
        return locked

    def _free(self, account: int) -> dict[str, Decimal]:
        locked = self._locked(account)
        return {asset: total - locked[asset] for asset, total in self._holdings(account).items()}

    def _covered(self, account: int, listing: _Listing, cmd: NewOrder) -> bool:
        """Whether the account holds what ``cmd`` would spend (buys at worst with the taker fee)."""
        inst = listing.instrument
        free = self._free(account)
        if cmd.side is Side.SELL:
            return free[inst.base_asset] >= inst.lot * cmd.qty
        if cmd.price is not None and cmd.order_type != OrderType.MARKET:
            cost = cmd.price * cmd.qty
        else:  # a market buy pays the asks it would take
            prices, sizes = listing.book.top(Side.SELL, 1_000_000)
            cost, left = 0, cmd.qty
            for price, size in zip(prices, sizes, strict=True):
                take = min(left, size)
                cost += price * take
                left -= take
                if not left:
                    break
        worst_fee = Decimal(max(listing.fees.taker_ppm, 0)) / MONEY_SCALE
        return free[inst.quote_asset] >= inst.tick * inst.lot * cost * (1 + worst_fee)

    def rotate_key(self, account_id: int, key_hash: str) -> Account:
        """Replace the account's API key by the one hashed as ``key_hash``; the old one stops.

        Raises UnknownAccount (nothing changed) for a missing account and
        ConfigError when another account already uses the key.
        """
        account = self._known(account_id)
        owner = self._keys.get(key_hash)
        if owner == account_id:
            return account
        if owner is not None:
            msg = "invalid `api_key`, already in use"
            raise ConfigError(msg)
        for old in [h for h, acc in self._keys.items() if acc == account_id]:
            del self._keys[old]
        self._keys[key_hash] = account_id
        return account

    @staticmethod
    def new_api_key() -> str:
        """Return a fresh random API key."""
        return secrets.token_urlsafe(32)

    @staticmethod
    def hash_key(api_key: str) -> str:
        """Return the stored form of an API key."""
        return hashlib.sha256(api_key.encode()).hexdigest()

    def authenticate(self, api_key: str | None, *, admin: bool = False) -> Account:
        """Return the account owning ``api_key``; raise NotAuthorized otherwise."""
        account_id = self._keys.get(self.hash_key(api_key or ""))
        if account_id is None:
            msg = "unknown or missing API key"
            raise NotAuthorized(msg)
        account = self._accounts[account_id]
        if admin and account.role is not Role.ADMIN:
            msg = f"account {account.name!r} is not an admin"
            raise Forbidden(msg)
        return account

    def accounts(self) -> list[Account]:
        """Return every account, by id."""
        return list(self._accounts.values())

    # ------------------------------------------------------------------ commands

    def submit(self, account: int, cmd: NewOrder) -> Outcome:
        """Place an order for ``account``; idempotent per client order id.

        Every order counts against the account's message rate and is refused
        while a kill switch is on, a repeat of a known client order id too (it
        then keeps its first answer, given again once the refusal has passed).
        An order that could rest is refused with MAX_OPEN_ORDERS while the
        account has ``max_open_orders`` open orders.
        """
        if account not in self._accounts:  # _require_account, inlined on the hot path
            self._require_account(account)
        ts = self.clock.now_ns()
        client_key = (account, cmd.client_order_id) if cmd.client_order_id is not None else None
        try:
            self.risk.check_message(account, ts)
        except RiskLimitBreached as exc:
            known = client_key is not None and (
                client_key in self._acks or client_key in self._retired
            )
            return self._reject(account, cmd, exc.reason, ts, remember=not known)
        if client_key is not None:
            seen = self._acks.get(client_key)
            if seen is not None:
                # the same answer, and no events: nothing happened this time
                return Outcome(update=seen, events=())
            if client_key in self._retired:
                return self._reject(
                    account, cmd, RejectReason.DUPLICATE_ORDER_ID, ts, remember=False
                )
        listing = self._listings.get(cmd.symbol)
        if listing is None:
            return self._reject(account, cmd, RejectReason.UNKNOWN_SYMBOL, ts)
        is_market = cmd.order_type == OrderType.MARKET
        if not is_market and cmd.price is None:
            return self._reject(account, cmd, RejectReason.NON_POSITIVE_PRICE, ts)
        cap = self.max_open_orders
        if (
            cap is not None
            and not is_market
            and cmd.tif in _RESTING_TIFS
            and len(self._open.get(account, ())) >= cap
        ):
            return self._reject(account, cmd, RejectReason.MAX_OPEN_ORDERS, ts)
        if cmd.qty < listing.min_lots:
            return self._reject(account, cmd, RejectReason.MIN_QTY, ts)
        if listing.min_notional and self._below_min_notional(listing, cmd):
            return self._reject(account, cmd, RejectReason.MIN_NOTIONAL, ts)
        if not self.allow_short and not self._covered(account, listing, cmd):
            return self._reject(account, cmd, RejectReason.INSUFFICIENT_BALANCE, ts)
        risk = self.risk
        # the mid is read only where a rule uses it: a market order's notional, the collar
        reference = (
            self._reference(listing)
            if is_market or risk.limits_for(account, cmd.symbol).collar_ticks is not None
            else None
        )
        try:
            risk.check_order(
                account,
                cmd.symbol,
                int(cmd.side),
                None if is_market else cmd.price,
                cmd.qty,
                reference=reference,
                open_same_side=self._open_qty.get((account, cmd.symbol, int(cmd.side)), 0),
                ts=ts,
            )
        except RiskLimitBreached as exc:
            return self._reject(account, cmd, exc.reason, ts)
        self._next_order_id += 1
        order_id = self._next_order_id
        side, price, qty, cid = cmd.side, cmd.price, cmd.qty, cmd.client_order_id
        res = listing.book.submit(
            order_id,
            side,
            0 if is_market else price,
            qty,
            order_type=cmd.order_type,
            tif=cmd.tif,
            account=account,
            stp=cmd.stp,
            ts=ts,
        )
        remaining, status = res.remaining, res.status
        order = _Order(
            order_id,
            account,
            cmd.symbol,
            cid,
            side,
            None if is_market else price,
            qty,
            res.filled,
            remaining,
            status,
            res.reason,
        )
        if status is OrderStatus.REJECTED:
            update = self._update(order, ts)
            outcome = Outcome(update=update, events=(update,))
            self._remember(account, cid, outcome)
            return outcome
        orders = self._orders
        orders[order_id] = order
        if len(orders) > self._compact_at:
            self._compact()
        if client_key is not None:
            self._by_client[client_key] = order_id
        touched: dict[tuple[int, int], None] = {}
        if remaining:
            # _track_open(order, +remaining), inlined: this is the hot path of order entry
            key = (account, cmd.symbol, int(side))
            open_qty = self._open_qty
            open_qty[key] = open_qty.get(key, 0) + remaining
            opened = self._open.setdefault(account, {})
            if status in _OPEN:
                opened[order_id] = None
            else:
                opened.pop(order_id, None)
            if price is not None:
                touched[(int(side), price)] = None
        seqs = self._account_seq
        seq = seqs[account] + 1
        seqs[account] = seq
        update = self._snapshot(order, ts, seq)
        events: list[Event] = [update]
        if res.fills or res.canceled:
            self._apply_fills(listing, order, res, ts, events, touched)
        if touched:
            self._book_deltas(listing, touched, ts, events)
        outcome = Outcome(update=update, events=tuple(events))
        if cid is not None:
            self._acks[(account, cid)] = update
        if res.fills:
            self._after_trades(listing, ts, events)
        return outcome

    def cancel(self, account: int, cmd: CancelOrder) -> Outcome:
        """Cancel one of the account's open orders.

        Like every message it counts against the account's rate and is refused
        (RATE_LIMIT, KILL_SWITCH) before anything else, also for an unknown
        order. A kill switch already cancelled the account's orders, so
        refusing cancels while it is on leaves nothing behind.
        """
        if account not in self._accounts:  # _require_account, inlined on the hot path
            self._require_account(account)
        ts = self.clock.now_ns()
        order = self._find(account, cmd.symbol, cmd.order_id, cmd.client_order_id)
        try:
            self.risk.check_message(account, ts)
        except RiskLimitBreached as exc:
            return self._reject_existing(account, cmd, exc.reason, ts, order)
        if order is None or order.status not in _OPEN:
            return self._reject_existing(account, cmd, RejectReason.UNKNOWN_ORDER, ts, order)
        return self._cancel_order(order, ts)

    def cancel_all(self, account: int, cmd: CancelAll | None = None) -> list[Outcome]:
        """Cancel the account's open orders, oldest first (see ``CancelAll`` for slices).

        Returns one outcome per cancelled order. A cancel-all is one message:
        unless ``cmd.rate_checked`` is False (the operator's follow-up slices)
        it counts against the account's rate, and when the rate limit or a kill
        switch refuses it, nothing is cancelled and the list holds exactly one
        rejected outcome (order id 0, reason RATE_LIMIT or KILL_SWITCH) instead,
        journaled and replayed like any answer: ``Venue.refusal(outcomes)``
        tells the two apart.
        """
        self._require_account(account)
        ts = self.clock.now_ns()
        cmd = cmd or CancelAll()
        if cmd.rate_checked:
            try:
                self.risk.check_message(account, ts)
            except RiskLimitBreached as exc:
                refused = CancelOrder(symbol=cmd.symbol or "")
                return [self._reject_existing(account, refused, exc.reason, ts, None)]
        return self._cancel_all(
            account, ts, symbol=cmd.symbol, limit=cmd.limit, max_order_id=cmd.max_order_id
        )

    @staticmethod
    def refusal(outcomes: Sequence[Outcome]) -> Outcome | None:
        """Return the rejection when ``cancel_all`` was refused as a whole, else None."""
        if len(outcomes) == 1:
            only = outcomes[0]
            if not only.accepted and only.update.order_id == 0:
                return only
        return None

    def modify(self, account: int, cmd: ModifyOrder) -> Outcome:
        """Change price and/or size of one of the account's open orders.

        Rate limit and kill switches apply first, as for every message.
        """
        self._require_account(account)
        ts = self.clock.now_ns()
        order = self._find(account, cmd.symbol, cmd.order_id, cmd.client_order_id)
        try:
            self.risk.check_message(account, ts)
        except RiskLimitBreached as exc:
            return self._reject_existing(account, cmd, exc.reason, ts, order)
        if order is None or order.status not in _OPEN:
            return self._reject_existing(account, cmd, RejectReason.UNKNOWN_ORDER, ts, order)
        listing = self._listings[order.symbol]
        new_price = cmd.price if cmd.price is not None else order.price
        new_qty = cmd.qty if cmd.qty is not None else order.remaining
        try:
            if new_price is not None and new_qty is not None:
                self.risk.check_order(
                    account,
                    order.symbol,
                    int(order.side),
                    new_price,
                    new_qty,
                    reference=self._reference(listing),
                    open_same_side=self._open_qty.get((account, order.symbol, int(order.side)), 0)
                    - order.remaining,
                    ts=ts,
                )
        except RiskLimitBreached as exc:
            return self._reject_existing(account, cmd, exc.reason, ts, order)
        old_price = order.price
        res = listing.book.modify(order.order_id, price=cmd.price, qty=cmd.qty, ts=ts)
        if res.status is OrderStatus.REJECTED:
            return self._reject_existing(account, cmd, res.reason, ts, order)
        self._track_open(order, -order.remaining)
        order.price = new_price
        order.qty = order.filled + (cmd.qty if cmd.qty is not None else order.remaining)
        order.filled = res.filled
        order.remaining = res.remaining
        order.status = res.status
        order.reason = res.reason
        if res.remaining:
            self._track_open(order, +res.remaining)
        touched: dict[tuple[int, int], None] = {}
        if old_price is not None:
            touched[(int(order.side), old_price)] = None
        if new_price is not None:
            touched[(int(order.side), new_price)] = None
        events: list[Event] = []
        update = self._update(order, ts)
        events.append(update)
        self._apply_fills(listing, order, res, ts, events, touched)
        self._book_deltas(listing, touched, ts, events)
        self._after_trades(listing, ts, events)
        return Outcome(update=update, events=tuple(events))

    # ------------------------------------------------------------------ admin

    def kill(self, account: int | None, reason: str = "manual") -> list[Outcome]:
        """Trip a kill switch (an account's, or venue-wide with None) and cancel the orders.

        Raises UnknownAccount, having changed nothing, for a missing account.
        """
        if account is not None:
            self._known(account)
        ts = self.clock.now_ns()
        self.risk.trip(account, reason, ts=ts)
        targets = [account] if account is not None else list(self._open)
        return [out for acc in targets for out in self._cancel_all(acc, ts)]

    def reset(self, account: int | None) -> None:
        """Lift a kill switch: an account's, or with None the venue-wide one.

        The two are independent: a venue-wide reset leaves accounts killed on
        their own (by hand or by their daily-loss limit) killed, and an
        account's reset does not lift a venue-wide halt. Resetting a switch that
        is off changes nothing but the audit log. Raises UnknownAccount, having
        changed nothing, for a missing account.
        """
        if account is not None:
            self._known(account)
        self.risk.reset(account, ts=self.clock.now_ns())

    def set_limits(
        self, limits: RiskLimits, *, account: int | None = None, symbol: str | None = None
    ) -> None:
        """Install risk limits for an account and/or symbol (both None: the default).

        Raises UnknownAccount, having changed nothing, for a missing account.
        """
        if account is not None:
            self._known(account)
        self.risk.set_limits(limits, account=account, symbol=symbol, ts=self.clock.now_ns())

    def set_max_open_orders(self, cap: int | None) -> None:
        """Change the per-account cap on open orders (None: none); orders already open stay."""
        _check_max_open_orders(cap)
        self.max_open_orders = cap

    # ------------------------------------------------------------------ views

    def instruments(self) -> list[Instrument]:
        """Return the listed instruments."""
        return [listing.instrument for listing in self._listings.values()]

    def book(self, symbol: str) -> Any:
        """Return the order book of ``symbol`` (read it; do not command it)."""
        listing = self._listings.get(symbol)
        if listing is None:
            msg = f"invalid `symbol`, not listed here, was {symbol!r}"
            raise ConfigError(msg)
        return listing.book

    def public_seq(self, symbol: str) -> int:
        """Return the last public sequence number of ``symbol``."""
        return self._listings[symbol].seq

    def order(self, account: int, order_id: int) -> OrderUpdate | None:
        """Return the current state of one of the account's orders, or None."""
        order = self._orders.get(order_id)
        if order is None or order.account != account:
            return None
        return self._snapshot(order, self.clock.now_ns())

    def id_floor(self) -> IdFloor:
        """The ids and sequence numbers handed out so far (see ``raise_floor``)."""
        # every client id that took an order id: resting or done, retired, or refused by the
        # book after its id was given (an ack that is kept); a refusal before an id (order
        # id 0) may be tried again, so it is no floor
        taken = {key: oid for key, ack in self._acks.items() if (oid := ack.order_id)}
        taken.update(self._by_client)
        taken.update(self._retired)
        client_ids = [(a, c, oid) for (a, c), oid in taken.items()]
        return IdFloor(
            order_id=self._next_order_id,
            public_seq={symbol: listing.seq for symbol, listing in self._listings.items()},
            private_seq=dict(self._account_seq),
            client_ids=client_ids,
        )

    def raise_floor(self, floor: IdFloor) -> None:
        """Hand out nothing at or below ``floor`` again: later ids and numbers start above it.

        Only this venue's accounts and symbols are raised (an account the floor
        knows and this venue does not was lost with it: created again, it is a
        new account); a client order id of the floor is refused as a duplicate.
        """
        self._next_order_id = max(self._next_order_id, floor.order_id)
        for symbol, seq in floor.public_seq.items():
            listing = self._listings.get(symbol)
            if listing is not None and seq > listing.seq:
                listing.seq = seq
        for account, seq in floor.private_seq.items():
            if account in self._account_seq and seq > self._account_seq[account]:
                self._account_seq[account] = seq
        for account, cid, order_id in floor.client_ids:
            key = (account, cid)
            if account not in self._accounts or key in self._by_client:
                continue
            ack = self._acks.get(key)
            if ack is None or not ack.order_id:  # unknown here, or only refused: taken there
                self._retired.setdefault(key, order_id)

    def order_id_for(self, account: int, client_order_id: str) -> int | None:
        """The id of the account's order placed with ``client_order_id`` (None: none remembered).

        A finished order forgotten from memory is still found (its history is in the journal).
        """
        key = (account, client_order_id)
        return self._by_client.get(key) or self._retired.get(key)

    def open_orders(
        self,
        account: int,
        symbol: str | None = None,
        *,
        after: int = 0,
        limit: int | None = None,
    ) -> list[OrderUpdate]:
        """Return the account's open orders, oldest first.

        A page: only orders with an id above ``after`` (the last id of the
        previous page), at most ``limit`` of them (None: all).
        """
        _check_limit(limit)
        ts = self.clock.now_ns()
        page: list[OrderUpdate] = []
        if limit == 0:
            return page
        for oid in self._open.get(account, {}):
            if oid <= after:
                continue
            order = self._orders[oid]
            if symbol is not None and order.symbol != symbol:
                continue
            page.append(self._snapshot(order, ts))
            if limit is not None and len(page) >= limit:
                break
        return page

    def open_count(self, account: int) -> int:
        """Return how many open orders the account has (0 for an unknown account)."""
        return len(self._open.get(account, ()))

    @property
    def last_order_id(self) -> int:
        """Return the id of the newest order placed (0 before the first)."""
        return self._next_order_id

    def fills(
        self,
        account: int,
        symbol: str | None = None,
        *,
        after_seq: int = 0,
        limit: int | None = None,
    ) -> list[FillReport]:
        """Return the account's retained fills, oldest first.

        A page: only fills with an account sequence above ``after_seq`` (the
        last ``seq`` of the previous page), at most ``limit`` of them (None: all).
        """
        _check_limit(limit)
        fills = self._fills.get(account, [])
        start = bisect_right(fills, after_seq, key=_fill_seq) if after_seq > 0 else 0
        page: list[FillReport] = []
        if limit == 0:
            return page
        for fill in fills[start:] if start else fills:
            if symbol is None or fill.symbol == symbol:
                page.append(fill)
                if limit is not None and len(page) >= limit:
                    break
        return page

    # ------------------------------------------------------------------ internals

    def _require_account(self, account: int) -> None:
        if account not in self._accounts:
            msg = f"unknown account {account}"
            raise NotAuthorized(msg)

    def _known(self, account: int) -> Account:
        """Return the account an admin command names; raise UnknownAccount otherwise."""
        found = self._accounts.get(account)
        if found is None:
            msg = f"unknown account {account}"
            raise UnknownAccount(msg)
        return found

    @staticmethod
    def _below_min_notional(listing: _Listing, cmd: NewOrder) -> bool:
        """A limit order by its price; a market order by the opposite touch (none: not judged)."""
        price = cmd.price
        if cmd.order_type == OrderType.MARKET or price is None:
            touch = listing.book.best_ask() if cmd.side is Side.BUY else listing.book.best_bid()
            if touch is None:
                return False
            price = touch[0]
        return bool(price * cmd.qty < listing.min_notional)

    def _reference(self, listing: _Listing) -> int | None:
        bid, ask = listing.book.best_bid(), listing.book.best_ask()
        if bid and ask:
            return int(bid[0] + ask[0]) // 2
        return listing.last_trade

    def _next_seq(self, account: int) -> int:
        self._account_seq[account] += 1
        return self._account_seq[account]

    def _snapshot(self, order: _Order, ts: int, seq: int = 0) -> OrderUpdate:
        return OrderUpdate(
            account=order.account,
            seq=seq,
            symbol=order.symbol,
            order_id=order.order_id,
            client_order_id=order.client_order_id,
            side=order.side,
            price=order.price,
            qty=order.qty,
            filled=order.filled,
            remaining=order.remaining,
            status=order.status,
            reason=order.reason,
            ts_event=ts,
        )

    def _update(self, order: _Order, ts: int) -> OrderUpdate:
        return self._snapshot(order, ts, self._next_seq(order.account))

    def _remember(self, account: int, client_order_id: str | None, outcome: Outcome) -> None:
        if client_order_id is not None:
            self._acks[(account, client_order_id)] = outcome.update

    def _compact(self) -> None:
        """Forget all but the newest ``history_limit`` finished orders, refusals and fills.

        Runs every ``history_limit`` new orders, so it costs O(1) per order.
        """
        limit = self.history_limit
        done = [oid for oid, o in self._orders.items() if o.status not in _OPEN]
        for oid in done[: max(0, len(done) - limit)]:
            order = self._orders.pop(oid)
            if order.client_order_id is not None:
                key = (order.account, order.client_order_id)
                self._acks.pop(key, None)
                self._by_client.pop(key, None)
                self._retired[key] = oid
        refused = [key for key, ack in self._acks.items() if ack.order_id == 0]
        for key in refused[: max(0, len(refused) - limit)]:
            del self._acks[key]  # a refused id may be tried again
        for account, fills in self._fills.items():
            if len(fills) > limit:
                self._fills[account] = fills[-limit:]
        self._compact_at = len(self._orders) + limit

    def _reject(
        self,
        account: int,
        cmd: NewOrder,
        reason: RejectReason,
        ts: int,
        *,
        remember: bool = True,
    ) -> Outcome:
        order = _Order(
            order_id=0,
            account=account,
            symbol=cmd.symbol,
            client_order_id=cmd.client_order_id,
            side=cmd.side,
            price=cmd.price,
            qty=cmd.qty,
            filled=0,
            remaining=0,
            status=OrderStatus.REJECTED,
            reason=reason,
        )
        update = self._update(order, ts)
        outcome = Outcome(update=update, events=(update,))
        if remember:
            self._remember(account, cmd.client_order_id, outcome)
        return outcome

    def _reject_existing(
        self,
        account: int,
        cmd: CancelOrder | ModifyOrder,
        reason: RejectReason,
        ts: int,
        order: _Order | None,
    ) -> Outcome:
        """A refused cancel/modify: the order (if any) is unchanged; the ack says why."""
        base = order or _Order(
            order_id=cmd.order_id or 0,
            account=account,
            symbol=cmd.symbol,
            client_order_id=cmd.client_order_id,
            side=Side.BUY,
            price=None,
            qty=0,
            filled=0,
            remaining=0,
            status=OrderStatus.REJECTED,
            reason=reason,
        )
        update = msgspec.structs.replace(
            self._snapshot(base, ts, self._next_seq(account)),
            status=OrderStatus.REJECTED,
            reason=reason,
        )
        return Outcome(update=update, events=(update,))

    def _find(
        self, account: int, symbol: str, order_id: int | None, client_order_id: str | None
    ) -> _Order | None:
        if order_id is None and client_order_id is not None:
            order_id = self._by_client.get((account, client_order_id))
        order = self._orders.get(order_id) if order_id is not None else None
        if order is None or order.account != account or order.symbol != symbol:
            return None  # never reveal another account's orders
        return order

    def _track_open(self, order: _Order, delta: int) -> None:
        key = (order.account, order.symbol, int(order.side))
        self._open_qty[key] = self._open_qty.get(key, 0) + delta
        opened = self._open.setdefault(order.account, {})
        if order.remaining and order.status in _OPEN:
            opened[order.order_id] = None
        else:
            opened.pop(order.order_id, None)

    def _cancel_all(
        self,
        account: int,
        ts: int,
        *,
        symbol: str | None = None,
        limit: int | None = None,
        max_order_id: int | None = None,
    ) -> list[Outcome]:
        """Cancel the account's oldest open orders (no rate check: also the venue's own)."""
        targets: list[_Order] = []
        # an account's open ids are kept in placement order, so ascending
        for oid in self._open.get(account, {}):
            if max_order_id is not None and oid > max_order_id:
                break
            order = self._orders[oid]
            if symbol is None or order.symbol == symbol:
                targets.append(order)
                if limit is not None and len(targets) >= limit:
                    break
        return [self._cancel_order(order, ts) for order in targets]

    def _cancel_order(self, order: _Order, ts: int) -> Outcome:
        listing = self._listings[order.symbol]
        res = listing.book.cancel(order.order_id, ts=ts)
        if res.status is OrderStatus.REJECTED:  # the book no longer has it
            return self._reject_existing(
                order.account,
                CancelOrder(symbol=order.symbol, order_id=order.order_id),
                res.reason,
                ts,
                order,
            )
        # _track_open(order, -remaining), then _track_open(order, 0) once it is cancelled:
        # inlined, as this is the hot path of order entry
        account = order.account
        key = (account, order.symbol, int(order.side))
        open_qty = self._open_qty
        open_qty[key] = open_qty.get(key, 0) - order.remaining
        self._open.setdefault(account, {}).pop(order.order_id, None)
        order.remaining = 0
        order.status = OrderStatus.CANCELED
        seqs = self._account_seq
        seq = seqs[account] + 1
        seqs[account] = seq
        update = self._snapshot(order, ts, seq)
        if order.price is None:
            return Outcome(update=update, events=(update,))
        delta = self._level_delta(listing, int(order.side), order.price, ts)
        return Outcome(update=update, events=(update, delta))

    def _apply_fills(
        self,
        listing: _Listing,
        taker: _Order,
        res: Any,
        ts: int,
        events: list[Event],
        touched: dict[tuple[int, int], None],
    ) -> None:
        """Turn the book's fills into trades, fill reports, positions and fees."""
        fees = listing.fees
        for oid in res.canceled:  # resting orders removed by self-trade prevention
            maker = self._orders[oid]
            self._track_open(maker, -maker.remaining)
            maker.remaining = 0
            maker.status = OrderStatus.CANCELED
            maker.reason = RejectReason.SELF_TRADE
            self._track_open(maker, 0)
            if maker.price is not None:
                touched[(int(maker.side), maker.price)] = None
            events.append(self._update(maker, ts))
        for fill in res.fills:
            maker = self._orders[fill.maker_order_id]
            maker.filled += fill.qty
            maker.remaining -= fill.qty
            maker.status = (
                OrderStatus.FILLED if maker.remaining == 0 else OrderStatus.PARTIALLY_FILLED
            )
            self._track_open(maker, -fill.qty)
            touched[(int(maker.side), fill.price)] = None
            listing.seq += 1
            trade_seq = listing.seq
            listing.last_trade = fill.price
            events.append(
                Trade(
                    symbol=listing.instrument.symbol,
                    seq=trade_seq,
                    price=fill.price,
                    qty=fill.qty,
                    aggressor=taker.side,
                    ts_event=ts,
                )
            )
            notional = fill.price * fill.qty
            for order, liquidity, ppm in (
                (maker, "maker", fees.maker_ppm),
                (taker, "taker", fees.taker_ppm),
            ):
                report = FillReport(
                    account=order.account,
                    seq=self._next_seq(order.account),
                    symbol=order.symbol,
                    order_id=order.order_id,
                    client_order_id=order.client_order_id,
                    trade_seq=trade_seq,
                    side=order.side,
                    price=fill.price,
                    qty=fill.qty,
                    liquidity=liquidity,
                    fee=notional * ppm,
                    ts_event=ts,
                )
                self._fills.setdefault(order.account, []).append(report)
                events.append(report)
                self.risk.on_fill(
                    order.account,
                    order.symbol,
                    int(order.side),
                    fill.price,
                    fill.qty,
                    report.fee,
                    ts,
                )
            events.append(self._update(maker, ts))

    def _book_deltas(
        self, listing: _Listing, touched: dict[tuple[int, int], None], ts: int, events: list[Event]
    ) -> None:
        for side, price in touched:
            events.append(self._level_delta(listing, side, price, ts))

    @staticmethod
    def _level_delta(listing: _Listing, side: int, price: int, ts: int) -> BookDelta:
        """The level's new size, with the symbol's next public sequence number."""
        listing.seq += 1
        return BookDelta(
            symbol=listing.symbol,
            seq=listing.seq,
            side=_SIDES[side],
            price=price,
            size=listing.book.depth_at(side, price),
            ts_event=ts,
        )

    def _after_trades(self, listing: _Listing, ts: int, events: Iterable[Event]) -> None:
        """Mark to the new mid; accounts whose daily-loss switch trips lose their orders."""
        if not any(isinstance(e, Trade) for e in events):
            return
        reference = self._reference(listing)
        if reference is None:
            return
        killed = {acc for acc in self._open if self.risk.is_killed(acc)}
        killed.update(self.risk.mark(listing.instrument.symbol, reference, ts))
        for account in sorted(killed):
            self._cancel_all(account, ts)


def _check_max_open_orders(cap: int | None) -> None:
    if cap is not None and cap < 1:
        msg = f"invalid `max_open_orders`, must be >= 1 or null, was {cap}"
        raise ConfigError(msg)


def _check_limit(limit: int | None) -> None:
    if limit is not None and limit < 0:
        msg = f"invalid `limit`, must be >= 0 or null, was {limit}"
        raise ConfigError(msg)


def _fill_seq(fill: FillReport) -> int:
    return fill.seq
