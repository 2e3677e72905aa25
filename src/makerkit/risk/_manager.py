"""Pre-trade checks, post-trade positions and PnL, kill switches and the audit log.

The risk manager is a passive part of the venue's single-writer state machine:
it reads time from the ``ts`` it is given (never the wall clock), so a replay
of the same commands gives the same decisions.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

import msgspec

from makerkit.core import RejectReason, RiskLimitBreached
from makerkit.core.errors import ConfigError
from makerkit.risk._positions import Position, PositionView

__all__ = ["AuditRecord", "RiskLimits", "RiskManager", "RiskState"]

NS_PER_SECOND = 1_000_000_000
NS_PER_DAY = 86_400 * NS_PER_SECOND
_MAX_INT = 2**62  # any integer limit (a float of it is still exact enough and finite)
_MAX_RATE = 1e9  # messages per second
_RESOLVED_MAX = 65_536  # (account, symbol) pairs whose limits are remembered


class RiskLimits(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Limits for one account (and optionally one symbol); None switches a rule off.

    Units: sizes in lots, prices in ticks, notional in tick-lots (price x size),
    ``daily_loss_limit`` in micro tick-lots (``MONEY_SCALE`` per tick-lot).
    """

    max_order_qty: int | None = None
    max_notional: int | None = None
    max_position: int | None = None
    collar_ticks: int | None = None
    max_msgs_per_sec: float | None = None
    burst: int | None = None
    duplicate_window_ns: int | None = None
    daily_loss_limit: int | None = None

    def __post_init__(self) -> None:
        for name in self.__struct_fields__:
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float):
                ok = False
            elif name == "max_msgs_per_sec":  # the rate bucket's float math needs it finite
                ok = math.isfinite(value) and 0 <= value <= _MAX_RATE
            else:
                ok = isinstance(value, int) and 0 <= value <= _MAX_INT
            if not ok:
                rule = (
                    f"a finite number from 0 to {_MAX_RATE:g}"
                    if name == "max_msgs_per_sec"
                    else "an integer from 0 to 2**62"
                )
                big = isinstance(value, int) and value.bit_length() > 64
                shown = f"an integer of {value.bit_length()} bits" if big else repr(value)
                msg = f"invalid `{name}`, must be {rule} or null, was {shown}"
                raise ConfigError(msg)


class AuditRecord(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One risk decision: which rule, against which limit, with which value."""

    ts: int
    account: int
    symbol: str
    rule: str
    decision: str  # pass, reject, trip, reset, limits
    limit: str = ""
    value: str = ""


class RiskState(msgspec.Struct, frozen=True, kw_only=True):
    """An account's risk picture: limits, positions, PnL and kill-switch state."""

    account: int
    limits: RiskLimits
    positions: tuple[PositionView, ...]
    pnl_micro: int
    daily_pnl_micro: int
    killed: bool
    kill_reason: str
    venue_killed: bool


class _Bucket:
    __slots__ = ("last_ns", "tokens")

    def __init__(self, tokens: float, now: int) -> None:
        self.tokens = tokens
        self.last_ns = now


class RiskManager:
    """Per-account and per-symbol risk; limits can change at run time (audited)."""

    def __init__(
        self,
        default_limits: RiskLimits | None = None,
        *,
        audit_capacity: int = 100_000,
        audit_passes: bool = True,
    ) -> None:
        self._default = default_limits or RiskLimits()
        self._limits: dict[tuple[int | None, str | None], RiskLimits] = {}
        # limits_for's answers, forgotten whenever a limit changes: every message asks
        # for its account's limits, which almost never change (not part of the state)
        self._resolved: dict[tuple[int, str], RiskLimits] = {}
        self._positions: dict[tuple[int, str], Position] = {}
        self._marks: dict[str, int] = {}
        self._buckets: dict[int, _Bucket] = {}
        self._recent: dict[tuple[int, str, int, int | None, int], int] = {}
        self._killed: dict[int, str] = {}
        self._venue_killed = ""
        self._day: dict[int, tuple[int, int]] = {}  # account -> (day, pnl at start of day)
        self.audit: deque[AuditRecord] = deque(maxlen=audit_capacity)
        self._audit_passes = audit_passes
        # also called with every record (the venue's journal keeps them durably)
        self.sink: Callable[[AuditRecord], None] | None = None

    def __getstate__(self) -> dict[str, Any]:
        # the sink belongs to the owner (a journal), not to the risk state
        state = self.__dict__.copy()
        state["sink"] = None
        del state["_resolved"]  # derived: rebuilt on demand
        state["audit"] = (self.audit.maxlen, msgspec.msgpack.encode(list(self.audit)))
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        maxlen, records = state["audit"]
        audit = msgspec.msgpack.decode(records, type=list[AuditRecord])
        state["audit"] = deque(audit, maxlen=maxlen)
        self.__dict__.update(state)
        self._resolved = {}

    @property
    def audit_passes(self) -> bool:
        """Whether an order that passes the pre-trade rules is audited too (refusals always are)."""
        return self._audit_passes

    @audit_passes.setter
    def audit_passes(self, value: bool) -> None:
        self._audit_passes = value

    # ------------------------------------------------------------------ limits

    def limits_for(self, account: int, symbol: str) -> RiskLimits:
        """Return the most specific limits: account+symbol, account, symbol, then default."""
        key = (account, symbol)
        found = self._resolved.get(key)
        if found is None:
            limits = self._limits
            found = (
                limits.get(key)
                or limits.get((account, None))
                or limits.get((None, symbol))
                or self._default
            )
            if len(self._resolved) >= _RESOLVED_MAX:
                self._resolved.clear()
            self._resolved[key] = found
        return found

    def set_limits(
        self,
        limits: RiskLimits,
        *,
        account: int | None = None,
        symbol: str | None = None,
        ts: int = 0,
    ) -> None:
        """Install limits for an account and/or symbol (both None: the default)."""
        if account is None and symbol is None:
            self._default = limits
        else:
            self._limits[(account, symbol)] = limits
        self._resolved.clear()
        self._record(
            ts,
            account or 0,
            symbol or "*",
            "limits",
            "limits",
            "",
            msgspec.json.encode(limits).decode(),
        )

    # ------------------------------------------------------------------ pre-trade

    def check_message(self, account: int, ts: int) -> None:
        """Apply the kill switches and the message-rate limit to any command."""
        if self._venue_killed:
            self._reject(
                ts,
                account,
                "*",
                "venue_kill_switch",
                RejectReason.KILL_SWITCH,
                "off",
                self._venue_killed,
            )
        if account in self._killed:
            self._reject(
                ts,
                account,
                "*",
                "kill_switch",
                RejectReason.KILL_SWITCH,
                "off",
                self._killed[account],
            )
        limits = self.limits_for(account, "*")
        rate = limits.max_msgs_per_sec
        if rate is None:
            return
        burst = limits.burst or max(1, int(rate))
        bucket = self._buckets.get(account)
        if bucket is None:
            bucket = self._buckets[account] = _Bucket(float(burst), ts)
        bucket.tokens = min(
            float(burst), bucket.tokens + (ts - bucket.last_ns) * rate / NS_PER_SECOND
        )
        bucket.last_ns = ts
        if bucket.tokens < 1.0:
            self._reject(
                ts,
                account,
                "*",
                "rate_limit",
                RejectReason.RATE_LIMIT,
                f"{rate}/s burst {burst}",
                f"{bucket.tokens:.2f} tokens",
            )
        bucket.tokens -= 1.0

    def check_order(
        self,
        account: int,
        symbol: str,
        side: int,
        price: int | None,
        qty: int,
        *,
        reference: int | None,
        open_same_side: int,
        ts: int,
    ) -> None:
        """Run the order rules; raise RiskLimitBreached (audited) on the first breach.

        ``price`` is None for a market order (notional then uses ``reference``);
        ``open_same_side`` is the account's resting size on the order's side.
        """
        lim = self.limits_for(account, symbol)
        if lim.max_order_qty is not None and qty > lim.max_order_qty:
            self._reject(
                ts,
                account,
                symbol,
                "max_order_qty",
                RejectReason.MAX_ORDER_QTY,
                lim.max_order_qty,
                qty,
            )
        px = price if price is not None else reference
        if lim.max_notional is not None and px is not None and px * qty > lim.max_notional:
            self._reject(
                ts,
                account,
                symbol,
                "max_notional",
                RejectReason.MAX_NOTIONAL,
                lim.max_notional,
                px * qty,
            )
        if lim.max_position is not None:
            pos = self._positions.get((account, symbol))
            held = pos.qty if pos is not None else 0
            exposure = side * held + open_same_side + qty
            if exposure > lim.max_position:
                self._reject(
                    ts,
                    account,
                    symbol,
                    "max_position",
                    RejectReason.MAX_POSITION,
                    lim.max_position,
                    exposure,
                )
        if lim.collar_ticks is not None and price is not None and reference is not None:
            distance = abs(price - reference)
            if distance > lim.collar_ticks:
                self._reject(
                    ts,
                    account,
                    symbol,
                    "price_collar",
                    RejectReason.PRICE_COLLAR,
                    f"{reference} +/- {lim.collar_ticks}",
                    price,
                )
        if lim.duplicate_window_ns:
            key = (account, symbol, side, price, qty)
            last = self._recent.get(key)
            self._recent[key] = ts
            if last is not None and ts - last <= lim.duplicate_window_ns:
                self._reject(
                    ts,
                    account,
                    symbol,
                    "duplicate_order",
                    RejectReason.DUPLICATE_ORDER,
                    f"{lim.duplicate_window_ns} ns",
                    f"{ts - last} ns",
                )
        if self._audit_passes:
            self._record(ts, account, symbol, "pre_trade", "pass", "", f"{side:+d} {qty} @ {price}")

    # ------------------------------------------------------------------ post-trade

    def on_fill(
        self, account: int, symbol: str, side: int, price: int, qty: int, fee_micro: int, ts: int
    ) -> bool:
        """Book a fill; return True when it tripped the account's daily-loss kill switch."""
        pos = self._positions.get((account, symbol))
        if pos is None:
            pos = self._positions[(account, symbol)] = Position()
        pos.apply(side, price, qty, fee_micro)
        return self._check_daily_loss(account, symbol, ts)

    def mark(self, symbol: str, price: int, ts: int) -> list[int]:
        """Mark a symbol (mid or last); return accounts whose daily-loss switch tripped."""
        self._marks[symbol] = price
        tripped = []
        for account, sym in list(self._positions):
            if sym == symbol and self._check_daily_loss(account, symbol, ts):
                tripped.append(account)
        return tripped

    def account_pnl(self, account: int) -> int:
        """Return total PnL (micro tick-lots) over the account's symbols at the last marks."""
        return sum(
            pos.pnl_micro(self._marks.get(sym))
            for (acc, sym), pos in self._positions.items()
            if acc == account
        )

    def _daily_pnl(self, account: int, ts: int, *, commit: bool = True) -> int:
        """The account's PnL since the start of its day (``commit=False``: a pure read).

        Only the commands (fills, marks, resets) may start a new day: a read
        that did would move the day's baseline to the moment of the read, and a
        replay of the journal, which has no reads, would then decide otherwise.
        """
        total = self.account_pnl(account)
        day = ts // NS_PER_DAY
        start = self._day.get(account)
        if start is None or start[0] != day:
            # a new day starts from the PnL carried into it
            start = (day, total if start is not None else 0)
            if commit:
                self._day[account] = start
        return total - start[1]

    def _check_daily_loss(self, account: int, symbol: str, ts: int) -> bool:
        limit = self.limits_for(account, symbol).daily_loss_limit
        if limit is None or account in self._killed:
            return False
        daily = self._daily_pnl(account, ts)
        if daily < -limit:
            self.trip(account, f"daily loss {daily} below -{limit}", ts=ts, rule="daily_loss")
            return True
        return False

    # ------------------------------------------------------------------ kill switches

    def trip(
        self, account: int | None, reason: str, *, ts: int = 0, rule: str = "manual_kill"
    ) -> None:
        """Block new orders for an account (None: the whole venue) until reset."""
        if account is None:
            self._venue_killed = reason or "venue kill switch"
        else:
            self._killed[account] = reason or "kill switch"
        self._record(ts, account or 0, "*", rule, "trip", "", reason)

    def reset(self, account: int | None, *, ts: int = 0) -> None:
        """Lift the kill switch of an account (None: the venue-wide one)."""
        if account is None:
            self._venue_killed = ""
        else:
            self._killed.pop(account, None)
            # the daily-loss count starts afresh: from the PnL at the reset, not from 0
            # (which counted every earlier loss again and tripped at the next mark)
            self._day[account] = (ts // NS_PER_DAY, self.account_pnl(account))
        self._record(ts, account or 0, "*", "kill_switch", "reset", "", "")

    def is_killed(self, account: int) -> bool:
        """Return True when the account may not place orders."""
        return bool(self._venue_killed) or account in self._killed

    def kill_reason(self, account: int) -> str:
        """Why the account may not trade ("" when it may): venue-wide first."""
        return self._venue_killed or self._killed.get(account, "")

    # ------------------------------------------------------------------ views

    def position(self, account: int, symbol: str) -> PositionView:
        """Return the account's position in one symbol (flat when never traded)."""
        pos = self._positions.get((account, symbol)) or Position()
        return pos.view(symbol, self._marks.get(symbol))

    def positions(self, account: int) -> tuple[PositionView, ...]:
        """Return every position the account has traded, by symbol."""
        return tuple(
            pos.view(sym, self._marks.get(sym))
            for (acc, sym), pos in sorted(self._positions.items())
            if acc == account
        )

    def state(self, account: int, ts: int) -> RiskState:
        """Return the account's whole risk picture."""
        return RiskState(
            account=account,
            limits=self.limits_for(account, "*"),
            positions=self.positions(account),
            pnl_micro=self.account_pnl(account),
            daily_pnl_micro=self._daily_pnl(account, ts, commit=False),
            killed=account in self._killed,
            kill_reason=self._killed.get(account, ""),
            venue_killed=bool(self._venue_killed),
        )

    def audit_for(self, account: int | None = None) -> Iterable[AuditRecord]:
        """Yield the retained audit records, oldest first (one account's, if given)."""
        return (r for r in self.audit if account is None or r.account == account)

    # ------------------------------------------------------------------ internals

    def _record(
        self,
        ts: int,
        account: int,
        symbol: str,
        rule: str,
        decision: str,
        limit: object,
        value: object,
    ) -> None:
        record = AuditRecord(
            ts=ts,
            account=account,
            symbol=symbol,
            rule=rule,
            decision=decision,
            limit=str(limit),
            value=str(value),
        )
        self.audit.append(record)
        if self.sink is not None:
            self.sink(record)

    def _reject(
        self,
        ts: int,
        account: int,
        symbol: str,
        rule: str,
        reason: RejectReason,
        limit: object,
        value: object,
    ) -> None:
        self._record(ts, account, symbol, rule, "reject", limit, value)
        msg = f"risk rule `{rule}` refused the order: limit {limit}, value {value}"
        raise RiskLimitBreached(msg, reason, rule=rule, limit=limit, value=value)
