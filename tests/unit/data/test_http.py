"""The shared HTTP layer: retries with backoff, Retry-After, the disk cache, the rate limiter."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from makerkit.core import ConfigError, SimClock, SourceError
from makerkit.data._http import (
    DEFAULT_CACHE_DIR,
    HttpClient,
    RateLimiter,
    ResponseCache,
    Retry,
    import_httpx,
    poll_new_quotes,
    utc_ns,
    utc_range_ns,
)
from makerkit.data._types import Quote

URL = "https://api.example.test/v1/thing"
OK = b'{"value": 42}'
BAD = "the API said bad"
Reply = httpx.Response | Exception


class Script:
    """A MockTransport handler that plays a list of replies and records each request."""

    def __init__(self, *replies: Reply) -> None:
        self.replies = list(replies)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if not self.replies:
            msg = f"unexpected request {request.url}"
            raise AssertionError(msg)
        reply = self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return reply


def client(
    script: Script, sleeps: list[float], *, cache: ResponseCache | None = None, **kw: Any
) -> HttpClient:
    return HttpClient(
        "testsrc",
        transport=httpx.MockTransport(script),
        sleep=sleeps.append,
        cache=cache,
        clock=kw.pop("clock", SimClock(1_700_000_000 * 10**9)),
        **kw,
    )


def files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


# --- retries ---------------------------------------------------------------------------------


def test_500_is_retried_with_exponential_backoff_then_succeeds() -> None:
    script = Script(httpx.Response(500), httpx.Response(502), httpx.Response(200, content=OK))
    sleeps: list[float] = []
    with contextlib.closing(client(script, sleeps)) as http:
        assert http.get_json(URL, {"a": 1}) == {"value": 42}
    assert len(script.requests) == 3
    assert sleeps == [0.5, 1.0]  # backoff_s doubling
    assert all(r.url.params["a"] == "1" for r in script.requests)


def test_5xx_every_time_gives_a_retryable_error_naming_source_and_advice() -> None:
    script = Script(*[httpx.Response(503) for _ in range(3)])
    sleeps: list[float] = []
    http = client(script, sleeps, retry=Retry(attempts=3, backoff_s=1.0, max_wait_s=1.5))
    with pytest.raises(SourceError) as info:
        http.get_json(URL, {})
    err = info.value
    assert err.source == "testsrc" and err.retryable
    assert str(err).startswith("testsrc: HTTP 503")
    assert "after 3 tries" in str(err) and "try again later" in str(err)
    assert sleeps == [1.0, 1.5]  # 2.0 capped at max_wait_s
    assert len(script.requests) == 3


def test_429_honours_retry_after_seconds_then_succeeds() -> None:
    script = Script(
        httpx.Response(429, headers={"Retry-After": "7"}), httpx.Response(200, content=OK)
    )
    sleeps: list[float] = []
    assert client(script, sleeps).get_json(URL, {}) == {"value": 42}
    assert sleeps == [7.0]


def test_429_retry_after_is_capped_and_an_http_date_is_understood() -> None:
    now = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    clock = SimClock(int(now.timestamp()) * 10**9)
    later = format_datetime(now + timedelta(seconds=12), usegmt=True)
    script = Script(
        httpx.Response(429, headers={"Retry-After": "3600"}),
        httpx.Response(429, headers={"Retry-After": later}),
        httpx.Response(429, headers={"Retry-After": "soon"}),  # unreadable: plain backoff
        httpx.Response(200, content=OK),
    )
    sleeps: list[float] = []
    http = client(script, sleeps, clock=clock, retry=Retry(attempts=4, max_wait_s=20.0))
    assert http.get_json(URL, {}) == {"value": 42}
    assert sleeps == [20.0, 12.0, 2.0]


def test_429_every_time_says_rate_limited() -> None:
    script = Script(*[httpx.Response(429) for _ in range(2)])
    with pytest.raises(SourceError, match=r"testsrc: HTTP 429.*rate limiting.*call less often"):
        client(script, [], retry=Retry(attempts=2)).get_json(URL, {})


@pytest.mark.parametrize(
    "failure",
    [
        httpx.ReadTimeout("slow"),
        httpx.ConnectTimeout("slow"),
        httpx.ConnectError("refused"),
        httpx.RemoteProtocolError("peer closed"),
    ],
)
def test_timeouts_and_connection_errors_are_retried(failure: Exception) -> None:
    script = Script(failure, httpx.Response(200, content=OK))
    sleeps: list[float] = []
    assert client(script, sleeps).get_json(URL, {}) == {"value": 42}
    assert sleeps == [0.5]


def test_timeouts_every_time_give_a_retryable_error() -> None:
    script = Script(*[httpx.ReadTimeout("slow") for _ in range(4)])
    with pytest.raises(SourceError) as info:
        client(script, [], timeout_s=2.5).get_json(URL, {})
    assert info.value.retryable
    assert "testsrc: timed out after 2.5s after 4 tries" in str(info.value)
    assert "check the network" in str(info.value)


def test_retries_are_logged_on_the_makerkit_data_logger(caplog: pytest.LogCaptureFixture) -> None:
    script = Script(httpx.Response(500), httpx.Response(200, content=OK))
    with caplog.at_level(logging.WARNING, logger="makerkit.data"):
        client(script, []).get_json(URL, {})
    assert [r.name for r in caplog.records] == ["makerkit.data"]
    assert "HTTP 500" in caplog.records[0].getMessage() and "retry 1/3" in caplog.records[0].message


@pytest.mark.parametrize(
    ("status", "words"),
    [(404, "not found; check the symbol"), (403, "access denied"), (400, "refused")],
)
def test_other_4xx_are_not_retried(status: int, words: str) -> None:
    script = Script(httpx.Response(status, content=b"<html>nope</html>"))
    sleeps: list[float] = []
    with pytest.raises(SourceError) as info:
        client(script, sleeps).get_json(URL, {})
    assert len(script.requests) == 1 and sleeps == []
    assert not info.value.retryable
    assert str(info.value).startswith(f"testsrc: HTTP {status}") and words in str(info.value)


def test_an_unretryable_transport_error_is_a_source_error() -> None:
    script = Script(httpx.UnsupportedProtocol("ftp?"))
    with pytest.raises(SourceError, match="testsrc: request failed"):
        client(script, []).get_json(URL, {})
    assert len(script.requests) == 1


@pytest.mark.parametrize("body", [b"<html>maintenance</html>", b'{"value": 4', b"", b"\xff\xfe"])
def test_malformed_json_is_a_source_error(body: bytes, tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "c")
    script = Script(httpx.Response(200, content=body))
    with pytest.raises(SourceError, match="testsrc: answered with malformed JSON"):
        client(script, [], cache=cache).get_json(URL, {}, cache=True)
    assert files(tmp_path / "c") == []


def test_check_sees_the_document_and_its_errors_propagate(tmp_path: Path) -> None:
    seen: list[tuple[int, Any]] = []

    def check(status: int, doc: Any) -> None:
        seen.append((status, doc))
        if doc.get("bad"):
            raise SourceError(http.source, BAD)

    cache = ResponseCache(tmp_path)
    script = Script(httpx.Response(200, content=b'{"bad": true}'))
    http = client(script, [], cache=cache)
    with pytest.raises(SourceError, match="the API said bad"):
        http.get_json(URL, {}, check=check, cache=True)
    assert seen == [(200, {"bad": True})]
    assert files(tmp_path) == []  # a failed call caches nothing


def test_retry_policy_validates() -> None:
    with pytest.raises(ConfigError):
        Retry(attempts=0)
    with pytest.raises(ConfigError):
        Retry(backoff_s=-1)
    assert Retry(backoff_s=1, max_wait_s=100).wait_s(4) == 8.0


# --- cache -----------------------------------------------------------------------------------


def test_cache_serves_a_repeat_without_the_network(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path, max_age_s=60)
    script = Script(httpx.Response(200, content=OK))
    http = client(script, [], cache=cache)
    assert http.get_json(URL, {"a": 1, "b": "x"}, cache=True) == {"value": 42}
    # same params in another order and type: the same entry
    assert http.get_json(URL, {"b": "x", "a": "1"}, cache=True) == {"value": 42}
    assert len(script.requests) == 1
    (entry,) = files(tmp_path)
    expected = hashlib.sha256(f"{URL}?a=1&b=x".encode()).hexdigest()
    assert entry == f"{expected}.body"
    assert (tmp_path / entry).read_bytes() == OK


def test_cache_is_bypassed_when_not_asked_for_and_keyed_by_params(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path)
    script = Script(*[httpx.Response(200, content=OK) for _ in range(3)])
    http = client(script, [], cache=cache)
    http.get_json(URL, {"a": 1}, cache=True)
    http.get_json(URL, {"a": 2}, cache=True)  # other params: a miss
    http.get_json(URL, {"a": 1})  # cache=False: always the network
    assert len(script.requests) == 3
    assert len(files(tmp_path)) == 2


def test_a_stale_entry_is_refetched(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path, max_age_s=3600)  # LiveClock: real file times
    script = Script(httpx.Response(200, content=b"[1]"), httpx.Response(200, content=b"[2]"))
    http = client(script, [], cache=cache)
    assert http.get_json(URL, {}, cache=True) == [1]
    path = cache.path(URL, {})
    old = time.time() - 7200
    os.utime(path, (old, old))
    assert http.get_json(URL, {}, cache=True) == [2]
    assert path.read_bytes() == b"[2]"
    assert len(script.requests) == 2


def test_a_corrupt_entry_is_dropped_and_refetched(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path)
    path = cache.path(URL, {"q": "x"})
    path.write_bytes(b'{"value": 4')  # truncated by someone else's crash
    script = Script(httpx.Response(200, content=OK))
    assert client(script, [], cache=cache).get_json(URL, {"q": "x"}, cache=True) == {"value": 42}
    assert len(script.requests) == 1 and path.read_bytes() == OK


def test_a_failed_cache_write_leaves_no_file_and_still_returns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken_replace(self: Path, target: Path) -> Path:
        msg = "disk full"
        raise OSError(msg)

    monkeypatch.setattr(Path, "replace", broken_replace)
    cache = ResponseCache(tmp_path)
    script = Script(httpx.Response(200, content=OK))
    with caplog.at_level(logging.WARNING, logger="makerkit.data"):
        assert client(script, [], cache=cache).get_json(URL, {}, cache=True) == {"value": 42}
    assert files(tmp_path) == []  # the temp file is gone too
    assert "disk full" in caplog.text


def test_writes_go_through_a_temp_file_in_the_same_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    moves: list[tuple[str, str]] = []
    real = Path.replace

    def spy(self: Path, target: Path) -> Path:
        moves.append((self.name, Path(target).name))
        assert self.parent == Path(target).parent and self.read_bytes() == OK
        return real(self, target)

    monkeypatch.setattr(Path, "replace", spy)
    cache = ResponseCache(tmp_path / "deep" / "dir")
    cache.put(URL, {}, OK)
    ((tmp_name, final),) = moves
    assert tmp_name.startswith(".tmp-") and final == cache.path(URL, {}).name
    assert files(tmp_path / "deep" / "dir") == [final]


def test_default_cache_directory_and_secret_params(monkeypatch: pytest.MonkeyPatch) -> None:
    assert DEFAULT_CACHE_DIR == "~/.cache/makerkit/http"
    cache = ResponseCache()
    assert cache.directory == Path("~/.cache/makerkit/http").expanduser()
    hidden = ResponseCache("/nowhere", secret_params=("apikey",))
    assert hidden.key(URL, {"s": "A", "apikey": "one"}) == hidden.key(URL, {"s": "A", "apikey": 2})
    assert cache.key(URL, {"s": "A", "apikey": "one"}) != cache.key(URL, {"s": "A", "apikey": 2})


# --- httpx is optional -------------------------------------------------------------------------


def test_missing_httpx_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "httpx", None)  # makes `import httpx` fail
    with pytest.raises(SourceError) as info:
        import_httpx("testsrc")
    assert str(info.value) == "testsrc: needs `pip install makerkit[data]`"
    with pytest.raises(SourceError, match="needs `pip install makerkit\\[data\\]`"):
        HttpClient("testsrc")


# --- rate limiter ------------------------------------------------------------------------------


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_rate_limiter_sleeps_off_the_excess_in_a_sliding_window() -> None:
    t = FakeTime()
    limiter = RateLimiter(5, 60.0, monotonic=t.monotonic, sleep=t.sleep)
    for _ in range(5):
        assert limiter.acquire() == 0.0
        t.now += 2.0  # calls 2 s apart: 1000, 1002, ..., 1008
    assert t.slept == []
    assert limiter.acquire() == pytest.approx(50.0)  # the first slot frees at 1060
    assert t.now == pytest.approx(1060.0)
    t.now += 100.0  # the window emptied
    assert limiter.acquire() == 0.0
    assert t.slept == [pytest.approx(50.0)]


def test_rate_limiter_validates() -> None:
    with pytest.raises(ConfigError):
        RateLimiter(0)
    with pytest.raises(ConfigError):
        RateLimiter(5, 0.0)


def test_limiter_counts_every_network_attempt_but_not_cache_hits(tmp_path: Path) -> None:
    t = FakeTime()
    limiter = RateLimiter(2, 60.0, monotonic=t.monotonic, sleep=t.sleep)
    script = Script(httpx.Response(500), httpx.Response(200, content=OK))
    http = client(script, [], cache=ResponseCache(tmp_path), limiter=limiter)
    http.get_json(URL, {}, cache=True)  # two attempts: the window is full
    http.get_json(URL, {}, cache=True)  # from the cache: no slot needed
    assert t.slept == []
    script.replies.append(httpx.Response(200, content=OK))
    http.get_json(URL, {"other": 1}, cache=True)
    assert t.slept == [pytest.approx(60.0)]


# --- time arguments ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("2021-02-01", 1612137600),
        ("2021-02-01T14:30:00", 1612189800),
        ("2021-02-01T14:30:00Z", 1612189800),
        ("2021-02-01T09:30:00-05:00", 1612189800),
        (date(2021, 2, 1), 1612137600),
        (datetime(2021, 2, 1, 15, 30, tzinfo=timezone(timedelta(hours=1))), 1612189800),
    ],
)
def test_utc_ns_reads_iso_dates_and_datetimes(value: Any, seconds: int) -> None:
    assert utc_ns(value) == seconds * 10**9


def test_utc_ns_keeps_microseconds() -> None:
    assert utc_ns("2021-02-01T00:00:00.000001") == 1612137600 * 10**9 + 1000


@pytest.mark.parametrize("value", ["yesterday", "2021-13-01", "", "01/02/2021"])
def test_bad_times_are_config_errors(value: str) -> None:
    with pytest.raises(ConfigError, match="invalid `start`"):
        utc_range_ns(value, "2022-01-01")


@pytest.mark.parametrize(
    ("start", "end"), [("2021-02-01", "2021-02-01"), ("2022-01-01", "2021-12-31")]
)
def test_an_empty_or_reversed_range_is_a_config_error(start: str, end: str) -> None:
    with pytest.raises(ConfigError, match="`start` must be before `end`"):
        utc_range_ns(start, end)


# --- polling -----------------------------------------------------------------------------------


def q(ts: int, price: float, volume: float | None = None) -> Quote:
    return Quote(symbol="X", source="testsrc", ts_ns=ts, price=price, volume=volume)


def feed(items: list[Quote | SourceError]) -> Callable[[], Quote]:
    it: Iterator[Quote | SourceError] = iter(items)

    def fetch() -> Quote:
        item = next(it)
        if isinstance(item, SourceError):
            raise item
        return item

    return fetch


def collect(n: int, fetch: Callable[[], Quote], naps: list[float]) -> list[Quote]:
    async def nap(seconds: float) -> None:
        naps.append(seconds)

    async def run() -> list[Quote]:
        out: list[Quote] = []
        gen = poll_new_quotes("testsrc", fetch, every_s=2.5, sleep=nap)
        async with contextlib.aclosing(gen):
            async for quote in gen:
                out.append(quote)
                if len(out) == n:
                    break
        return out

    return asyncio.run(run())


def test_poll_yields_only_new_quotes_and_outlives_retryable_errors() -> None:
    items: list[Quote | SourceError] = [
        q(1, 10.0),
        q(1, 10.0),  # the same: skipped
        SourceError("testsrc", "HTTP 503 after 4 tries", retryable=True),
        q(0, 9.0),  # older: skipped
        q(1, 10.5),  # same time, new price (a day-stamped quote moving): new
        q(2, 10.5),
    ]
    naps: list[float] = []
    got = collect(3, feed(items), naps)
    assert [(x.ts_ns, x.price) for x in got] == [(1, 10.0), (1, 10.5), (2, 10.5)]
    assert naps == [2.5] * 5


def test_poll_stops_on_a_non_retryable_error() -> None:
    items: list[Quote | SourceError] = [q(1, 1.0), SourceError("testsrc", "bad symbol")]
    with pytest.raises(SourceError, match="bad symbol"):
        collect(5, feed(items), [])


def test_poll_rejects_a_non_positive_period() -> None:
    async def run() -> None:
        async for _ in poll_new_quotes("testsrc", feed([]), every_s=0):
            pass

    with pytest.raises(ConfigError, match="every_s"):
        asyncio.run(run())
