"""LOBSTER loading: real files parse; malformed files fail naming file, line and field."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from makerkit.core import DataError
from makerkit.data import load_lobster, load_lobster_messages, load_lobster_orderbook, lobster_pairs

GOOD_MSG = "34200.01,1,11,100,5800000,1\n34200.02,1,12,50,5801000,-1\n34200.5,3,11,100,5800000,1\n"


def write(tmp_path: Path, name: str, text: str, gz: bool = False) -> Path:
    path = tmp_path / name
    if gz:
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


def test_plain_and_gzip_parse_the_same(tmp_path: Path) -> None:
    plain = load_lobster_messages(write(tmp_path, "m.csv", GOOD_MSG))
    zipped = load_lobster_messages(write(tmp_path, "m.csv.gz", GOOD_MSG, gz=True))
    assert (
        plain.ts_ns.tolist()
        == zipped.ts_ns.tolist()
        == [
            34_200_010_000_000,
            34_200_020_000_000,
            34_200_500_000_000,
        ]
    )
    assert plain.type.tolist() == [1, 1, 3]
    assert plain.direction.tolist() == [1, -1, 1]
    assert plain.price.dtype == np.int64


def test_seven_column_files_and_nanosecond_times(tmp_path: Path) -> None:
    text = "34201.117864772,6,-1,45725,33552100,-1,null\n34201.2,1,5,10,33552100,1,UBSS\n"
    msgs = load_lobster_messages(write(tmp_path, "m7.csv", text))
    assert msgs.ts_ns.tolist() == [34_201_117_864_772, 34_201_200_000_000]
    assert msgs.order_id.tolist() == [-1, 5]


@pytest.mark.parametrize(
    ("text", "line", "field", "words"),
    [
        ("34200.1,1,1,100,5800000,1\n34200.2,1,2,100,5800000\n", 2, "", "columns"),
        ("34200.1,1,1,100,5800000,1\n34200.2,1,2,abc,5800000,1\n", 2, "size", "not a number"),
        ("34200.1,9,1,100,5800000,1\n", 1, "type", "unknown message type"),
        ("34200.1,1,1,100,5800000,1\n34200.2,1,2,100,5800000,0\n", 2, "direction", "1 or -1"),
        ("34200.1,1,1,0,5800000,1\n", 1, "size", "> 0"),
        ("34200.1,1,1,10.5,5800000,1\n", 1, "size", "integer"),
        ("34200.2,1,1,10,5800000,1\n34200.1,1,2,10,5800000,1\n", 2, "time", "backwards"),
    ],
)
def test_malformed_message_files_name_line_and_field(
    tmp_path: Path, text: str, line: int, field: str, words: str
) -> None:
    path = write(tmp_path, "bad_message.csv", text)
    with pytest.raises(DataError) as info:
        load_lobster_messages(path)
    message = str(info.value)
    assert str(path) in message and f"line {line}" in message and words in message
    if field:
        assert f"`{field}`" in message
    assert info.value.line == line


def test_malformed_orderbook_names_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, "bad_book.csv", "1,2,3,4\n1,2,x,4\n")
    with pytest.raises(DataError, match=r"line 2.*column 3"):
        load_lobster_orderbook(path)
    path = write(tmp_path, "bad_cols.csv", "1,2,3,4\n1,2,3\n")
    with pytest.raises(DataError, match=r"line 2.*4 comma-separated columns, found 3"):
        load_lobster_orderbook(path)
    path = write(tmp_path, "bad_width.csv", "1,2,3\n")
    with pytest.raises(DataError, match="4 x levels"):
        load_lobster_orderbook(path)


def test_row_count_mismatch_and_missing_files(tmp_path: Path) -> None:
    msg = write(tmp_path, "m.csv", GOOD_MSG)
    book = write(tmp_path, "b.csv", "1,2,3,4\n")
    with pytest.raises(DataError, match="row count mismatch: 3 messages"):
        load_lobster(msg, book)
    with pytest.raises(DataError, match="cannot read"):
        load_lobster(tmp_path / "missing.csv", book)
    with pytest.raises(DataError, match="empty"):
        load_lobster_messages(write(tmp_path, "e.csv", ""))


def test_truncated_gzip_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "cut.csv.gz"
    path.write_bytes(gzip.compress(GOOD_MSG.encode())[:20])
    with pytest.raises(DataError, match="gzip"):
        load_lobster_messages(path)


def test_every_real_pair_loads_row_aligned(data_root: Path) -> None:
    pairs = lobster_pairs(data_root)
    assert len(pairs) >= 3
    for message, orderbook in pairs:
        day = load_lobster(message, orderbook)
        assert day.book.shape == (len(day), 4 * day.levels)
        assert (np.diff(day.messages.ts_ns) >= 0).all()
