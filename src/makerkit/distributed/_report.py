"""A sweep's table: Parquet for analysis, HTML with plots for reading."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import numpy as np

from makerkit.core.errors import ConfigError, MakerkitError

__all__ = ["columns", "summarise", "write_html", "write_parquet"]

Row = dict[str, Any]


def columns(rows: list[Row]) -> list[str]:
    """Every column any row has, in first-seen order (rows of different kinds differ)."""
    seen: dict[str, None] = {}
    for row in rows:
        seen.update(dict.fromkeys(row))
    return list(seen)


def write_parquet(rows: list[Row], path: Path) -> Path:
    """One table, one row per task; missing cells are nulls."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as exc:
        msg = f"the sweep table needs `pip install makerkit[dist]` (pyarrow): {exc}"
        raise ConfigError(msg) from exc
    cols = columns(rows)
    data = {c: [r.get(c) for r in rows] for c in cols}
    pq.write_table(pa.table(data), path)
    return path


def _mean_ci(values: Any, seed: int) -> list[float] | None:
    """Seeded bootstrap 95% interval of the mean over seeds (None from fewer than two)."""
    x = np.asarray(values, dtype=np.float64)
    if x.size < 2:
        return None
    idx = np.random.default_rng(seed).integers(0, x.size, size=(2000, x.size))
    lo, hi = np.percentile(x[idx].mean(axis=1), [2.5, 97.5])
    return [float(lo), float(hi)]


def summarise(rows: list[Row], objective: str = "edge", seed: int = 0) -> list[Row]:
    """Per configuration (strategy, data without seed, params): mean and spread over seeds.

    Ranked by the mean of ``objective`` (see ``makerkit.metrics.OBJECTIVES``);
    a configuration that never traded never ranks above one that did.
    """
    from makerkit.metrics import OBJECTIVES, objective_value

    if objective not in OBJECTIVES:
        msg = f"invalid objective {objective!r}, must be one of {sorted(OBJECTIVES)}"
        raise ConfigError(msg)
    groups: dict[tuple[str, str, str], list[Row]] = {}
    for r in rows:
        if r.get("error") or r["kind"] != "backtest":
            continue
        groups.setdefault((r["strategy"], r["market"], r["params"]), []).append(r)
    out = []
    for (strategy, data, params), rs in groups.items():
        pnl = np.array([r["pnl_total"] for r in rs], dtype=np.float64)
        sharpe = [r["sharpe"] for r in rs if r.get("sharpe") is not None]
        goal = [v for r in rs if (v := objective_value(r, objective)) is not None]
        out.append({
            "strategy": strategy, "data": data, "params": params, "runs": len(rs),
            "objective": float(np.mean(goal)) if goal else None,
            "pnl_mean": float(pnl.mean()), "pnl_std": float(pnl.std()),
            "pnl_mean_ci95": _mean_ci(pnl, seed),
            "sharpe_mean": float(np.mean(sharpe)) if sharpe else float("nan"),
            "avg_abs_inventory": float(np.mean([r["avg_abs_inventory"] for r in rs])),
            "fills_mean": float(np.mean([r["fills"] for r in rs])),
        })  # fmt: skip

    def key(s: Row) -> tuple[int, int, float]:
        value = s["objective"]
        return (0 if s["fills_mean"] > 0 else 1, 0 if value is not None else 1, -(value or 0.0))

    return sorted(out, key=key)


def _cell(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:,.3f}"
    return html.escape("" if v is None else str(v))


def _table(rows: list[Row], cols: list[str]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = "".join(
        "<tr>" + "".join(f"<td>{_cell(r.get(c))}</td>" for c in cols) + "</tr>" for r in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _plot(summary: list[Row]) -> str | None:
    """Mean PnL (with its spread over seeds) against mean Sharpe, one point per configuration."""
    try:
        from makerkit.metrics import png as _png
        from makerkit.metrics import pyplot as _pyplot

        plt = _pyplot()
    except MakerkitError:
        return None
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for name in sorted({s["strategy"] for s in summary}):
        pts = [s for s in summary if s["strategy"] == name]
        ax.errorbar([s["sharpe_mean"] for s in pts], [s["pnl_mean"] for s in pts],
                    yerr=[s["pnl_std"] for s in pts], fmt="o", capsize=3, label=name)  # fmt: skip
    ax.set(xlabel="mean Sharpe", ylabel="mean PnL (tick-lots), bars: std over seeds",
           title="Every configuration of the grid")  # fmt: skip
    ax.legend(fontsize=8)
    png: str = _png(fig)
    plt.close(fig)
    return png


def write_html(
    rows: list[Row], info: dict[str, Any], path: Path, title: str, objective: str = "edge"
) -> Path:
    """The summary per configuration (ranked by ``objective``), a plot, and every row."""
    from makerkit.metrics import REPORT_STYLE as _STYLE

    summary = summarise(rows, objective)
    parts = [f"<html><head><meta charset='utf-8'><title>{html.escape(title)}</title>{_STYLE}"
             "<style>body{max-width:1400px}td,th{font-size:12px}</style></head><body>",
             f"<h1>Sweep: {html.escape(title)}</h1>",
             f"<p>{html.escape(json.dumps(info))}</p>"]  # fmt: skip
    failed = [r for r in rows if r.get("error")]
    if failed:
        parts.append(f"<p class='warn'>{len(failed)} task(s) failed: see the error column.</p>")
    if summary:
        parts.append(f"<h2>Configurations, best mean {html.escape(objective)} first "
                     "(one that never traded never above one that did)</h2>")  # fmt: skip
        parts.append(_table(summary, list(summary[0])))
        png = _plot(summary)
        if png:
            parts.append(f"<img src='data:image/png;base64,{png}'>")
    rl = [r for r in rows if r["kind"] == "rl"]
    if rl:
        parts.append("<h2>RL training runs</h2>" + _table(rl, columns(rl)))
    parts.append("<h2>Every task</h2>" + _table(rows, columns(rows)))
    parts.append("</body></html>")
    path.write_text("\n".join(parts))
    return path
