"""The one Binance book builder: update-id order, spot and futures rules, gaps, crossed books."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from makerkit.backtest._events import DEPTH, binance_events, data_quality
from makerkit.cli import app
from makerkit.core import DataError
from makerkit.data import L2Book, load_binance_capture, replay_binance, sync_binance
from makerkit.predictor import binance_dataset
from makerkit.server._replay import _binance_events

SPOT = "crypto/binance_spot_btcusdt_20240808_stream.gz"
USDM = "crypto/binance_usdm_btcusdt_20240718_stream.gz"
runner = CliRunner()


def depth(
    ns: int, first: int, last: int, bids: Any = (), asks: Any = (), pu: int | None = None
) -> str:
    data: dict[str, Any] = {
        "e": "depthUpdate", "E": ns // 10**6, "s": "XUSDT", "U": first, "u": last,
        "b": [list(b) for b in bids], "a": [list(a) for a in asks],
    }  # fmt: skip
    stream = "xusdt@depth@100ms"
    if pu is not None:
        data["pu"] = pu
        stream = "xusdt@depth@0ms"
    return f"{ns} " + json.dumps({"stream": stream, "data": data})


def snapshot(ns: int, last_id: int, bids: Any, asks: Any) -> str:
    body = {
        "lastUpdateId": last_id,
        "bids": [list(b) for b in bids],
        "asks": [list(a) for a in asks],
    }
    return f"{ns} " + json.dumps(body)


def ticker(ns: int, u: int, bid: tuple[str, str], ask: tuple[str, str]) -> str:
    data = {"u": u, "s": "XUSDT", "b": bid[0], "B": bid[1], "a": ask[0], "A": ask[1]}
    return f"{ns} " + json.dumps({"stream": "xusdt@bookTicker", "data": data})


def trade(ns: int, price: str) -> str:
    data = {"e": "trade", "s": "XUSDT", "p": price, "q": "1", "m": False}
    return f"{ns} " + json.dumps({"stream": "xusdt@trade", "data": data})


def write(path: Path, rows: list[str]) -> Path:
    path.write_bytes(gzip.compress("\n".join(rows).encode()))
    return path


def final_levels(capture: Any) -> tuple[dict[int, int], dict[int, int]]:
    seen: list[tuple[dict[int, int], dict[int, int]]] = []

    def keep(book: L2Book, _diff: Any) -> None:
        seen.append((dict(book.bids), dict(book.asks)))

    sync_binance(capture, keep)
    return seen[-1]


def px(text: str) -> int:
    return round(float(text) * 10**8)


# ---------------------------------------- the shared captures


@pytest.mark.parametrize("name", [SPOT, USDM])
def test_shared_captures_are_never_crossed_and_match_every_ticker(
    data_root: Path, name: str
) -> None:
    capture = load_binance_capture(data_root / name)
    sync = sync_binance(capture)
    assert sync.gap is None and sync.gaps == 0 and sync.dropped == 0 and sync.crossed == 0
    assert sync.market == ("futures" if "usdm" in name else "spot")
    # applied in update-id order, each stamped no earlier than the snapshot or the one before
    assert [d.last for d in sync.applied] == sorted(d.last for d in sync.applied)
    assert sync.ts == sorted(sync.ts) and sync.ts[0] >= capture.snapshot_ns
    assert sync.stale + len(sync.applied) == len(capture.diffs)
    report = replay_binance(capture)
    assert report.gaps == 0 and report.crossed == 0 and report.dropped == 0
    assert report.comparable > 100 and report.matches == report.comparable
    # the backtester's stream: every complete update leaves the book uncrossed
    events = binance_events(capture)
    quality = data_quality(events)
    assert quality == {"events": len(events), "crossed_events": 0, "gaps": 0, "dropped": 0}
    # and it ends on the builder's book
    book: dict[tuple[int, int], int] = {}
    for kind, side, price, qty in zip(
        events.kind.tolist(), events.side.tolist(), events.price.tolist(), events.qty.tolist(),
        strict=True,
    ):  # fmt: skip
        if kind == DEPTH:
            book[(side, price)] = qty
    bid = max(p for (s, p), q in book.items() if s == 1 and q)
    ask = min(p for (s, p), q in book.items() if s == -1 and q)
    assert report.final_bid is not None and report.final_ask is not None
    assert (bid * events.tick, book[(1, bid)] * events.lot) == report.final_bid
    assert (ask * events.tick, book[(-1, ask)] * events.lot) == report.final_ask


def test_the_bridging_diff_is_applied_after_the_snapshot_everywhere(data_root: Path) -> None:
    capture = load_binance_capture(data_root / SPOT)
    sync = sync_binance(capture)
    bridging = sync.applied[0]
    assert bridging.line < capture.snapshot_line  # received before the snapshot
    assert sync.ts[0] == capture.snapshot_ns  # and applied just after it
    venue = list(_binance_events(capture))
    n_snap = len(capture.snapshot_bids) + len(capture.snapshot_asks)
    assert all(ts >= capture.snapshot_ns for ts, *_ in venue[n_snap:])
    assert len(binance_dataset(capture)) == len(sync.applied)


# ---------------------------------------- synthetic: the snapshot id equals a diff's u


def spot_capture(tmp_path: Path) -> Path:
    return write(tmp_path / "spot.gz", [
        depth(1000, 5, 10, bids=[("97.00", "5")]),  # u == lastUpdateId: stale on spot
        depth(2000, 11, 12, bids=[("100.00", "0"), ("99.00", "2")]),  # bridges, received first
        snapshot(3000, 10, bids=[("100.00", "1"), ("98.00", "1")], asks=[("101.00", "1")]),
        depth(4000, 13, 13, asks=[("99.50", "1")]),  # crosses a phantom bid 100 if misordered
        ticker(4100, 13, ("99.00", "2"), ("99.50", "1")),
        trade(4200, "99.50"),
    ])  # fmt: skip


def test_spot_rule_drops_the_diff_whose_u_is_the_snapshot_id(tmp_path: Path) -> None:
    capture = load_binance_capture(spot_capture(tmp_path))
    sync = sync_binance(capture)
    assert sync.market == "spot" and sync.stale == 1 and sync.gap is None
    assert [d.line for d in sync.applied] == [2, 4] and sync.crossed == 0
    assert sync.ts == [3000, 4000]
    bids, asks = final_levels(capture)
    assert bids == {px("99"): 2 * 10**8, px("98"): 10**8}  # no bid 97, no phantom 100
    assert asks == {px("99.5"): 10**8, px("101"): 10**8}
    report = replay_binance(capture)
    assert report.comparable == 1 and report.matches == 1
    events = binance_events(capture)
    assert data_quality(events)["crossed_events"] == 0 and int(events.ts.min()) >= 3000


def test_receive_order_would_have_crossed_the_spot_book(tmp_path: Path) -> None:
    # the old ordering (by receive time) puts the bridging diff before the snapshot
    capture = load_binance_capture(spot_capture(tmp_path))
    assert data_quality(binance_events(capture))["crossed_events"] == 0  # update-id order
    book = L2Book()
    for p, q in capture.diffs[1].bids:  # the bridging diff, received first ...
        book.set(1, p, q)
    for p, q in capture.snapshot_bids:  # ... undone by the snapshot: a phantom bid 100
        book.set(1, p, q)
    for p, q in capture.snapshot_asks:
        book.set(-1, p, q)
    for p, q in capture.diffs[2].asks:  # the diff after the snapshot, on the stale bid 100
        book.set(-1, p, q)
    best_bid, best_ask = book.best(1), book.best(-1)
    assert best_bid is not None and best_ask is not None and best_bid[0] >= best_ask[0]


def futures_capture(tmp_path: Path, next_pu: int = 10) -> Path:
    return write(tmp_path / "usdm.gz", [
        depth(1000, 5, 7, bids=[("97.00", "5")], pu=4),  # u < lastUpdateId: stale
        depth(2000, 8, 10, bids=[("99.00", "2")], asks=[("101.00", "1")], pu=7),  # u == id
        snapshot(3000, 10, bids=[("99.00", "2"), ("98.00", "1")], asks=[("101.00", "1")]),
        depth(4000, 15, 20, asks=[("100.50", "1")], pu=next_pu),  # U jumps: futures ids do
        ticker(4100, 20, ("99.00", "2"), ("100.50", "1")),
    ])  # fmt: skip


def test_futures_rule_applies_the_diff_whose_u_is_the_snapshot_id(tmp_path: Path) -> None:
    capture = load_binance_capture(futures_capture(tmp_path))
    sync = sync_binance(capture)
    assert sync.market == "futures" and sync.stale == 1 and sync.gap is None
    assert [d.line for d in sync.applied] == [2, 4] and sync.crossed == 0
    bids, asks = final_levels(capture)
    assert bids == {px("99"): 2 * 10**8, px("98"): 10**8}
    assert asks == {px("100.5"): 10**8, px("101"): 10**8}
    report = replay_binance(capture)
    assert report.gaps == 0 and report.comparable == 1 and report.matches == 1


# ---------------------------------------- gaps


def test_a_spot_capture_that_does_not_bridge_its_snapshot_is_a_clear_error(tmp_path: Path) -> None:
    path = write(tmp_path / "nobridge.gz", [
        snapshot(1000, 10, bids=[("99.00", "1")], asks=[("101.00", "1")]),
        depth(2000, 12, 13, bids=[("99.00", "2")]),
    ])  # fmt: skip
    capture = load_binance_capture(path)
    sync = sync_binance(capture)
    assert sync.gap is not None and sync.gap.line == 2 and sync.dropped == 1
    assert "U <= lastUpdateId + 1 <= u" in sync.gap.rule
    with pytest.raises(DataError, match=r"nobridge\.gz.*line 2.*lastUpdateId \+ 1"):
        binance_events(capture)


def test_a_futures_pu_break_is_a_gap_naming_the_rule(tmp_path: Path) -> None:
    capture = load_binance_capture(futures_capture(tmp_path, next_pu=11))
    sync = sync_binance(capture)
    assert sync.gap is not None and sync.gap.line == 4
    assert "pu must equal the previous u" in str(sync.gap) and "usdm.gz" in str(sync.gap)
    assert [d.line for d in sync.applied] == [2]


def gap_capture(data_root: Path, root: Path) -> tuple[Path, int]:
    rows = gzip.decompress((data_root / SPOT).read_bytes()).splitlines()
    at = [i for i, row in enumerate(rows) if b"@depth" in row]
    drop = at[len(at) // 2]
    path = root / "crypto" / Path(SPOT).name
    path.parent.mkdir(parents=True)
    path.write_bytes(gzip.compress(b"\n".join(rows[:drop] + rows[drop + 1 :])))
    return path, at[len(at) // 2 + 1]  # the next diff's line in the shortened file


def test_a_real_gap_stops_the_stream_and_is_reported(data_root: Path, tmp_path: Path) -> None:
    path, line = gap_capture(data_root, tmp_path)
    capture = load_binance_capture(path)
    sync = sync_binance(capture)
    assert sync.gap is not None and sync.gap.line == line
    assert sync.gap.rule.startswith("spot: U must equal the previous u + 1")
    assert sync.dropped == len(capture.diffs) - sync.stale - len(sync.applied) > 0
    events = binance_events(capture)
    quality = data_quality(events)
    assert quality["gaps"] == 1 and quality["dropped"] == sync.dropped
    assert quality["crossed_events"] == 0
    assert events.notes == (str(sync.gap),) and int(events.ts[-1]) <= sync.ts[-1]


def test_backtest_warns_on_a_gap_and_writes_data_quality(
    data_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, line = gap_capture(data_root, tmp_path / "data")
    monkeypatch.setenv("MAKERKIT_DATA", str(tmp_path / "data"))
    out = tmp_path / "bt"
    args = ["backtest", "--strategy", "glft", "--param", "sigma=3",
            "--data", "binance:btcusdt:2024-08-08", "--out", str(out)]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    text = result.output.replace("\n", " ")
    assert "warning: data quality" in text and "gaps 1" in text
    assert f"{path.name}, line {line}" in text and "U must equal the previous u + 1" in text
    quality = json.loads((out / "metrics.json").read_text())["data_quality"]
    assert quality["gaps"] == 1 and quality["dropped"] > 0 and quality["crossed_events"] == 0


def test_backtest_on_a_capture_with_no_usable_depth_fails_without_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "crypto").mkdir()
    write(tmp_path / "crypto" / "binance_spot_xusdt_20240101_stream.gz", [
        snapshot(1000, 10, bids=[("99.00", "1")], asks=[("101.00", "1")]),
        depth(2000, 12, 13, bids=[("99.00", "2")]),
        trade(2500, "100.00"),
    ])  # fmt: skip
    monkeypatch.setenv("MAKERKIT_DATA", str(tmp_path))
    args = [
        "backtest",
        "--strategy",
        "glft",
        "--data",
        "binance:xusdt",
        "--out",
        str(tmp_path / "o"),
    ]
    result = runner.invoke(app, args)
    text = result.output.replace("\n", " ")
    assert result.exit_code == 2, text
    assert "Traceback" not in text and "binance_spot_xusdt_20240101_stream.gz" in text
    assert "line 2" in text and "U <= lastUpdateId + 1 <= u" in text


def test_backtest_on_the_shared_capture_has_clean_data_quality(
    data_root: Path, tmp_path: Path
) -> None:
    out = tmp_path / "bt"
    args = ["backtest", "--strategy", "glft", "--param", "sigma=3",
            "--data", "binance:btcusdt:2024-08-08", "--out", str(out)]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "data quality" not in result.output
    quality = json.loads((out / "metrics.json").read_text())["data_quality"]
    assert quality["events"] > 0
    assert quality["crossed_events"] == quality["gaps"] == quality["dropped"] == 0
