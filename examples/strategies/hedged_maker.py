r"""Make a market on one symbol and hedge the inventory with IOC orders on another.

A maker quotes ``quote_symbol`` around its mid; whenever the net position
(what it holds on both symbols together) passes ``hedge_at`` lots, it sends an
immediate order on ``hedge_symbol`` that brings the net back to zero: IOC at
the hedge book's touch plus ``slippage`` ticks, so a thin book is never swept.
The quote skews against the net position meanwhile, and the side whose fill
would set off a hedge is quoted further out by what that hedge costs per lot
(half the hedge book's spread plus ``taker_fee_ticks``): a fill there must
pay for crossing the other book. Two instruments that move
together (a future and its spot, two listings of one share) are where this
earns; on the simulator the two markets are independent, which still runs
every path of the code.

    makerkit backtest --strategy examples/strategies/hedged_maker.py:HedgedMaker \\
        --data synthetic --out runs/hedged
    makerkit run-strategy examples/strategies/hedged_maker.py:HedgedMaker \\
        --param quote_symbol=AAA --param hedge_symbol=BBB
"""

from __future__ import annotations

import math

from makerkit.core import (
    FillReport,
    Immediate,
    Ladder,
    Level,
    MarketContext,
    MarketMakerBase,
    Orders,
)


class HedgedMaker(MarketMakerBase):
    """Quotes one symbol, hedges the net position on a second with IOC orders."""

    def __init__(
        self,
        quote_symbol: str = "SIM",
        hedge_symbol: str = "HEDGE",
        half_spread: float = 2.0,
        skew: float = 0.5,
        size: int = 1,
        hedge_at: int = 3,
        slippage: int = 1,
        taker_fee_ticks: float = 0.0,
    ) -> None:
        if quote_symbol == hedge_symbol:
            msg = "quote_symbol and hedge_symbol must differ"
            raise ValueError(msg)
        if size < 1 or hedge_at < 1 or slippage < 0 or half_spread <= 0:
            msg = "size and hedge_at must be >= 1, slippage >= 0, half_spread > 0"
            raise ValueError(msg)
        self.symbols = (quote_symbol, hedge_symbol)
        self.half_spread, self.skew, self.size = half_spread, skew, size
        self.hedge_at, self.slippage = hedge_at, slippage
        self.taker_fee_ticks = taker_fee_ticks  # per lot hedged (negative: a taker rebate)
        self.hedges = 0  # immediate orders sent

    def decide(self, ctx: MarketContext) -> Orders:
        """Quote around the mid, skewed against the net; hedge when it is too large."""
        quoted, hedge = ctx[self.symbols[0]], ctx[self.symbols[1]]
        net = quoted.position + hedge.position
        orders: list[Immediate] = []
        if abs(net) >= self.hedge_at:
            side = -1 if net > 0 else 1  # sell the excess, or buy it back
            touch = hedge.book.best_bid if side < 0 else hedge.book.best_ask
            if touch is not None:
                price = touch + side * self.slippage  # at most this far through the touch
                orders.append(Immediate(symbol=self.symbols[1], side=side, size=abs(net),
                                        price=max(price, 1)))  # fmt: skip
                self.hedges += 1
        mid = quoted.book.mid
        if mid is None:
            return Orders(quotes={self.symbols[0]: Ladder()}, immediate=tuple(orders))
        centre = mid - self.skew * net
        # a fill that takes |net| to hedge_at is hedged at once: that side also earns its cost
        hb, ha = hedge.book.best_bid, hedge.book.best_ask
        cost = ((ha - hb) / 2 if hb is not None and ha is not None else 0.0) + self.taker_fee_ticks
        bid_extra = cost if net + self.size >= self.hedge_at else 0.0
        ask_extra = cost if net - self.size <= -self.hedge_at else 0.0
        bid = math.floor(centre - self.half_spread - bid_extra)
        ask = max(math.ceil(centre + self.half_spread + ask_extra), bid + 1)
        ladder = Ladder(bids=(Level(bid, self.size),) if bid > 0 else (),
                        asks=(Level(ask, self.size),))  # fmt: skip
        return Orders(quotes={self.symbols[0]: ladder}, immediate=tuple(orders))

    def on_fill(self, fill: FillReport, ctx: MarketContext) -> None:
        """Nothing to keep: the context has both positions."""
