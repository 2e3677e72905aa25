"""Shared HTTP for the market-data sources: timeouts, retries, a disk cache, polling.

``httpx`` is an optional dependency (extra ``[data]``), so it is imported only
when a client is built: the rest of :mod:`makerkit.data` works without it.
Public APIs fail in transient ways (timeouts, 5xx, 429) that a short
exponential backoff usually outlasts; anything else becomes a
:class:`~makerkit.core.SourceError` at once, naming the source and what to do.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import hashlib
import json
import logging
import os
import tempfile
import threading
import time
from collections import deque
from collections.abc import AsyncGenerator, Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from types import ModuleType, TracebackType
from typing import TYPE_CHECKING, Any, Self, TypeVar
from urllib.parse import urlencode

from makerkit.core.clock import Clock, LiveClock
from makerkit.core.errors import ConfigError, SourceError
from makerkit.data._types import Quote

if TYPE_CHECKING:
    import httpx

__all__ = [
    "DEFAULT_CACHE_DIR",
    "HttpClient",
    "Params",
    "RateLimiter",
    "ResponseCache",
    "Retry",
    "http_status_error",
    "import_httpx",
    "parse_json",
    "poll_new_quotes",
    "utc_ns",
    "utc_range_ns",
]

log = logging.getLogger("makerkit.data")

DEFAULT_CACHE_DIR = "~/.cache/makerkit/http"
USER_AGENT = "Mozilla/5.0 (compatible; makerkit/0.1; +https://pypi.org/project/makerkit)"
T = TypeVar("T")
Params = Mapping[str, str | int | float]


def import_httpx(source: str) -> ModuleType:
    """Import httpx, or say which extra installs it."""
    try:
        import httpx
    except ImportError as exc:
        raise SourceError(source, "needs `pip install makerkit[data]`") from exc
    return httpx


@dataclass(frozen=True, slots=True)
class Retry:
    """How hard to try: ``attempts`` in all, waits doubling from ``backoff_s``, capped.

    The cap also bounds a server's ``Retry-After``: a caller would rather get an
    error it can act on than block for an hour.
    """

    attempts: int = 4
    backoff_s: float = 0.5
    max_wait_s: float = 30.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            msg = f"invalid `attempts`, must be >= 1, was {self.attempts}"
            raise ConfigError(msg)
        if self.backoff_s < 0 or self.max_wait_s < 0:
            msg = "invalid `backoff_s`/`max_wait_s`, must be >= 0"
            raise ConfigError(msg)

    def wait_s(self, attempt: int, retry_after: str | None = None, now_ns: int = 0) -> float:
        """Seconds to wait after failed try number ``attempt`` (1-based)."""
        hinted = _retry_after_s(retry_after, now_ns) if retry_after else None
        wait = hinted if hinted is not None else self.backoff_s * 2 ** (attempt - 1)
        return min(max(wait, 0.0), self.max_wait_s)


def _retry_after_s(value: str, now_ns: int) -> float | None:
    """``Retry-After`` is either delta-seconds or an HTTP date (RFC 9110 10.2.3)."""
    value = value.strip()
    try:
        return float(value)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp() - now_ns / 1e9


class ResponseCache:
    """Response bodies on disk, keyed by a hash of URL and params, fresh for ``max_age_s``.

    Only bodies the source has parsed successfully are stored, and every write
    goes to a temporary file that is renamed into place, so a crash or a failed
    call never leaves a partial entry behind.
    """

    def __init__(
        self,
        directory: str | Path | None = None,
        *,
        max_age_s: float = 3600.0,
        clock: Clock | None = None,
        secret_params: Collection[str] = (),
    ) -> None:
        self.directory = Path(
            directory if directory is not None else DEFAULT_CACHE_DIR
        ).expanduser()
        self.max_age_s = max_age_s
        self._clock = clock if clock is not None else LiveClock()
        self._secret = frozenset(secret_params)

    def key(self, url: str, params: Params) -> str:
        """The entry name: secrets (API keys) are left out so they never shape a file name."""
        kept = sorted((k, str(v)) for k, v in params.items() if k not in self._secret)
        return hashlib.sha256(f"{url}?{urlencode(kept)}".encode()).hexdigest()

    def path(self, url: str, params: Params) -> Path:
        """Where the entry for this request lives."""
        return self.directory / f"{self.key(url, params)}.body"

    def get(self, url: str, params: Params) -> bytes | None:
        """The stored body if it is fresh, else None."""
        path = self.path(url, params)
        try:
            age_s = self._clock.now_ns() / 1e9 - path.stat().st_mtime
            if age_s > self.max_age_s:
                return None
            return path.read_bytes()
        except OSError:
            return None

    def put(self, url: str, params: Params, body: bytes) -> None:
        """Store ``body`` atomically; a failure is logged, never raised (the cache is optional)."""
        path = self.path(url, params)
        tmp: str | None = None
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-", suffix=".part")
            with os.fdopen(fd, "wb") as out:
                out.write(body)
            Path(tmp).replace(path)  # os.replace: atomic on POSIX and Windows
            tmp = None
        except OSError as exc:
            log.warning("could not write the HTTP cache entry %s: %s", path, exc)
        finally:
            if tmp is not None:
                with contextlib.suppress(OSError):
                    Path(tmp).unlink()

    def drop(self, url: str, params: Params) -> None:
        """Forget an entry (one that no longer parses)."""
        with contextlib.suppress(OSError):
            self.path(url, params).unlink()


class RateLimiter:
    """At most ``calls`` per ``period_s`` (sliding window); ``acquire`` sleeps off the excess.

    Thread-safe, since polling runs the blocking calls in worker threads.
    """

    def __init__(
        self,
        calls: int,
        period_s: float = 60.0,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if calls < 1 or period_s <= 0:
            msg = f"invalid rate limit, need calls >= 1 and period_s > 0, was {calls}/{period_s}"
            raise ConfigError(msg)
        self.calls = calls
        self.period_s = period_s
        self._monotonic = monotonic
        self._sleep = sleep
        self._stamps: deque[float] = deque()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Take one slot, waiting if the window is full; return the seconds waited."""
        waited = 0.0
        with self._lock:
            while True:
                now = self._monotonic()
                while self._stamps and self._stamps[0] <= now - self.period_s:
                    self._stamps.popleft()
                if len(self._stamps) < self.calls:
                    self._stamps.append(now)
                    return waited
                wait = self._stamps[0] + self.period_s - now
                log.info(
                    "rate limit %d/%gs reached; waiting %.1fs", self.calls, self.period_s, wait
                )
                self._sleep(wait)
                waited += wait


class HttpClient:
    """A sync ``httpx.Client`` with retries, an optional cache and an optional rate limiter.

    ``transport`` is injectable (tests pass ``httpx.MockTransport``), as are
    ``sleep`` and ``clock``, so no test waits or depends on the real time.
    """

    def __init__(
        self,
        source: str,
        *,
        timeout_s: float = 10.0,
        retry: Retry | None = None,
        cache: ResponseCache | None = None,
        limiter: RateLimiter | None = None,
        transport: httpx.BaseTransport | None = None,
        headers: Mapping[str, str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Clock | None = None,
    ) -> None:
        self._httpx = import_httpx(source)
        self.source = source
        self.retry = retry if retry is not None else Retry()
        self.cache = cache
        self.limiter = limiter
        self._sleep = sleep
        self._clock = clock if clock is not None else LiveClock()
        self._client: httpx.Client = self._httpx.Client(
            transport=transport,
            timeout=self._httpx.Timeout(timeout_s),
            headers={"User-Agent": USER_AGENT, **(headers or {})},
            follow_redirects=True,
        )

    def close(self) -> None:
        """Release the connection pool."""
        self._client.close()

    def fetch(
        self,
        url: str,
        params: Params,
        *,
        parse: Callable[[int, bytes], T],
        cache: bool = False,
    ) -> T:
        """GET ``url`` and return ``parse(status, body)``.

        ``parse`` sees every final answer (2xx, 3xx and 4xx other than 429) and
        raises :class:`SourceError` for the ones it cannot use; an error status
        it lets through still fails here. Only a 2xx body that parsed is cached.
        """
        if cache and self.cache is not None:
            body = self.cache.get(url, params)
            if body is not None:
                try:
                    return parse(200, body)
                except SourceError:
                    log.warning("dropping an unreadable cache entry for %s", url)
                    self.cache.drop(url, params)
        response = self._get(url, params)
        value = parse(response.status_code, response.content)
        if response.status_code >= 400:
            raise http_status_error(self.source, response.status_code, response.reason_phrase)
        if cache and self.cache is not None and 200 <= response.status_code < 300:
            self.cache.put(url, params, response.content)
        return value

    def get_json(
        self,
        url: str,
        params: Params,
        *,
        check: Callable[[int, Any], None] | None = None,
        cache: bool = False,
    ) -> Any:
        """GET a JSON document; ``check(status, document)`` raises for the API's own errors."""

        def convert(status: int, document: Any) -> Any:
            if check is not None:
                check(status, document)
            return document

        return self.fetch_json(url, params, convert=convert, cache=cache)

    def fetch_json(
        self,
        url: str,
        params: Params,
        *,
        convert: Callable[[int, Any], T],
        cache: bool = False,
    ) -> T:
        """GET a JSON document and return ``convert(status, document)``.

        Doing the conversion here, before anything is cached, means an answer
        that fails to convert (an API error, a malformed series) is never stored.
        """

        def parse(status: int, body: bytes) -> T:
            return convert(status, parse_json(self.source, status, body))

        return self.fetch(url, params, parse=parse, cache=cache)

    def _get(self, url: str, params: Params) -> httpx.Response:
        httpx = self._httpx
        attempts = self.retry.attempts
        attempt = 0
        while True:
            attempt += 1
            if self.limiter is not None:
                self.limiter.acquire()
            retry_after: str | None = None
            try:
                response = self._client.get(url, params=dict(params))
            except httpx.TimeoutException:
                reason = f"timed out after {self._client.timeout.read}s"
            except (httpx.NetworkError, httpx.RemoteProtocolError) as exc:
                reason = f"connection failed ({type(exc).__name__}: {exc})"
            except httpx.HTTPError as exc:
                msg = f"request failed ({type(exc).__name__}: {exc}); check the URL and proxy"
                raise SourceError(self.source, msg) from exc
            else:
                status = response.status_code
                if status != 429 and status < 500:
                    return response
                retry_after = response.headers.get("Retry-After")
                reason = f"HTTP {status} {response.reason_phrase}".rstrip()
            if attempt == attempts:
                raise _gave_up(self.source, reason, attempts)
            wait = self.retry.wait_s(attempt, retry_after, self._clock.now_ns())
            log.warning(
                "%s: %s %s; retry %d/%d in %.2fs",
                self.source,
                url,
                reason,
                attempt,
                attempts - 1,
                wait,
            )
            self._sleep(wait)


def _gave_up(source: str, reason: str, attempts: int) -> SourceError:
    tries = f"after {attempts} tr{'y' if attempts == 1 else 'ies'}"
    if reason.startswith("HTTP 429"):
        advice = "the server is rate limiting this client; wait a minute, then call less often"
    elif reason.startswith("HTTP"):
        advice = "the server is failing; try again later"
    else:
        advice = "check the network connection and try again later"
    return SourceError(source, f"{reason} {tries}: {advice}", retryable=True)


def http_status_error(source: str, status: int, reason: str = "") -> SourceError:
    """An error for a final HTTP status the source had nothing better to say about."""
    head = f"HTTP {status} {reason}".rstrip()
    if status == 404:
        return SourceError(source, f"{head}: not found; check the symbol and the dates")
    if status in (401, 403):
        return SourceError(source, f"{head}: access denied; check the API key or your network")
    return SourceError(source, f"{head}: the request was refused; check its arguments")


def parse_json(source: str, status: int, body: bytes) -> Any:
    """Decode a JSON body; a body that does not decode is the source's fault, and named so."""
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        if status >= 400:
            raise http_status_error(source, status) from exc
        snippet = body[:60].decode("utf-8", "replace")
        msg = (
            f"answered with malformed JSON ({exc}; starts {snippet!r}); "
            "try again later, and report it if it persists"
        )
        raise SourceError(source, msg, retryable=True) from exc


def utc_ns(value: str | date | datetime, what: str = "time") -> int:
    """An ISO date or datetime as UTC nanoseconds; naive values are taken as UTC."""
    if isinstance(value, datetime):
        when = value
    elif isinstance(value, date):
        when = datetime(value.year, value.month, value.day, tzinfo=UTC)
    else:
        try:
            when = datetime.fromisoformat(value.strip())
        except (ValueError, AttributeError) as exc:
            msg = (
                f"invalid `{what}`, must be an ISO date or datetime like 2024-10-02, was {value!r}"
            )
            raise ConfigError(msg) from exc
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    delta = when - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


def utc_range_ns(start: str | date | datetime, end: str | date | datetime) -> tuple[int, int]:
    """``[start, end)`` as UTC nanoseconds; an empty or reversed range is a caller's mistake."""
    lo, hi = utc_ns(start, "start"), utc_ns(end, "end")
    if lo >= hi:
        msg = f"invalid range, `start` must be before `end`, was {start!r} >= {end!r}"
        raise ConfigError(msg)
    return lo, hi


def _is_new(quote: Quote, last: Quote | None) -> bool:
    if last is None or quote.ts_ns > last.ts_ns:
        return True
    if quote.ts_ns < last.ts_ns:  # a stale answer from a lagging cache or replica
        return False
    return (quote.price, quote.bid, quote.ask, quote.volume) != (
        last.price,
        last.bid,
        last.ask,
        last.volume,
    )


async def poll_new_quotes(
    source: str,
    fetch: Callable[[], Quote],
    *,
    every_s: float,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> AsyncGenerator[Quote, None]:
    """Call the blocking ``fetch`` in a thread every ``every_s`` and yield quotes that changed.

    A retryable failure (the source is briefly down or rate limiting) is logged
    and the loop goes on, since a poller is meant to outlive outages; any other
    failure ends it.
    """
    if not every_s > 0:
        msg = f"invalid `every_s`, must be > 0, was {every_s}"
        raise ConfigError(msg)
    last: Quote | None = None
    while True:
        try:
            quote = await asyncio.to_thread(fetch)
        except SourceError as exc:
            if not exc.retryable:
                raise
            log.warning("%s: poll failed, will try again: %s", source, exc)
        else:
            if _is_new(quote, last):
                last = quote
                yield quote
        await sleep(every_s)


class HttpSource:
    """What every HTTP-backed source shares: closing its client, as a context manager too."""

    _http: HttpClient

    def close(self) -> None:
        """Release the connection pool."""
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
