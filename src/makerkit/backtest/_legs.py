"""Each instrument's PnL, split, when a strategy trades several: the hedge's cost shows.

The metrics of a run with several instruments are the first one's (its path and fills);
``LegPaths`` keeps every instrument's mid and position at the decisions, so each leg's PnL
splits into spread, adverse selection, inventory and fees exactly as the metrics split the
first one's (``makerkit.metrics.pnl_decomposition``). A maker that hedges earns the spread on
its quoted leg and pays it on the hedge leg: the legs' sum is what the strategy made.
"""

from __future__ import annotations

from collections.abc import Sequence

from makerkit.metrics import pnl_decomposition

__all__ = ["LegPaths"]


class LegPaths:
    """Mid and position of each instrument at the decisions where its book was two-sided."""

    def __init__(self, symbols: Sequence[str]) -> None:
        self._paths: dict[str, tuple[list[int], list[float], list[int]]] = {
            s: ([], [], []) for s in symbols
        }

    def record(self, symbol: str, ts_ns: int, mid: float, position: int) -> None:
        """One mark of ``symbol``'s path."""
        ts, mids, positions = self._paths[symbol]
        ts.append(ts_ns)
        mids.append(mid)
        positions.append(position)

    def summary(
        self,
        symbol: str,
        fills: Sequence[tuple[int, int, int, int, float]],
        position: int,
    ) -> dict[str, float]:
        """The leg's final position, fills and PnL split; ``fills``: (ts, side, price, qty, fee).

        As in the metrics, fills before the leg's first mark or after its last are outside
        its path (their PnL is not split); ``fills`` counts them all.
        """
        ts, mids, positions = self._paths[symbol]
        out: dict[str, float] = {"position": position, "fills": len(fills)}
        if len(ts) < 2:  # no path to split over
            parts = dict.fromkeys(
                ("pnl_total", "pnl_spread", "pnl_adverse", "pnl_inventory", "pnl_fees"), 0.0
            )
        else:
            parts = pnl_decomposition(
                ts=ts, mid=mids, position=positions,
                fill_ts=[f[0] for f in fills], fill_side=[f[1] for f in fills],
                fill_price=[f[2] for f in fills], fill_qty=[f[3] for f in fills],
                fill_fee=[f[4] for f in fills],
            )  # fmt: skip
        out.update(parts)
        out["edge"] = parts["pnl_spread"] + parts["pnl_adverse"] + parts["pnl_fees"]
        return out
