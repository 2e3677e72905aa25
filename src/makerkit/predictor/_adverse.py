"""Adverse selection: will a passive fill at the touch now lose within h seconds?

Fitted on feature samples (the features strategies see in their context),
one logistic model per side; evaluating it is a dot product in plain Python,
cheap enough for every decision of a backtest. ``signals`` returns
``p_adverse_bid`` / ``p_adverse_ask``, which the runners add to the
strategy's features (see ``makerkit.strategies.AdverseGuard``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec
import numpy as np

from makerkit.core.errors import DataError

__all__ = ["ADVERSE_FEATURES", "AdverseModel", "adverse_targets", "fill_targets", "fit_adverse"]

# book-only: the runners feed the feature stream book states, not trades
ADVERSE_FEATURES = (
    "spread_ticks", "imbalance_1", "imbalance_n", "ofi", "ofi_window", "ret_1s", "ret_5s",
    "ewma_vol",
)  # fmt: skip


class AdverseModel(msgspec.Struct, frozen=True, kw_only=True):
    """Two logistic models on standardised features: P(adverse) for a bid and an ask."""

    features: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    bid_coef: tuple[float, ...]
    bid_intercept: float
    ask_coef: tuple[float, ...]
    ask_intercept: float
    horizon_s: float
    base_rate: tuple[float, float]  # training share of adverse fills (bid, ask)

    def signals(self, features: Mapping[str, float]) -> dict[str, float]:
        """{'p_adverse_bid': p, 'p_adverse_ask': p}; empty if a feature is missing."""
        zs = []
        for name, m, s in zip(self.features, self.mean, self.std, strict=True):
            x = features.get(name)
            if x is None or not math.isfinite(x):
                return {}
            zs.append((x - m) / s)
        out = {}
        for key, coef, b in (("p_adverse_bid", self.bid_coef, self.bid_intercept),
                             ("p_adverse_ask", self.ask_coef, self.ask_intercept)):  # fmt: skip
            t = b + sum(c * z for c, z in zip(coef, zs, strict=True))
            out[key] = 1.0 / (1.0 + math.exp(-max(min(t, 50.0), -50.0)))
        return out


def adverse_targets(
    ts: np.ndarray[Any, Any], mid: np.ndarray[Any, Any], spread: np.ndarray[Any, Any],
    horizon_s: float,
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], np.ndarray[Any, Any]]:  # fmt: skip
    """(bid, ask, usable): a buy at the bid (mid - spread/2) loses if the mid h later is lower."""
    later = np.searchsorted(ts, ts + int(horizon_s * 1e9))
    usable = (later < ts.size) & np.isfinite(mid) & np.isfinite(spread)
    j = np.minimum(later, ts.size - 1)
    bid, ask = mid - spread / 2, mid + spread / 2
    return (mid[j] < bid).astype(np.int64), (mid[j] > ask).astype(np.int64), usable


def fill_targets(
    ts: np.ndarray[Any, Any], mid: np.ndarray[Any, Any], trades: tuple[Any, Any, Any],
    horizon_s: float,
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], np.ndarray[Any, Any]]:  # fmt: skip
    """Fill-conditioned targets: (sample row, side filled, adverse) for every trade.

    A seller hitting the bid at price p fills a resting buy: adverse if the mid
    h seconds later is below p (the ask side mirrors it). The row is the last
    sample before the trade: what a strategy knew when it left the quote there.
    """
    t_ts, t_side, t_px = (np.asarray(a) for a in trades)
    row = np.searchsorted(ts, t_ts, side="left") - 1
    later = np.searchsorted(ts, t_ts + int(horizon_s * 1e9))
    ok = (row >= 0) & (later < ts.size)
    row, later, side, px = row[ok], later[ok], -t_side[ok], t_px[ok]  # the resting side
    adverse = np.where(side > 0, mid[later] < px, mid[later] > px).astype(np.int64)
    return row, side, adverse


def fit_adverse(
    ts: np.ndarray[Any, Any],
    mid: np.ndarray[Any, Any],
    features: Mapping[str, np.ndarray[Any, Any]],
    *,
    trades: tuple[Any, Any, Any] | None = None,
    horizon_s: float = 1.0,
    names: Sequence[str] = ADVERSE_FEATURES,
    seed: int = 0,
) -> AdverseModel:
    """Fit on samples (e.g. ``makerkit.backtest.feature_samples``) of a training period.

    With ``trades`` (times, aggressor sides, prices) the model learns P(a fill
    is adverse | it happens) from every trade; without, P(the mid crosses the
    touch within h) from every sample.
    """
    from sklearn.linear_model import LogisticRegression

    missing = [n for n in names if n not in features]
    if missing:
        msg = f"cannot fit: no column for {missing}; have {sorted(features)}"
        raise DataError(msg)
    t = np.asarray(ts, dtype=np.int64)
    x = np.column_stack([np.asarray(features[n], dtype=np.float64) for n in names])
    m_arr = np.asarray(mid, dtype=np.float64)
    finite = np.asarray(np.isfinite(x).all(axis=1), dtype=bool)
    sets: list[tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]] = []
    if trades is None:
        spread = np.asarray(features["spread_ticks"], dtype=np.float64)
        y_bid, y_ask, usable = adverse_targets(t, m_arr, spread, horizon_s)
        ok = usable & finite
        sets = [(x[ok], y_bid[ok]), (x[ok], y_ask[ok])]
    else:
        row, side, adverse = fill_targets(t, m_arr, trades, horizon_s)
        keep = finite[row]
        for s in (1, -1):
            sel = np.logical_and(keep, side == s)
            sets.append((x[row[sel]], adverse[sel]))
    if any(len(y) < 200 or len({*y.tolist()}) < 2 for _, y in sets):
        sizes = [len(y) for _, y in sets]
        msg = f"cannot fit: {sizes} usable samples per side, or a side never adverse"
        raise DataError(msg)
    both = np.vstack([xs for xs, _ in sets])
    mean, std = both.mean(axis=0), both.std(axis=0)
    std[std < 1e-12] = 1.0
    fits = []
    for xs, y in sets:
        m = LogisticRegression(max_iter=1000, random_state=seed).fit((xs - mean) / std, y)
        fits.append((tuple(float(c) for c in m.coef_[0]), float(m.intercept_[0])))
    return AdverseModel(
        features=tuple(names), mean=tuple(mean.tolist()), std=tuple(std.tolist()),
        bid_coef=fits[0][0], bid_intercept=fits[0][1], ask_coef=fits[1][0],
        ask_intercept=fits[1][1], horizon_s=horizon_s,
        base_rate=(float(sets[0][1].mean()), float(sets[1][1].mean())),
    )  # fmt: skip
