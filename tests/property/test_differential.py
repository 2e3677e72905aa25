"""The native engine must equal the reference: same results, fills and books after every step."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from makerkit.book import available_backends, make_book
from makerkit.testing import BookCommand, book_commands, random_commands, run_differential

pytestmark = pytest.mark.skipif(
    "native" not in available_backends(), reason="the native engine is not built"
)


@pytest.mark.parametrize("seed", range(8))
def test_seeded_streams_match(seed: int) -> None:
    # 8 x 30,000 = 240,000 random operations per `make test`
    n = run_differential(
        make_book("python", fill_history=None),
        make_book("native", fill_history=None),
        random_commands(30_000, seed=seed),
    )
    assert n == 30_000


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(book_commands(), min_size=1, max_size=80))
def test_hypothesis_streams_match(commands: list[BookCommand]) -> None:
    run_differential(make_book("python"), make_book("native"), iter(commands), full_every=1)


def test_bounded_fill_history_matches() -> None:
    books: list[Any] = [make_book(b, fill_history=7) for b in ("python", "native")]
    run_differential(books[0], books[1], random_commands(3_000, seed=99), full_every=100)
    assert len(books[1].fills()) == 7


def test_empty_book_edge_cases_match() -> None:
    commands = [
        BookCommand(kind="cancel", order_id=1),
        BookCommand(kind="market", order_id=2, qty=5),
        BookCommand(kind="modify", order_id=3, qty=1),
        BookCommand(kind="execute", order_id=4, qty=1),
        BookCommand(kind="submit", order_id=5, side=1, price=10, qty=1, tif=2),
        BookCommand(kind="submit", order_id=6, side=-1, price=10, qty=1, tif=1),
    ]
    run_differential(make_book("python"), make_book("native"), iter(commands), full_every=1)
