"""The Binance spot API's vocabulary over the venue, shared by its REST and WebSocket facades.

Binance clients (ccxt, python-binance, hand-written bots) speak exchange
symbols (``AAAUSD``), decimal strings, signed query strings and numeric error
codes. This module is the one place that translates them: symbols to
instruments, venue refusals to Binance's codes and messages, an order to
Binance's JSON, and the HMAC-SHA256 request signature with its timing rules.
What the venue cannot remember about an order (its Binance type, its time in
force, its creation time) is kept in :class:`OrderMemo`.

Signed requests follow Binance's documented rules: the signature is the hex
HMAC-SHA256, keyed by the account's secret, of the query string concatenated
with the request body (the ``signature`` parameter itself left out, and it must
come last); ``timestamp`` (milliseconds) must be less than 1000 ms ahead of the
server and no more than ``recvWindow`` (default 5000, at most 60000) behind it.
"""

from __future__ import annotations

import hashlib
import hmac
import weakref
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any, NamedTuple
from urllib.parse import unquote_plus

import msgspec
from fastapi.responses import Response

from makerkit.core import (
    Clock,
    Forbidden,
    Instrument,
    JournalUnavailable,
    LiveClock,
    MakerkitError,
    NotAuthorized,
    OrderRejected,
    OrderStatus,
    RejectReason,
    SelfTradePrevention,
    Side,
    TimeInForce,
    format_units,
)
from makerkit.server._gate import Refused
from makerkit.server._service import VenueService
from makerkit.venue import Account, FillReport, OrderUpdate

__all__ = [
    "BINANCE_PATHS",
    "DEFAULT_RECV_WINDOW_MS",
    "MAX_RECV_WINDOW_MS",
    "STP_MODES",
    "BinanceError",
    "OrderInfo",
    "OrderMemo",
    "SymbolMap",
    "authenticate",
    "binance_error",
    "binance_status",
    "check_timing",
    "commission_str",
    "error_response",
    "exchange_symbol",
    "execution_report",
    "integer_param",
    "is_binance_path",
    "mandatory",
    "missing",
    "order_info",
    "order_json",
    "order_memo",
    "parse_params",
    "quote_asset",
    "quote_str",
    "reject_error",
    "server_clock",
    "sign",
    "split_signature",
    "symbol_map",
    "verify_signature",
]

DEFAULT_RECV_WINDOW_MS = 5000
MAX_RECV_WINDOW_MS = 60_000
AHEAD_MS = 1000  # how far a timestamp may run ahead of the server
# the URL prefixes the facade answers under (Binance's spot, wallet and futures roots)
BINANCE_PATHS = ("/api/", "/sapi/", "/fapi/", "/dapi/")

_encode = msgspec.json.Encoder().encode


class BinanceError(MakerkitError):
    """A refusal in Binance's terms: ``{"code": -1121, "msg": "Invalid symbol."}``.

    ``http_status`` is what Binance answers with (400 for request errors, 401
    for key and signature errors, 429 for rate limits); ``retry_after_s`` is
    sent as ``Retry-After`` when positive.
    """

    def __init__(
        self, code: int, msg: str, http_status: int = 400, retry_after_s: float = 0.0
    ) -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg
        self.http_status = http_status
        self.retry_after_s = retry_after_s


def is_binance_path(path: str) -> bool:
    """Does ``path`` belong to the facade (so its errors are Binance's ``{code, msg}``)?"""
    return path.startswith(BINANCE_PATHS)


def error_response(exc: BinanceError) -> Response:
    """The JSON answer Binance gives for a refusal."""
    headers = None
    if exc.retry_after_s > 0:
        headers = {"Retry-After": str(max(1, round(exc.retry_after_s)))}
    return Response(
        _encode({"code": exc.code, "msg": exc.msg}),
        status_code=exc.http_status,
        media_type="application/json",
        headers=headers,
    )


def missing(name: str) -> BinanceError:
    """A mandatory parameter was not sent (-1102)."""
    return BinanceError(
        -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed."
    )


# ------------------------------------------------------------------ refusals

_BAD_BALANCE = "Account has insufficient balance for requested action."
_DISABLED = "This account may not place or cancel orders."
_UNKNOWN_ORDER = "Unknown order sent."
_NO_SUCH_ORDER = "Order does not exist."

# a venue refusal of a new order -> (code, message, HTTP status); each message is the
# one Binance sends, so that clients matching on it (ccxt does) raise the same error
_NEW_ORDER: dict[RejectReason, tuple[int, str, int]] = {
    RejectReason.OFF_TICK: (-1013, "Filter failure: PRICE_FILTER", 400),
    RejectReason.NON_POSITIVE_PRICE: (-1013, "Filter failure: PRICE_FILTER", 400),
    RejectReason.OFF_LOT: (-1013, "Filter failure: LOT_SIZE", 400),
    RejectReason.NON_POSITIVE_QTY: (-1013, "Filter failure: LOT_SIZE", 400),
    RejectReason.MIN_QTY: (-1013, "Filter failure: LOT_SIZE", 400),
    RejectReason.MIN_NOTIONAL: (-1013, "Filter failure: NOTIONAL", 400),
    RejectReason.MAX_OPEN_ORDERS: (-1013, "Filter failure: MAX_NUM_ORDERS", 400),
    RejectReason.PRICE_COLLAR: (-1013, "Filter failure: PERCENT_PRICE_BY_SIDE", 400),
    RejectReason.INVALID_FIELD: (-1100, "Illegal characters found in a parameter.", 400),
    RejectReason.INVALID_ORDER_ID: (-1100, "Illegal characters found in a parameter.", 400),
    RejectReason.INVALID_TIF: (-1115, "Invalid timeInForce.", 400),
    RejectReason.UNKNOWN_SYMBOL: (-1121, "Invalid symbol.", 400),
    RejectReason.RATE_LIMIT: (-1003, "Too many requests; please use the websocket.", 429),
    RejectReason.NOT_AUTHORIZED: (-2015, "Invalid API-key, IP, or permissions for action.", 401),
    RejectReason.POST_ONLY_WOULD_CROSS: (-2010, "Order would immediately match and take.", 400),
    RejectReason.INSUFFICIENT_BALANCE: (-2010, _BAD_BALANCE, 400),
    RejectReason.MAX_POSITION: (-2010, _BAD_BALANCE, 400),
    RejectReason.MAX_NOTIONAL: (-2010, _BAD_BALANCE, 400),
    RejectReason.MAX_ORDER_QTY: (-2010, "Order quantity is over the account's limit.", 400),
    RejectReason.KILL_SWITCH: (-2010, _DISABLED, 400),
    RejectReason.DUPLICATE_ORDER_ID: (-2010, "Duplicate order sent.", 400),
    RejectReason.DUPLICATE_ORDER: (-2010, "Duplicate order sent.", 400),
    RejectReason.UNKNOWN_ORDER: (-2013, _NO_SUCH_ORDER, 400),
}
# a refused cancel: Binance's CANCEL_REJECTED code with the venue's reason
_CANCEL: dict[RejectReason, tuple[int, str, int]] = {
    RejectReason.UNKNOWN_ORDER: (-2011, _UNKNOWN_ORDER, 400),
    RejectReason.KILL_SWITCH: (-2011, _DISABLED, 400),
    RejectReason.RATE_LIMIT: _NEW_ORDER[RejectReason.RATE_LIMIT],
    RejectReason.UNKNOWN_SYMBOL: _NEW_ORDER[RejectReason.UNKNOWN_SYMBOL],
}


def reject_error(reason: RejectReason, *, cancel: bool = False) -> BinanceError:
    """The Binance error for a venue refusal of a new order (or, with ``cancel``, a cancel)."""
    table = _CANCEL if cancel else _NEW_ORDER
    code, msg, status = table.get(reason) or (
        (-2011, _UNKNOWN_ORDER, 400) if cancel else (-2010, f"Order rejected: {reason.name}.", 400)
    )
    return BinanceError(code, msg, status)


def binance_error(exc: BaseException, *, cancel: bool = False) -> BinanceError:
    """Any exception a facade route meets, as the Binance error a client is told.

    The gate's refusals (message rate, kill switch), the venue's typed errors and
    a journal that cannot write each get their Binance code; anything else is
    -1000 with HTTP 500 (the cause is logged, never told).
    """
    if isinstance(exc, BinanceError):
        return exc
    if isinstance(exc, Refused):
        if exc.code == "KILL_SWITCH":
            return BinanceError(-2011 if cancel else -2010, _DISABLED, 400)
        return BinanceError(
            -1003, f"Too many requests: {exc}.", 429, retry_after_s=exc.retry_after_s
        )
    if isinstance(exc, JournalUnavailable):
        msg = "Internal error; unable to process your request. Please try again."
        return BinanceError(-1001, msg, 503, retry_after_s=1.0)
    if isinstance(exc, Forbidden):
        return BinanceError(-2015, "Invalid API-key, IP, or permissions for action.", 401)
    if isinstance(exc, NotAuthorized):
        return BinanceError(-2015, "Invalid API-key, IP, or permissions for action.", 401)
    if isinstance(exc, OrderRejected):
        return reject_error(exc.reason, cancel=cancel)
    if isinstance(exc, MakerkitError):
        return BinanceError(-1130, f"Data sent for a parameter is not valid: {exc}", 400)
    return BinanceError(-1000, "An unknown error occurred while processing the request.", 500)


# ------------------------------------------------------------------ symbols


def exchange_symbol(inst: Instrument) -> str:
    """The symbol exchanges print for an instrument: base then quote (``AAAUSD``)."""
    return inst.exchange_symbol


def quote_asset(inst: Instrument) -> str:
    """The asset an instrument's prices, cash and fees are in."""
    return inst.quote_asset


class SymbolMap:
    """Exchange symbols (base + quote, ``AAAUSD``) to the venue's instruments and back.

    Two listings printing the same exchange symbol cannot both be reached: the
    first by venue symbol wins, and the other is left out of the facade.
    """

    def __init__(self, instruments: Iterable[Instrument]) -> None:
        self.by_exchange: dict[str, Instrument] = {}
        self.exchange: dict[str, str] = {}  # venue symbol -> exchange symbol
        for inst in sorted(instruments, key=lambda i: i.symbol):
            name = exchange_symbol(inst)
            if name not in self.by_exchange:
                self.by_exchange[name] = inst
                self.exchange[inst.symbol] = name

    def instrument(self, exchange_symbol: str | None) -> Instrument:
        """The instrument of an exchange symbol; -1102 when none is given, -1121 when unlisted."""
        if exchange_symbol is None:
            name = "symbol"
            raise missing(name)
        inst = self.by_exchange.get(exchange_symbol)
        if inst is None:
            raise BinanceError(-1121, "Invalid symbol.")
        return inst

    def name(self, venue_symbol: str) -> str:
        """The exchange symbol of a venue symbol (the symbol itself when not on the facade)."""
        return self.exchange.get(venue_symbol, venue_symbol)


_MAPS: weakref.WeakKeyDictionary[VenueService, SymbolMap] = weakref.WeakKeyDictionary()


def symbol_map(service: VenueService) -> SymbolMap:
    """The service's symbol map, built once (its listings never change while it runs)."""
    found = _MAPS.get(service)
    if found is None:
        found = _MAPS[service] = SymbolMap(service.instruments.values())
    return found


# ------------------------------------------------------------------ decimals


def quote_str(inst: Instrument, tick_lots: int) -> str:
    """A quote-asset amount (price ticks x lots) as a decimal string, exactly."""
    tick, price_places, lot, size_places = inst.grid
    return format_units(tick_lots * tick * lot, price_places + size_places)


def commission_str(inst: Instrument, micro_tick_lots: int) -> str:
    """A fee (millionths of a tick-lot, negative for a rebate) in the quote asset."""
    tick, price_places, lot, size_places = inst.grid
    text = format_units(micro_tick_lots * tick * lot, price_places + size_places + 6)
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


# ------------------------------------------------------------------ signed requests


def server_clock(app: Any) -> Clock:
    """The clock timestamps are checked against: ``app.state.binance_clock`` if set (tests)."""
    clock: Clock | None = getattr(app.state, "binance_clock", None)
    if clock is None:  # a missing attribute costs an exception per lookup: set it once
        clock = app.state.binance_clock = _LIVE
    return clock


_LIVE = LiveClock()


def sign(secret: str, payload: bytes) -> str:
    """The hex HMAC-SHA256 of ``payload`` keyed by ``secret`` (what a client sends)."""
    return hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()


def split_signature(query: bytes, body: bytes) -> tuple[bytes, str]:
    """(signed payload, signature) of a request: the query then the body, signature left out.

    The ``signature`` parameter must be the last one of the query string or of
    the body, and appear once; else -1022 (or -1102 when it is missing).
    """
    found: str | None = None
    parts = []
    for raw in (query, body):
        cut = raw.rfind(b"signature=")
        if cut >= 0 and (cut == 0 or raw[cut - 1 : cut] == b"&"):
            if found is not None:
                raise BinanceError(-1101, "Duplicate values for a parameter detected.")
            value = raw[cut + len(b"signature=") :]
            if b"&" in value:  # not the last parameter
                raise BinanceError(-1022, "Signature for this request is not valid.", 401)
            found = value.decode("ascii", "replace")
            raw = raw[: max(0, cut - 1)]
        parts.append(raw)
    if not found:
        name = "signature"
        raise missing(name)
    return parts[0] + parts[1], found


def verify_signature(secret: str, payload: bytes, signature: str) -> None:
    """Raise -1022 unless ``signature`` is the HMAC of ``payload`` (hex, any case)."""
    if not hmac.compare_digest(sign(secret, payload), signature.lower()):
        raise BinanceError(-1022, "Signature for this request is not valid.", 401)


def parse_params(query: bytes, body: bytes) -> dict[str, str]:
    """The request's parameters from its query string and form body.

    A parameter sent twice is -1101 (``a=1&a=2`` has no one meaning), an empty
    one -1105, undecodable bytes or a pair without ``=`` -1100.
    """
    params: dict[str, str] = {}
    for raw in (query, body):
        if not raw:
            continue
        try:
            text = raw.decode("ascii")
        except UnicodeDecodeError as exc:
            msg = "Illegal characters found in a parameter."
            raise BinanceError(-1100, msg) from exc
        for pair in text.split("&"):
            key, eq, value = pair.partition("=")
            if not eq:
                msg = "Illegal characters found in a parameter."
                raise BinanceError(-1100, msg)
            if "%" in key or "+" in key:
                key = unquote_plus(key)
            if "%" in value or "+" in value:
                value = unquote_plus(value)
            if key in params:
                raise BinanceError(-1101, "Duplicate values for a parameter detected.")
            if value == "":
                raise BinanceError(-1105, f"Parameter '{key}' was empty.")
            params[key] = value
    return params


def mandatory(params: Mapping[str, str], name: str) -> str:
    """A parameter that must be sent (-1102 when it was not)."""
    value = params.get(name)
    if value is None:
        raise missing(name)
    return value


def integer_param(params: Mapping[str, str], name: str, *, required: bool = False) -> int | None:
    """A non-negative integer parameter (-1100 when it is not one; -1102 if required, absent)."""
    raw = mandatory(params, name) if required else params.get(name)
    if raw is None:
        return None
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 20:
        msg = f"Illegal characters found in parameter '{name}'; legal range is '^[0-9]{{1,20}}$'."
        raise BinanceError(-1100, msg)
    return int(raw)


def check_timing(params: Mapping[str, str], now_ms: int) -> None:
    """Binance's timing security: ``timestamp`` within ``recvWindow`` behind, 1 s ahead.

    A timestamp above 10^14 is taken as microseconds, as Binance does. Refusals:
    -1102 (no timestamp), -1131 (recvWindow over 60000), -1021 (outside the window).
    """
    stamp = integer_param(params, "timestamp", required=True)
    assert stamp is not None  # noqa: S101 - required
    if stamp >= 10**14:
        stamp //= 1000
    raw_window = params.get("recvWindow")
    window = Decimal(DEFAULT_RECV_WINDOW_MS)
    if raw_window is not None:
        try:
            window = Decimal(raw_window)
        except ArithmeticError:
            window = Decimal(-1)
        if not window.is_finite() or window <= 0:
            msg = "Illegal characters found in parameter 'recvWindow'."
            raise BinanceError(-1100, msg)
        if window > MAX_RECV_WINDOW_MS:
            raise BinanceError(-1131, f"recvWindow must be less than {MAX_RECV_WINDOW_MS}")
    if stamp >= now_ms + AHEAD_MS:
        msg = "Timestamp for this request was 1000ms ahead of the server's time."
        raise BinanceError(-1021, msg)
    if now_ms - stamp > window:
        raise BinanceError(-1021, "Timestamp for this request is outside of the recvWindow.")


def authenticate(service: VenueService, api_key: str | None) -> tuple[Account, str]:
    """The account of an ``X-MBX-APIKEY`` and its HMAC secret.

    -2014 when the header is missing or malformed; -2015 when no account has the
    key, or the account has no secret (created before secrets existed).
    """
    if not api_key or len(api_key) > 256 or not api_key.isascii() or not api_key.isprintable():
        raise BinanceError(-2014, "API-key format invalid.", 401)
    try:
        account = service.venue.authenticate(api_key)
    except NotAuthorized as exc:
        raise BinanceError(-2015, "Invalid API-key, IP, or permissions for action.", 401) from exc
    secret = service.venue.api_secret(account.account_id)
    if not secret:
        raise BinanceError(-2015, "Invalid API-key, IP, or permissions for action.", 401)
    return account, secret


# ------------------------------------------------------------------ orders

# Binance's self-trade prevention modes and the venue's equivalents: the taker is the
# newest order of the two, the maker the oldest
STP_MODES: dict[str, SelfTradePrevention] = {
    "NONE": SelfTradePrevention.NONE,
    "EXPIRE_TAKER": SelfTradePrevention.CANCEL_NEWEST,
    "EXPIRE_MAKER": SelfTradePrevention.CANCEL_OLDEST,
    "EXPIRE_BOTH": SelfTradePrevention.CANCEL_BOTH,
}
_STP_NAMES = {mode: name for name, mode in STP_MODES.items()}
_TIF_NAMES = {
    TimeInForce.GTC: "GTC",
    TimeInForce.IOC: "IOC",
    TimeInForce.FOK: "FOK",
    TimeInForce.POST_ONLY: "GTC",
}
_SIDE_NAMES = {Side.BUY: "BUY", Side.SELL: "SELL"}
_STATUS_NAMES = {s: s.name for s in OrderStatus}
# refusals of the book that Binance reports as an order that expired unfilled
_EXPIRES = frozenset((RejectReason.NO_LIQUIDITY, RejectReason.FOK_NOT_FILLABLE))


class OrderInfo(NamedTuple):
    """What Binance reports of an order that the venue's ``OrderUpdate`` does not carry."""

    type: str  # LIMIT, LIMIT_MAKER or MARKET
    time_in_force: str  # GTC, IOC or FOK
    time_ms: int  # when it was placed
    stp: str = "EXPIRE_TAKER"  # the venue's default, cancel the newest
    quote_qty: str = "0"  # origQuoteOrderQty of a market order sized in the quote asset


def order_info(
    order_type: str, tif: TimeInForce, time_ms: int, stp: SelfTradePrevention, quote_qty: str = "0"
) -> OrderInfo:
    """An order's Binance attributes from the venue command that placed it."""
    return OrderInfo(order_type, _TIF_NAMES[tif], time_ms, _STP_NAMES[stp], quote_qty)


class OrderMemo:
    """Binance attributes of recent orders, by (account, order id), at most ``capacity``.

    The venue keeps neither an order's type nor its time in force: the facade
    remembers them for the orders it placed, and which order a client order id
    named. An order it does not know (placed through the native API, forgotten,
    or from before a restart) is described from what the venue keeps: MARKET
    without a price, else LIMIT, and GTC.
    """

    def __init__(self, capacity: int = 200_000) -> None:
        self.capacity = capacity
        self._info: OrderedDict[tuple[int, int], OrderInfo] = OrderedDict()
        self._ids: OrderedDict[tuple[int, str], int] = OrderedDict()

    def put(self, account: int, order_id: int, info: OrderInfo, client: str | None = None) -> None:
        """Remember an order's attributes and client id (the oldest are forgotten past capacity)."""
        self._info[(account, order_id)] = info
        if len(self._info) > self.capacity:
            self._info.popitem(last=False)
        if client is not None:
            self._ids[(account, client)] = order_id
            if len(self._ids) > self.capacity:
                self._ids.popitem(last=False)

    def known(self, account: int, order_id: int) -> OrderInfo | None:
        """The attributes remembered for an order, if any."""
        return self._info.get((account, order_id))

    def order_id(self, account: int, client: str) -> int | None:
        """The venue id of the order a client order id named, if remembered."""
        return self._ids.get((account, client))

    def get(self, update: OrderUpdate, placed_ms: int | None = None) -> OrderInfo:
        """What is known of an order, or what its venue state implies (placed at ``placed_ms``)."""
        found = self._info.get((update.account, update.order_id))
        if found is not None:
            return found
        kind = "MARKET" if update.price is None else "LIMIT"
        return OrderInfo(
            kind, "GTC", update.ts_event // 1_000_000 if placed_ms is None else placed_ms
        )


def order_memo(app: Any) -> OrderMemo:
    """The app's order memo (one per app, shared by the REST and WebSocket facades)."""
    memo: OrderMemo | None = getattr(app.state, "binance_orders", None)
    if memo is None:
        memo = app.state.binance_orders = OrderMemo()
    return memo


def binance_status(update: OrderUpdate) -> str:
    """Binance's order status: a book's refusal to fill is EXPIRED, self-trade EXPIRED_IN_MATCH."""
    status = update.status
    if status is OrderStatus.REJECTED and update.reason in _EXPIRES:
        return "EXPIRED"
    if status is OrderStatus.CANCELED and update.reason is RejectReason.SELF_TRADE:
        return "EXPIRED_IN_MATCH"
    return _STATUS_NAMES[status]


def order_json(
    inst: Instrument,
    symbol: str,
    update: OrderUpdate,
    info: OrderInfo,
    quote_filled: int,
) -> dict[str, Any]:
    """An order as Binance's REST API shows it (GET /api/v3/order and the order answers).

    ``symbol`` is the exchange symbol; ``quote_filled`` what the fills so far
    came to, in price ticks x lots (``cummulativeQuoteQty``, Binance's spelling).
    """
    price = "0" if update.price is None else inst.price_str(update.price)
    update_ms = update.ts_event // 1_000_000
    return {
        "symbol": symbol,
        "orderId": update.order_id,
        "orderListId": -1,
        "clientOrderId": update.client_order_id or "",
        "price": price,
        "origQty": inst.size_str(update.qty),
        "executedQty": inst.size_str(update.filled),
        "cummulativeQuoteQty": quote_str(inst, quote_filled),
        "status": binance_status(update),
        "timeInForce": info.time_in_force,
        "type": info.type,
        "side": _SIDE_NAMES[update.side],
        "stopPrice": "0",
        "icebergQty": "0",
        "time": info.time_ms,
        "updateTime": max(update_ms, info.time_ms),
        "isWorking": update.status in (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED),
        "workingTime": info.time_ms,
        "origQuoteOrderQty": info.quote_qty,
        "selfTradePreventionMode": info.stp,
    }


def execution_report(
    inst: Instrument,
    symbol: str,
    update: OrderUpdate,
    info: OrderInfo,
    quote_filled: int,
    *,
    execution_type: str,
    fill: FillReport | None = None,
    event_ms: int | None = None,
) -> dict[str, Any]:
    """An order as Binance's user data stream reports it (``executionReport``).

    ``execution_type`` is NEW, TRADE, CANCELED, REJECTED or EXPIRED; ``fill`` the
    fill a TRADE report is about (its price, size, fee and trade id).
    """
    body = order_json(inst, symbol, update, info, quote_filled)
    ms = event_ms if event_ms is not None else body["updateTime"]
    reject = "NONE" if update.status is not OrderStatus.REJECTED else update.reason.name
    return {
        "e": "executionReport",
        "E": ms,
        "s": symbol,
        "c": body["clientOrderId"],
        "S": body["side"],
        "o": body["type"],
        "f": body["timeInForce"],
        "q": body["origQty"],
        "p": body["price"],
        "P": "0",
        "F": "0",
        "g": -1,
        "C": "",
        "x": execution_type,
        "X": body["status"],
        "r": reject,
        "i": update.order_id,
        "l": inst.size_str(fill.qty) if fill is not None else "0",
        "z": body["executedQty"],
        "L": inst.price_str(fill.price) if fill is not None else "0",
        "n": commission_str(inst, fill.fee) if fill is not None else "0",
        "N": quote_asset(inst) if fill is not None else None,
        "T": ms,
        "t": fill.trade_seq if fill is not None else -1,
        "w": body["isWorking"],
        "m": fill is not None and fill.liquidity == "maker",
        "M": False,
        "O": body["time"],
        "Z": body["cummulativeQuoteQty"],
        "Y": quote_str(inst, fill.price * fill.qty) if fill is not None else "0",
        "Q": body["origQuoteOrderQty"],
        "W": body["workingTime"],
        "V": body["selfTradePreventionMode"],
    }
