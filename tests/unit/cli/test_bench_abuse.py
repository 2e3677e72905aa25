"""The reliability benchmark's own parts: RSS parsing, raw WebSocket frames, the ledger."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from makerkit.cli._bench_abuse import (
    Ledger,
    _Drained,
    abuse_table,
    classify_answer,
    is_refusal,
    open_fds,
    parse_sockstat_tcp,
    parse_vmrss_mb,
    percentiles_ms,
    read_rss_mb,
    release_times,
    ws_accept_key,
    ws_client_frame,
    ws_handshake,
)

STATUS = """Name:\tpython
State:\tS (sleeping)
VmPeak:\t  400000 kB
VmHWM:\t  120000 kB
VmRSS:\t  108544 kB
RssAnon:\t   90000 kB
"""


def test_vmrss_is_read_in_mb_and_not_confused_with_its_neighbours() -> None:
    assert parse_vmrss_mb(STATUS) == pytest.approx(106.0)
    assert parse_vmrss_mb("Name:\tkthreadd\nState:\tS\n") is None  # kernel threads have none
    assert parse_vmrss_mb("VmRSS:\t garbage kB\n") is None


def test_own_rss_is_readable_on_linux() -> None:
    if not Path("/proc/self/status").exists():
        pytest.skip("no /proc here")
    mb = read_rss_mb(os.getpid())
    assert mb is not None and 5 < mb < 10_000
    assert read_rss_mb(2**22 + 12345) is None  # no such process


def test_sockstat_tcp_line_is_parsed() -> None:
    text = (
        "sockets: used 28\nTCP: inuse 11 orphan 3 tw 219 alloc 11 mem 25600\nUDP: inuse 0 mem 7\n"
    )
    tcp = parse_sockstat_tcp(text)
    assert tcp == {"inuse": 11, "orphan": 3, "tw": 219, "alloc": 11, "mem": 25600}
    assert parse_sockstat_tcp("UDP: inuse 0 mem 7\n") == {}


def test_release_times_follow_the_falling_descriptor_count() -> None:
    # 10 descriptors at the start; 2 go at 1.0 s, one comes and goes, 5 more by 3.0 s
    samples = [(0.5, 10), (1.0, 8), (1.5, 9), (2.0, 8), (3.0, 3), (4.0, 4)]
    assert release_times(samples, 10) == [1.0, 1.0, 3.0, 3.0, 3.0, 3.0, 3.0]
    assert release_times([(0.1, 12), (0.2, 10)], 10) == []  # more than at the start: none
    if Path("/proc/self/fd").exists():
        count = open_fds(os.getpid())
        assert count is not None and count >= 3


def test_accept_key_matches_rfc_6455() -> None:
    # the worked example of RFC 6455 section 1.3
    assert ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def test_handshake_is_a_complete_upgrade_request() -> None:
    request = ws_handshake("127.0.0.1", 8123, "/ws/md", "dGhlIHNhbXBsZSBub25jZQ==").decode()
    lines = request.split("\r\n")
    assert lines[0] == "GET /ws/md HTTP/1.1"
    assert "Host: 127.0.0.1:8123" in lines
    assert "Upgrade: websocket" in lines
    assert "Sec-WebSocket-Version: 13" in lines
    assert request.endswith("\r\n\r\n")


def test_masked_frame_matches_rfc_6455_example() -> None:
    # RFC 6455 section 5.7: a masked text frame "Hello"
    frame = ws_client_frame(b"Hello", bytes.fromhex("37fa213d"))
    assert frame == bytes.fromhex("818537fa213d7f9f4d5158")


def _unmask(frame: bytes) -> tuple[int, bytes]:
    size, at = frame[1] & 0x7F, 2
    if size == 126:
        size, at = int.from_bytes(frame[2:4], "big"), 4
    elif size == 127:
        size, at = int.from_bytes(frame[2:10], "big"), 10
    mask, body = frame[at : at + 4], frame[at + 4 :]
    assert len(body) == size
    return frame[0], bytes(b ^ mask[i % 4] for i, b in enumerate(body))


@pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536])
def test_frame_lengths_use_the_right_encoding(size: int) -> None:
    payload = bytes(i % 251 for i in range(size))
    frame = ws_client_frame(payload, b"\x01\x02\x03\x04")
    assert frame[1] & 0x80  # client frames are masked
    opcode, body = _unmask(frame)
    assert opcode == 0x81
    assert body == payload
    with pytest.raises(ValueError, match="mask"):
        ws_client_frame(payload, b"\x01\x02")


def test_answers_are_classified_and_refusals_recognised() -> None:
    assert classify_answer({"type": "ack", "order": {"reason": "NONE", "status": "new"}}) == "ACK"
    assert classify_answer({"type": "ack", "canceled": []}) == "ACK"
    limited = {"type": "ack", "order": {"reason": "RATE_LIMIT", "status": "rejected"}}
    assert classify_answer(limited) == "RATE_LIMIT"
    assert classify_answer({"type": "error", "code": "MESSAGE_TOO_LARGE"}) == "MESSAGE_TOO_LARGE"
    assert classify_answer({"type": "order", "reason": "NONE"}) is None  # a push, not an answer
    for code in ("RATE_LIMIT", "KILL_SWITCH", "MESSAGE_TOO_LARGE", "INVALID_REQUEST"):
        assert is_refusal(code)
    for code in ("ACK", "UNKNOWN_ORDER", "UNKNOWN_SYMBOL", "DUPLICATE_ORDER_ID"):
        assert not is_refusal(code)


def test_ledger_counts_nothing_when_everything_is_there() -> None:
    ledger = Ledger()
    ledger.placed("a", 1)
    ledger.placed("b", 2)
    ledger.cancel_acked(2)
    ledger.check_found(1, {"client_order_id": "a", "status": "new"})
    ledger.check_found(2, {"client_order_id": "b", "status": "canceled"})
    ledger.check_resend("a", {"order_id": 1, "status": "new", "reason": "NONE"})
    ledger.check_resend("b", {"order_id": 0, "status": "rejected", "reason": "DUPLICATE_ORDER_ID"})
    assert (ledger.lost, ledger.duplicated) == (0, 0)


def test_ledger_finds_lost_orders_and_lost_cancels_once_each() -> None:
    ledger = Ledger()
    ledger.placed("a", 1)
    ledger.placed("b", 2)
    ledger.cancel_acked(2)
    ledger.check_found(1, None)
    ledger.check_found(1, None)  # asked again after a later restart: still one loss
    ledger.check_found(2, {"client_order_id": "b", "status": "new"})  # the cancel is gone
    assert ledger.lost == 2
    assert ledger.duplicated == 0
    assert any("missing" in note for note in ledger.notes)


def test_ledger_finds_reused_ids_and_client_ids_placed_twice() -> None:
    ledger = Ledger()
    ledger.placed("a", 1)
    ledger.placed("b", 1)  # order id 1 handed out again
    assert ledger.duplicated == 1
    ledger.check_found(1, {"client_order_id": "c", "status": "new"})  # same id, other order
    assert ledger.duplicated == 1  # the same id counts once
    ledger.placed("d", 4)
    ledger.check_resend("d", {"order_id": 9, "status": "new", "reason": "NONE"})
    assert ledger.duplicated == 2
    assert ledger.lost == 0


def test_percentiles_and_table() -> None:
    assert percentiles_ms([]) == (None, None)
    p50, p99 = percentiles_ms([1_000_000] * 99 + [100_000_000])
    assert p50 == pytest.approx(1.0)
    assert p99 is not None and 1.0 < p99 < 100.0
    result = {
        "lost_acknowledged": 0,
        "duplicated": 1,
        "victim_baseline_p99_ms": 2.0,
        "victim_order_p99_ms": 5.0,
        "targets_met": {"lost_acknowledged": True, "duplicated": False},
        "flood_codes": {"ACK": 3},
    }
    table = abuse_table(result)
    assert table.row_count == 6 + 2  # the headline rows, then the others


def test_drained_stream_counts_answers_across_chunk_boundaries() -> None:
    stream = (
        b'\x81\x10{"type":"snapshot","seq":1}'
        b'\x81\x10{"type":"delta","seq":2}'
        b'\x81\x10{"type":"error","code":"SLOW_CONSUMER"}'
        b'\x81\x10{"type":"snapshot","seq":3}'
    )
    for cut in range(1, len(stream)):  # every split point, matches straddling it included
        drained = _Drained()
        drained.take(stream[:cut])
        drained.take(stream[cut:])
        assert (drained.snapshots, drained.errors, drained.nbytes) == (2, 1, len(stream)), cut
    assert b"SLOW_CONSUMER" in drained.tail
