r"""A 5-level ladder a side around the GLFT quotes, with sigma fitted online.

The closed form of Gueant, Lehalle and Fernandez-Tapia gives the best bid and
ask for the current inventory; this market maker rests ``levels`` orders a
side from there outwards, ``spacing`` ticks apart, so a sweep through the
touch fills it at better and better prices instead of taking it out at once.
sigma (ticks per sqrt second) is an EWMA of the squared mid changes it sees;
A and k, the fill intensity lambda(d) = A exp(-k d), come from
``makerkit.strategies.fit_intensity`` on the market it will trade.

Run it anywhere with no change:

    makerkit backtest --strategy examples/strategies/glft_ladder.py:GLFTLadder \\
        --data synthetic --out runs/ladder
    makerkit backtest --strategy examples/strategies/glft_ladder.py:GLFTLadder \\
        --data lobster:GOOG --param levels=3 --out runs/ladder-goog
    makerkit run-strategy examples/strategies/glft_ladder.py:GLFTLadder --param symbol=AAA
"""

from __future__ import annotations

import math

from makerkit.core import Ladder, Level, MarketContext, MarketMakerBase, Orders


class GLFTLadder(MarketMakerBase):
    """GLFT's bid and ask as the first rung of a ladder a side."""

    def __init__(
        self,
        symbol: str = "SIM",
        levels: int = 5,
        spacing: int = 1,
        size: int = 1,
        max_position: int = 20,
        gamma: float = 0.1,
        A: float = 1.0,  # the paper's name
        k: float = 1.5,
        sigma: float = 1.0,
        half_life_s: float = 30.0,
    ) -> None:
        if levels < 1 or spacing < 1 or size < 1 or max_position < 1:
            msg = "levels, spacing, size and max_position must be >= 1"
            raise ValueError(msg)
        self.symbols = (symbol,)
        self.levels, self.spacing, self.size = levels, spacing, size
        self.max_position = max_position
        self.gamma, self.A, self.k = gamma, A, k
        self.var = sigma**2  # per second, fitted as the market moves
        self.half_life_ns = half_life_s * 1e9
        self._last: tuple[int, float] | None = None  # (ts, mid) of the last look

    def _fit_sigma(self, ts_ns: int, mid: float) -> None:
        """EWMA of the mid's variance per second (ticks^2)."""
        if self._last is not None and ts_ns > self._last[0]:
            dt = (ts_ns - self._last[0]) / 1e9
            w = 1 - math.exp(-(ts_ns - self._last[0]) * math.log(2) / self.half_life_ns)
            self.var += w * ((mid - self._last[1]) ** 2 / dt - self.var)
        self._last = (ts_ns, mid)

    def decide(self, ctx: MarketContext) -> Orders:
        """Both sides' ladders for the current inventory."""
        view = ctx[self.symbols[0]]
        mid = view.book.mid
        if mid is None:
            return Orders.none(self.symbols)
        self._fit_sigma(ctx.ts_ns, mid)
        g, k, q = self.gamma, self.k, view.position
        c1 = math.log(1 + g / k) / g
        c2 = math.sqrt(max(self.var, 1e-9) * g / (2 * self.A * k) * (1 + g / k) ** (1 + k / g))
        bid = math.floor(mid - c1 - (2 * q + 1) / 2 * c2)
        ask = max(math.ceil(mid + c1 - (2 * q - 1) / 2 * c2), bid + 1)
        # no rung may take the position past the limit if it and everything better fill
        room_long, room_short = self.max_position - q, self.max_position + q
        bids = [Level(bid - i * self.spacing, self.size) for i in range(self.levels)
                if (i + 1) * self.size <= room_long and bid - i * self.spacing > 0]  # fmt: skip
        asks = [Level(ask + i * self.spacing, self.size) for i in range(self.levels)
                if (i + 1) * self.size <= room_short]  # fmt: skip
        return Orders(quotes={self.symbols[0]: Ladder(bids=tuple(bids), asks=tuple(asks))})
