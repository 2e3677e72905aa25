"""Binance captures: the documented snapshot + diff procedure, checked against bookTicker."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from makerkit.core import DataError
from makerkit.data._binance import SCALE, load_binance_capture, replay_binance

SPOT = "crypto/binance_spot_btcusdt_20240808_stream.gz"
USDM = "crypto/binance_usdm_btcusdt_20240718_stream.gz"


@pytest.mark.parametrize(("name", "tickers", "trades"), [(SPOT, 28_040, 9_757), (USDM, 7_113, 974)])
def test_replay_agrees_with_every_comparable_book_ticker(
    data_root: Path, name: str, tickers: int, trades: int
) -> None:
    capture = load_binance_capture(data_root / name)
    assert len(capture.tickers) == tickers and capture.trade_ns.size == trades
    report = replay_binance(capture)
    assert report.gaps == 0 and report.crossed == 0
    assert report.comparable > 100 and report.matches == report.comparable
    bid, ask = report.final_bid, report.final_ask
    assert bid is not None and ask is not None and 0 < ask[0] - bid[0] < 100 * SCALE


def lines(data_root: Path, name: str) -> list[bytes]:
    return gzip.decompress((data_root / name).read_bytes()).splitlines()


def test_a_missing_diff_is_reported_as_a_gap_not_ignored(data_root: Path, tmp_path: Path) -> None:
    rows = lines(data_root, SPOT)
    depth = [i for i, row in enumerate(rows) if b"@depth" in row]
    drop = depth[len(depth) // 2]
    path = tmp_path / "gap.gz"
    path.write_bytes(gzip.compress(b"\n".join(rows[:drop] + rows[drop + 1 :])))
    report = replay_binance(load_binance_capture(path))
    # reported at the next diff (its line in the shortened file)
    assert report.gaps == 1 and report.gap_lines == (depth[len(depth) // 2 + 1],)
    # after the gap nothing is compared: the book is not trusted without a new snapshot
    full = replay_binance(load_binance_capture(data_root / SPOT))
    assert 0 < report.comparable < full.comparable and report.matches == report.comparable


def test_futures_continuity_uses_pu(data_root: Path, tmp_path: Path) -> None:
    rows = lines(data_root, USDM)
    depth = [i for i, row in enumerate(rows) if b"@depth" in row]
    k = depth[-10]
    rows[k] = rows[k].replace(b'"pu":', b'"pu":1', 1)  # a previous id that is not the last u
    path = tmp_path / "pu.gz"
    path.write_bytes(gzip.compress(b"\n".join(rows)))
    assert replay_binance(load_binance_capture(path)).gaps == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'123 {"stream":"btcusdt@trade","data":{"e":"trade","p":"1.0"}}\n', "line 1"),
        (b"123 not json\n", "line 1"),
        (b'123 {"stream":"btcusdt@trade","data":{"p":"1.0","q":"2","m":true}}\n', "no REST depth"),
        (b'1 {"lastUpdateId":5,"bids":[["1.123456789","1"]],"asks":[]}\n', "field `bids`"),
    ],
)
def test_malformed_captures_name_the_problem(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    with pytest.raises(DataError, match=message):
        load_binance_capture(path)


def test_a_truncated_gzip_is_a_clear_error(data_root: Path, tmp_path: Path) -> None:
    path = tmp_path / "cut.gz"
    path.write_bytes((data_root / SPOT).read_bytes()[:5000])
    with pytest.raises(DataError, match="cannot read"):
        load_binance_capture(path)
