"""Yahoo Finance through its public v8 chart API.

The API is unofficial and needs no key, so it is read defensively: bars with
nulls are dropped, a stray "live" point outside the requested period is cut
off, and Yahoo's own ``chart.error`` objects become a
:class:`~makerkit.core.SourceError` quoting Yahoo's description.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote as urlquote

import numpy as np

from makerkit.core.clock import Clock
from makerkit.core.errors import ConfigError, SourceError
from makerkit.data._http import (
    HttpClient,
    HttpSource,
    Params,
    ResponseCache,
    Retry,
    http_status_error,
    poll_new_quotes,
    utc_range_ns,
)
from makerkit.data._types import F64, Bars, CorporateAction, Quote

if TYPE_CHECKING:
    import httpx

__all__ = ["CHART_URL", "INTERVALS", "YahooFinance"]

CHART_URL = "https://query2.finance.yahoo.com/v8/finance/chart/"
INTERVALS = frozenset(
    {"1m", "2m", "5m", "15m", "30m", "60m", "90m", "1h", "1d", "5d", "1wk", "1mo", "3mo"}
)
_OHLCV = ("open", "high", "low", "close", "volume")
_NS = 1_000_000_000
When = str | date | datetime
T = TypeVar("T")


class YahooFinance(HttpSource):
    """Bars, quotes, dividends and splits from Yahoo's chart API.

    Historical answers (bars, actions) are cached on disk for
    ``cache_max_age_s``; quotes never are. ``transport``, ``sleep``,
    ``async_sleep`` and ``clock`` are seams for tests.
    """

    name = "yahoo"

    def __init__(
        self,
        *,
        timeout_s: float = 10.0,
        retry: Retry | None = None,
        cache: bool = True,
        cache_dir: str | Path | None = None,
        cache_max_age_s: float = 3600.0,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        async_sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Clock | None = None,
        base_url: str = CHART_URL,
    ) -> None:
        self.base_url = base_url.rstrip("/") + "/"
        self._async_sleep = async_sleep
        store = ResponseCache(cache_dir, max_age_s=cache_max_age_s, clock=clock) if cache else None
        self._http = HttpClient(
            self.name,
            timeout_s=timeout_s,
            retry=retry,
            cache=store,
            transport=transport,
            headers={"Accept": "application/json"},
            sleep=sleep,
            clock=clock,
        )

    def bars(
        self,
        symbol: str,
        *,
        start: When,
        end: When,
        interval: str = "1d",
        prepost: bool = False,
    ) -> Bars:
        """Bars starting in [start, end); ``prepost`` adds pre- and post-market bars."""
        if interval not in INTERVALS:
            allowed = sorted(INTERVALS)
            msg = f"invalid `interval` for Yahoo, must be one of {allowed}, was {interval!r}"
            raise ConfigError(msg)
        lo, hi = utc_range_ns(start, end)
        return self._chart(
            symbol, lo, hi, interval, prepost, lambda r: _parse_bars(symbol, interval, r, lo, hi)
        )

    def actions(self, symbol: str, *, start: When, end: When) -> list[CorporateAction]:
        """Dividends and splits dated in [start, end), oldest first."""
        lo, hi = utc_range_ns(start, end)
        return self._chart(symbol, lo, hi, "1d", False, lambda r: _parse_actions(symbol, r, lo, hi))

    def quote(self, symbol: str) -> Quote:
        """The latest regular-market price from the chart's ``meta``."""
        params = {"range": "1d", "interval": "1d", "includePrePost": "false"}
        return self._get(symbol, params, lambda r: _parse_quote(symbol, r), cache=False)

    def poll(self, symbol: str, *, every_s: float = 1.0) -> AsyncGenerator[Quote, None]:
        """Quotes every ``every_s`` seconds, yielding only ones that changed."""
        _check_symbol(symbol)
        return poll_new_quotes(
            self.name, lambda: self.quote(symbol), every_s=every_s, sleep=self._async_sleep
        )

    def _chart(
        self,
        symbol: str,
        lo: int,
        hi: int,
        interval: str,
        prepost: bool,
        convert: Callable[[dict[str, Any]], T],
    ) -> T:
        params: Params = {
            "period1": lo // _NS,
            "period2": -(-hi // _NS),
            "interval": interval,
            "includePrePost": "true" if prepost else "false",
            "events": "div|split",
        }
        return self._get(symbol, params, convert, cache=True)

    def _get(
        self,
        symbol: str,
        params: Params,
        convert: Callable[[dict[str, Any]], T],
        *,
        cache: bool,
    ) -> T:
        """Convert ``result[0]`` inside the fetch, so a chart that fails is never cached."""
        symbol = _check_symbol(symbol)
        url = self.base_url + urlquote(symbol, safe="")
        check = _checker(symbol)

        def on_answer(status: int, document: Any) -> T:
            check(status, document)
            if status >= 400:
                raise http_status_error(self.name, status)
            result: dict[str, Any] = document["chart"]["result"][0]
            return convert(result)

        return self._http.fetch_json(url, params, convert=on_answer, cache=cache)


def _check_symbol(symbol: str) -> str:
    if not isinstance(symbol, str) or not symbol.strip():
        msg = f"invalid `symbol`, must be a non-empty string, was {symbol!r}"
        raise ConfigError(msg)
    return symbol.strip()


def _checker(symbol: str) -> Callable[[int, Any], None]:
    def check(status: int, document: Any) -> None:
        chart = document.get("chart") if isinstance(document, dict) else None
        if not isinstance(chart, dict):
            if status >= 400:
                return  # not Yahoo's error shape: the plain HTTP error says it best
            msg = f"answer for {symbol} has no `chart` object; the API may have changed"
            raise SourceError(YahooFinance.name, msg)
        error = chart.get("error")
        if error:
            description = error.get("description") if isinstance(error, dict) else str(error)
            code = error.get("code", "") if isinstance(error, dict) else ""
            msg = (
                f"{symbol}: {description or code or 'unknown error'} (Yahoo {code or status}); "
                "check the symbol, the interval and the dates"
            )
            raise SourceError(YahooFinance.name, msg, retryable=False)
        result = chart.get("result")
        if not result or not isinstance(result, list) or not isinstance(result[0], dict):
            msg = f"returned an empty result for {symbol}; check the symbol and the dates"
            raise SourceError(YahooFinance.name, msg)

    return check


def _column(values: Any, n: int, what: str, symbol: str) -> F64:
    if not isinstance(values, list) or len(values) != n:
        got = len(values) if isinstance(values, list) else type(values).__name__
        msg = f"answer for {symbol} has {got} `{what}` values for {n} timestamps; malformed"
        raise SourceError(YahooFinance.name, msg)
    try:
        return np.asarray(values, dtype=np.float64)  # null -> nan
    except (TypeError, ValueError) as exc:
        msg = f"answer for {symbol} has a non-numeric `{what}` value ({exc}); malformed"
        raise SourceError(YahooFinance.name, msg) from exc


def _parse_bars(symbol: str, interval: str, result: dict[str, Any], lo: int, hi: int) -> Bars:
    meta = result.get("meta") or {}
    stamps = result.get("timestamp") or []  # absent when the period holds no bars
    indicators = result.get("indicators") or {}
    n = len(stamps)
    quote = (indicators.get("quote") or [{}])[0] or {}
    columns = {k: _column(quote.get(k), n, k, symbol) for k in _OHLCV} if n else {}
    adj_block = (indicators.get("adjclose") or [{}])[0] or {}
    adj = _column(adj_block["adjclose"], n, "adjclose", symbol) if "adjclose" in adj_block else None
    try:
        ts = np.asarray(stamps, dtype=np.int64) * _NS
    except (TypeError, ValueError) as exc:
        msg = f"answer for {symbol} has a bad timestamp ({exc}); malformed"
        raise SourceError(YahooFinance.name, msg) from exc
    keep = (ts >= lo) & (ts < hi)  # Yahoo appends a live point past period2
    for column in (*columns.values(), *([adj] if adj is not None else [])):
        keep &= np.isfinite(column)
    empty = np.empty(0, dtype=np.float64)
    return Bars(
        symbol=symbol,
        interval=interval,
        source=YahooFinance.name,
        ts_ns=np.ascontiguousarray(ts[keep]),
        open=columns["open"][keep] if n else empty,
        high=columns["high"][keep] if n else empty,
        low=columns["low"][keep] if n else empty,
        close=columns["close"][keep] if n else empty,
        volume=columns["volume"][keep] if n else empty,
        adj_close=adj[keep] if adj is not None else None,
        currency=str(meta.get("currency") or ""),
    )


def _parse_actions(symbol: str, result: dict[str, Any], lo: int, hi: int) -> list[CorporateAction]:
    events = result.get("events") or {}
    actions: list[CorporateAction] = []
    try:
        for key, event in (events.get("dividends") or {}).items():
            ts = int(event.get("date", key)) * _NS
            if lo <= ts < hi:
                amount = float(event["amount"])
                actions.append(
                    CorporateAction(symbol=symbol, ts_ns=ts, kind="dividend", amount=amount)
                )
        for key, event in (events.get("splits") or {}).items():
            ts = int(event.get("date", key)) * _NS
            if lo <= ts < hi:
                ratio = float(event["numerator"]) / float(event["denominator"])
                actions.append(CorporateAction(symbol=symbol, ts_ns=ts, kind="split", ratio=ratio))
    except (KeyError, TypeError, ValueError, ZeroDivisionError, AttributeError) as exc:
        msg = f"answer for {symbol} has a malformed dividend or split ({exc!r})"
        raise SourceError(YahooFinance.name, msg) from exc
    actions.sort(key=lambda a: (a.ts_ns, a.kind))
    return actions


def _positive(value: Any) -> float | None:
    """Yahoo reports a missing bid or ask as 0 or leaves it out."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def _parse_quote(symbol: str, result: dict[str, Any]) -> Quote:
    meta = result.get("meta") or {}
    price, when = meta.get("regularMarketPrice"), meta.get("regularMarketTime")
    if price is None or when is None:
        msg = f"answer for {symbol} has no regularMarketPrice/Time; check the symbol"
        raise SourceError(YahooFinance.name, msg)
    volume = meta.get("regularMarketVolume")
    try:
        return Quote(
            symbol=symbol,
            source=YahooFinance.name,
            ts_ns=int(when) * _NS,
            price=float(price),
            bid=_positive(meta.get("bid")),
            ask=_positive(meta.get("ask")),
            volume=float(volume) if volume is not None else None,
            currency=str(meta.get("currency") or ""),
        )
    except (TypeError, ValueError) as exc:
        msg = f"answer for {symbol} has a non-numeric price or time ({exc}); malformed"
        raise SourceError(YahooFinance.name, msg) from exc
