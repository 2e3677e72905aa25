"""What every HTML report draws with: matplotlib on a file backend, PNGs embedded inline.

Backtest, sweep, RL-evaluation, predictor and demo reports all use these, so
their pages look alike and need only ``pip install makerkit[report]``.
"""

from __future__ import annotations

import base64
import io
from typing import Any

from makerkit.core.errors import SourceError

__all__ = ["REPORT_STYLE", "png", "pyplot"]

REPORT_STYLE = (
    "<style>body{font-family:sans-serif;max-width:960px;margin:2em auto}"
    "table{border-collapse:collapse}th,td{border-bottom:1px solid #ddd;padding:3px 10px;"
    "text-align:left}img{display:block;margin:1em 0}.warn{color:#b00}</style>"
)


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the Agg backend; a clear error without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the install
        why = "plots need `pip install makerkit[report]` (matplotlib)"
        source = "report"
        raise SourceError(source, why) from exc
    return plt


def png(fig: Any) -> str:
    """A figure as a base64 PNG for an ``<img src="data:image/png;base64,...">``."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode()
