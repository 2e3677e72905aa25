"""The venue load benchmark's own parts: the lean load generator and the side-by-side trees."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

pytest.importorskip("fastapi")

from makerkit.cli._bench_server import (
    _bench,
    _check_tree,
    _client_frame,
    _decode_answers,
    _follow,
    _md_stats,
    _source_tree,
    _ws_pipelined,
)
from tests.unit.server.test_wsproto import ADMIN, _start


def test_client_frames_are_masked_text_frames_of_either_length() -> None:
    short, long = b"x" * 125, b"y" * 126
    assert _client_frame(short)[:6] == bytes((0x81, 0x80 | 125, 0, 0, 0, 0))
    assert _client_frame(short)[6:] == short
    assert _client_frame(long)[:8] == bytes((0x81, 0xFE, 0, 126, 0, 0, 0, 0))
    assert _client_frame(long)[8:] == long


def test_answers_are_read_from_single_frames_and_arrays() -> None:
    one = _decode_answers(b'{"type":"ack","req_id":3,"order":{"order_id":9,"status":"new"}}')
    assert not isinstance(one, list)
    assert (one.type, one.req_id, one.order and one.order.order_id) == ("ack", 3, 9)
    many = _decode_answers(
        b'[{"type":"order","order_id":9,"status":"new","seq":1},'
        b'{"type":"error","code":"RATE_LIMIT","req_id":"r-1"}]'
    )
    assert isinstance(many, list)
    assert [(a.type, a.req_id, a.order) for a in many] == [
        ("order", None, None),
        ("error", "r-1", None),
    ]


def test_the_pipelined_load_answers_every_order_and_cancels_it(tmp_path: Path) -> None:
    host, _, srv, thread = _start(tmp_path)
    try:
        base = f"http://{host}"
        body = httpx.post(
            f"{base}/admin/accounts", json={"name": "load"}, headers={"X-API-Key": ADMIN}
        ).json()
        acked, latencies = asyncio.run(
            _ws_pipelined(f"ws://{host}", body["api_key"], 0.3, 8, "buy", 0)
        )
        assert acked > 0 and len(latencies) == acked and min(latencies) > 0
        # the load left nothing behind: each order was answered, then canceled
        headers = {"X-API-Key": body["api_key"]}
        assert httpx.get(f"{base}/orders", headers=headers).json() == []
        journaled = httpx.get(f"{base}/health").json()["journal_commands"]
        assert journaled >= acked
    finally:
        srv.should_exit = True
        thread.join(timeout=10)


def test_a_baseline_whose_code_would_not_run_is_refused(tmp_path: Path) -> None:
    (tmp_path / "src" / "makerkit").mkdir(parents=True)  # an empty tree: not importable
    with pytest.raises(RuntimeError, match="would not run that revision's code"):
        _check_tree(tmp_path, "empty")


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_a_baseline_revision_runs_its_own_code(tmp_path: Path) -> None:
    inside = subprocess.run(
        ["git", "-C", str(Path(__file__).parent), "rev-parse", "--is-inside-work-tree"],  # noqa: S607
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if inside.stdout.strip() != "true":
        pytest.skip("not a git checkout")
    tree = _source_tree("HEAD", tmp_path)  # checked: a venue process imports this tree
    assert (tree / "src" / "makerkit" / "server" / "_ws.py").is_file()


def test_subscribers_drop_deltas_their_snapshot_holds_and_count_real_gaps() -> None:
    out = _md_stats()
    last = snapshot = 100
    for seq in (96, 99, 100, 101, 102, 105, 104, 106, 106):
        followed = _follow(out, snapshot, last, seq)
        last = last if followed is None else followed
    # 96, 99, 100: in the snapshot; 105 skips 103; 104 goes back, 106 skips 105; 106 again
    assert (out["stale"], out["gaps"], last) == (3, 4, 106)


def test_every_phase_reports_and_the_paced_ones_keep_to_their_rate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("makerkit.cli._bench_server.ADMIN", ADMIN)  # the test venue's admin
    monkeypatch.setattr("makerkit.cli._bench_server._SPAWN_NS", 0)  # each load process at once
    host, _, srv, thread = _start(tmp_path)
    try:
        rate, seconds = 200.0, 0.5
        result = asyncio.run(_bench(f"http://{host}", seconds, 2, 1, 2, rate))
    finally:
        srv.should_exit = True
        thread.join(timeout=10)
    assert result["ws_orders_per_sec"] > 0 and result["rest_orders_per_sec"] > 0
    # a paced client sends an order (and later its cancel) no earlier than its schedule
    most = rate + 2 * 2 / seconds  # each of the 2 clients may be one order ahead at the start
    assert 0 < result["paced_alone_orders_per_sec"] <= most
    assert 0 < result["paced_orders_per_sec"] <= most
    assert result["md_subscribers"] == 2 and result["md_gaps"] == 0
    assert result["lost_events"] == 0
