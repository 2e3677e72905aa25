"""The Binance spot REST API over the venue, so Binance clients (ccxt's ``binance``) trade here.

Orders take the same path as the native API (the gate, the venue's risk checks,
the journal, group commit), so both APIs see one state and one sequence of
events; only the words differ (see ``_binance_common``). Every answer under
these paths, refusals included, is Binance's JSON: ``{"code": -1121, "msg":
"Invalid symbol."}``.

What a Binance client asks for that the venue does not have is answered
honestly rather than refused, so that ccxt's ``load_markets`` works unchanged:
the futures listings (``/fapi``, ``/dapi``) and the margin pairs are empty (the
venue lists spot instruments and lends nothing; whether balances may go
negative is the venue's ``allow_short``, reported by ``/api/v3/account``), and
the wallet's coin list has no deposit or withdrawal networks.

Limits of the facade, each from what the venue keeps: public trades, the
24-hour ticker and the last price are read from the journal's newest
``TRADE_SCAN`` trades; ``allOrders`` from its newest ``ORDER_SCAN`` order
updates of the account; ``myTrades`` from the fills the venue retains
(``history_limit``). Trade ids are the symbol's public sequence numbers (they
increase, with gaps where book updates took numbers).
"""

from __future__ import annotations

import itertools
import json
import re
import secrets
from collections.abc import Callable, Coroutine, Iterable, Mapping
from decimal import Decimal
from typing import Any

import msgspec
from fastapi import APIRouter, Request
from fastapi.responses import Response
from fastapi.routing import APIRoute
from starlette.routing import Match

from makerkit.core import (
    Instrument,
    OrderRejected,
    OrderStatus,
    OrderType,
    RejectReason,
    Side,
    TimeInForce,
)
from makerkit.server._binance_common import (
    STP_MODES,
    BinanceError,
    OrderInfo,
    OrderMemo,
    SymbolMap,
    authenticate,
    binance_error,
    check_timing,
    commission_str,
    error_response,
    integer_param,
    is_binance_path,
    mandatory,
    order_info,
    order_json,
    order_memo,
    parse_params,
    quote_asset,
    quote_str,
    reject_error,
    server_clock,
    split_signature,
    symbol_map,
    verify_signature,
)
from makerkit.server._convert import _json
from makerkit.server._deps import admit
from makerkit.server._errors import log
from makerkit.server._routes_orders import cancel_all
from makerkit.server._service import VenueService
from makerkit.venue import (
    CancelOrder,
    FeeSchedule,
    FillReport,
    NewOrder,
    OrderUpdate,
    Outcome,
    Trade,
)

__all__ = ["ORDER_SCAN", "TRADE_SCAN", "router"]

TRADE_SCAN = 10_000  # newest journal trades read for public trades and tickers
ORDER_SCAN = 50_000  # newest journal order updates of an account read for allOrders
_MAX_UNITS = 2**31  # the venue's bound on prices in ticks and sizes in lots
_DAY_MS = 86_400_000

_DECIMAL = re.compile(r"^([0-9]{1,20})(\.[0-9]{1,20})?$")
_DECIMAL_RANGE = r"'^([0-9]{1,20})(\.[0-9]{1,20})?$'"
_CLIENT_ID = re.compile(r"^[.A-Z:/a-z0-9_-]{1,36}$")
_SIDES = {"BUY": Side.BUY, "SELL": Side.SELL}
_ORDER_TYPES = ("LIMIT", "LIMIT_MAKER", "MARKET")
# Binance types the venue does not take: refused as unsupported, not as unknown
_OTHER_TYPES = ("STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT")
_TIFS = {"GTC": TimeInForce.GTC, "IOC": TimeInForce.IOC, "FOK": TimeInForce.FOK}
_RESP_TYPES = ("ACK", "RESULT", "FULL")
_SIGNED = frozenset({"timestamp", "recvWindow", "signature"})
_NEW_ORDER = frozenset(
    {
        "symbol",
        "side",
        "type",
        "timeInForce",
        "quantity",
        "quoteOrderQty",
        "price",
        "newClientOrderId",
        "newOrderRespType",
        "selfTradePreventionMode",
    }
)
# the book's refusals to fill, which Binance answers as an order that EXPIRED
_EXPIRES = (RejectReason.NO_LIQUIDITY, RejectReason.FOK_NOT_FILLABLE)
_decode_trade = msgspec.json.Decoder(Trade).decode
_decode_update = msgspec.json.Decoder(OrderUpdate).decode


class BinanceRoute(APIRoute):
    """A route whose every refusal is Binance's ``{code, msg}`` with Binance's HTTP status."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """The endpoint's handler, answering any exception as Binance does."""
        handler = super().get_route_handler()

        async def binance_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except Exception as exc:
                error = binance_error(exc, cancel=request.method == "DELETE")
                if error.http_status >= 500 and error is not exc:
                    log.exception(
                        "internal error on %s %s", request.method, request.url.path, exc_info=exc
                    )
                else:
                    log.info(
                        "%s %s -> %d %d: %s",
                        request.method,
                        request.url.path,
                        error.http_status,
                        error.code,
                        error.msg,
                    )
                return error_response(error)

        return binance_handler


# ------------------------------------------------------------------ OpenAPI


def _param(name: str, schema: dict[str, Any], *, required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": required, "schema": schema}


_STR = {"type": "string", "minLength": 1}
_INT = {"type": "integer", "minimum": 0, "maximum": 2**63 - 1}
_DEC = {"type": "string", "pattern": r"^[0-9]{1,20}(\.[0-9]{1,20})?$"}
_KEY_HEADER = {"name": "X-MBX-APIKEY", "in": "header", "required": True, "schema": _STR}
_SIGNED_DOC = [
    _KEY_HEADER,
    _param("timestamp", _INT, required=True),
    _param("recvWindow", {"type": "integer", "minimum": 1, "maximum": 60_000}),
    _param("signature", _STR, required=True),
]
_ERROR_DOC: dict[int | str, dict[str, Any]] = {
    code: {"description": "Binance's error body: {code, msg}"} for code in (400, 401, 429)
}


class BinanceRouter(APIRouter):
    """A router that declines every path outside the facade's at once.

    The app tries its routers in turn; listed first, this one costs a native
    request one prefix check, and spares a facade request the scan of every
    native route before its own.
    """

    def matches(self, scope: Any) -> tuple[Match, Any]:
        """Match only the facade's paths (``/api/``, ``/sapi/``, ``/fapi/``, ``/dapi/``)."""
        if not is_binance_path(scope.get("path", "")):
            return Match.NONE, {}
        return super().matches(scope)


router = BinanceRouter(route_class=BinanceRoute, tags=["binance"], responses=_ERROR_DOC)


def _doc(*params: dict[str, Any], signed: bool = False) -> dict[str, Any]:
    """The OpenAPI of an endpoint that reads its parameters itself (signing needs them raw)."""
    return {"parameters": [*params, *(_SIGNED_DOC if signed else ())]}


# ------------------------------------------------------------------ request helpers


def _service(request: Request) -> VenueService:
    service: VenueService = request.app.state.service
    return service


def _address(request: Request) -> str:
    return request.client.host if request.client is not None else "unknown"


def _now_ms(request: Request) -> int:
    return server_clock(request.app).now_ns() // 1_000_000


def _only(params: Mapping[str, str], allowed: frozenset[str]) -> None:
    """Binance reads every parameter it is sent: an unknown one is -1104."""
    unread = sorted(k for k in params if k not in allowed)
    if unread:
        read = len(params) - len(unread)
        msg = (
            f"Not all sent parameters were read; read '{read}' parameter(s) but was sent "
            f"'{len(params)}' (unread: {', '.join(unread)})."
        )
        raise BinanceError(-1104, msg)


def _public(request: Request, allowed: frozenset[str]) -> dict[str, str]:
    """A public request's parameters; it counts against its address's rate."""
    request.app.state.gate.address(_address(request))
    params = parse_params(request.scope["query_string"], b"")
    _only(params, allowed)
    return params


async def _signed(
    request: Request, service: VenueService, allowed: frozenset[str], *, command: bool
) -> tuple[int, dict[str, str]]:
    """(account id, parameters) of a signed request, checked as Binance checks them.

    The key, then the signature, then the account's rate (and, for a command,
    its kill switches), then the timestamp. A bad key or signature costs the
    address its rate, as a bad native key does.
    """
    query: bytes = request.scope["query_string"]
    body = b"" if request.method == "GET" else await request.body()
    try:
        account, secret = authenticate(service, request.headers.get("x-mbx-apikey"))
        payload, signature = split_signature(query, body)
        verify_signature(secret, payload, signature)
    except BinanceError as exc:
        if exc.http_status == 401:
            request.app.state.gate.address(_address(request))
        raise
    admit(request.app, service, account, command=command)
    params = parse_params(query, body)
    check_timing(params, _now_ms(request))
    _only(params, allowed | _SIGNED)
    return account.account_id, params


def _limit(params: Mapping[str, str], default: int, most: int) -> int:
    value = integer_param(params, "limit")
    if value is None:
        return default
    if value < 1:
        msg = f"Illegal characters found in parameter 'limit'; legal range is '1' to '{most}'."
        raise BinanceError(-1100, msg)
    return min(value, most)


def _plain(amount: Decimal) -> str:
    text = format(amount.normalize(), "f") if amount else "0"
    return "0" if text == "-0" else text


_BOOT = secrets.token_hex(6)  # this process's ids never meet another's (or a restart's)
_next_id = itertools.count(1).__next__


def _new_client_id() -> str:
    """A client order id for a request that sent none, unique to this process, as Binance's are."""
    return f"mk{_BOOT}{_next_id():x}"


def _symbols(params: Mapping[str, str], smap: SymbolMap) -> list[Instrument] | None:
    """The instruments ``symbol`` or ``symbols`` (a JSON array) name; None: every one."""
    if "symbol" in params and "symbols" in params:
        msg = "Parameter 'symbol' and 'symbols' cannot be sent together."
        raise BinanceError(-1106, msg)
    if "symbol" in params:
        return [smap.instrument(params["symbol"])]
    raw = params.get("symbols")
    if raw is None:
        return None
    try:
        names = json.loads(raw)
    except ValueError:
        names = None
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise BinanceError(-1100, "Illegal characters found in parameter 'symbols'.")
    return [smap.instrument(n) for n in names]


def _fees(service: VenueService) -> FeeSchedule:
    fees: FeeSchedule | None = getattr(service, "_fees", None)
    return fees or FeeSchedule()


def _rate(ppm: int) -> str:
    return _plain(Decimal(ppm).scaleb(-6))


# ------------------------------------------------------------------ general endpoints


@router.get("/api/v3/ping", name="binance_ping")
async def ping(request: Request) -> Response:
    """Connectivity: ``{}``."""
    _public(request, frozenset())
    return _json({})


@router.get("/api/v3/time", name="binance_time")
async def server_time(request: Request) -> Response:
    """The server's time in milliseconds (what signed timestamps are checked against)."""
    _public(request, frozenset())
    return _json({"serverTime": _now_ms(request)})


@router.get("/sapi/v1/system/status", name="binance_system_status")
async def system_status(request: Request) -> Response:
    """``{"status": 0, "msg": "normal"}``, or 1 while the journal cannot write."""
    _public(request, frozenset())
    failed = _service(request).failure is not None
    return _json(
        {"status": 1 if failed else 0, "msg": "system maintenance" if failed else "normal"}
    )


def _filters(inst: Instrument, max_open: int | None) -> list[dict[str, Any]]:
    tick, lot = inst.tick, inst.lot
    min_qty = inst.size_str(inst.min_lots)
    max_qty = inst.size_str(_MAX_UNITS - 1)
    min_notional = _plain(inst.min_notional_value)
    out: list[dict[str, Any]] = [
        {
            "filterType": "PRICE_FILTER",
            "minPrice": inst.tick_size,
            "maxPrice": inst.price_str(_MAX_UNITS - 1),
            "tickSize": _plain(tick),
        },
        {"filterType": "LOT_SIZE", "minQty": min_qty, "maxQty": max_qty, "stepSize": _plain(lot)},
        {
            "filterType": "MARKET_LOT_SIZE",
            "minQty": min_qty,
            "maxQty": max_qty,
            "stepSize": _plain(lot),
        },
        {
            "filterType": "MIN_NOTIONAL",
            "minNotional": min_notional,
            "applyToMarket": True,
            "avgPriceMins": 0,
        },
        {
            "filterType": "NOTIONAL",
            "minNotional": min_notional,
            "applyMinToMarket": True,
            "maxNotional": quote_str(inst, (_MAX_UNITS - 1) * (_MAX_UNITS - 1)),
            "applyMaxToMarket": False,
            "avgPriceMins": 0,
        },
    ]
    if max_open is not None:
        out.append({"filterType": "MAX_NUM_ORDERS", "maxNumOrders": max_open})
    return out


def _symbol_info(service: VenueService, smap: SymbolMap, inst: Instrument) -> dict[str, Any]:
    size_places = inst.size_decimals
    quote_places = inst.price_decimals + size_places
    return {
        "symbol": smap.name(inst.symbol),
        "status": "TRADING",
        "baseAsset": inst.base_asset,
        "baseAssetPrecision": size_places,
        "quoteAsset": quote_asset(inst),
        "quotePrecision": quote_places,
        "quoteAssetPrecision": quote_places,
        "baseCommissionPrecision": size_places,
        "quoteCommissionPrecision": quote_places,
        "orderTypes": list(_ORDER_TYPES),
        "icebergAllowed": False,
        "ocoAllowed": False,
        "otoAllowed": False,
        "quoteOrderQtyMarketAllowed": True,
        "allowTrailingStop": False,
        "cancelReplaceAllowed": False,
        "amendAllowed": False,
        "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": False,
        "filters": _filters(inst, service.venue.max_open_orders),
        "permissions": [],
        "permissionSets": [["SPOT"]],
        "defaultSelfTradePreventionMode": "EXPIRE_TAKER",
        "allowedSelfTradePreventionModes": list(STP_MODES),
    }


@router.get(
    "/api/v3/exchangeInfo",
    name="binance_exchange_info",
    openapi_extra=_doc(_param("symbol", _STR), _param("symbols", _STR)),
)
async def exchange_info(request: Request) -> Response:
    """The listed instruments as Binance symbols, with their filters (tick, lot, minimums)."""
    allowed = frozenset({"symbol", "symbols", "permissions", "showPermissionSets", "symbolStatus"})
    params = _public(request, allowed)
    service = _service(request)
    smap = symbol_map(service)
    chosen = _symbols(params, smap)
    listed = list(smap.by_exchange.values()) if chosen is None else chosen
    if params.get("symbolStatus", "TRADING") != "TRADING":
        listed = []  # every listing trades
    rate, burst = request.app.state.gate.address_rate
    return _json(
        {
            "timezone": "UTC",
            "serverTime": _now_ms(request),
            "rateLimits": [
                {
                    "rateLimitType": "REQUEST_WEIGHT",
                    "interval": "SECOND",
                    "intervalNum": 1,
                    "limit": int(burst),
                    "refillPerSecond": rate,
                }
            ],
            "exchangeFilters": [],
            "symbols": [_symbol_info(service, smap, inst) for inst in listed],
        }
    )


def _no_futures(request: Request) -> Response:
    _public(request, frozenset({"symbol", "pair"}))
    return _json(
        {
            "timezone": "UTC",
            "serverTime": _now_ms(request),
            "rateLimits": [],
            "exchangeFilters": [],
            "assets": [],
            "symbols": [],
        }
    )


@router.get("/fapi/v1/exchangeInfo", name="binance_futures_info")
async def futures_info(request: Request) -> Response:
    """USD-margined futures: none are listed here (an empty listing, so clients load spot)."""
    return _no_futures(request)


@router.get("/dapi/v1/exchangeInfo", name="binance_delivery_info")
async def delivery_info(request: Request) -> Response:
    """Coin-margined futures: none are listed here."""
    return _no_futures(request)


# ------------------------------------------------------------------ market data


@router.get(
    "/api/v3/depth",
    name="binance_depth",
    openapi_extra=_doc(_param("symbol", _STR, required=True), _param("limit", _INT)),
)
async def depth(request: Request) -> Response:
    """An L2 snapshot; ``lastUpdateId`` is the symbol's public sequence number at it.

    A client following the book applies the deltas numbered after it, as on Binance.
    """
    params = _public(request, frozenset({"symbol", "limit"}))
    service = _service(request)
    inst = symbol_map(service).instrument(params.get("symbol"))
    limit = _limit(params, 100, 5000)
    frame = await service.durable(lambda: service.book_frame(inst.symbol, limit))
    return _json(
        {
            "lastUpdateId": frame["seq"],
            "bids": [[p, s] for p, s, _ in frame["bids"]],
            "asks": [[p, s] for p, s, _ in frame["asks"]],
        }
    )


def _recent_trades(service: VenueService, symbol: str, scan: int) -> list[Trade]:
    """The symbol's trades among the journal's newest ``scan`` trades, oldest first."""
    rows = service.jv.journal.history(kind="trade", limit=scan)
    return [_decode_trade(row[6]) for row in reversed(rows) if row[4] == symbol]


def _trades_for(service: VenueService, symbol: str, limit: int) -> list[Trade]:
    scan = min(TRADE_SCAN, limit * len(service.instruments))
    trades = _recent_trades(service, symbol, scan)
    if len(trades) < limit and scan < TRADE_SCAN:
        trades = _recent_trades(service, symbol, TRADE_SCAN)
    return trades


@router.get(
    "/api/v3/trades",
    name="binance_trades",
    openapi_extra=_doc(_param("symbol", _STR, required=True), _param("limit", _INT)),
)
async def trades(request: Request) -> Response:
    """The symbol's most recent trades, oldest first."""
    params = _public(request, frozenset({"symbol", "limit"}))
    service = _service(request)
    inst = symbol_map(service).instrument(params.get("symbol"))
    limit = _limit(params, 500, 1000)
    found = _trades_for(service, inst.symbol, limit)[-limit:]
    return _json(
        [
            {
                "id": t.seq,
                "price": inst.price_str(t.price),
                "qty": inst.size_str(t.qty),
                "quoteQty": quote_str(inst, t.price * t.qty),
                "time": t.ts_event // 1_000_000,
                "isBuyerMaker": t.aggressor is Side.SELL,
                "isBestMatch": True,
            }
            for t in found
        ]
    )


@router.get(
    "/api/v3/aggTrades",
    name="binance_agg_trades",
    openapi_extra=_doc(
        _param("symbol", _STR, required=True),
        _param("fromId", _INT),
        _param("startTime", _INT),
        _param("endTime", _INT),
        _param("limit", _INT),
    ),
)
async def agg_trades(request: Request) -> Response:
    """Recent trades, each its own aggregate (first and last trade id are its own)."""
    params = _public(request, frozenset({"symbol", "fromId", "startTime", "endTime", "limit"}))
    service = _service(request)
    inst = symbol_map(service).instrument(params.get("symbol"))
    limit = _limit(params, 500, 1000)
    from_id = integer_param(params, "fromId")
    start = integer_param(params, "startTime")
    end = integer_param(params, "endTime")
    found = _recent_trades(service, inst.symbol, TRADE_SCAN)
    found = [
        t
        for t in found
        if (from_id is None or t.seq >= from_id)
        and (start is None or t.ts_event // 1_000_000 >= start)
        and (end is None or t.ts_event // 1_000_000 <= end)
    ]
    found = found[:limit] if from_id is not None or start is not None else found[-limit:]
    return _json(
        [
            {
                "a": t.seq,
                "p": inst.price_str(t.price),
                "q": inst.size_str(t.qty),
                "f": t.seq,
                "l": t.seq,
                "T": t.ts_event // 1_000_000,
                "m": t.aggressor is Side.SELL,
                "M": True,
            }
            for t in found
        ]
    )


def _book_ticker(service: VenueService, smap: SymbolMap, inst: Instrument) -> dict[str, Any]:
    l1 = service.l1(inst.symbol)
    return {
        "symbol": smap.name(inst.symbol),
        "bidPrice": inst.price_str(l1.bid_price) if l1.bid_price is not None else "0",
        "bidQty": inst.size_str(l1.bid_size),
        "askPrice": inst.price_str(l1.ask_price) if l1.ask_price is not None else "0",
        "askQty": inst.size_str(l1.ask_size),
    }


def _one_or_all(params: Mapping[str, str], rows: list[dict[str, Any]]) -> object:
    return rows[0] if "symbol" in params else rows


@router.get(
    "/api/v3/ticker/bookTicker",
    name="binance_book_ticker",
    openapi_extra=_doc(_param("symbol", _STR), _param("symbols", _STR)),
)
async def book_ticker(request: Request) -> Response:
    """Best bid and ask with their sizes (one symbol, several, or every one)."""
    params = _public(request, frozenset({"symbol", "symbols"}))
    service = _service(request)
    smap = symbol_map(service)
    chosen = _symbols(params, smap) or list(smap.by_exchange.values())
    rows = await service.durable(lambda: [_book_ticker(service, smap, i) for i in chosen])
    return _json(_one_or_all(params, rows))


@router.get(
    "/api/v3/ticker/price",
    name="binance_ticker_price",
    openapi_extra=_doc(_param("symbol", _STR), _param("symbols", _STR)),
)
async def ticker_price(request: Request) -> Response:
    """The last trade's price ("0" before the first trade among the scanned ones)."""
    params = _public(request, frozenset({"symbol", "symbols"}))
    service = _service(request)
    smap = symbol_map(service)
    chosen = _symbols(params, smap) or list(smap.by_exchange.values())
    rows = service.jv.journal.history(kind="trade", limit=TRADE_SCAN)
    last: dict[str, Trade] = {}
    for row in rows:  # newest first
        symbol = row[4]
        if symbol is not None and symbol not in last:
            last[symbol] = _decode_trade(row[6])
    out = []
    for inst in chosen:
        trade = last.get(inst.symbol)
        price = inst.price_str(trade.price) if trade is not None else "0"
        out.append({"symbol": smap.name(inst.symbol), "price": price})
    return _json(_one_or_all(params, out))


def _day_stats(
    service: VenueService, smap: SymbolMap, inst: Instrument, now_ms: int, *, full: bool
) -> dict[str, Any]:
    """24 hours of a symbol's trades (among the journal's newest ``TRADE_SCAN``)."""
    open_ms = now_ms - _DAY_MS
    scanned = _recent_trades(service, inst.symbol, TRADE_SCAN)
    day = [t for t in scanned if t.ts_event // 1_000_000 >= open_ms]
    before = [t for t in scanned if t.ts_event // 1_000_000 < open_ms]
    price = inst.price_str
    if day:
        first, last = day[0], day[-1]
        volume = sum(t.qty for t in day)
        quote = sum(t.price * t.qty for t in day)
        change = last.price - first.price
        stats = {
            "openPrice": price(first.price),
            "highPrice": price(max(t.price for t in day)),
            "lowPrice": price(min(t.price for t in day)),
            "lastPrice": price(last.price),
            "volume": inst.size_str(volume),
            "quoteVolume": quote_str(inst, quote),
            "priceChange": price(change),
            "priceChangePercent": f"{Decimal(change) * 100 / Decimal(first.price):.3f}",
            "weightedAvgPrice": _plain(
                (Decimal(quote) / Decimal(volume) * inst.tick).quantize(
                    Decimal(1).scaleb(-inst.price_decimals - inst.size_decimals)
                )
            ),
            "lastQty": inst.size_str(last.qty),
            "firstId": first.seq,
            "lastId": last.seq,
            "count": len(day),
        }
    else:
        zero = price(0)
        stats = {
            "openPrice": zero,
            "highPrice": zero,
            "lowPrice": zero,
            "lastPrice": price(before[-1].price) if before else zero,
            "volume": inst.size_str(0),
            "quoteVolume": quote_str(inst, 0),
            "priceChange": zero,
            "priceChangePercent": "0.000",
            "weightedAvgPrice": zero,
            "lastQty": inst.size_str(0),
            "firstId": -1,
            "lastId": -1,
            "count": 0,
        }
    out: dict[str, Any] = {"symbol": smap.name(inst.symbol), **stats}
    out["openTime"], out["closeTime"] = open_ms, now_ms
    if not full:
        for key in ("priceChange", "priceChangePercent", "weightedAvgPrice", "lastQty"):
            del out[key]
        return out
    out["prevClosePrice"] = price(before[-1].price) if before else price(0)
    out.update(_book_ticker(service, smap, inst))
    return out


@router.get(
    "/api/v3/ticker/24hr",
    name="binance_ticker_24hr",
    openapi_extra=_doc(
        _param("symbol", _STR),
        _param("symbols", _STR),
        _param("type", {"type": "string", "enum": ["FULL", "MINI"]}),
    ),
)
async def ticker_24hr(request: Request) -> Response:
    """Open, high, low, last, volume over the last 24 hours, with the best bid and ask."""
    params = _public(request, frozenset({"symbol", "symbols", "type"}))
    kind = params.get("type", "FULL")
    if kind not in ("FULL", "MINI"):
        raise BinanceError(-1130, "Data sent for parameter 'type' is not valid.")
    service = _service(request)
    smap = symbol_map(service)
    chosen = _symbols(params, smap) or list(smap.by_exchange.values())
    now_ms = _now_ms(request)
    rows = await service.durable(
        lambda: [_day_stats(service, smap, i, now_ms, full=kind == "FULL") for i in chosen]
    )
    return _json(_one_or_all(params, rows))


# ------------------------------------------------------------------ orders


def _lots(inst: Instrument, raw: str, name: str, rule: str) -> int:
    if not _DECIMAL.match(raw):
        msg = f"Illegal characters found in parameter '{name}'; legal range is {_DECIMAL_RANGE}."
        raise BinanceError(-1100, msg)
    try:
        return inst.to_lots(raw)
    except OrderRejected as exc:
        raise BinanceError(-1013, f"Filter failure: {rule}") from exc


def _ticks(inst: Instrument, raw: str) -> int:
    if not _DECIMAL.match(raw):
        msg = f"Illegal characters found in parameter 'price'; legal range is {_DECIMAL_RANGE}."
        raise BinanceError(-1100, msg)
    try:
        return inst.to_ticks(raw)
    except OrderRejected as exc:
        raise BinanceError(-1013, "Filter failure: PRICE_FILTER") from exc


def _not_required(params: Mapping[str, str], *names: str) -> None:
    """-1106 for a parameter this kind of order does not take."""
    for name in names:
        if name in params:
            raise BinanceError(-1106, f"Parameter '{name}' sent when not required.")


def _client_id(params: Mapping[str, str], name: str) -> str | None:
    value = params.get(name)
    if value is not None and not _CLIENT_ID.match(value):
        msg = (
            f"Illegal characters found in parameter '{name}'; "
            "legal range is '^[\\.A-Z\\:/a-z0-9_-]{1,36}$'."
        )
        raise BinanceError(-1100, msg)
    return value


class _Order(msgspec.Struct, frozen=True):
    """A parsed new order: the venue command but for a size in the quote asset."""

    inst: Instrument
    side: Side
    kind: str
    tif: TimeInForce
    price: int | None
    qty: int | None
    quote_qty: str | None
    client_order_id: str
    resp_type: str
    stp: str


def _parse_order(smap: SymbolMap, params: Mapping[str, str]) -> _Order:
    """Check a new order's parameters as Binance does (the venue checks the rest)."""
    _only(params, _NEW_ORDER | _SIGNED)
    inst = smap.instrument(params.get("symbol"))
    side = _SIDES.get(mandatory(params, "side"))
    if side is None:
        raise BinanceError(-1117, "Invalid side.")
    kind = mandatory(params, "type")
    if kind in _OTHER_TYPES:
        raise BinanceError(-2010, "Order type not supported for this symbol.")
    if kind not in _ORDER_TYPES:
        raise BinanceError(-1116, "Invalid orderType.")
    if kind == "LIMIT":
        found = _TIFS.get(mandatory(params, "timeInForce"))
        if found is None:
            raise BinanceError(-1115, "Invalid timeInForce.")
        tif = found
    else:
        _not_required(params, "timeInForce")
        tif = TimeInForce.POST_ONLY if kind == "LIMIT_MAKER" else TimeInForce.IOC
    price: int | None = None
    qty: int | None = None
    quote_qty: str | None = None
    if kind == "MARKET":
        _not_required(params, "price")
        if "quantity" in params:
            _not_required(params, "quoteOrderQty")
            qty = _lots(inst, params["quantity"], "quantity", "MARKET_LOT_SIZE")
        elif "quoteOrderQty" in params:
            quote_qty = params["quoteOrderQty"]
            if not _DECIMAL.match(quote_qty) or Decimal(quote_qty) <= 0:
                msg = (
                    "Illegal characters found in parameter 'quoteOrderQty'; "
                    f"legal range is {_DECIMAL_RANGE}."
                )
                raise BinanceError(-1100, msg)
        else:
            msg = "Param 'quantity' or 'quoteOrderQty' must be sent, but both were empty/null!"
            raise BinanceError(-1102, msg)
    else:
        _not_required(params, "quoteOrderQty")
        qty = _lots(inst, mandatory(params, "quantity"), "quantity", "LOT_SIZE")
        price = _ticks(inst, mandatory(params, "price"))
    resp_type = params.get("newOrderRespType", "FULL")
    if resp_type not in _RESP_TYPES:
        raise BinanceError(-1130, "Data sent for parameter 'newOrderRespType' is not valid.")
    stp = params.get("selfTradePreventionMode", "EXPIRE_TAKER")
    if stp not in STP_MODES:
        msg = "Data sent for parameter 'selfTradePreventionMode' is not valid."
        raise BinanceError(-1130, msg)
    return _Order(
        inst=inst,
        side=side,
        kind=kind,
        tif=tif,
        price=price,
        qty=qty,
        quote_qty=quote_qty,
        client_order_id=_client_id(params, "newClientOrderId") or _new_client_id(),
        resp_type=resp_type,
        stp=stp,
    )


def _lots_for_quote(service: VenueService, order: _Order) -> int:
    """How many lots a market order spends (buy) or raises (sell) within ``quoteOrderQty``.

    Walked over the book as it is now: the order is placed in the same turn of
    the event loop, so it meets this book (at most the quote amount is traded).
    """
    inst = order.inst
    budget = int(Decimal(order.quote_qty or 0) / (inst.tick * inst.lot))  # in tick-lots
    snap = service.venue.book(inst.symbol).l2(1_000_000)
    levels = snap.asks if order.side is Side.BUY else snap.bids
    lots = 0
    for level in levels:
        take = min(level.size, budget // level.price)
        lots += take
        budget -= take * level.price
        if take < level.size:
            break
    if lots == 0:
        msg = (
            "Filter failure: MARKET_LOT_SIZE" if levels else "Order would not trade: no liquidity."
        )
        raise BinanceError(-1013 if levels else -2010, msg)
    return lots


def _command(service: VenueService, order: _Order) -> NewOrder:
    qty = order.qty if order.qty is not None else _lots_for_quote(service, order)
    return NewOrder(
        symbol=order.inst.symbol,
        side=order.side,
        qty=qty,
        price=order.price,
        order_type=OrderType.MARKET if order.kind == "MARKET" else OrderType.LIMIT,
        tif=order.tif,
        client_order_id=order.client_order_id,
        stp=STP_MODES[order.stp],
    )


def _placed(order: _Order, now_ms: int) -> OrderInfo:
    return order_info(order.kind, order.tif, now_ms, STP_MODES[order.stp], order.quote_qty or "0")


def _fill_json(inst: Instrument, fill: FillReport) -> dict[str, Any]:
    return {
        "price": inst.price_str(fill.price),
        "qty": inst.size_str(fill.qty),
        "commission": commission_str(inst, fill.fee),
        "commissionAsset": quote_asset(inst),
        "tradeId": fill.trade_seq,
    }


_RESULT_KEYS = (
    "symbol",
    "orderId",
    "orderListId",
    "clientOrderId",
    "transactTime",
    "price",
    "origQty",
    "executedQty",
    "origQuoteOrderQty",
    "cummulativeQuoteQty",
    "status",
    "timeInForce",
    "type",
    "side",
    "workingTime",
    "selfTradePreventionMode",
)


@router.post(
    "/api/v3/order",
    name="binance_new_order",
    openapi_extra=_doc(
        _param("symbol", _STR, required=True),
        _param("side", {"type": "string", "enum": list(_SIDES)}, required=True),
        _param("type", {"type": "string", "enum": list(_ORDER_TYPES)}, required=True),
        _param("timeInForce", {"type": "string", "enum": list(_TIFS)}),
        _param("quantity", _DEC),
        _param("quoteOrderQty", _DEC),
        _param("price", _DEC),
        _param("newClientOrderId", _STR),
        _param("newOrderRespType", {"type": "string", "enum": list(_RESP_TYPES)}),
        _param("selfTradePreventionMode", {"type": "string", "enum": list(STP_MODES)}),
        signed=True,
    ),
)
async def new_order(request: Request) -> Response:
    """Place an order (LIMIT with GTC/IOC/FOK, LIMIT_MAKER, MARKET by quantity or quote).

    An order the book does not fill (FOK, a market order without liquidity) is
    answered EXPIRED, as Binance does; every other venue refusal is an error.
    """
    service = _service(request)
    account, params = await _signed(request, service, _NEW_ORDER, command=True)
    order = _parse_order(symbol_map(service), params)
    cmd = _command(service, order)
    memo = order_memo(request.app)

    def place() -> Outcome:
        # remembered in the command's own step: the user-data streams describe the
        # order (its type, time in force) when its batch is sealed, before the ack
        out = service.jv.submit(account, cmd)
        if out.events and out.update.order_id:
            info = _placed(order, out.update.ts_event // 1_000_000)
            memo.put(account, out.update.order_id, info, order.client_order_id)
        return out

    out = await service.execute(place)
    update = out.update
    if update.status is OrderStatus.REJECTED and update.reason not in _EXPIRES:
        raise reject_error(update.reason)
    if not out.events:  # the venue's answer to a client order id it has seen
        raise BinanceError(-2010, "Duplicate order sent.")
    info = memo.get(update)
    inst = order.inst
    symbol = symbol_map(service).name(inst.symbol)
    transact = update.ts_event // 1_000_000
    if order.resp_type == "ACK":
        return _json(
            {
                "symbol": symbol,
                "orderId": update.order_id,
                "orderListId": -1,
                "clientOrderId": order.client_order_id,
                "transactTime": transact,
            }
        )
    fills = [
        e
        for e in out.events
        if type(e) is FillReport and e.account == account and e.order_id == update.order_id
    ]
    body = order_json(inst, symbol, update, info, sum(f.price * f.qty for f in fills))
    body["transactTime"] = transact
    result = {key: body[key] for key in _RESULT_KEYS}
    if order.resp_type == "FULL":
        result["fills"] = [_fill_json(inst, f) for f in fills]
    return _json(result)


@router.post(
    "/api/v3/order/test",
    name="binance_test_order",
    openapi_extra=_doc(
        _param("symbol", _STR, required=True),
        _param("side", {"type": "string", "enum": list(_SIDES)}, required=True),
        _param("type", {"type": "string", "enum": list(_ORDER_TYPES)}, required=True),
        _param("quantity", _DEC),
        _param("price", _DEC),
        _param("computeCommissionRates", {"type": "string", "enum": ["true", "false"]}),
        signed=True,
    ),
)
async def test_order(request: Request) -> Response:
    """Check an order as POST /api/v3/order would, without placing it: ``{}``."""
    service = _service(request)
    allowed = _NEW_ORDER | {"computeCommissionRates"}
    _, params = await _signed(request, service, allowed, command=False)
    rates = params.pop("computeCommissionRates", "false")
    order = _parse_order(symbol_map(service), params)
    qty = order.qty if order.qty is not None else _lots_for_quote(service, order)
    if qty < order.inst.min_lots:
        raise reject_error(RejectReason.MIN_QTY)
    if order.price is not None and order.price * qty * order.inst.tick * order.inst.lot < (
        order.inst.min_notional_value
    ):
        raise reject_error(RejectReason.MIN_NOTIONAL)
    if rates != "true":
        return _json({})
    fees = _fees(service)
    standard = {"maker": _rate(fees.maker_ppm), "taker": _rate(fees.taker_ppm)}
    return _json(
        {
            "standardCommissionForOrder": standard,
            "specialCommissionForOrder": {"maker": "0", "taker": "0"},
            "taxCommissionForOrder": {"maker": "0", "taker": "0"},
            "discount": {
                "enabledForAccount": False,
                "enabledForSymbol": False,
                "discountAsset": None,
                "discount": "0",
            },
        }
    )


def _order_id_of(service: VenueService, memo: OrderMemo, account: int, client: str) -> int | None:
    """The venue id of the account's order with a client order id, if it is still known."""
    found = memo.order_id(account, client)
    if found is not None:
        return found
    for update in service.venue.open_orders(account):
        if update.client_order_id == client:
            return update.order_id
    needle = msgspec.json.encode(client).decode()
    for row in service.jv.journal.history(account=account, kind="order", limit=ORDER_SCAN):
        if row[5] and needle in row[6]:
            update = _decode_update(row[6])
            if update.client_order_id == client:
                return update.order_id
    return None


def _find_order(
    service: VenueService,
    memo: OrderMemo,
    account: int,
    inst: Instrument,
    params: Mapping[str, str],
) -> OrderUpdate | None:
    """The order ``orderId`` or ``origClientOrderId`` names, in ``symbol``; None: no such order."""
    order_id = integer_param(params, "orderId")
    client = params.get("origClientOrderId")
    if order_id is None and client is None:
        msg = "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!"
        raise BinanceError(-1102, msg)
    if order_id is None:
        order_id = _order_id_of(service, memo, account, client or "")
    if not order_id:
        return None
    update = service.jv.order(account, order_id)
    if update is None or update.symbol != inst.symbol:
        return None
    if client is not None and update.client_order_id != client:
        return None
    return update


def _quote_filled(
    service: VenueService, account: int, updates: Iterable[OrderUpdate]
) -> dict[int, int]:
    """What each order's fills came to (price ticks x lots): retained fills, else the journal."""
    wanted = {u.order_id: u.filled for u in updates if u.filled > 0}
    out = dict.fromkeys(wanted, 0)
    if not wanted:
        return out
    seen = dict.fromkeys(wanted, 0)
    for fill in service.venue.fills(account):
        if fill.order_id in wanted:
            out[fill.order_id] += fill.price * fill.qty
            seen[fill.order_id] += fill.qty
    for order_id, filled in wanted.items():
        if seen[order_id] != filled:  # some fills are no longer retained: the journal has all
            rows = service.jv.journal.history(
                account=account, kind="fill", order_id=order_id, limit=100_000
            )
            fills = [msgspec.json.decode(row[6], type=FillReport) for row in rows]
            out[order_id] = sum(f.price * f.qty for f in fills)
    return out


def _info(service: VenueService, memo: OrderMemo, update: OrderUpdate) -> OrderInfo:
    """An order's Binance attributes; for one the memo does not know, placed when journaled."""
    known = memo.known(update.account, update.order_id)
    if known is not None:
        return known
    rows = service.jv.journal.history(
        account=update.account, kind="order", order_id=update.order_id, limit=10_000
    )
    return memo.get(update, rows[-1][1] // 1_000_000 if rows else None)


_ORDER_QUERY = frozenset({"symbol", "orderId", "origClientOrderId"})


@router.get(
    "/api/v3/order",
    name="binance_get_order",
    openapi_extra=_doc(
        _param("symbol", _STR, required=True),
        _param("orderId", _INT),
        _param("origClientOrderId", _STR),
        signed=True,
    ),
)
async def get_order(request: Request) -> Response:
    """One of the account's orders, open or done (-2013 when there is no such order)."""
    service = _service(request)
    account, params = await _signed(request, service, _ORDER_QUERY, command=False)
    smap = symbol_map(service)
    inst = smap.instrument(params.get("symbol"))
    memo = order_memo(request.app)
    update = await service.durable(lambda: _find_order(service, memo, account, inst, params))
    if update is None:
        raise BinanceError(-2013, "Order does not exist.")
    quote = _quote_filled(service, account, [update])
    info = _info(service, memo, update)
    return _json(
        order_json(inst, smap.name(inst.symbol), update, info, quote.get(update.order_id, 0))
    )


_CANCEL_KEYS = (
    "symbol",
    "origClientOrderId",
    "orderId",
    "orderListId",
    "clientOrderId",
    "transactTime",
    "price",
    "origQty",
    "executedQty",
    "origQuoteOrderQty",
    "cummulativeQuoteQty",
    "status",
    "timeInForce",
    "type",
    "side",
    "selfTradePreventionMode",
)


def _cancel_json(
    inst: Instrument, symbol: str, update: OrderUpdate, info: OrderInfo, quote: int, client: str
) -> dict[str, Any]:
    body = order_json(inst, symbol, update, info, quote)
    body["origClientOrderId"] = body["clientOrderId"]
    body["clientOrderId"] = client
    body["transactTime"] = update.ts_event // 1_000_000
    return {key: body[key] for key in _CANCEL_KEYS}


_RESTRICTIONS = {"ONLY_NEW": OrderStatus.NEW, "ONLY_PARTIALLY_FILLED": OrderStatus.PARTIALLY_FILLED}


@router.delete(
    "/api/v3/order",
    name="binance_cancel_order",
    openapi_extra=_doc(
        _param("symbol", _STR, required=True),
        _param("orderId", _INT),
        _param("origClientOrderId", _STR),
        _param("newClientOrderId", _STR),
        _param("cancelRestrictions", {"type": "string", "enum": list(_RESTRICTIONS)}),
        signed=True,
    ),
)
async def cancel_order(request: Request) -> Response:
    """Cancel one open order (-2011 when it is not open)."""
    service = _service(request)
    allowed = _ORDER_QUERY | {"newClientOrderId", "cancelRestrictions"}
    account, params = await _signed(request, service, allowed, command=True)
    smap = symbol_map(service)
    inst = smap.instrument(params.get("symbol"))
    memo = order_memo(request.app)
    client = _client_id(params, "newClientOrderId") or _new_client_id()
    restriction = params.get("cancelRestrictions")
    if restriction is not None and restriction not in _RESTRICTIONS:
        raise BinanceError(-1130, "Data sent for parameter 'cancelRestrictions' is not valid.")
    order_id = integer_param(params, "orderId")
    by_client = params.get("origClientOrderId")
    if order_id is None and by_client is None:
        msg = "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!"
        raise BinanceError(-1102, msg)
    if restriction is not None or (order_id is not None and by_client is not None):
        # both ids must name one order, and a restriction is checked before the cancel
        current = _find_order(service, memo, account, inst, params)
        if current is None:
            raise BinanceError(-2011, "Unknown order sent.")
        if restriction is not None and current.status is not _RESTRICTIONS[restriction]:
            raise BinanceError(-2011, "Order was not canceled due to cancel restrictions.")
    cmd = CancelOrder(
        symbol=inst.symbol,
        order_id=order_id,
        client_order_id=by_client if order_id is None else None,
    )
    out = await service.execute(lambda: service.jv.cancel(account, cmd))
    update = out.update
    if update.status is OrderStatus.REJECTED:
        raise reject_error(update.reason, cancel=True)
    quote = _quote_filled(service, account, [update])
    body = _cancel_json(
        inst,
        smap.name(inst.symbol),
        update,
        _info(service, memo, update),
        quote.get(update.order_id, 0),
        client,
    )
    return _json(body)


@router.get(
    "/api/v3/openOrders",
    name="binance_open_orders",
    openapi_extra=_doc(_param("symbol", _STR), signed=True),
)
async def open_orders(request: Request) -> Response:
    """The account's open orders, oldest first (in one symbol, or every one)."""
    service = _service(request)
    account, params = await _signed(request, service, frozenset({"symbol"}), command=False)
    smap = symbol_map(service)
    venue_symbol = smap.instrument(params["symbol"]).symbol if "symbol" in params else None
    page = await service.durable(lambda: service.venue.open_orders(account, venue_symbol))
    page = [u for u in page if u.symbol in smap.exchange]
    quote = _quote_filled(service, account, page)
    memo = order_memo(request.app)
    instruments = service.instruments
    return _json(
        [
            order_json(
                instruments[u.symbol],
                smap.name(u.symbol),
                u,
                _info(service, memo, u),
                quote.get(u.order_id, 0),
            )
            for u in page
        ]
    )


@router.delete(
    "/api/v3/openOrders",
    name="binance_cancel_open_orders",
    openapi_extra=_doc(_param("symbol", _STR, required=True), signed=True),
)
async def cancel_open_orders(request: Request) -> Response:
    """Cancel every open order in a symbol (-2011 when there is none, as on Binance)."""
    service = _service(request)
    account, params = await _signed(request, service, frozenset({"symbol"}), command=True)
    smap = symbol_map(service)
    inst = smap.instrument(params.get("symbol"))
    outs = await cancel_all(service, account, inst.symbol)
    if not outs:
        raise BinanceError(-2011, "Unknown order sent.")
    updates = [o.update for o in outs]
    quote = _quote_filled(service, account, updates)
    memo = order_memo(request.app)
    symbol = smap.name(inst.symbol)
    return _json(
        [
            _cancel_json(inst, symbol, u, memo.get(u), quote.get(u.order_id, 0), _new_client_id())
            for u in updates
        ]
    )


def _all_orders(
    service: VenueService, account: int, symbol: str
) -> tuple[list[OrderUpdate], dict[int, int]]:
    """The account's orders in ``symbol`` (newest state each) and when each was placed (ms)."""
    latest: dict[int, OrderUpdate] = {}
    placed: dict[int, int] = {}
    for row in service.jv.journal.history(account=account, kind="order", limit=ORDER_SCAN):
        order_id = row[5]
        if row[4] != symbol or not order_id:
            continue
        placed[order_id] = row[1] // 1_000_000  # newest first: the last seen is the first
        if order_id not in latest:
            latest[order_id] = _decode_update(row[6])
    return [latest[k] for k in sorted(latest)], placed


@router.get(
    "/api/v3/allOrders",
    name="binance_all_orders",
    openapi_extra=_doc(
        _param("symbol", _STR, required=True),
        _param("orderId", _INT),
        _param("startTime", _INT),
        _param("endTime", _INT),
        _param("limit", _INT),
        signed=True,
    ),
)
async def all_orders(request: Request) -> Response:
    """The account's orders in a symbol, open and done, by id (from ``orderId``, or the newest)."""
    service = _service(request)
    allowed = frozenset({"symbol", "orderId", "startTime", "endTime", "limit"})
    account, params = await _signed(request, service, allowed, command=False)
    smap = symbol_map(service)
    inst = smap.instrument(params.get("symbol"))
    limit = _limit(params, 500, 1000)
    from_id = integer_param(params, "orderId")
    start = integer_param(params, "startTime")
    end = integer_param(params, "endTime")
    await service.durable(lambda: None)  # the journal holds every command so far
    orders, placed = _all_orders(service, account, inst.symbol)
    memo = order_memo(request.app)
    rows = []
    for u in orders:
        info = memo.get(u, placed.get(u.order_id))
        if from_id is not None and u.order_id < from_id:
            continue
        if (start is not None and info.time_ms < start) or (end is not None and info.time_ms > end):
            continue
        rows.append((u, info))
    rows = rows[:limit] if from_id is not None or start is not None else rows[-limit:]
    quote = _quote_filled(service, account, [u for u, _ in rows])
    symbol = smap.name(inst.symbol)
    return _json([order_json(inst, symbol, u, info, quote.get(u.order_id, 0)) for u, info in rows])


@router.get(
    "/api/v3/myTrades",
    name="binance_my_trades",
    openapi_extra=_doc(
        _param("symbol", _STR, required=True),
        _param("orderId", _INT),
        _param("startTime", _INT),
        _param("endTime", _INT),
        _param("fromId", _INT),
        _param("limit", _INT),
        signed=True,
    ),
)
async def my_trades(request: Request) -> Response:
    """The account's fills in a symbol (those the venue retains), oldest first."""
    service = _service(request)
    allowed = frozenset({"symbol", "orderId", "startTime", "endTime", "fromId", "limit"})
    account, params = await _signed(request, service, allowed, command=False)
    smap = symbol_map(service)
    inst = smap.instrument(params.get("symbol"))
    limit = _limit(params, 500, 1000)
    order_id = integer_param(params, "orderId")
    from_id = integer_param(params, "fromId")
    start = integer_param(params, "startTime")
    end = integer_param(params, "endTime")
    fills = await service.durable(lambda: service.venue.fills(account, inst.symbol))
    chosen = [
        f
        for f in fills
        if (order_id is None or f.order_id == order_id)
        and (from_id is None or f.trade_seq >= from_id)
        and (start is None or f.ts_event // 1_000_000 >= start)
        and (end is None or f.ts_event // 1_000_000 <= end)
    ]
    chosen = chosen[:limit] if from_id is not None or start is not None else chosen[-limit:]
    symbol = smap.name(inst.symbol)
    return _json(
        [
            {
                "symbol": symbol,
                "id": f.trade_seq,
                "orderId": f.order_id,
                "orderListId": -1,
                "price": inst.price_str(f.price),
                "qty": inst.size_str(f.qty),
                "quoteQty": quote_str(inst, f.price * f.qty),
                "commission": commission_str(inst, f.fee),
                "commissionAsset": quote_asset(inst),
                "time": f.ts_event // 1_000_000,
                "isBuyer": f.side is Side.BUY,
                "isMaker": f.liquidity == "maker",
                "isBestMatch": True,
            }
            for f in chosen
        ]
    )


# ------------------------------------------------------------------ account and wallet


@router.get(
    "/api/v3/account",
    name="binance_account",
    openapi_extra=_doc(
        _param("omitZeroBalances", {"type": "string", "enum": ["true", "false"]}), signed=True
    ),
)
async def account_info(request: Request) -> Response:
    """Balances (free and locked per asset), commission rates and whether the account trades.

    ``accountType`` is MARGIN where the venue allows balances to go negative
    (selling what is not held, buying on credit), SPOT where it does not;
    ``allowShort`` says the same in the venue's words.
    """
    service = _service(request)
    allowed = frozenset({"omitZeroBalances"})
    account, params = await _signed(request, service, allowed, command=False)
    omit = params.get("omitZeroBalances", "false")
    if omit not in ("true", "false"):
        raise BinanceError(-1130, "Data sent for parameter 'omitZeroBalances' is not valid.")
    venue = service.venue
    rows = await service.durable(lambda: venue.balances(account))
    short = bool(venue.allow_short)
    fees = _fees(service)
    balances = [
        {"asset": b.asset, "free": _plain(b.free), "locked": _plain(b.locked)}
        for b in rows
        if omit == "false" or b.free or b.locked
    ]
    return _json(
        {
            "makerCommission": int(fees.maker_ppm / 100),  # in basis points, as Binance counts
            "takerCommission": int(fees.taker_ppm / 100),
            "buyerCommission": 0,
            "sellerCommission": 0,
            "commissionRates": {
                "maker": _rate(fees.maker_ppm),
                "taker": _rate(fees.taker_ppm),
                "buyer": "0",
                "seller": "0",
            },
            "canTrade": not venue.risk.kill_reason(account),
            "canWithdraw": False,
            "canDeposit": False,
            "brokered": False,
            "requireSelfTradePrevention": False,
            "preventSor": False,
            "updateTime": _now_ms(request),
            "accountType": "MARGIN" if short else "SPOT",
            "balances": balances,
            "permissions": ["SPOT", "MARGIN"] if short else ["SPOT"],
            "uid": account,
            "allowShort": short,
        }
    )


@router.get(
    "/sapi/v1/capital/config/getall",
    name="binance_coins",
    openapi_extra=_doc(signed=True),
)
async def coins(request: Request) -> Response:
    """Every asset of the listed instruments with the account's balance of it.

    Assets here move only by trading and the operator's deposits: no network
    deposits or withdrawals (``networkList`` is empty).
    """
    service = _service(request)
    account, _ = await _signed(request, service, frozenset(), command=False)
    rows = await service.durable(lambda: service.venue.balances(account))
    return _json(
        [
            {
                "coin": b.asset,
                "name": b.asset,
                "free": _plain(b.free),
                "locked": _plain(b.locked),
                "freeze": "0",
                "withdrawing": "0",
                "ipoing": "0",
                "ipoable": "0",
                "storage": "0",
                "isLegalMoney": False,
                "trading": True,
                "depositAllEnable": False,
                "withdrawAllEnable": False,
                "networkList": [],
            }
            for b in rows
        ]
    )


@router.get(
    "/sapi/v1/margin/allPairs",
    name="binance_margin_pairs",
    openapi_extra=_doc(signed=True),
)
async def margin_pairs(request: Request) -> Response:
    """Cross-margin pairs: none (the venue lends nothing; see ``allowShort``)."""
    await _signed(request, _service(request), frozenset({"symbol"}), command=False)
    return _json([])


@router.get(
    "/sapi/v1/margin/isolated/allPairs",
    name="binance_isolated_margin_pairs",
    openapi_extra=_doc(signed=True),
)
async def isolated_margin_pairs(request: Request) -> Response:
    """Isolated-margin pairs: none."""
    await _signed(request, _service(request), frozenset({"symbol"}), command=False)
    return _json([])


# the order endpoints first: a router tries its routes in turn (stable: the rest keep theirs)
router.routes.sort(key=lambda route: getattr(route, "path", "") != "/api/v3/order")
