"""Yahoo chart API source, served offline from the recorded responses in api_responses/yahoo."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from makerkit.core import ConfigError, SourceError
from makerkit.data._types import Bars, Quote
from makerkit.data._yahoo import YahooFinance

NS = 10**9
MINUTE_1 = "chart-AAPL-2024-10-02-interval-1m.body.json"
MINUTE_1_WRAPPED = "chart-AAPL-2024-10-02-to-2024-10-03-includePrePost-false-interval-1m.json"
AAPL_DAILY = "chart-AAPL-2020-08-31-to-2020-11-07.json"
MSFT = "historical-via-chart-MSFT-dividends-2021-02-01-to-2022-01-31.csv.json"
NVDA = "historical-via-chart-NVDA-split-2021-02-01-to-2022-01-31.csv.json"
BTC = "chart-BTC-USD-2020-01-01-to-2020-01-03.json"
NOT_FOUND = {
    "chart": {
        "result": None,
        "error": {"code": "Not Found", "description": "No data found, symbol may be delisted"},
    }
}


@dataclass
class Recording:
    """One recorded answer: the request it answered (when known), status and raw body."""

    url: httpx.URL | None
    status: int
    body: bytes

    @property
    def doc(self) -> dict[str, Any]:
        return json.loads(self.body)  # type: ignore[no-any-return]


def recording(data_root: Path, name: str) -> Recording:
    raw = json.loads((data_root / "api_responses" / "yahoo" / name).read_bytes())
    if "request" not in raw:  # a raw body
        return Recording(None, 200, (data_root / "api_responses" / "yahoo" / name).read_bytes())
    # node-yahoo-finance2 wrapper: the body is a JSON string or already parsed
    response = raw["response"]
    body = response["body"] if "body" in response else json.dumps(response["bodyJson"])
    return Recording(httpx.URL(raw["request"]["url"]), int(response["status"]), body.encode())


def reply(status: int = 200, doc: Any = None, **kw: Any) -> httpx.Response:
    return httpx.Response(status, content=json.dumps(doc).encode(), **kw)


class Server:
    """Plays replies in order, checks each request is a chart request, and records it."""

    def __init__(self, *replies: httpx.Response | Exception) -> None:
        self.replies = list(replies)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert request.url.host == "query2.finance.yahoo.com"
        assert request.url.path.startswith("/v8/finance/chart/")
        self.requests.append(request)
        if not self.replies:
            msg = f"unexpected request {request.url}"
            raise AssertionError(msg)
        item = self.replies.pop(0)
        if isinstance(item, Exception):
            raise item
        return item


@pytest.fixture
def sleeps() -> list[float]:
    return []


def source(server: Server, sleeps: list[float], tmp_path: Path, **kw: Any) -> YahooFinance:
    return YahooFinance(
        transport=httpx.MockTransport(server),
        sleep=sleeps.append,
        cache_dir=tmp_path / "cache",
        **kw,
    )


def cached(tmp_path: Path) -> list[str]:
    folder = tmp_path / "cache"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def expected(doc: dict[str, Any], lo_s: int, hi_s: int) -> list[tuple[float, ...]]:
    """The bars a correct client keeps, worked out row by row from the raw document."""
    result = doc["chart"]["result"][0]
    quote = result["indicators"]["quote"][0]
    adj = result["indicators"].get("adjclose", [{}])[0].get("adjclose")
    rows = []
    for i, ts in enumerate(result["timestamp"]):
        values = [quote[k][i] for k in ("open", "high", "low", "close", "volume")]
        if adj is not None:
            values.append(adj[i])
        if lo_s <= ts < hi_s and all(v is not None for v in values):
            rows.append((ts * NS, *values))
    return rows


def as_rows(bars: Bars) -> list[tuple[float, ...]]:
    cols = [bars.open, bars.high, bars.low, bars.close, bars.volume]
    if bars.adj_close is not None:
        cols.append(bars.adj_close)
    return [(int(t), *(float(c[i]) for c in cols)) for i, t in enumerate(bars.ts_ns)]


def utc(y: int, m: int, d: int, hh: int = 0, mm: int = 0, ss: int = 0) -> int:
    return int(datetime(y, m, d, hh, mm, ss, tzinfo=UTC).timestamp()) * NS


# --- bars ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "symbol", "start", "end", "count", "first", "last"),
    [
        # first/last: (bar start UTC, open, close, volume, adjclose), read off the files
        (
            NVDA,
            "NVDA",
            "2021-02-01",
            "2022-01-31",
            252,
            (
                utc(2021, 2, 1, 14, 30),
                13.053250312805176,
                13.237000465393066,
                217204000,
                13.2034912109375,
            ),
            (
                utc(2022, 1, 28, 14, 30),
                22.011999130249023,
                22.84000015258789,
                543774000,
                22.802078247070312,
            ),
        ),
        (
            MSFT,
            "MSFT",
            "2021-02-01",
            "2022-01-31",
            252,
            (
                utc(2021, 2, 1, 14, 30),
                235.05999755859375,
                239.64999389648438,
                33314200,
                231.1864776611328,
            ),
            (
                utc(2022, 1, 28, 14, 30),
                300.2300109863281,
                308.260009765625,
                49743700,
                299.8661193847656,
            ),
        ),
        (
            AAPL_DAILY,
            "AAPL",
            "2020-08-31",
            "2020-11-06",  # the recording asked for period2 = 2020-11-06 00:00 UTC
            48,  # the 49th bar (2020-11-06 14:30) lies past period2: [start, end) drops it
            (
                utc(2020, 8, 31, 13, 30),
                127.58000183105469,
                129.0399932861328,
                225702700,
                125.82673645019531,
            ),
            (
                utc(2020, 11, 5, 14, 30),
                117.94999694824219,
                119.02999877929688,
                126387100,
                116.06599426269531,
            ),
        ),
        (
            BTC,
            "BTC-USD",
            "2020-01-01",
            "2020-01-03",
            2,  # Yahoo also sends the bar at period2 itself (2020-01-03 00:00): dropped
            (utc(2020, 1, 1), 7194.89208984375, 7200.17431640625, 18565664997, 7200.17431640625),
            (utc(2020, 1, 2), 7202.55126953125, 6985.47021484375, 20802083465, 6985.47021484375),
        ),
    ],
)
def test_daily_bars_match_the_recording(
    data_root: Path,
    tmp_path: Path,
    sleeps: list[float],
    name: str,
    symbol: str,
    start: str,
    end: str,
    count: int,
    first: tuple[float, ...],
    last: tuple[float, ...],
) -> None:
    rec = recording(data_root, name)
    server = Server(httpx.Response(rec.status, content=rec.body))
    with source(server, sleeps, tmp_path) as yahoo:
        bars = yahoo.bars(symbol, start=start, end=end)

    # the request is the one that was recorded
    (request,) = server.requests
    assert rec.url is not None
    assert request.url.path == rec.url.path == f"/v8/finance/chart/{symbol}"
    for key in ("period1", "interval"):
        assert request.url.params[key] == rec.url.params[key]
    assert int(request.url.params["period2"]) == utc_s(end)
    assert request.url.params["events"] == "div|split"
    assert request.url.params["includePrePost"] == "false"

    assert (bars.symbol, bars.interval, bars.source, bars.currency) == (
        symbol,
        "1d",
        "yahoo",
        "USD",
    )
    assert len(bars) == count
    lo, hi = utc_s(start), utc_s(end)
    assert as_rows(bars) == expected(rec.doc, lo, hi)
    assert bars.adj_close is not None
    for i, (ts, open_, close, volume, adj) in ((0, first), (-1, last)):
        assert int(bars.ts_ns[i]) == ts
        assert (bars.open[i], bars.close[i], bars.volume[i], bars.adj_close[i]) == (
            open_,
            close,
            volume,
            adj,
        )
    assert np.all(np.diff(bars.ts_ns) > 0)  # oldest first
    assert bars.ts_ns.dtype == np.int64 and bars.close.dtype == np.float64


def utc_s(day: str) -> int:
    return int(datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp())


def test_minute_bars_drop_the_null_bar_and_the_stray_live_point(
    data_root: Path, tmp_path: Path, sleeps: list[float]
) -> None:
    rec = recording(data_root, MINUTE_1)
    raw = rec.doc["chart"]["result"][0]
    assert len(raw["timestamp"]) == 391  # what the file holds
    server = Server(httpx.Response(200, content=rec.body))
    with source(server, sleeps, tmp_path) as yahoo:
        bars = yahoo.bars("AAPL", start="2024-10-02", end="2024-10-03", interval="1m")
    assert server.requests[0].url.params["interval"] == "1m"

    assert len(bars) == 389
    assert as_rows(bars) == expected(rec.doc, utc_s("2024-10-02"), utc_s("2024-10-03"))
    assert bars.adj_close is None  # intraday answers have no adjclose
    ts = bars.ts_ns.tolist()
    assert utc(2024, 10, 2, 15, 15) not in ts  # all-null bar
    assert utc(2024, 10, 2, 15, 14) in ts and utc(2024, 10, 2, 15, 16) in ts
    assert utc(2024, 10, 3, 20, 0) not in ts  # stray point after period2
    assert ts[0] == utc(2024, 10, 2, 13, 30) and ts[-1] == utc(2024, 10, 2, 19, 59)
    assert bars.open[0] == 225.88999938964844 and bars.volume[0] == 1205461
    assert bars.close[-1] == 226.80999755859375 and bars.volume[-1] == 546314
    assert np.all(np.isfinite(bars.close))
    steps = np.diff(bars.ts_ns) // NS
    assert sorted(set(steps.tolist())) == [60, 120]  # one 2-minute hole where the null was


def test_the_wrapped_and_the_raw_minute_recordings_give_the_same_bars(
    data_root: Path, tmp_path: Path, sleeps: list[float]
) -> None:
    wrapped, raw = recording(data_root, MINUTE_1_WRAPPED), recording(data_root, MINUTE_1)
    assert wrapped.url is not None and wrapped.url.params["period1"] == str(utc_s("2024-10-02"))
    server = Server(
        httpx.Response(200, content=wrapped.body), httpx.Response(200, content=raw.body)
    )
    with source(server, sleeps, tmp_path, cache=False) as yahoo:
        a = yahoo.bars("AAPL", start="2024-10-02", end="2024-10-03", interval="1m")
        b = yahoo.bars("AAPL", start="2024-10-02", end="2024-10-03", interval="1m")
    assert len(server.requests) == 2
    assert as_rows(a) == as_rows(b) and len(a) == 389
    assert not (tmp_path / "cache").exists()


def test_prepost_and_symbols_needing_escapes(
    data_root: Path, tmp_path: Path, sleeps: list[float]
) -> None:
    rec = recording(data_root, MINUTE_1)
    server = Server(httpx.Response(200, content=rec.body))
    with source(server, sleeps, tmp_path) as yahoo:
        yahoo.bars("^GSPC", start="2024-10-02", end="2024-10-03", interval="5m", prepost=True)
    url = server.requests[0].url
    assert url.raw_path.startswith(b"/v8/finance/chart/%5EGSPC?")
    assert url.params["includePrePost"] == "true" and url.params["interval"] == "5m"


def test_a_period_without_bars_is_empty_not_an_error(tmp_path: Path, sleeps: list[float]) -> None:
    # what Yahoo answers for a weekend: meta, no timestamps, an empty quote block
    doc = {
        "chart": {
            "result": [{"meta": {"currency": "USD"}, "indicators": {"quote": [{}]}}],
            "error": None,
        }
    }
    with source(Server(reply(200, doc)), sleeps, tmp_path) as yahoo:
        bars = yahoo.bars("AAPL", start="2024-10-05", end="2024-10-07")
    assert len(bars) == 0 and bars.close.shape == (0,) and bars.currency == "USD"


def test_missing_adjclose_is_none_and_partial_nulls_drop_the_bar(
    data_root: Path, tmp_path: Path, sleeps: list[float]
) -> None:
    doc = recording(data_root, BTC).doc
    result = doc["chart"]["result"][0]
    del result["indicators"]["adjclose"]
    result["indicators"]["quote"][0]["high"][1] = None  # one field null: the bar goes
    with source(Server(reply(200, doc)), sleeps, tmp_path) as yahoo:
        bars = yahoo.bars("BTC-USD", start="2020-01-01", end="2020-01-04")
    assert bars.adj_close is None
    assert bars.ts_ns.tolist() == [utc(2020, 1, 1), utc(2020, 1, 3)]
    assert bars.close.tolist() == [7200.17431640625, 7344.88427734375]


# --- corporate actions ---------------------------------------------------------------------------


def test_nvda_4_for_1_split(data_root: Path, tmp_path: Path, sleeps: list[float]) -> None:
    rec = recording(data_root, NVDA)
    with source(Server(httpx.Response(200, content=rec.body)), sleeps, tmp_path) as yahoo:
        (split,) = yahoo.actions("NVDA", start="2021-02-01", end="2022-01-31")
    assert split.kind == "split" and split.ratio == 4.0 and split.symbol == "NVDA"
    day = datetime.fromtimestamp(split.ts_ns / NS, tz=UTC)
    assert day.date().isoformat() == "2021-07-20"


def test_msft_dividends(data_root: Path, tmp_path: Path, sleeps: list[float]) -> None:
    rec = recording(data_root, MSFT)
    with source(Server(httpx.Response(200, content=rec.body)), sleeps, tmp_path) as yahoo:
        divs = yahoo.actions("MSFT", start="2021-02-01", end="2022-01-31")
    raw = rec.doc["chart"]["result"][0]["events"]["dividends"]
    assert [(d.ts_ns, d.amount) for d in divs] == sorted(
        (v["date"] * NS, v["amount"]) for v in raw.values()
    )
    assert [d.amount for d in divs] == [0.56, 0.56, 0.56, 0.62]
    assert {d.kind for d in divs} == {"dividend"} and all(d.ratio == 1.0 for d in divs)
    dates = [datetime.fromtimestamp(d.ts_ns / NS, tz=UTC).date().isoformat() for d in divs]
    assert dates == ["2021-02-17", "2021-05-19", "2021-08-18", "2021-11-17"]


def test_aapl_split_and_dividend_oldest_first_and_range_filtered(
    data_root: Path, tmp_path: Path, sleeps: list[float]
) -> None:
    rec = recording(data_root, AAPL_DAILY)
    server = Server(httpx.Response(200, content=rec.body), httpx.Response(200, content=rec.body))
    with source(server, sleeps, tmp_path, cache=False) as yahoo:
        both = yahoo.actions("AAPL", start="2020-08-31", end="2020-11-07")
        later = yahoo.actions("AAPL", start="2020-09-01", end="2020-11-07")
    assert [(a.kind, a.ratio, a.amount) for a in both] == [
        ("split", 4.0, 0.0),
        ("dividend", 1.0, 0.205),
    ]
    assert both[0].ts_ns == utc(2020, 8, 31, 13, 30) and both[1].ts_ns == utc(2020, 11, 6, 14, 30)
    assert [a.kind for a in later] == ["dividend"]


def test_bars_then_actions_share_one_cached_request(
    data_root: Path, tmp_path: Path, sleeps: list[float]
) -> None:
    rec = recording(data_root, NVDA)
    server = Server(httpx.Response(200, content=rec.body))
    with source(server, sleeps, tmp_path) as yahoo:
        bars = yahoo.bars("NVDA", start="2021-02-01", end="2022-01-31")
        actions = yahoo.actions("NVDA", start="2021-02-01", end="2022-01-31")
    with source(Server(), sleeps, tmp_path) as again:  # a new client, the same disk cache
        assert as_rows(again.bars("NVDA", start="2021-02-01", end="2022-01-31")) == as_rows(bars)
    assert len(server.requests) == 1 and len(bars) == 252 and len(actions) == 1
    assert len(cached(tmp_path)) == 1


# --- quotes and polling --------------------------------------------------------------------------


def test_quote_comes_from_meta(data_root: Path, tmp_path: Path, sleeps: list[float]) -> None:
    rec = recording(data_root, MINUTE_1)
    server = Server(httpx.Response(200, content=rec.body))
    with source(server, sleeps, tmp_path) as yahoo:
        quote = yahoo.quote("AAPL")
    meta = rec.doc["chart"]["result"][0]["meta"]
    assert quote == Quote(
        symbol="AAPL",
        source="yahoo",
        ts_ns=meta["regularMarketTime"] * NS,
        price=225.67,
        volume=33638504.0,
        currency="USD",
    )
    assert quote.ts_ns == 1727985601 * NS and quote.bid is None and quote.ask is None
    assert server.requests[0].url.params["range"] == "1d"
    assert cached(tmp_path) == []  # quotes are never cached


def test_quote_bid_and_ask_when_present(
    data_root: Path, tmp_path: Path, sleeps: list[float]
) -> None:
    doc = recording(data_root, BTC).doc
    doc["chart"]["result"][0]["meta"] |= {"bid": 97200.5, "ask": 97210.25}
    with source(Server(reply(200, doc)), sleeps, tmp_path) as yahoo:
        quote = yahoo.quote("BTC-USD")
    assert (quote.price, quote.bid, quote.ask) == (97208.17, 97200.5, 97210.25)
    assert quote.ts_ns == 1740051840 * NS


def meta_doc(base: dict[str, Any], when: int, price: float) -> dict[str, Any]:
    doc = copy.deepcopy(base)
    doc["chart"]["result"][0]["meta"] |= {"regularMarketTime": when, "regularMarketPrice": price}
    return doc


def test_poll_yields_only_new_quotes(data_root: Path, tmp_path: Path, sleeps: list[float]) -> None:
    base = recording(data_root, MINUTE_1).doc
    server = Server(
        reply(200, meta_doc(base, 100, 225.0)),
        reply(200, meta_doc(base, 100, 225.0)),  # unchanged: not yielded
        reply(503),
        reply(503),
        reply(503),
        reply(503),  # the source is down for one poll: logged, polling goes on
        reply(200, meta_doc(base, 101, 225.5)),
    )
    naps: list[float] = []

    async def nap(seconds: float) -> None:
        naps.append(seconds)

    async def run() -> list[Quote]:
        with source(server, sleeps, tmp_path, async_sleep=nap) as yahoo:
            out = []
            gen = yahoo.poll("AAPL", every_s=0.25)
            async with contextlib.aclosing(gen):
                async for quote in gen:
                    out.append(quote)
                    if len(out) == 2:
                        break
            return out

    got = asyncio.run(run())
    assert [(q.ts_ns, q.price) for q in got] == [(100 * NS, 225.0), (101 * NS, 225.5)]
    assert naps == [0.25, 0.25, 0.25] and sleeps == [0.5, 1.0, 2.0]
    assert not server.replies


# --- errors --------------------------------------------------------------------------------------


def test_chart_error_404_quotes_yahoo(tmp_path: Path, sleeps: list[float]) -> None:
    server = Server(reply(404, NOT_FOUND))
    with source(server, sleeps, tmp_path) as yahoo, pytest.raises(SourceError) as info:
        yahoo.bars("NOPE", start="2024-01-01", end="2024-02-01")
    err = info.value
    assert err.source == "yahoo" and not err.retryable
    assert str(err) == (
        "yahoo: NOPE: No data found, symbol may be delisted (Yahoo Not Found); "
        "check the symbol, the interval and the dates"
    )
    assert len(server.requests) == 1 and sleeps == []  # a 404 is not retried
    assert cached(tmp_path) == []


def test_chart_error_in_a_200_answer(tmp_path: Path, sleeps: list[float]) -> None:
    doc = {"chart": {"result": None, "error": {"code": "Bad Request", "description": "Bad x"}}}
    with (
        source(Server(reply(200, doc)), sleeps, tmp_path) as yahoo,
        pytest.raises(SourceError, match=r"^yahoo: AAPL: Bad x \(Yahoo Bad Request\)"),
    ):
        yahoo.quote("AAPL")
    assert cached(tmp_path) == []


def test_a_404_without_a_chart_body(tmp_path: Path, sleeps: list[float]) -> None:
    server = Server(httpx.Response(404, content=b"<html>Not Found</html>"))
    with source(server, sleeps, tmp_path) as yahoo, pytest.raises(SourceError) as info:
        yahoo.quote("AAPL")
    assert str(info.value).startswith("yahoo: HTTP 404") and "check the symbol" in str(info.value)


@pytest.mark.parametrize(
    "doc",
    [
        {"chart": {"result": [], "error": None}},
        {"chart": {"result": None, "error": None}},
    ],
)
def test_empty_result(tmp_path: Path, sleeps: list[float], doc: dict[str, Any]) -> None:
    with (
        source(Server(reply(200, doc)), sleeps, tmp_path) as yahoo,
        pytest.raises(SourceError, match=r"^yahoo: returned an empty result for AAPL; check"),
    ):
        yahoo.bars("AAPL", start="2024-01-01", end="2024-02-01")
    assert cached(tmp_path) == []


def test_429_with_retry_after_then_success(
    data_root: Path, tmp_path: Path, sleeps: list[float]
) -> None:
    rec = recording(data_root, BTC)
    server = Server(
        httpx.Response(429, headers={"Retry-After": "3"}, content=b"Too Many Requests"),
        httpx.Response(200, content=rec.body),
    )
    with source(server, sleeps, tmp_path) as yahoo:
        bars = yahoo.bars("BTC-USD", start="2020-01-01", end="2020-01-03")
    assert len(bars) == 2 and sleeps == [3.0] and len(server.requests) == 2


def test_500_then_timeout_then_success(
    data_root: Path, tmp_path: Path, sleeps: list[float]
) -> None:
    rec = recording(data_root, BTC)
    server = Server(
        httpx.Response(500), httpx.ReadTimeout("slow"), httpx.Response(200, content=rec.body)
    )
    with source(server, sleeps, tmp_path) as yahoo:
        assert len(yahoo.bars("BTC-USD", start="2020-01-01", end="2020-01-03")) == 2
    assert sleeps == [0.5, 1.0]
    assert len(cached(tmp_path)) == 1


def test_5xx_every_time(tmp_path: Path, sleeps: list[float]) -> None:
    server = Server(*[httpx.Response(502) for _ in range(4)])
    with source(server, sleeps, tmp_path) as yahoo, pytest.raises(SourceError) as info:
        yahoo.bars("AAPL", start="2024-01-01", end="2024-02-01")
    assert info.value.retryable and str(info.value).startswith("yahoo: HTTP 502")
    assert "try again later" in str(info.value)
    assert cached(tmp_path) == []


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"<!doctype html><p>consent</p>", "malformed JSON"),
        (b'{"chart": {"result": [', "malformed JSON"),
        (b'{"finance": {"error": "gone"}}', "no `chart` object"),
        (b"[1, 2]", "no `chart` object"),
    ],
)
def test_malformed_answers(tmp_path: Path, sleeps: list[float], body: bytes, words: str) -> None:
    with (
        source(Server(httpx.Response(200, content=body)), sleeps, tmp_path) as yahoo,
        pytest.raises(SourceError, match=f"^yahoo: .*{words}"),
    ):
        yahoo.bars("AAPL", start="2024-01-01", end="2024-02-01")
    assert cached(tmp_path) == []


def mangle(doc: dict[str, Any], **changes: Any) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    quote = doc["chart"]["result"][0]["indicators"]["quote"][0]
    quote.update(changes)
    return doc


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"close": [1.0]}, "has 1 `close` values for 3 timestamps"),
        ({"open": None}, "has NoneType `open` values"),
        ({"low": ["a", "b", "c"]}, "has a non-numeric `low`"),
    ],
)
def test_inconsistent_arrays(
    data_root: Path, tmp_path: Path, sleeps: list[float], change: dict[str, Any], words: str
) -> None:
    doc = mangle(recording(data_root, BTC).doc, **change)
    with (
        source(Server(reply(200, doc)), sleeps, tmp_path) as yahoo,
        pytest.raises(SourceError, match=f"^yahoo: answer for BTC-USD {words}"),
    ):
        yahoo.bars("BTC-USD", start="2020-01-01", end="2020-01-04")
    assert cached(tmp_path) == []


def test_quote_without_a_price(data_root: Path, tmp_path: Path, sleeps: list[float]) -> None:
    doc = recording(data_root, BTC).doc
    del doc["chart"]["result"][0]["meta"]["regularMarketPrice"]
    with (
        source(Server(reply(200, doc)), sleeps, tmp_path) as yahoo,
        pytest.raises(SourceError, match=r"^yahoo: answer for BTC-USD has no regularMarket"),
    ):
        yahoo.quote("BTC-USD")


@pytest.mark.parametrize(
    ("kw", "words"),
    [
        ({"interval": "7m"}, "invalid `interval`"),
        ({"start": "2024-02-01", "end": "2024-01-01"}, "`start` must be before `end`"),
        ({"start": "last week"}, "invalid `start`"),
    ],
)
def test_bad_arguments_are_config_errors(
    tmp_path: Path, sleeps: list[float], kw: dict[str, str], words: str
) -> None:
    args = {"start": "2024-01-01", "end": "2024-02-01"} | kw
    server = Server()
    with source(server, sleeps, tmp_path) as yahoo, pytest.raises(ConfigError, match=words):
        yahoo.bars(
            "AAPL", start=args["start"], end=args["end"], interval=args.get("interval", "1d")
        )
    assert server.requests == []


def test_empty_symbol_is_a_config_error(tmp_path: Path, sleeps: list[float]) -> None:
    with source(Server(), sleeps, tmp_path) as yahoo, pytest.raises(ConfigError, match="symbol"):
        yahoo.quote(" ")


def test_needs_httpx(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "httpx", None)
    with pytest.raises(SourceError, match=r"^yahoo: needs `pip install makerkit\[data\]`$"):
        YahooFinance()
