"""Synthetic streams: deterministic, and the L3 feed is consistent on every engine."""

from __future__ import annotations

import numpy as np
import pytest

from makerkit.book import available_backends, make_book
from makerkit.core import ConfigError
from makerkit.data import synthetic_l3_events, synthetic_stream


def test_streams_are_deterministic_per_seed() -> None:
    a, b, c = (
        synthetic_stream(5000, seed=1),
        synthetic_stream(5000, seed=1),
        synthetic_stream(5000, seed=2),
    )
    assert np.array_equal(a.order_id, b.order_id) and np.array_equal(a.price, b.price)
    assert not np.array_equal(a.price, c.price)
    e1, e2 = synthetic_l3_events(5000, seed=4), synthetic_l3_events(5000, seed=4)
    assert np.array_equal(e1.ts, e2.ts) and np.array_equal(e1.qty, e2.qty)
    assert (np.diff(e1.ts) > 0).all()


def test_bad_arguments_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="`n`"):
        synthetic_stream(0)
    with pytest.raises(ConfigError, match="`mix`"):
        synthetic_stream(10, mix=(0.5, 0.5, 0.5, 0.5))
    with pytest.raises(ConfigError, match="`n`"):
        synthetic_l3_events(-1)


@pytest.mark.parametrize("backend", available_backends())
def test_l3_feed_is_consistent_and_never_crosses(backend: str) -> None:
    events = synthetic_l3_events(20_000, seed=9)
    counts = np.bincount(events.type, minlength=5)
    assert counts[1] > counts[3] > counts[4] > 0
    book = make_book(backend)
    remaining: dict[int, int] = {}
    for kind, oid, side, price, qty, left in zip(
        events.type.tolist(), events.order_id.tolist(), events.side.tolist(),
        events.price.tolist(), events.qty.tolist(), events.remaining.tolist(), strict=True,
    ):  # fmt: skip
        if kind == 1:
            res = book.submit(oid, side, price, qty)
            assert not res.fills, "an add crossed the book"
        elif kind == 3:
            res = book.cancel(oid)
        else:
            res = book.execute(oid, qty)
        assert res.ok, (kind, oid, res)
        assert book.remaining(oid) == left
        remaining[oid] = left
    bid, ask = book.best_bid(), book.best_ask()
    assert bid is not None and ask is not None and bid[0] < ask[0]
    assert len(book) == sum(1 for v in remaining.values() if v)


@pytest.mark.skipif("native" not in available_backends(), reason="the native engine is not built")
def test_native_l3_batch_equals_per_call() -> None:
    events = synthetic_l3_events(30_000, seed=2)
    cols = (events.type, events.order_id, events.side, events.price, events.qty, events.ts)
    batch = make_book("native", fill_history=None)
    assert batch.apply_l3_batch(*cols) == 0
    ref = make_book("python", fill_history=None)
    for kind, oid, side, price, qty, ts in zip(*(c.tolist() for c in cols), strict=True):
        if kind == 1:
            ref.submit(oid, side, price, qty, ts=ts)
        elif kind == 3:
            ref.cancel(oid, ts=ts)
        else:
            ref.execute(oid, qty, ts=ts)
    assert batch.l3(10_000) == ref.l3(10_000)
    assert batch.fills() == ref.fills()
    with pytest.raises(TypeError, match="`price`"):
        batch.apply_l3_batch(*cols[:3], events.price.astype(np.float64), *cols[4:])
    with pytest.raises(ValueError, match="`qty`, must have"):
        batch.apply_l3_batch(*cols[:4], events.qty[:-1], cols[5])
