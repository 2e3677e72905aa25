"""Rank backtests by a chosen objective; a run that never traded never ranks above one that did."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from makerkit.core.errors import ConfigError

__all__ = ["OBJECTIVES", "objective_value", "rank_runs"]


def _edge(m: Mapping[str, Any]) -> float:
    return float(m["pnl_spread"] + m["pnl_adverse"] + m["pnl_fees"])


def _marked_edge(horizon: str) -> Callable[[Mapping[str, Any]], float | None]:
    """The edge with each fill marked ``horizon`` later: mean mark-out x volume + fees.

    Adverse selection does not stop at the next mark; a longer mark-out shows
    whether the spread captured survives it. None when the run has no mark-out there.
    """

    def value(m: Mapping[str, Any]) -> float | None:
        exact = (m.get("markout_edge") or {}).get(horizon, m.get(f"markout_edge_{horizon}"))
        if exact is not None:  # summed fill by fill (fills past the end pay their fee)
            return float(exact)
        markout = (m.get("markouts") or {}).get(horizon, m.get(f"markout_{horizon}"))
        volume = m.get("volume")
        if markout is None or volume is None:
            return None
        return float(markout * volume + m["pnl_fees"])

    return value


def _after_liquidation(m: Mapping[str, Any]) -> float:
    return float(m["pnl_total"] - (m.get("liquidation_cost") or 0.0))


def _ci_low(m: Mapping[str, Any]) -> float | None:
    ci = m.get("pnl_per_bucket_ci95")
    return None if ci is None else float(ci[0])


def _sharpe(m: Mapping[str, Any]) -> float | None:
    s = m.get("sharpe")
    return None if s is None else float(s)


# name -> (what it is, how to read it from a metrics dict); higher is better
OBJECTIVES: dict[str, tuple[str, Callable[[Mapping[str, Any]], float | None]]] = {
    "edge": ("PnL without inventory drift: spread + adverse selection + fees", _edge),
    "edge_1s": (
        "the edge with each fill marked 1 s later (mark-out x volume + fees)",
        _marked_edge("1s"),
    ),
    "edge_5s": ("the edge with each fill marked 5 s later", _marked_edge("5s")),
    "edge_30s": ("the edge with each fill marked 30 s later", _marked_edge("30s")),
    "pnl": ("total PnL, final position marked to mid", lambda m: float(m["pnl_total"])),
    "pnl_after_liquidation": ("total PnL minus the cost to flatten at the end", _after_liquidation),
    "pnl_ci_low": ("lower end of the 95% CI of mean PnL per bucket", _ci_low),
    "sharpe": ("annualised Sharpe (runs with fewer than 30 buckets have none)", _sharpe),
}


def objective_value(metrics: Mapping[str, Any], objective: str) -> float | None:
    """The objective of one run (None: not defined for it, e.g. Sharpe from too few buckets)."""
    if objective not in OBJECTIVES:
        msg = f"invalid objective {objective!r}, must be one of {sorted(OBJECTIVES)}"
        raise ConfigError(msg)
    return OBJECTIVES[objective][1](metrics)


def rank_runs(runs: Mapping[str, Mapping[str, Any]], objective: str) -> list[str]:
    """Names, best first.

    Runs with fills come before runs without (a run that never traded never
    ranks above one that did), then by the objective, higher first (runs where
    it is undefined last in their group), then by name.
    """

    def key(name: str) -> tuple[int, int, float, str]:
        m = runs[name]
        value = objective_value(m, objective)
        return (0 if m["fills"] > 0 else 1, 0 if value is not None else 1, -(value or 0.0), name)

    return sorted(runs, key=key)
