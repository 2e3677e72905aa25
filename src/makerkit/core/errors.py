"""One exception tree for the whole project.

Every error a user can see derives from :class:`MakerkitError`, so ``except
MakerkitError`` is enough at any boundary (CLI, server, client)::

    MakerkitError
    ├── ConfigError                  bad configuration or arguments
    ├── DataError                    malformed input files (names file, line, field)
    ├── NotAuthorized                missing or wrong API key
    │   └── Forbidden                the account's role does not allow this
    ├── UnknownAccount               an admin command names an account that does not exist
    ├── OrderRejected                a command refused with a stable RejectReason
    │   ├── InvalidPrice             OFF_TICK, NON_POSITIVE_PRICE
    │   ├── InvalidQuantity          OFF_LOT, NON_POSITIVE_QTY
    │   ├── UnknownOrder             UNKNOWN_ORDER
    │   ├── UnknownSymbol            UNKNOWN_SYMBOL
    │   ├── DuplicateOrderId         DUPLICATE_ORDER_ID
    │   └── RiskLimitBreached        a pre-trade rule (carries rule, limit, value)
    ├── EngineUnavailable            a requested book backend is not built
    ├── JournalUnavailable           the journal cannot make commands durable (disk full, I/O)
    └── RecoveryRefused              the journal and its snapshots cannot be proven consistent

Matching-engine commands do not raise on rejects (the hot path returns a result
carrying the reason); :func:`rejection` turns a reason into the matching
exception for layers that prefer raising.
"""

from __future__ import annotations

from makerkit.core._enums import RejectReason

__all__ = [
    "ERROR_CODES",
    "ConfigError",
    "DataError",
    "DuplicateOrderId",
    "EngineUnavailable",
    "Forbidden",
    "InsufficientBalance",
    "InvalidPrice",
    "InvalidQuantity",
    "JournalUnavailable",
    "MakerkitError",
    "NotAuthorized",
    "OrderRejected",
    "RecoveryRefused",
    "RiskLimitBreached",
    "UnknownAccount",
    "UnknownOrder",
    "UnknownSymbol",
    "VenueError",
    "code_for",
    "error_for_code",
    "rejection",
]


class MakerkitError(Exception):
    """Root of every error raised by makerkit."""


class ConfigError(MakerkitError, ValueError):
    """A configuration value or command-line argument is invalid."""


class EngineUnavailable(MakerkitError, RuntimeError):
    """The requested order-book backend is not available in this install."""


class JournalUnavailable(MakerkitError, RuntimeError):
    """The journal cannot make commands durable (disk full, I/O error): order entry stops.

    Nothing of the failed batch was acknowledged; the venue rebuilds itself from
    the journal once it can write again.
    """


class RecoveryRefused(MakerkitError, RuntimeError):
    """Recovery found state it cannot prove consistent; the message names the files.

    ``snapshot`` and ``journal`` are the paths involved.
    """

    def __init__(self, message: str, *, snapshot: str = "", journal: str = "") -> None:
        super().__init__(message)
        self.snapshot = snapshot
        self.journal = journal


class DataError(MakerkitError, ValueError):
    """An input file is malformed; the message names the file, line and field."""

    def __init__(self, message: str, *, path: str = "", line: int = 0, field: str = "") -> None:
        where = ", ".join(
            part
            for part in (
                path and f"file {path}",
                line and f"line {line}",
                field and f"field `{field}`",
            )
            if part
        )
        super().__init__(f"{where}: {message}" if where else message)
        self.path = path
        self.line = line
        self.field = field


class SourceError(MakerkitError, RuntimeError):
    """A market-data source failed (offline, HTTP error, rate limit, missing key).

    The message names the source and what to do; ``retryable`` says whether
    trying again later can help (timeouts, 5xx, rate limits).
    """

    def __init__(self, source: str, message: str, *, retryable: bool = False) -> None:
        super().__init__(f"{source}: {message}")
        self.source = source
        self.retryable = retryable


class OrderRejected(MakerkitError):
    """A command was refused; ``reason`` is the stable code."""

    default_reason = RejectReason.INVALID_FIELD

    def __init__(self, message: str, reason: RejectReason | None = None) -> None:
        super().__init__(message)
        self.reason = reason if reason is not None else self.default_reason

    @property
    def code(self) -> str:
        """Return the stable string code, e.g. ``"OFF_TICK"``."""
        return self.reason.name


class InvalidPrice(OrderRejected):
    """The price is off the tick grid or not positive."""

    default_reason = RejectReason.OFF_TICK


class InvalidQuantity(OrderRejected):
    """The quantity is off the lot grid or not positive."""

    default_reason = RejectReason.NON_POSITIVE_QTY


class InsufficientBalance(OrderRejected):
    """The account does not hold what the order would spend (a venue without shorting)."""

    default_reason = RejectReason.INSUFFICIENT_BALANCE


class UnknownOrder(OrderRejected):
    """The order id does not name a live order."""

    default_reason = RejectReason.UNKNOWN_ORDER


class DuplicateOrderId(OrderRejected):
    """The order id is already in use by a live order."""

    default_reason = RejectReason.DUPLICATE_ORDER_ID


class UnknownSymbol(OrderRejected):
    """The symbol is not listed on this venue."""

    default_reason = RejectReason.UNKNOWN_SYMBOL


class RiskLimitBreached(OrderRejected):
    """A pre-trade risk rule refused the command; names the rule, the limit and the value."""

    default_reason = RejectReason.KILL_SWITCH

    def __init__(
        self,
        message: str,
        reason: RejectReason | None = None,
        *,
        rule: str = "",
        limit: object = None,
        value: object = None,
    ) -> None:
        super().__init__(message, reason)
        self.rule = rule
        self.limit = limit
        self.value = value


class NotAuthorized(MakerkitError, PermissionError):
    """The API key is missing or unknown."""


class Forbidden(NotAuthorized):
    """The account is known but its role does not allow this operation."""


class UnknownAccount(MakerkitError, LookupError):
    """An admin command names an account that does not exist (nothing was changed)."""


class VenueError(MakerkitError, RuntimeError):
    """The venue failed on a request it should have answered (``INTERNAL``, HTTP 500)."""


# The venue's stable error codes and the class each one is: the server answers an
# exception with its code, the client raises the class back. Order rejections use
# their ``RejectReason`` name as the code (``rejection``). More specific classes first.
ERROR_CODES: dict[str, type[MakerkitError]] = {
    "JOURNAL_UNAVAILABLE": JournalUnavailable,
    "FORBIDDEN": Forbidden,
    "NOT_AUTHORIZED": NotAuthorized,
    "UNKNOWN_ACCOUNT": UnknownAccount,
    "BAD_DATA": DataError,
    "BAD_REQUEST": ConfigError,
    "INTERNAL": VenueError,
}


def code_for(exc: BaseException) -> str:
    """The stable code of an exception (``INTERNAL`` for anything that is not ours)."""
    if isinstance(exc, OrderRejected):
        return exc.reason.name
    for code, cls in ERROR_CODES.items():
        if isinstance(exc, cls):
            return code
    return "BAD_REQUEST" if isinstance(exc, MakerkitError) else "INTERNAL"


def error_for_code(code: str, message: str) -> MakerkitError:
    """The exception a venue error body stands for.

    A code outside the table (the routing layer's ``NOT_FOUND``, a gate's
    ``TOO_MANY_CONNECTIONS``) is a refused request: ``ConfigError`` with the code.
    """
    cls = ERROR_CODES.get(code)  # first: NOT_AUTHORIZED is also a RejectReason
    if cls is not None:
        return cls(message)
    if code in RejectReason.__members__:
        return rejection(RejectReason[code], message)
    return ConfigError(f"{code}: {message}")


_BY_REASON: dict[RejectReason, type[OrderRejected]] = {
    RejectReason.OFF_TICK: InvalidPrice,
    RejectReason.NON_POSITIVE_PRICE: InvalidPrice,
    RejectReason.OFF_LOT: InvalidQuantity,
    RejectReason.NON_POSITIVE_QTY: InvalidQuantity,
    RejectReason.UNKNOWN_ORDER: UnknownOrder,
    RejectReason.DUPLICATE_ORDER_ID: DuplicateOrderId,
    RejectReason.UNKNOWN_SYMBOL: UnknownSymbol,
    RejectReason.MAX_ORDER_QTY: RiskLimitBreached,
    RejectReason.MAX_NOTIONAL: RiskLimitBreached,
    RejectReason.MAX_POSITION: RiskLimitBreached,
    RejectReason.PRICE_COLLAR: RiskLimitBreached,
    RejectReason.RATE_LIMIT: RiskLimitBreached,
    RejectReason.DUPLICATE_ORDER: RiskLimitBreached,
    RejectReason.KILL_SWITCH: RiskLimitBreached,
    RejectReason.MAX_OPEN_ORDERS: RiskLimitBreached,
    RejectReason.MIN_QTY: InvalidQuantity,
    RejectReason.MIN_NOTIONAL: InvalidQuantity,
    RejectReason.INSUFFICIENT_BALANCE: InsufficientBalance,
}


def rejection(reason: RejectReason, message: str = "") -> OrderRejected:
    """Build the exception that matches ``reason`` (the one place codes map to classes)."""
    cls = _BY_REASON.get(reason, OrderRejected)
    return cls(message or f"order rejected: {reason.name}", reason)
