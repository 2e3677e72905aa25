from __future__ import annotations

import pytest

from makerkit.risk import MONEY_SCALE, Position


def test_fifo_realized_and_unrealized_pnl() -> None:
    pos = Position()
    pos.apply(+1, 100, 10)
    pos.apply(+1, 110, 10)  # long 20, cost 2100
    assert pos.unrealized(120) == 20 * 120 - 2100
    assert pos.apply(-1, 115, 15) == (115 - 100) * 10 + (115 - 110) * 5  # FIFO
    assert (pos.qty, pos.open_cost) == (5, 110 * 5)
    assert pos.apply(-1, 90, 8) == (90 - 110) * 5  # flips short 3 @ 90
    assert (pos.qty, pos.open_cost) == (-3, 270)
    assert pos.unrealized(80) == 30  # short 3 from 90, marked 80
    assert pos.realized == 150 + 25 - 100


@pytest.mark.parametrize("side", [1, -1])
def test_round_trip_pnl_includes_fees(side: int) -> None:
    pos = Position()
    pos.apply(side, 100, 4, fee_micro=40)
    pos.apply(-side, 103, 4, fee_micro=-10)
    assert pos.qty == 0 and pos.unrealized(200) == 0
    assert pos.pnl_micro(None) == side * 3 * 4 * MONEY_SCALE - 30
    view = pos.view("X", 101)
    assert (view.bought, view.sold) == ((4, 4))
    assert view.avg_price is None and view.fees == 30
