"""Alpha Vantage source, served offline from the recorded answers in api_responses/alpha_vantage."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from makerkit.core import ConfigError, SimClock, SourceError
from makerkit.data._alphavantage import API_KEY_ENV, AlphaVantage, parse_intraday_csv
from makerkit.data._types import Bars, Quote

NS = 10**9
KEY = "TESTKEY123"
QUOTE = "GLOBAL_QUOTE_MSFT_2018-10-05.json"
FX = "CURRENCY_EXCHANGE_RATE_BTC_CNY_2017-12-20.json"
DAILY = "TIME_SERIES_DAILY_IBM_compact_2023-11-10.body.json"
CASSETTE = "vcr_cassette_TIME_SERIES_DAILY_IBM_2023-11-10.yaml"
INTRADAY = "TIME_SERIES_INTRADAY_1min_MSFT_2017-12-18.json"
EXTENDED = "TIME_SERIES_INTRADAY_EXTENDED_1min_MSFT_2020-11-23_to_2020-12-18.csv"
NOTE = (
    "Thank you for using Alpha Vantage! Our standard API call frequency is 5 calls per minute "
    "and 500 calls per day. Please visit https://www.alphavantage.co/premium/ if you would like "
    "to target a higher API call frequency."
)
DAILY_CAP = (
    "Thank you for using Alpha Vantage! Our standard API rate limit is 25 requests per day. "
    "Please subscribe to any of the premium plans at https://www.alphavantage.co/premium/ to "
    "instantly remove all daily rate limits."
)
PREMIUM = (
    "Thank you for using Alpha Vantage! This is a premium endpoint. You may subscribe to any of "
    "the premium plans at https://www.alphavantage.co/premium/ to instantly unlock all premium "
    "endpoints"
)
BAD_KEY = (
    "the parameter apikey is invalid or missing. Please claim your free API key on "
    "(https://www.alphavantage.co/support/#api-key). It should take less than 20 seconds."
)
ERROR = (
    "Invalid API call. Please retry or visit the documentation "
    "(https://www.alphavantage.co/documentation/) for TIME_SERIES_DAILY."
)


def raw(data_root: Path, name: str) -> bytes:
    return (data_root / "api_responses" / "alpha_vantage" / name).read_bytes()


def ok(body: bytes | dict[str, Any]) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.Response(200, content=content, headers={"Content-Type": "application/json"})


class Server:
    """Plays replies in order, checks each request goes to /query, and records it."""

    def __init__(self, *replies: httpx.Response | Exception) -> None:
        self.replies = list(replies)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert (request.url.host, request.url.path) == ("www.alphavantage.co", "/query")
        self.requests.append(request)
        if not self.replies:
            msg = f"unexpected request {request.url}"
            raise AssertionError(msg)
        item = self.replies.pop(0)
        if isinstance(item, Exception):
            raise item
        return item


class FakeTime:
    """Monotonic time that only moves when slept."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def clock() -> FakeTime:
    return FakeTime()


def source(server: Server, t: FakeTime, tmp_path: Path, **kw: Any) -> AlphaVantage:
    kw.setdefault("api_key", KEY)
    return AlphaVantage(
        transport=httpx.MockTransport(server),
        sleep=t.sleep,
        monotonic=t.monotonic,
        cache_dir=tmp_path / "cache",
        clock=kw.pop("sim", SimClock(utc(2023, 11, 11))),
        **kw,
    )


def cached(tmp_path: Path) -> list[Path]:
    folder = tmp_path / "cache"
    return sorted(folder.iterdir()) if folder.exists() else []


def utc(y: int, m: int, d: int, hh: int = 0, mm: int = 0, ss: int = 0) -> int:
    return int(datetime(y, m, d, hh, mm, ss, tzinfo=UTC).timestamp()) * NS


def expected(
    series: dict[str, dict[str, str]], lo: str = "", hi: str = "9"
) -> list[tuple[float, ...]]:
    """Oldest first, strings to floats, worked out from the raw document row by row."""
    rows = []
    for stamp in sorted(series):
        if lo <= stamp < hi:
            row = series[stamp]
            names = ("1. open", "2. high", "3. low", "4. close", "5. volume")
            rows.append(tuple(float(row[name]) for name in names))
    return rows


def values(bars: Bars) -> list[tuple[float, ...]]:
    cols = (bars.open, bars.high, bars.low, bars.close, bars.volume)
    return [tuple(float(c[i]) for c in cols) for i in range(len(bars))]


# --- quotes ----------------------------------------------------------------------------------


def test_global_quote(data_root: Path, tmp_path: Path, clock: FakeTime) -> None:
    server = Server(ok(raw(data_root, QUOTE)))
    with source(server, clock, tmp_path) as av:
        quote = av.quote("MSFT")
    assert quote == Quote(
        symbol="MSFT",
        source="alpha_vantage",
        ts_ns=utc(2018, 10, 5),
        price=112.13,
        volume=29062853.0,
    )
    params = server.requests[0].url.params
    assert dict(params) == {"function": "GLOBAL_QUOTE", "symbol": "MSFT", "apikey": KEY}
    assert cached(tmp_path) == []  # quotes are never cached


def test_exchange_rate(data_root: Path, tmp_path: Path, clock: FakeTime) -> None:
    doc = json.loads(raw(data_root, FX))
    with_spread = copy.deepcopy(doc)
    with_spread["Realtime Currency Exchange Rate"] |= {
        "8. Bid Price": "109630.00000000",
        "9. Ask Price": "-",
    }
    server = Server(ok(raw(data_root, FX)), ok(with_spread))
    with source(server, clock, tmp_path) as av:
        rate = av.exchange_rate("btc", "CNY")
        spread = av.exchange_rate("BTC", "CNY")
    assert rate == Quote(
        symbol="BTC/CNY",
        source="alpha_vantage",
        ts_ns=utc(2017, 12, 20, 19, 23, 21),
        price=109631.430607,
        currency="CNY",
    )
    assert (spread.bid, spread.ask) == (109630.0, None)
    params = server.requests[0].url.params
    assert (params["function"], params["from_currency"], params["to_currency"]) == (
        "CURRENCY_EXCHANGE_RATE",
        "BTC",
        "CNY",
    )


def test_poll_yields_only_new_quotes(data_root: Path, tmp_path: Path, clock: FakeTime) -> None:
    doc = json.loads(raw(data_root, QUOTE))
    moved = copy.deepcopy(doc)
    moved["Global Quote"]["05. price"] = "112.2500"
    server = Server(ok(doc), ok(doc), ok({"Note": NOTE}), ok(moved))
    naps: list[float] = []

    async def nap(seconds: float) -> None:
        naps.append(seconds)

    async def run() -> list[Quote]:
        out: list[Quote] = []
        with source(server, clock, tmp_path, async_sleep=nap) as av:
            gen = av.poll("MSFT", every_s=15)
            async with contextlib.aclosing(gen):
                async for quote in gen:
                    out.append(quote)
                    if len(out) == 2:
                        break
        return out

    got = asyncio.run(run())
    assert [q.price for q in got] == [112.13, 112.25]  # the repeat and the Note were skipped
    assert got[0].ts_ns == got[1].ts_ns == utc(2018, 10, 5)
    assert naps == [15, 15, 15] and not server.replies


# --- bars ------------------------------------------------------------------------------------


def test_daily_bars_oldest_first_from_strings(
    data_root: Path, tmp_path: Path, clock: FakeTime
) -> None:
    body = raw(data_root, DAILY)
    server = Server(ok(body))
    with source(server, clock, tmp_path) as av:
        bars = av.bars("IBM", start="2023-06-22", end="2023-11-11")
    series = json.loads(body)["Time Series (Daily)"]
    assert len(bars) == len(series) == 100
    assert values(bars) == expected(series)
    assert (bars.symbol, bars.interval, bars.source, bars.currency) == (
        "IBM",
        "1d",
        "alpha_vantage",
        "",
    )
    assert bars.adj_close is None
    assert int(bars.ts_ns[0]) == utc(2023, 6, 22) and int(bars.ts_ns[-1]) == utc(2023, 11, 10)
    assert values(bars)[0] == (131.68, 132.96, 130.68, 131.17, 6013021.0)
    assert values(bars)[-1] == (147.44, 149.17, 146.85, 149.02, 3179541.0)
    assert np.all(np.diff(bars.ts_ns) > 0) and bars.ts_ns.dtype == np.int64
    params = server.requests[0].url.params
    assert (params["function"], params["symbol"], params["outputsize"]) == (
        "TIME_SERIES_DAILY",
        "IBM",
        "full",  # 2023-06-22 is more than 100 days before the clock's 2023-11-11
    )


def test_daily_bars_filter_to_the_half_open_range_and_pick_compact(
    data_root: Path, tmp_path: Path, clock: FakeTime
) -> None:
    body = raw(data_root, DAILY)
    server = Server(ok(body))
    with source(server, clock, tmp_path) as av:
        bars = av.bars("IBM", start="2023-10-02", end="2023-11-10")
    series = json.loads(body)["Time Series (Daily)"]
    assert values(bars) == expected(series, "2023-10-02", "2023-11-10")
    assert len(bars) == 29  # 22 October + 7 November trading days
    assert int(bars.ts_ns[0]) == utc(2023, 10, 2) and int(bars.ts_ns[-1]) == utc(2023, 11, 9)
    assert server.requests[0].url.params["outputsize"] == "compact"


def test_daily_bars_from_the_vcr_cassette(data_root: Path, tmp_path: Path, clock: FakeTime) -> None:
    yaml = pytest.importorskip("yaml")
    cassette = yaml.safe_load(raw(data_root, CASSETTE))
    (interaction,) = cassette["interactions"]
    recorded = httpx.URL(interaction["request"]["uri"])
    answer = interaction["response"]
    content = answer["content"] if "content" in answer else answer["body"]["string"]
    # served without the recorded Content-Encoding: gzip (the content is already decoded)
    server = Server(httpx.Response(answer["status_code"], content=content.encode()))
    with source(server, clock, tmp_path) as av:
        bars = av.bars("IBM", start="2023-01-01", end="2024-01-01")
    sent = server.requests[0].url.params
    for name in ("function", "symbol"):
        assert sent[name] == recorded.params[name]
    assert content.encode() == raw(data_root, DAILY)  # the .body.json is exactly this content
    assert len(bars) == 100 and bars.close[-1] == 149.02 and bars.open[0] == 131.68


def test_intraday_bars_are_shifted_to_their_start_in_utc(
    data_root: Path, tmp_path: Path, clock: FakeTime
) -> None:
    body = raw(data_root, INTRADAY)
    server = Server(ok(body), ok(body))
    with source(server, clock, tmp_path, cache=False) as av:
        bars = av.bars("MSFT", start="2017-12-18", end="2017-12-19", interval="1min")
        labelled = AlphaVantage(
            KEY, transport=httpx.MockTransport(server), cache=False, intraday_stamps="start"
        ).bars("MSFT", start="2017-12-18", end="2017-12-19", interval="1m")
    series = json.loads(body)["Time Series (1min)"]
    assert len(bars) == 100 and values(bars) == expected(series)
    # 13:17 and 14:56 US/Eastern (EST, UTC-5) label the ends of the first and last bars
    assert int(bars.ts_ns[0]) == utc(2017, 12, 18, 18, 16)
    assert int(bars.ts_ns[-1]) == utc(2017, 12, 18, 19, 55)
    assert set(np.diff(bars.ts_ns).tolist()) == {60 * NS}
    assert int(labelled.ts_ns[0]) == utc(2017, 12, 18, 18, 17) and labelled.interval == "1m"
    assert bars.close[-1] == 86.5 and bars.volume[-1] == 10494 and bars.open[0] == 86.8101
    params = server.requests[0].url.params
    assert (params["function"], params["interval"], params["outputsize"]) == (
        "TIME_SERIES_INTRADAY",
        "1min",
        "full",
    )
    assert params["extended_hours"] == "false"
    assert server.requests[1].url.params["interval"] == "1min"  # "1m" is an alias


def test_extended_intraday_csv(data_root: Path) -> None:
    text = raw(data_root, EXTENDED).decode()
    bars = parse_intraday_csv(text, symbol="MSFT", interval="1min")
    lines = text.splitlines()
    assert len(bars) == len(lines) - 1 == 11_190
    assert np.all(np.diff(bars.ts_ns) > 0)  # the file is newest first
    oldest, newest = lines[-1].split(","), lines[1].split(",")
    assert oldest[0] == "2020-11-23 04:01:00" and newest[0] == "2020-12-18 20:00:00"
    assert values(bars)[0] == tuple(float(v) for v in oldest[1:])
    assert (
        values(bars)[-1]
        == tuple(float(v) for v in newest[1:])
        == (
            218.79,
            218.79,
            218.75,
            218.75,
            1102.0,
        )
    )
    # extended hours 04:00-20:00 EST: the first bar starts 09:00 UTC, the last at 00:59 next day
    assert int(bars.ts_ns[0]) == utc(2020, 11, 23, 9, 0)
    assert int(bars.ts_ns[-1]) == utc(2020, 12, 19, 0, 59)
    days = {datetime.fromtimestamp((t - 5 * 3600 * NS) / NS, tz=UTC).date() for t in bars.ts_ns}
    assert len(days) == 19  # trading days from 2020-11-23 to 2020-12-18 (26 Nov closed)


def test_csv_follows_daylight_saving_time() -> None:
    text = "timestamp,open,high,low,close,volume\n2020-11-02 09:31:00,2,2,2,2,20\n"
    text += "2020-10-30 09:31:00,1,1,1,1,10\n"
    bars = parse_intraday_csv(text, symbol="X", interval="1min")
    assert bars.ts_ns.tolist() == [utc(2020, 10, 30, 13, 30), utc(2020, 11, 2, 14, 30)]
    assert bars.close.tolist() == [1.0, 2.0]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("date,open,high,low,close,volume\n", "CSV answer has header"),
        ("time,open,high,low,close,volume\n2020-11-02 09:31:00,2,x,2,2,20\n", "garbles"),
        ("time,open,high,low,close,volume\n2020-11-02 09:31:00,2,2\n", "lacks"),
        ('{"Error Message": "Invalid API call."}', "CSV answer has header"),
    ],
)
def test_bad_csv(text: str, words: str) -> None:
    with pytest.raises(SourceError, match=f"^alpha_vantage: .*{words}"):
        parse_intraday_csv(text, symbol="X")


# --- Alpha Vantage's own error answers -------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "text", "retryable", "words"),
    [
        ("Note", NOTE, True, "rate limit reached on GLOBAL_QUOTE (this client allows 5 calls/min"),
        ("Information", DAILY_CAP, True, "rate limit reached on GLOBAL_QUOTE"),
        ("Information", PREMIUM, False, "GLOBAL_QUOTE needs a premium plan"),
        ("Information", BAD_KEY, False, "refused the API key for GLOBAL_QUOTE"),
        ("Error Message", ERROR, False, "rejected GLOBAL_QUOTE"),
    ],
)
def test_notes_and_errors_in_200_answers(
    tmp_path: Path, clock: FakeTime, field: str, text: str, retryable: bool, words: str
) -> None:
    server = Server(ok({field: text}))
    with source(server, clock, tmp_path) as av, pytest.raises(SourceError) as info:
        av.quote("MSFT")
    err = info.value
    assert str(err).startswith(f"alpha_vantage: {words}")
    assert repr(text) in str(err)  # Alpha Vantage's own words, quoted
    assert err.retryable is retryable and err.source == "alpha_vantage"
    assert len(server.requests) == 1 and clock.slept == []  # answered, not retried
    assert KEY not in str(err)


def test_the_rate_limit_error_says_what_to_do(tmp_path: Path, clock: FakeTime) -> None:
    server = Server(ok({"Note": NOTE}))
    with source(server, clock, tmp_path) as av, pytest.raises(SourceError) as info:
        av.bars("IBM", start="2023-10-02", end="2023-11-10")
    assert "wait a minute" in str(info.value) and "calls_per_minute" in str(info.value)
    assert "5 calls per minute" in str(info.value)  # the limit, as Alpha Vantage states it
    assert cached(tmp_path) == []  # a rate-limit answer is not a series to cache


def test_error_message_for_bars_is_not_cached(tmp_path: Path, clock: FakeTime) -> None:
    server = Server(ok({"Error Message": ERROR}))
    with source(server, clock, tmp_path) as av, pytest.raises(SourceError) as info:
        av.bars("NOPE", start="2023-10-02", end="2023-11-10")
    assert "check the symbol and the parameters" in str(info.value)
    assert not info.value.retryable and cached(tmp_path) == []


def test_missing_api_key(
    tmp_path: Path, clock: FakeTime, monkeypatch: pytest.MonkeyPatch, data_root: Path
) -> None:
    monkeypatch.delenv(API_KEY_ENV, raising=False)
    server = Server(ok(raw(data_root, QUOTE)))
    av = source(server, clock, tmp_path, api_key=None)  # building it needs no key
    for call in (
        lambda: av.quote("MSFT"),
        lambda: av.bars("IBM", start="2023-10-02", end="2023-11-10"),
        lambda: av.exchange_rate("EUR", "USD"),
    ):
        with pytest.raises(SourceError) as info:
            call()
        assert str(info.value) == "alpha_vantage: set ALPHAVANTAGE_API_KEY or pass api_key=..."
    assert server.requests == []
    monkeypatch.setenv(API_KEY_ENV, "FROMENV")
    assert av.quote("MSFT").price == 112.13
    assert server.requests[0].url.params["apikey"] == "FROMENV"
    av.close()


# --- rate limiting and caching ---------------------------------------------------------------


def test_client_side_limiter_sleeps_instead_of_hitting_the_limit(
    data_root: Path, tmp_path: Path, clock: FakeTime
) -> None:
    body = raw(data_root, QUOTE)
    server = Server(*[ok(body) for _ in range(7)])
    with source(server, clock, tmp_path) as av:
        for _ in range(7):
            av.quote("MSFT")
    # calls 1-5 at t=0; the 6th waits for the window to pass; the 7th fits beside it
    assert clock.slept == [60.0]
    assert len(server.requests) == 7


def test_limiter_is_configurable_and_can_be_off(
    data_root: Path, tmp_path: Path, clock: FakeTime
) -> None:
    body = raw(data_root, QUOTE)
    server = Server(*[ok(body) for _ in range(6)])
    with source(server, clock, tmp_path, calls_per_minute=2) as av:
        for _ in range(3):
            av.quote("MSFT")
    assert clock.slept == [60.0]
    with source(server, clock, tmp_path, calls_per_minute=None) as unlimited:
        for _ in range(3):
            unlimited.quote("MSFT")
    assert clock.slept == [60.0] and not server.replies


def test_bars_are_cached_without_the_api_key(
    data_root: Path, tmp_path: Path, clock: FakeTime
) -> None:
    body = raw(data_root, DAILY)
    server = Server(ok(body))
    with source(server, clock, tmp_path) as av:
        first = av.bars("IBM", start="2023-10-02", end="2023-11-10")
        again = av.bars("IBM", start="2023-10-02", end="2023-11-10")
    with source(Server(), clock, tmp_path, api_key="ANOTHERKEY") as other:
        third = other.bars("IBM", start="2023-10-02", end="2023-11-10")
    assert len(server.requests) == 1
    assert values(first) == values(again) == values(third)
    (entry,) = cached(tmp_path)
    assert entry.read_bytes() == body
    assert KEY.encode() not in entry.read_bytes() and KEY not in entry.name


# --- HTTP failures and malformed answers -------------------------------------------------------


def test_429_with_retry_after_then_success(
    data_root: Path, tmp_path: Path, clock: FakeTime
) -> None:
    server = Server(httpx.Response(429, headers={"Retry-After": "20"}), ok(raw(data_root, QUOTE)))
    with source(server, clock, tmp_path) as av:
        assert av.quote("MSFT").price == 112.13
    assert clock.slept == [20.0]


def test_500_and_timeout_then_success(data_root: Path, tmp_path: Path, clock: FakeTime) -> None:
    server = Server(httpx.Response(500), httpx.ConnectTimeout("slow"), ok(raw(data_root, DAILY)))
    with source(server, clock, tmp_path) as av:
        assert len(av.bars("IBM", start="2023-10-02", end="2023-11-10")) == 29
    assert clock.slept == [0.5, 1.0] and len(cached(tmp_path)) == 1


def test_5xx_every_time_does_not_leak_the_key(tmp_path: Path, clock: FakeTime) -> None:
    server = Server(*[httpx.Response(503) for _ in range(4)])
    with source(server, clock, tmp_path) as av, pytest.raises(SourceError) as info:
        av.quote("MSFT")
    assert info.value.retryable and str(info.value).startswith("alpha_vantage: HTTP 503")
    assert KEY not in str(info.value) and cached(tmp_path) == []


def test_404(tmp_path: Path, clock: FakeTime) -> None:
    server = Server(httpx.Response(404, content=b"<h1>Not Found</h1>"))
    with source(server, clock, tmp_path) as av, pytest.raises(SourceError) as info:
        av.quote("MSFT")
    assert str(info.value).startswith("alpha_vantage: HTTP 404") and not info.value.retryable
    assert len(server.requests) == 1


@pytest.mark.parametrize(
    ("body", "call", "words"),
    [
        (b"<html>", "quote", "answered with malformed JSON"),
        (b"[]", "quote", "GLOBAL_QUOTE answer is not a JSON object"),
        (b'{"Global Quote": {}}', "quote", "has no quote for MSFT; check the symbol"),
        (b'{"Global Quote": {"05. price": "x"}}', "quote", "GLOBAL_QUOTE for MSFT lacks"),
        (b"{}", "rate", "has no exchange rate for BTC/CNY"),
        (b'{"Meta Data": {}}', "bars", "has no `Time Series \\(Daily\\)`"),
        (
            b'{"Time Series (Daily)": {"2023-11-10": {"1. open": "1", "2. high": "n/a"}}}',
            "bars",
            "bar '2023-11-10' for IBM lacks or garbles",
        ),
    ],
)
def test_malformed_answers(
    tmp_path: Path, clock: FakeTime, body: bytes, call: str, words: str
) -> None:
    calls = {
        "quote": lambda av: av.quote("MSFT"),
        "rate": lambda av: av.exchange_rate("BTC", "CNY"),
        "bars": lambda av: av.bars("IBM", start="2023-10-02", end="2023-11-10"),
    }
    with source(Server(ok(body)), clock, tmp_path) as av, pytest.raises(SourceError) as info:
        calls[call](av)
    assert str(info.value).startswith("alpha_vantage: ")
    assert info.match(words)
    assert cached(tmp_path) == []


def test_an_empty_series_in_range_is_empty_bars(tmp_path: Path, clock: FakeTime) -> None:
    doc = {"Meta Data": {"5. Time Zone": "US/Eastern"}, "Time Series (Daily)": {}}
    with source(Server(ok(doc)), clock, tmp_path) as av:
        bars = av.bars("IBM", start="2023-10-02", end="2023-11-10")
    assert len(bars) == 0 and bars.close.shape == (0,)


@pytest.mark.parametrize(
    ("kw", "words"),
    [
        ({"interval": "2h"}, "invalid `interval`"),
        ({"start": "2023-11-10", "end": "2023-10-02"}, "`start` must be before `end`"),
    ],
)
def test_bad_arguments(tmp_path: Path, clock: FakeTime, kw: dict[str, str], words: str) -> None:
    args = {"start": "2023-10-02", "end": "2023-11-10"} | kw
    server = Server()
    with source(server, clock, tmp_path) as av, pytest.raises(ConfigError, match=words):
        av.bars("IBM", start=args["start"], end=args["end"], interval=args.get("interval", "1d"))
    assert server.requests == []


def test_bad_constructor_arguments() -> None:
    with pytest.raises(ConfigError, match="intraday_stamps"):
        AlphaVantage(KEY, intraday_stamps="middle")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="rate limit"):
        AlphaVantage(KEY, calls_per_minute=0)


def test_needs_httpx(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "httpx", None)
    with pytest.raises(SourceError, match=r"^alpha_vantage: needs `pip install makerkit\[data\]`$"):
        AlphaVantage(KEY)
