"""Alpha Vantage (``www.alphavantage.co/query``): quotes, daily and intraday bars, FX rates.

Alpha Vantage answers most failures with HTTP 200 and a JSON note instead of
a status code: ``"Note"``/``"Information"`` when a rate limit is hit (free
keys get a few calls a minute and a small daily cap) and ``"Error Message"``
for a bad request. Those become :class:`~makerkit.core.SourceError`, and a
client-side limiter keeps a well-behaved caller from hitting the limit at all.

Every number arrives as a string and series come newest first; bars are
returned oldest first as floats.
"""

from __future__ import annotations

import asyncio
import csv
import io
import os
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable
from datetime import UTC, date, datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np

from makerkit.core.clock import Clock, LiveClock
from makerkit.core.errors import ConfigError, SourceError
from makerkit.data._http import (
    HttpClient,
    HttpSource,
    RateLimiter,
    ResponseCache,
    Retry,
    http_status_error,
    poll_new_quotes,
    utc_ns,
    utc_range_ns,
)
from makerkit.data._types import Bars, Quote

if TYPE_CHECKING:
    import httpx

__all__ = ["API_KEY_ENV", "QUERY_URL", "AlphaVantage", "parse_intraday_csv"]

SOURCE = "alpha_vantage"
QUERY_URL = "https://www.alphavantage.co/query"
API_KEY_ENV = "ALPHAVANTAGE_API_KEY"
INTRADAY_S = {"1min": 60, "5min": 300, "15min": 900, "30min": 1800, "60min": 3600}
_ALIASES = {"1m": "1min", "5m": "5min", "15m": "15min", "30m": "30min", "60m": "60min"}
_ALIASES |= {"1h": "60min", "1day": "1d", "daily": "1d"}
_COMPACT_DAYS = 100  # "compact" is the latest 100 points: ~140 calendar days, with margin
_LIMIT_WORDS = ("rate limit", "call frequency", "calls per", "requests per")
_NS = 1_000_000_000
_DAY_NS = 86_400 * _NS
Stamps = Literal["end", "start"]
When = str | date | datetime
T = TypeVar("T")


class AlphaVantage(HttpSource):
    """Quotes, bars and exchange rates from Alpha Vantage.

    The key comes from ``api_key`` or the ``ALPHAVANTAGE_API_KEY`` variable,
    read at the first call that needs it. ``calls_per_minute`` (default 5,
    the free tier; ``None`` turns the limiter off) is enforced on this client
    by sleeping. ``intraday_stamps`` says how the API labels intraday bars:
    recorded answers label a bar by its end (there is a 20:00 bar and no 04:00
    one in extended hours), so "end" shifts labels back one interval to get
    each bar's start. Daily bars and quotes are stamped at 00:00 UTC of their
    trading day, the only time Alpha Vantage gives.
    """

    name = SOURCE

    def __init__(
        self,
        api_key: str | None = None,
        *,
        calls_per_minute: int | None = 5,
        timeout_s: float = 15.0,
        retry: Retry | None = None,
        cache: bool = True,
        cache_dir: str | Path | None = None,
        cache_max_age_s: float = 3600.0,
        outputsize: Literal["compact", "full"] | None = None,
        intraday_stamps: Stamps = "end",
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        async_sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Clock | None = None,
        base_url: str = QUERY_URL,
    ) -> None:
        if intraday_stamps not in ("end", "start"):
            msg = f"invalid `intraday_stamps`, must be 'end' or 'start', was {intraday_stamps!r}"
            raise ConfigError(msg)
        if outputsize not in (None, "compact", "full"):
            msg = f"invalid `outputsize`, must be None, 'compact' or 'full', was {outputsize!r}"
            raise ConfigError(msg)
        self.base_url = base_url
        self.outputsize = outputsize
        self.intraday_stamps: Stamps = intraday_stamps
        self._api_key = api_key
        self._async_sleep = async_sleep
        self._clock = clock if clock is not None else LiveClock()
        self.limiter = (
            RateLimiter(calls_per_minute, 60.0, monotonic=monotonic, sleep=sleep)
            if calls_per_minute is not None
            else None
        )
        store = (
            ResponseCache(
                cache_dir, max_age_s=cache_max_age_s, clock=clock, secret_params=("apikey",)
            )
            if cache
            else None
        )
        self._http = HttpClient(
            self.name,
            timeout_s=timeout_s,
            retry=retry,
            cache=store,
            limiter=self.limiter,
            transport=transport,
            sleep=sleep,
            clock=clock,
        )

    def quote(self, symbol: str) -> Quote:
        """The latest price (GLOBAL_QUOTE), stamped with its trading day."""
        symbol = _check_symbol(symbol)
        params = {"symbol": symbol}
        return self._query("GLOBAL_QUOTE", params, lambda d: _quote(symbol, d), cache=False)

    def exchange_rate(self, from_ccy: str, to_ccy: str) -> Quote:
        """The latest rate (CURRENCY_EXCHANGE_RATE) as a quote on ``FROM/TO``."""
        base, term = _check_symbol(from_ccy).upper(), _check_symbol(to_ccy).upper()
        params = {"from_currency": base, "to_currency": term}
        return self._query(
            "CURRENCY_EXCHANGE_RATE", params, lambda d: _rate(base, term, d), cache=False
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
        """Bars starting in [start, end), oldest first.

        "1d" uses TIME_SERIES_DAILY; "1min" … "60min" use TIME_SERIES_INTRADAY
        (the trailing month; ``prepost`` adds extended hours).
        """
        av_interval = _ALIASES.get(interval, interval)
        if av_interval != "1d" and av_interval not in INTRADAY_S:
            msg = (
                "invalid `interval` for Alpha Vantage, must be '1d' or one of "
                f"{sorted(INTRADAY_S)}, was {interval!r}"
            )
            raise ConfigError(msg)
        symbol = _check_symbol(symbol)
        lo, hi = utc_range_ns(start, end)
        if av_interval == "1d":
            function, key, shift = "TIME_SERIES_DAILY", "Time Series (Daily)", 0
            params = {"symbol": symbol, "outputsize": self._daily_outputsize(lo)}
        else:
            function, key = "TIME_SERIES_INTRADAY", f"Time Series ({av_interval})"
            shift = INTRADAY_S[av_interval] if self.intraday_stamps == "end" else 0
            params = {
                "symbol": symbol,
                "interval": av_interval,
                "outputsize": self.outputsize or "full",
                "extended_hours": "true" if prepost else "false",
            }

        def convert(document: dict[str, Any]) -> Bars:
            series = document.get(key)
            if not isinstance(series, dict):
                msg = f"{function} answer for {symbol} has no `{key}`; the API may have changed"
                raise SourceError(SOURCE, msg)
            zone = _zone(_fields(document.get("Meta Data")).get("Time Zone", "US/Eastern"))
            rows = ((stamp, _fields(row)) for stamp, row in series.items())
            return _to_bars(symbol, interval, rows, zone, shift, lo, hi)

        return self._query(function, params, convert, cache=True)

    def poll(self, symbol: str, *, every_s: float = 60.0) -> AsyncGenerator[Quote, None]:
        """Quotes every ``every_s`` seconds, yielding only ones that changed.

        The default is a minute because the free tier allows only a few calls a
        minute; the limiter slows a faster poll down anyway.
        """
        symbol = _check_symbol(symbol)
        return poll_new_quotes(
            self.name, lambda: self.quote(symbol), every_s=every_s, sleep=self._async_sleep
        )

    def _key(self) -> str:
        key = self._api_key or os.environ.get(API_KEY_ENV, "")
        if not key.strip():
            raise SourceError(self.name, f"set {API_KEY_ENV} or pass api_key=...")
        return key.strip()

    def _daily_outputsize(self, lo: int) -> str:
        if self.outputsize is not None:
            return self.outputsize
        recent = self._clock.now_ns() - lo <= _COMPACT_DAYS * _DAY_NS
        return "compact" if recent else "full"

    def _query(
        self,
        function: str,
        params: dict[str, str],
        convert: Callable[[dict[str, Any]], T],
        *,
        cache: bool,
    ) -> T:
        """Call ``function``, converting inside the fetch so a failing answer is never cached."""
        query = {"function": function, **params, "apikey": self._key()}
        check = self._checker(function)

        def on_answer(status: int, document: Any) -> T:
            check(status, document)
            if status >= 400:
                raise http_status_error(self.name, status)
            return convert(document)

        return self._http.fetch_json(self.base_url, query, convert=on_answer, cache=cache)

    def _checker(self, function: str) -> Callable[[int, Any], None]:
        def check(status: int, document: Any) -> None:
            if not isinstance(document, dict):
                if status >= 400:
                    return
                msg = f"{function} answer is not a JSON object; the API may have changed"
                raise SourceError(self.name, msg)
            if "Error Message" in document:
                text = str(document["Error Message"])
                msg = f"rejected {function}: {text!r}; check the symbol and the parameters"
                raise SourceError(self.name, msg)
            for field in ("Note", "Information"):
                if field in document:
                    raise self._notice(function, str(document[field]))

        return check

    def _notice(self, function: str, text: str) -> SourceError:
        """Alpha Vantage's notes mean a rate limit, except the ones about keys or premium plans."""
        lowered = text.lower()
        limited = any(word in lowered for word in _LIMIT_WORDS)
        if not limited and any(word in lowered for word in ("apikey", "api key")):
            msg = f"refused the API key for {function}: {text!r}; check {API_KEY_ENV}"
            return SourceError(self.name, msg)
        if not limited and "premium" in lowered:
            msg = f"{function} needs a premium plan: {text!r}; use another function or plan"
            return SourceError(self.name, msg)
        ours = (
            f"this client allows {self.limiter.calls} calls/minute"
            if self.limiter is not None
            else "this client's limiter is off"
        )
        msg = (
            f"rate limit reached on {function} ({ours}; free keys also have a daily cap): "
            f"{text!r}; wait a minute (or until tomorrow for the daily cap) and retry, "
            "or lower calls_per_minute"
        )
        return SourceError(self.name, msg, retryable=True)


def _quote(symbol: str, document: dict[str, Any]) -> Quote:
    fields = _fields(document.get("Global Quote"))
    if not fields:
        msg = f"has no quote for {symbol}; check the symbol (Alpha Vantage answered empty)"
        raise SourceError(SOURCE, msg)
    try:
        day = date.fromisoformat(fields["latest trading day"])
        price = _number(fields["price"])
        volume = _number(fields["volume"]) if "volume" in fields else None
    except (KeyError, ValueError, TypeError) as exc:
        msg = f"GLOBAL_QUOTE for {symbol} lacks or garbles {exc}; malformed"
        raise SourceError(SOURCE, msg) from exc
    return Quote(symbol=symbol, source=SOURCE, ts_ns=utc_ns(day), price=price, volume=volume)


def _rate(base: str, term: str, document: dict[str, Any]) -> Quote:
    fields = _fields(document.get("Realtime Currency Exchange Rate"))
    if not fields:
        msg = f"has no exchange rate for {base}/{term}; check the currency codes"
        raise SourceError(SOURCE, msg)
    try:
        ts = _local_ns(fields["Last Refreshed"], _zone(fields.get("Time Zone", "UTC")))
        rate = _number(fields["Exchange Rate"])
    except (KeyError, ValueError, TypeError) as exc:
        msg = f"CURRENCY_EXCHANGE_RATE for {base}/{term} lacks or garbles {exc}; malformed"
        raise SourceError(SOURCE, msg) from exc
    return Quote(
        symbol=f"{base}/{term}",
        source=SOURCE,
        ts_ns=ts,
        price=rate,
        bid=_optional(fields.get("Bid Price")),
        ask=_optional(fields.get("Ask Price")),
        currency=term,
    )


def parse_intraday_csv(
    text: str,
    *,
    symbol: str,
    interval: str = "1min",
    time_zone: str = "US/Eastern",
    stamps: Stamps = "end",
) -> Bars:
    """Bars from Alpha Vantage's CSV intraday answer (``datatype=csv``), oldest first.

    The columns are ``time`` (or ``timestamp``),open,high,low,close,volume,
    newest first, in exchange time; this covers the retired
    TIME_SERIES_INTRADAY_EXTENDED slices too.
    """
    av_interval = _ALIASES.get(interval, interval)
    if av_interval not in INTRADAY_S:
        msg = f"invalid `interval`, must be one of {sorted(INTRADAY_S)}, was {interval!r}"
        raise ConfigError(msg)
    reader = csv.reader(io.StringIO(text))
    header = [name.strip().lower() for name in next(reader, [])]
    if header[:1] not in (["time"], ["timestamp"]) or header[1:6] != [
        "open",
        "high",
        "low",
        "close",
        "volume",
    ]:
        msg = f"CSV answer has header {header!r}, expected time,open,high,low,close,volume"
        raise SourceError(SOURCE, msg)
    names = ("open", "high", "low", "close", "volume")
    rows = ((line[0], dict(zip(names, line[1:6], strict=False))) for line in reader if line)
    shift = INTRADAY_S[av_interval] if stamps == "end" else 0
    return _to_bars(symbol, interval, rows, _zone(time_zone), shift, None, None)


def _check_symbol(symbol: str) -> str:
    if not isinstance(symbol, str) or not symbol.strip():
        msg = f"invalid `symbol`, must be a non-empty string, was {symbol!r}"
        raise ConfigError(msg)
    return symbol.strip()


def _fields(block: Any) -> dict[str, str]:
    """``{"05. price": "1.0"}`` -> ``{"price": "1.0"}``: the numeric prefixes vary by function."""
    if not isinstance(block, dict):
        return {}
    return {str(key).split(". ", 1)[-1]: value for key, value in block.items()}


def _number(value: Any) -> float:
    return float(str(value).strip().rstrip("%"))


def _optional(value: Any) -> float | None:
    """Rates sometimes come with "-" for an unknown bid or ask."""
    try:
        return _number(value) if value is not None else None
    except ValueError:
        return None


def _zone(name: str) -> tzinfo:
    if name.strip().upper() in ("UTC", "GMT"):
        return UTC
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError) as exc:
        msg = f"answered in time zone {name!r}, unknown here; install the `tzdata` package"
        raise SourceError(SOURCE, msg) from exc


def _local_ns(stamp: str, zone: tzinfo) -> int:
    """A local "YYYY-MM-DD[ HH:MM:SS]" as UTC ns; a bare date is 00:00 UTC of that day."""
    stamp = stamp.strip()
    if len(stamp) == 10:
        return utc_ns(date.fromisoformat(stamp))
    return utc_ns(datetime.fromisoformat(stamp).replace(tzinfo=zone))


def _to_bars(
    symbol: str,
    interval: str,
    rows: Iterable[tuple[str, dict[str, str]]],
    zone: tzinfo,
    shift_s: int,
    lo: int | None,
    hi: int | None,
) -> Bars:
    stamps: list[int] = []
    values: list[tuple[float, float, float, float, float]] = []
    for stamp, row in rows:
        try:
            ts = _local_ns(stamp, zone) - shift_s * _NS
            bar = (
                _number(row["open"]),
                _number(row["high"]),
                _number(row["low"]),
                _number(row["close"]),
                _number(row["volume"]),
            )
        except (KeyError, ValueError, TypeError) as exc:
            msg = f"bar {stamp!r} for {symbol} lacks or garbles {exc}; malformed"
            raise SourceError(SOURCE, msg) from exc
        if (lo is None or ts >= lo) and (hi is None or ts < hi):
            stamps.append(ts)
            values.append(bar)
    ts_ns = np.asarray(stamps, dtype=np.int64)
    table = np.asarray(values, dtype=np.float64).reshape(-1, 5)
    order = np.argsort(ts_ns, kind="stable")  # the API sends newest first
    table = table[order]
    return Bars(
        symbol=symbol,
        interval=interval,
        source=SOURCE,
        ts_ns=np.ascontiguousarray(ts_ns[order]),
        open=np.ascontiguousarray(table[:, 0]),
        high=np.ascontiguousarray(table[:, 1]),
        low=np.ascontiguousarray(table[:, 2]),
        close=np.ascontiguousarray(table[:, 3]),
        volume=np.ascontiguousarray(table[:, 4]),
    )
