"""Native batch calls: the same outcome as per-call commands; bad arrays are clear errors."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from makerkit.backtest import apply_stream
from makerkit.book import available_backends, make_book
from makerkit.core import RejectReason
from makerkit.data import synthetic_stream

pytestmark = pytest.mark.skipif(
    "native" not in available_backends(), reason="the native engine is not built"
)


def columns(stream: Any) -> tuple[np.ndarray, ...]:
    return (
        stream.action,
        stream.order_id,
        stream.side,
        stream.price,
        stream.qty,
        stream.tif,
        stream.ts,
    )


def test_stream_batch_equals_per_call_reference() -> None:
    stream = synthetic_stream(50_000, seed=21)
    ref = make_book("python", fill_history=None)
    stats = apply_stream(ref, stream)
    native = make_book("native", fill_history=None)
    accepted, fills, volume, last_price, rejects, fill_rows = native.apply_stream_batch(
        *columns(stream)
    )
    assert (accepted, fills, volume, last_price) == (
        stats.accepted, stats.fills, stats.volume, stats.last_price,
    )  # fmt: skip
    assert {RejectReason(k).name: v for k, v in enumerate(rejects) if v} == stats.rejects
    want = np.array(
        [
            (f.seq, f.maker_order_id, f.taker_order_id, f.price, f.qty, int(f.aggressor),
             f.maker_account, f.taker_account, f.ts_event)
            for f in ref.fills()
        ],
        dtype=np.int64,
    )  # fmt: skip
    assert fill_rows.shape == (fills, 9)
    assert np.array_equal(fill_rows, want)
    assert native.l3(100_000) == ref.l3(100_000)


@pytest.mark.parametrize(
    ("mutate", "error", "words"),
    [
        (lambda c: (c[0].astype(np.float64), *c[1:]), TypeError, "`action`"),
        (lambda c: (c[0], c[1][:-1], *c[2:]), ValueError, "`order_id`, must have"),
        (lambda c: (c[0], c[1], c[2].reshape(-1, 1), *c[3:]), TypeError, "`side`"),
        (lambda c: (*c[:6], c[6][::2]), TypeError, "`ts`, must be a 1-d C-contiguous"),
        (lambda c: (*c[:5], c[5][:-2], c[6]), ValueError, "`tif`, must have 100 rows, was 98"),
    ],
)
def test_malformed_stream_arrays_are_clear_errors(mutate: Any, error: type, words: str) -> None:
    book = make_book("native")
    cols = columns(synthetic_stream(100, seed=1))
    with pytest.raises(error, match=words):
        book.apply_stream_batch(*mutate(cols))
    assert len(book) == 0


def test_malformed_lobster_batch_is_a_clear_error() -> None:
    book = make_book("native")
    n = 4
    ints = np.ones(n, dtype=np.int64)
    good = {
        "type": ints, "order_id": ints, "size": ints, "price": ints * 100,
        "direction": ints, "ts": np.arange(n, dtype=np.int64),
    }  # fmt: skip
    with pytest.raises(ValueError, match="invalid `book`, must be 4 x 8"):
        book.replay_lobster_batch(
            **good, orderbook=np.zeros((4, 4), dtype=np.int64), levels=2, tick=100
        )
    bad = dict(good, type=np.array([1, 1, 9, 1], dtype=np.int64))
    with pytest.raises(ValueError, match="invalid `type` at row 2"):
        book.replay_lobster_batch(
            **bad, orderbook=np.zeros((4, 4), dtype=np.int64), levels=1, tick=100
        )
    with pytest.raises(ValueError, match="`tick`"):
        book.replay_lobster_batch(
            **good, orderbook=np.zeros((4, 4), dtype=np.int64), levels=1, tick=0
        )
    assert len(book) == 0
