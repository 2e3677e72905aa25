"""Fill intensity lambda(d) = A exp(-k d) from market orders, for GLFT and Avellaneda-Stoikov.

A market order that trades d ticks away from the mid before it would have
filled a quote resting at depth d or less; so the rate of market orders
reaching depth >= d, per second and per side, estimates lambda(d). A least
squares line through log lambda(d) gives log A and -k.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from makerkit.core.errors import DataError

__all__ = ["fit_intensity"]


def fit_intensity(
    depths: npt.ArrayLike, seconds: float, *, max_depth: int | None = None
) -> tuple[float, float]:
    """Return (A, k) from the depths (ticks from the mid) market orders reached.

    ``seconds``: the time the depths were collected over (both sides pooled,
    so A is per side: counts are halved).
    """
    d = np.asarray(depths, dtype=np.float64)
    d = d[np.isfinite(d) & (d >= 0)]
    if d.size < 10 or seconds <= 0:
        msg = f"cannot fit fill intensity from {d.size} market orders over {seconds} s"
        raise DataError(msg)
    top = int(max_depth if max_depth is not None else np.percentile(d, 99))
    grid = np.arange(0, max(top, 1) + 1, dtype=np.float64)
    reach = np.array([(d >= g).sum() for g in grid], dtype=np.float64) / (2 * seconds)
    ok = reach > 0
    if ok.sum() < 2:
        msg = "cannot fit fill intensity: market orders reach fewer than two depths"
        raise DataError(msg)
    slope, intercept = np.polyfit(grid[ok], np.log(reach[ok]), 1)
    return float(np.exp(intercept)), float(max(-slope, 1e-6))
