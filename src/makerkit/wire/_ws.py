"""The WebSocket request decoder: msgspec Structs, a tagged union on ``op``, strict input rules.

One pass of msgspec's JSON decoder validates a frame (text or UTF-8 bytes)
into one of the request Structs below; the rules are those of the REST models
(:mod:`makerkit.wire._rules`): ASCII-digit decimals, strict bounded integers
(``false`` is not an integer, ``1e400`` is out of range), printable-ASCII
symbols and client order ids, no unknown fields and no duplicate keys.

Anything refused raises :class:`WsRequestError` (code ``INVALID_REQUEST``),
whose message names the field and the rule and whose ``req_id`` is the
client's, recovered from the frame whenever it is a JSON object with a
well-formed ``req_id``, so an error frame can tell a pipelining client which
request failed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Annotated, Any, ClassVar, Final, Literal, TypeAlias

import msgspec

from makerkit.core import MakerkitError
from makerkit.wire._rules import (
    CLIENT_ORDER_ID_MAX,
    DECIMAL_MAX,
    DECIMAL_PATTERN,
    ORDER_ID_MAX,
    REQ_ID_MAX,
    SYMBOL_MAX,
    find_duplicate_key,
    printable,
    python_pattern,
)

BOOK_DEPTH_DEFAULT: Final = 1000
BOOK_DEPTH_MAX: Final = 5000

__all__ = [
    "BOOK_DEPTH_DEFAULT",
    "BOOK_DEPTH_MAX",
    "WsCancel",
    "WsModify",
    "WsOrder",
    "WsRequest",
    "WsRequestError",
    "WsSubscribe",
    "WsUnsubscribe",
    "parse_ws_request",
]

# The character rules (ASCII digits, printable ASCII) are checked after decoding, in
# `_vet_*` below: msgspec's `pattern` calls Python's `re` per field, which costs more than
# the decoding itself. The lengths and integer bounds are msgspec's, in C.
Decimal = Annotated[str, msgspec.Meta(max_length=DECIMAL_MAX)]
Symbol = Annotated[str, msgspec.Meta(min_length=1, max_length=SYMBOL_MAX)]
ClientOrderId = Annotated[str, msgspec.Meta(min_length=1, max_length=CLIENT_ORDER_ID_MAX)]
OrderId = Annotated[int, msgspec.Meta(ge=1, le=ORDER_ID_MAX)]
ReqId = (
    Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]
    | Annotated[str, msgspec.Meta(min_length=1, max_length=REQ_ID_MAX)]
    | None
)
Depth = Annotated[int, msgspec.Meta(ge=1, le=BOOK_DEPTH_MAX)]
Side = Literal["buy", "sell"]
OrderType = Literal["limit", "market"]
Tif = Literal["gtc", "ioc", "fok", "post_only"]
Stp = Literal["none", "cancel_newest", "cancel_oldest", "cancel_both"]
Channel = Literal["book", "l1", "trades"]


class _Request(
    msgspec.Struct,
    frozen=True,
    kw_only=True,
    forbid_unknown_fields=True,
    tag_field="op",
    gc=False,
):
    """A client frame; ``op`` (the tag) is a class attribute of each kind."""

    op: ClassVar[str]


class WsSubscribe(_Request, tag="subscribe", frozen=True):
    """Subscribe to a symbol's public channel: book (snapshot + deltas), l1 or trades.

    ``depth`` caps the levels per side of the book snapshot (1..5000).
    """

    op: ClassVar[str] = "subscribe"
    channel: Channel
    symbol: Symbol
    depth: Depth = BOOK_DEPTH_DEFAULT


class WsUnsubscribe(WsSubscribe, tag="unsubscribe", frozen=True):
    """Leave a channel (a :class:`WsSubscribe` whose ``op`` is ``"unsubscribe"``)."""

    op: ClassVar[str] = "unsubscribe"


class WsOrder(_Request, tag="order", frozen=True):
    """Place an order over the private WebSocket; the ack echoes ``req_id``.

    The fields and defaults of the REST ``OrderRequest``: ``price`` is
    required for limit orders (the venue says so with NON_POSITIVE_PRICE).
    """

    op: ClassVar[str] = "order"
    symbol: Symbol
    side: Side
    qty: Decimal
    price: Decimal | None = None
    type: OrderType = "limit"
    tif: Tif = "gtc"
    client_order_id: ClientOrderId | None = None
    stp: Stp = "cancel_newest"
    req_id: ReqId = None


class WsCancel(_Request, tag="cancel", frozen=True):
    """Cancel one order (by id or client id), or all of them with ``all``."""

    op: ClassVar[str] = "cancel"
    symbol: Symbol | None = None
    order_id: OrderId | None = None
    client_order_id: ClientOrderId | None = None
    all: bool = False
    req_id: ReqId = None


class WsModify(_Request, tag="modify", frozen=True):
    """Change an open order's price and/or remaining size."""

    op: ClassVar[str] = "modify"
    symbol: Symbol
    order_id: OrderId | None = None
    client_order_id: ClientOrderId | None = None
    price: Decimal | None = None
    qty: Decimal | None = None
    req_id: ReqId = None


WsRequest: TypeAlias = WsSubscribe | WsUnsubscribe | WsOrder | WsCancel | WsModify

_KINDS: tuple[type[_Request], ...] = (WsSubscribe, WsUnsubscribe, WsOrder, WsCancel, WsModify)


class WsRequestError(MakerkitError, ValueError):
    """A WebSocket frame was refused: malformed JSON, a wrong field, a duplicate key.

    ``code`` is ``"INVALID_REQUEST"``; ``field`` names the offending field
    ("" when the frame as a whole is wrong); ``req_id`` is the client's
    request id when the frame carried a well-formed one, else None.
    """

    code: ClassVar[str] = "INVALID_REQUEST"

    def __init__(self, message: str, *, field: str = "", req_id: int | str | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.req_id = req_id


# ---------------------------------------------------------------------- decoding

_DECODER = msgspec.json.Decoder(WsRequest)
_decode = _DECODER.decode
_DECIMAL = re.compile(python_pattern(DECIMAL_PATTERN)).match
# Values seen valid, by rule: prices, sizes and symbols repeat, and a set lookup costs a
# fraction of a regex. Bounded: a client sending ever new values only empties them.
_DECIMALS_OK: set[str] = set()
_SYMBOLS_OK: set[str] = set()
_SEEN_MAX = 16_384
_MAYBE_DUPLICATE: Final = "\0duplicate?"  # not a field name: "look for a repeated key"
# the previous valid symbol, qty and price of the hot path; longer than any the decoder
# lets through until the first one, so never equal to one by accident
_last_symbol = "\0" * (SYMBOL_MAX + 1)
_last_qty = "\0" * (DECIMAL_MAX + 1)
_last_price = "\0" * (DECIMAL_MAX + 1)


def _decimal_ok(value: str) -> bool:
    if value in _DECIMALS_OK:
        return True
    if _DECIMAL(value) is None:
        return False
    if len(_DECIMALS_OK) >= _SEEN_MAX:
        _DECIMALS_OK.clear()
    _DECIMALS_OK.add(value)
    return True


def _ident_ok(value: str) -> bool:
    """Printable ASCII without space (the length is the decoder's)."""
    return value.isascii() and value.isprintable() and " " not in value


def _symbol_ok(value: str) -> bool:
    if value in _SYMBOLS_OK:
        return True
    if not _ident_ok(value):
        return False
    if len(_SYMBOLS_OK) >= _SEEN_MAX:
        _SYMBOLS_OK.clear()
    _SYMBOLS_OK.add(value)
    return True


def _req_id_ok(value: int | str | None) -> bool:
    return not isinstance(value, str) or (value.isascii() and value.isprintable())


# Each `_vet_*` checks the character rules of one kind and bounds its keys: every key of
# a JSON object is followed by one colon, so a frame with no more colons than the fields
# it provably carries (the required ones and those away from their defaults) has no
# repeated key; a frame with more (an explicit default, a colon inside a value, or a real
# duplicate) gets a closer look. Each returns the first bad field, or None.


def _vet_subscribe(r: WsSubscribe, colons: int) -> str | None:
    if not _symbol_ok(r.symbol):
        return "symbol"
    if colons > 3 + (r.depth != BOOK_DEPTH_DEFAULT):
        return _MAYBE_DUPLICATE
    return None


def _vet_order(r: WsOrder, colons: int) -> str | None:
    if not _symbol_ok(r.symbol):
        return "symbol"
    if not _decimal_ok(r.qty):
        return "qty"
    price = r.price
    if price is not None and not _decimal_ok(price):
        return "price"
    cid = r.client_order_id
    if cid is not None and not _ident_ok(cid):
        return "client_order_id"
    req_id = r.req_id
    if not _req_id_ok(req_id):
        return "req_id"
    if colons > (
        4
        + (price is not None)
        + (r.type != "limit")
        + (r.tif != "gtc")
        + (cid is not None)
        + (r.stp != "cancel_newest")
        + (req_id is not None)
    ):
        return _MAYBE_DUPLICATE
    return None


def _vet_cancel(r: WsCancel, colons: int) -> str | None:
    symbol = r.symbol
    if symbol is not None and not _symbol_ok(symbol):
        return "symbol"
    cid = r.client_order_id
    if cid is not None and not _ident_ok(cid):
        return "client_order_id"
    req_id = r.req_id
    if not _req_id_ok(req_id):
        return "req_id"
    if colons > (
        1
        + (symbol is not None)
        + (r.order_id is not None)
        + (cid is not None)
        + r.all
        + (req_id is not None)
    ):
        return _MAYBE_DUPLICATE
    return None


def _vet_modify(r: WsModify, colons: int) -> str | None:
    if not _symbol_ok(r.symbol):
        return "symbol"
    cid = r.client_order_id
    if cid is not None and not _ident_ok(cid):
        return "client_order_id"
    price = r.price
    if price is not None and not _decimal_ok(price):
        return "price"
    qty = r.qty
    if qty is not None and not _decimal_ok(qty):
        return "qty"
    req_id = r.req_id
    if not _req_id_ok(req_id):
        return "req_id"
    if colons > (
        2
        + (r.order_id is not None)
        + (cid is not None)
        + (price is not None)
        + (qty is not None)
        + (req_id is not None)
    ):
        return _MAYBE_DUPLICATE
    return None


# the defaults themselves: an absent field holds its default object (`is`, the cheapest test)
_ORDER_DEFAULTS = dict(
    zip(
        WsOrder.__struct_fields__[-len(WsOrder.__struct_defaults__) :],
        WsOrder.__struct_defaults__,
        strict=True,
    )
)
_LIMIT: Final = _ORDER_DEFAULTS["type"]
_GTC: Final = _ORDER_DEFAULTS["tif"]
_CANCEL_NEWEST: Final = _ORDER_DEFAULTS["stp"]

_VET: dict[type[_Request], Callable[[Any, int], str | None]] = {
    WsSubscribe: _vet_subscribe,
    WsUnsubscribe: _vet_subscribe,
    WsOrder: _vet_order,
    WsCancel: _vet_cancel,
    WsModify: _vet_modify,
}


def parse_ws_request(raw: str | bytes) -> WsRequest:
    """Validate one client frame (a text frame, or a binary one in UTF-8).

    Raises :class:`WsRequestError` when the frame is not one valid request.
    """
    global _last_symbol, _last_qty, _last_price  # the hot path's memo
    try:
        req = _decode(raw)
    except msgspec.DecodeError as exc:  # a ValidationError is a DecodeError too
        raise _request_error(raw, exc) from None
    # The hot path, `_vet_order` inlined for a limit order with an integer req_id: each
    # value is compared with the previous valid one (a memcmp) before the set of seen
    # valid ones (which first hashes the fresh string); anything else is `_vetted`.
    if req.__class__ is WsOrder and req.req_id.__class__ is int:
        symbol = req.symbol
        if symbol != _last_symbol:
            if symbol not in _SYMBOLS_OK:
                return _vetted(raw, req)
            _last_symbol = symbol
        qty = req.qty
        if qty != _last_qty:
            if qty not in _DECIMALS_OK:
                return _vetted(raw, req)
            _last_qty = qty
        price = req.price
        if price != _last_price:
            if price not in _DECIMALS_OK:  # None too: a market order is vetted
                return _vetted(raw, req)
            _last_price = price
        # op, symbol, side, qty, price and req_id are there: more colons than that
        # must be other fields away from their defaults, or it is a closer look
        extra = (raw.count(":") if raw.__class__ is str else raw.count(b":")) - 6  # type: ignore[arg-type]
        cid = req.client_order_id
        if cid is not None:
            if not (cid.isascii() and cid.isprintable()) or " " in cid:
                return _vetted(raw, req)
            extra -= 1
        if extra > 0 and req.tif is not _GTC:
            extra -= 1
        if extra > 0 and req.type is not _LIMIT:
            extra -= 1
        if extra > 0 and req.stp is not _CANCEL_NEWEST:
            extra -= 1
        if extra <= 0:
            return req
    # a cancel by order id with an integer req_id, likewise
    elif req.__class__ is WsCancel and req.req_id.__class__ is int:
        listed = req.symbol
        if listed != _last_symbol:
            if listed is None or listed not in _SYMBOLS_OK:
                return _vetted(raw, req)
            _last_symbol = listed
        if (
            req.client_order_id is None
            and req.order_id is not None
            and not req.all
            and (raw.count(":") if raw.__class__ is str else raw.count(b":")) <= 4  # type: ignore[arg-type]
        ):
            return req
    return _vetted(raw, req)


def _vetted(raw: str | bytes, req: WsRequest) -> WsRequest:
    colons = raw.count(":") if isinstance(raw, str) else raw.count(b":")
    bad = _VET[req.__class__](req, colons)
    if bad is None:
        return req
    if bad is _MAYBE_DUPLICATE:
        key = find_duplicate_key(raw)
        if key is None:
            return req
        raise _duplicate_error(raw, key)
    raise _field_error(req, bad)


# ---------------------------------------------------------------------- errors (cold path)

_AT = re.compile(r"^(?P<what>.*) - at `\$\.(?P<field>[A-Za-z_][A-Za-z0-9_]*)`$", re.DOTALL)
_NAMED = re.compile(r"^Object (?P<what>missing required|contains unknown) field `(?P<field>.*)`$")
_ASCII_DECIMAL = f'a decimal string of ASCII digits like "100.25", at most {DECIMAL_MAX} characters'
_RULES = {
    "qty": _ASCII_DECIMAL,
    "price": _ASCII_DECIMAL + ", or null",
    "symbol": f"1 to {SYMBOL_MAX} printable ASCII characters without spaces",
    "client_order_id": f"1 to {CLIENT_ORDER_ID_MAX} printable ASCII characters without spaces",
    "order_id": f"an integer from 1 to {ORDER_ID_MAX}",
    "req_id": f"an integer or 1 to {REQ_ID_MAX} printable ASCII characters",
    "depth": f"an integer from 1 to {BOOK_DEPTH_MAX}",
    "all": "true or false",
    "op": "one of " + ", ".join(repr(k.op) for k in _KINDS),
    "side": "one of 'buy', 'sell'",
    "type": "one of 'limit', 'market'",
    "tif": "one of 'gtc', 'ioc', 'fok', 'post_only'",
    "stp": "one of 'none', 'cancel_newest', 'cancel_oldest', 'cancel_both'",
    "channel": "one of 'book', 'l1', 'trades'",
}


def _loose(raw: str | bytes) -> dict[str, object] | None:
    """The frame as a plain object (Python's parser: ``1e400`` is inf, not an error)."""
    try:
        obj = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    return obj if isinstance(obj, dict) else None


def _req_id(value: object) -> int | str | None:
    """``value`` when it is a well-formed request id (a 64-bit int, short printable ASCII)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value if -(2**63) <= value < 2**63 else None
    if isinstance(value, str) and 0 < len(value) <= REQ_ID_MAX and _req_id_ok(value):
        return value
    return None


def _shown(value: object) -> str:
    """A value as JSON, ASCII-escaped (no control or bidi character reaches a log), cut short."""
    text = json.dumps(value, ensure_ascii=True)
    return text if len(text) <= 48 else text[:40] + "...(" + str(len(text)) + " chars)"


def _field_error(req: WsRequest, field: str) -> WsRequestError:
    value = getattr(req, field)
    return WsRequestError(
        f"invalid `{field}`: must be {_RULES[field]}, was {_shown(value)}",
        field=field,
        req_id=None if field == "req_id" else _req_id(getattr(req, "req_id", None)),
    )


def _request_error(raw: str | bytes, exc: msgspec.DecodeError) -> WsRequestError:
    obj = _loose(raw)
    req_id = None if obj is None else _req_id(obj.get("req_id"))
    if not isinstance(exc, msgspec.ValidationError):  # not JSON, or not UTF-8
        return WsRequestError(f"invalid request: {exc}", req_id=req_id)
    message = str(exc)
    if message.startswith("Expected `object`"):  # JSON, but not an object
        what = message.replace("Expected `object`", "expected a JSON object")
        return WsRequestError(f"invalid request: {what}", req_id=req_id)
    key = find_duplicate_key(raw)  # a repeated key can also confuse the decoder's message
    if key is not None:
        return _duplicate_error(raw, key, req_id)
    named = _NAMED.match(message)
    if named:
        field = named["field"]
        if named["what"] == "missing required":
            rule = _RULES.get(field)
            detail = f"required, must be {rule}" if rule else "required"
        else:
            detail = "unknown field"
        return WsRequestError(f"invalid `{printable(field)}`: {detail}", field=field, req_id=req_id)
    at = _AT.match(message)
    if at is None:
        return WsRequestError(f"invalid request: {message}", req_id=req_id)
    field = at["field"]
    rule = _RULES.get(field)
    what = at["what"]
    detail = f"must be {rule}" if rule else what[:1].lower() + what[1:]
    if obj is not None and field in obj:
        detail += f", was {_shown(obj[field])}"
    return WsRequestError(f"invalid `{field}`: {detail}", field=field, req_id=req_id)


def _duplicate_error(raw: str | bytes, key: str, req_id: int | str | None = None) -> WsRequestError:
    if key == "req_id":  # which of the two is the client's? neither is echoed
        req_id = None
    elif req_id is None:
        obj = _loose(raw)
        req_id = None if obj is None else _req_id(obj.get("req_id"))
    return WsRequestError(
        f"invalid `{printable(key)}`: the key occurs more than once in the frame",
        field=key,
        req_id=req_id,
    )
