"""Hypothesis strategies that generate order-book command streams."""

from __future__ import annotations

from typing import Any

import msgspec
from hypothesis import strategies as st

__all__ = ["BookCommand", "book_commands"]


class BookCommand(msgspec.Struct, frozen=True, kw_only=True):
    """One book command; ``kind`` is submit, market, cancel, modify, reduce or execute."""

    kind: str
    order_id: int
    side: int = 1
    price: int = 0
    qty: int = 0
    tif: int = 0
    account: int = 0
    stp: int = 1

    def apply(self, book: Any) -> Any:
        """Send this command to ``book`` and return its result."""
        if self.kind == "submit":
            return book.submit(
                self.order_id, self.side, self.price, self.qty,
                tif=self.tif, account=self.account, stp=self.stp,
            )  # fmt: skip
        if self.kind == "market":
            return book.submit(
                self.order_id, self.side, 0, self.qty,
                order_type=1, tif=self.tif, account=self.account, stp=self.stp,
            )  # fmt: skip
        if self.kind == "cancel":
            return book.cancel(self.order_id)
        if self.kind == "modify":
            return book.modify(self.order_id, price=self.price or None, qty=self.qty or None)
        if self.kind == "reduce":
            return book.reduce(self.order_id, self.qty)
        return book.execute(self.order_id, self.qty)


def book_commands(
    *, max_id: int = 40, mid: int = 100, width: int = 6, max_qty: int = 12
) -> st.SearchStrategy[BookCommand]:
    """Commands over a small id and price space so that they collide and match often."""
    ids = st.integers(1, max_id)
    sides = st.sampled_from([1, -1])
    prices = st.integers(mid - width, mid + width)
    qtys = st.integers(1, max_qty)
    accounts = st.sampled_from([0, 1, 2])
    stps = st.integers(0, 3)
    submit = st.builds(
        BookCommand, kind=st.just("submit"), order_id=ids, side=sides, price=prices, qty=qtys,
        tif=st.sampled_from([0, 0, 0, 1, 2, 3]), account=accounts, stp=stps,
    )  # fmt: skip
    market = st.builds(
        BookCommand, kind=st.just("market"), order_id=ids, side=sides, qty=qtys,
        tif=st.sampled_from([0, 1, 2]), account=accounts, stp=stps,
    )  # fmt: skip
    cancel = st.builds(BookCommand, kind=st.just("cancel"), order_id=ids)
    modify = st.builds(
        BookCommand, kind=st.just("modify"), order_id=ids,
        price=st.one_of(st.just(0), prices), qty=st.one_of(st.just(0), qtys),
    )  # fmt: skip
    reduce = st.builds(BookCommand, kind=st.just("reduce"), order_id=ids, qty=qtys)
    execute = st.builds(BookCommand, kind=st.just("execute"), order_id=ids, qty=qtys)
    return st.one_of(submit, submit, submit, market, cancel, modify, reduce, execute)
