"""Exact LOBSTER replay: every real pair matches every row; edge cases on a small handmade day."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from makerkit.backtest import replay_lobster
from makerkit.data import load_lobster, lobster_pairs

D = "9999999999,0"
B = "-9999999999,0"
# (message, orderbook row after it) for a level-2 day; prices are USD x 10000
SMALL_DAY = [
    ("34200.100,1,1,100,1000000,1", f"{D},1000000,100,{D},999000,70"),
    ("34200.200,1,2,50,1001000,-1", f"1001000,50,1000000,100,{D},999000,70"),
    ("34200.300,7,0,0,-1,-1", f"1001000,50,1000000,100,{D},999000,70"),
    ("34200.350,7,0,0,1,-1", f"1001000,50,1000000,100,{D},999000,70"),
    ("34200.400,6,-1,500,1000500,-1", f"1001000,50,1000000,100,{D},999000,70"),
    ("34200.500,4,2,20,1001000,-1", f"1001000,30,1000000,100,{D},999000,70"),
    ("34200.600,5,0,10,1000550,1", f"1001000,30,1000000,100,{D},999000,70"),
    ("34200.700,1,3,5,1002000,-1", "1001000,30,1000000,100,1002000,5,999000,70"),
    ("34200.800,3,1,100,1000000,1", "1001000,30,999000,70,1002000,5,998000,40"),
    ("34200.900,4,77,40,998000,1", f"1001000,30,999000,70,1002000,5,{B}"),
    ("34201.000,2,55,30,999000,1", f"1001000,30,999000,40,1002000,5,{B}"),
    ("34201.100,3,2,30,1001000,-1", f"1002000,5,999000,40,{D},{B}"),
]


def write_day(tmp_path: Path, rows: list[tuple[str, str]]) -> tuple[Path, Path]:
    message = tmp_path / "TEST_2024-01-02_34200000_57600000_message_2.csv"
    orderbook = tmp_path / "TEST_2024-01-02_34200000_57600000_orderbook_2.csv"
    message.write_text("\n".join(m for m, _ in rows) + "\n")
    orderbook.write_text("\n".join(b for _, b in rows) + "\n")
    return message, orderbook


def test_small_day_replays_exactly(tmp_path: Path, backend: str) -> None:
    day = load_lobster(*write_day(tmp_path, SMALL_DAY))
    report, l1 = replay_lobster(day, engine=backend, record_l1=True)
    assert report.first_mismatch is None
    assert (report.rows_checked, report.mismatched_rows) == (12, 0)
    assert report.tick == 1000
    assert report.initial_levels == 1  # row 0 with message 0 undone: only the 99.90 bid
    assert report.seeded_levels == 1  # 99.80 entered the window from beyond
    assert (report.visible_trades, report.visible_volume) == (2, 60)
    assert (report.hidden_trades, report.hidden_volume) == (1, 10)
    assert report.cross_trades == 1
    assert (report.halts, report.halt_violations) == (1, 0)
    assert report.unresolved_refs == 0
    assert l1 is not None
    assert l1[-1].tolist() == [1002000, 5, 999000, 40]
    assert l1[0].tolist() == [0, 0, 1000000, 100]


def test_execution_during_a_halt_is_counted(tmp_path: Path) -> None:
    rows = list(SMALL_DAY)
    rows.insert(3, ("34200.320,5,0,10,1000550,1", rows[2][1]))
    day = load_lobster(*write_day(tmp_path, rows))
    report, _ = replay_lobster(day)
    assert report.halt_violations == 1 and report.mismatched_rows == 0


def test_a_wrong_row_is_reported_in_plain_words(tmp_path: Path, backend: str) -> None:
    rows = list(SMALL_DAY)
    rows[5] = (rows[5][0], f"1001000,31,1000000,100,{D},999000,70")
    day = load_lobster(*write_day(tmp_path, rows))
    report, _ = replay_lobster(day, engine=backend)
    assert report.mismatched_rows == 1
    assert report.first_mismatch is not None
    assert "orderbook row 6" in report.first_mismatch
    assert "ask level 1 should be 100.1 x 31, the book has 100.1 x 30" in report.first_mismatch


def test_replay_is_deterministic(tmp_path: Path) -> None:
    day = load_lobster(*write_day(tmp_path, SMALL_DAY))
    first, l1a = replay_lobster(day, record_l1=True)
    second, l1b = replay_lobster(day, record_l1=True)
    first.seconds = second.seconds = first.msgs_per_sec = second.msgs_per_sec = 0.0
    assert first == second
    assert l1a is not None and l1b is not None and np.array_equal(l1a, l1b)


@pytest.mark.data
def test_every_real_lobster_pair_replays_with_zero_mismatches(
    data_root: Path, backend: str
) -> None:
    pairs = lobster_pairs(data_root)
    assert len(pairs) >= 3, f"expected the LOBSTER sample pairs under {data_root}"
    for message, orderbook in pairs:
        day = load_lobster(message, orderbook)
        report, _ = replay_lobster(day, engine=backend)
        assert report.first_mismatch is None, message.name
        assert report.mismatched_rows == 0
        assert report.rows_checked == report.messages == len(day)
        assert report.unresolved_refs == 0
        types = day.messages.type
        assert report.visible_trades == int((types == 4).sum())
        assert report.hidden_trades == int((types == 5).sum())
        assert report.visible_volume == int(day.messages.size[types == 4].sum())


def _subsequence_rows(longer: np.ndarray, shorter: np.ndarray) -> list[int]:
    """Row index in ``longer`` of each row of ``shorter`` (an ordered subsequence)."""
    rows = [tuple(r) for r in longer.tolist()]
    out = []
    k = 0
    for target in (tuple(r) for r in shorter.tolist()):
        while rows[k] != target:
            k += 1
        out.append(k)
        k += 1
    return out


@pytest.mark.data
def test_goog_level10_book_cut_to_level1_equals_the_level1_file(data_root: Path) -> None:
    lob = data_root / "lobster"
    stem = "GOOG_2012-06-21_34200000_57600000"
    l10 = load_lobster(lob / f"{stem}_message_10.csv.gz", lob / f"{stem}_orderbook_10.csv.gz")
    l1 = load_lobster(lob / f"{stem}_message_1.csv.gz", lob / f"{stem}_orderbook_1.csv.gz")
    report, top = replay_lobster(l10, record_l1=True)
    assert report.mismatched_rows == 0 and top is not None

    def table(day: object) -> np.ndarray:
        m = day.messages  # type: ignore[attr-defined]
        return np.column_stack([m.ts_ns, m.type, m.order_id, m.size, m.price, m.direction])

    aligned = _subsequence_rows(table(l10), table(l1))
    assert len(aligned) == len(l1) == 49_482
    rebuilt = top[aligned]
    assert np.array_equal(rebuilt, l1.book), "the level-10 book cut to level 1 differs"
