"""HTML reports of backtests: one self-contained file with the metrics and the plots.

Plots (PNG, embedded): equity curve, inventory, our quotes against the mid,
the mark-out curve (mean PnL per lot of a fill h seconds later, the shape of
adverse selection), and the distribution of per-minute PnL. Needs matplotlib
(``pip install makerkit[report]``).
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import msgspec
import numpy as np

from makerkit.backtest._synthetic import BacktestResult
from makerkit.metrics import REPORT_STYLE, png, pyplot

__all__ = ["markout_curve", "report_figures", "write_comparison", "write_report"]

_HORIZONS_S = (0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60)


def markout_curve(result: BacktestResult) -> tuple[list[float], list[float]]:
    """(horizon seconds, mean side x (mid(t + h) - price) per lot) over the fills."""
    t = np.asarray(result.path["ts"], dtype=np.int64)
    mid = np.asarray(result.path["mid"], dtype=np.float64)
    if not result.fills or t.size < 2:
        return [], []
    f = np.asarray(result.fills, dtype=np.float64)
    ft, side, price, qty = f[:, 0].astype(np.int64), f[:, 1], f[:, 2], f[:, 3]
    xs, ys = [], []
    for h in _HORIZONS_S:
        later = ft + int(h * 1e9)
        ok = later <= t[-1]
        if not ok.any():
            continue
        j = np.searchsorted(t, later[ok], side="right") - 1
        gain = side[ok] * (mid[j] - price[ok]) * qty[ok]
        xs.append(h)
        ys.append(float(gain.sum() / qty[ok].sum()))
    return xs, ys


def report_figures(result: BacktestResult) -> list[tuple[str, bytes]]:
    """(title, PNG bytes) of each plot ``report.html`` embeds, in its order: for a notebook."""
    import base64

    return [(title, base64.b64decode(image)) for title, image in _figures(result)]


def _figures(result: BacktestResult) -> list[tuple[str, str]]:
    plt = pyplot()
    p = result.path
    minutes = (np.asarray(p["ts"], dtype=np.float64) - p["ts"][0]) / 60e9
    out: list[tuple[str, str]] = []
    fig, ax = plt.subplots(figsize=(8, 3))
    ax.plot(minutes, p["equity"], lw=1)
    ax.set(xlabel="market minutes", ylabel="PnL (tick-lots)", title="Equity")
    out.append(("Equity curve", png(fig)))
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(8, 2.5))
    ax.step(minutes, p["position"], where="post", lw=1)
    ax.axhline(0, color="grey", lw=0.5)
    ax.set(xlabel="market minutes", ylabel="lots", title="Inventory")
    out.append(("Inventory", png(fig)))
    plt.close(fig)
    n = min(len(minutes), 600)  # the first minutes, readable
    fig, ax = plt.subplots(figsize=(8, 3))
    ax.plot(minutes[:n], p["mid"][:n], color="black", lw=1, label="mid")
    ax.plot(minutes[:n], p["bid"][:n], color="tab:green", lw=0.8, label="our bid")
    ax.plot(minutes[:n], p["ask"][:n], color="tab:red", lw=0.8, label="our ask")
    ax.set(xlabel="market minutes", ylabel="ticks", title="Quotes against the mid")
    ax.legend(loc="upper left", fontsize=8)
    out.append(("Quotes vs mid", png(fig)))
    plt.close(fig)
    xs, ys = markout_curve(result)
    fig, ax = plt.subplots(figsize=(5, 3))
    ax.plot(xs, ys, marker="o")
    ax.axhline(0, color="grey", lw=0.5)
    ax.set(xlabel="seconds after the fill", ylabel="ticks per lot", title="Mark-outs")
    if xs:
        ax.set_xscale("log")
    else:
        ax.text(0.5, 0.5, "no fills to mark out", ha="center", transform=ax.transAxes)
    out.append(("Mark-out curve", png(fig)))
    plt.close(fig)
    eq = np.asarray(p["equity"])
    t = np.asarray(p["ts"], dtype=np.int64)
    edges = np.arange(t[0], t[-1] + 60_000_000_000, 60_000_000_000)
    per = np.diff(eq[np.maximum(np.searchsorted(t, edges, side="right") - 1, 0)])
    fig, ax = plt.subplots(figsize=(5, 3))
    ax.hist(per, bins=40)
    ax.set(xlabel="PnL per minute (tick-lots)", ylabel="minutes", title="PnL distribution")
    out.append(("PnL distribution", png(fig)))
    plt.close(fig)
    return out


def _table(rows: dict[str, Any]) -> str:
    cells = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>" for k, v in rows.items()
    )
    return f"<table>{cells}</table>"


def write_report(result: BacktestResult, out_dir: str | Path) -> Path:
    """Write ``report.html`` (metrics, configuration, plots) into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    metrics = msgspec.to_builtins(result.metrics)
    parts = [
        f"<html><head><meta charset='utf-8'><title>{result.strategy}</title>{REPORT_STYLE}</head>"
    ]
    parts.append(f"<body><h1>Backtest: {html.escape(result.strategy)}</h1>")
    if result.stopped:
        parts.append(f"<p class='warn'>Stopped early: {html.escape(result.stopped)}</p>")
    parts.append("<h2>Metrics</h2>" + _table(metrics))
    parts.append("<h2>Configuration</h2>" + _table(msgspec.to_builtins(result.config)))
    for title, image in _figures(result):
        parts.append(f"<h2>{title}</h2><img src='data:image/png;base64,{image}'>")
    parts.append("</body></html>")
    target = out / "report.html"
    target.write_text("\n".join(parts))
    return target


def _cell(value: Any) -> str:
    """A number with separators, an interval as [lo, hi]; None (not computed) as a dash."""
    if value is None:
        return "-"
    if isinstance(value, list):
        return "[" + ", ".join(f"{v:,.1f}" for v in value) + "]"
    return f"{value:,.2f}"


def write_comparison(results: dict[str, BacktestResult], out_dir: str | Path) -> Path:
    """Write ``comparison.html``: metrics (rows in the order given), equity and mark-outs."""
    plt = pyplot()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    keys = ("pnl_total", "pnl_spread", "pnl_adverse", "pnl_inventory", "pnl_fees",
            "pnl_per_bucket_ci95", "sharpe", "max_drawdown", "fills", "rejected_quotes",
            "avg_abs_inventory")  # fmt: skip
    head = "".join(f"<th>{k}</th>" for k in ("strategy", *keys))
    body = "".join(
        "<tr><td>" + html.escape(name) + "</td>"
        + "".join(f"<td>{_cell(getattr(r.metrics, k))}</td>" for k in keys) + "</tr>"
        for name, r in results.items()
    )  # fmt: skip
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.5))
    any_markout = False
    for name, r in results.items():
        minutes = (np.asarray(r.path["ts"], dtype=np.float64) - r.path["ts"][0]) / 60e9
        left.plot(minutes, r.path["equity"], lw=1, label=name)
        xs, ys = markout_curve(r)
        right.plot(xs, ys, marker="o", label=name)
        any_markout = any_markout or bool(xs)
    left.set(xlabel="market minutes", ylabel="PnL (tick-lots)", title="Equity")
    right.set(xlabel="seconds after the fill", ylabel="ticks per lot", title="Mark-outs")
    if any_markout:
        right.set_xscale("log")
    left.legend(fontsize=8)
    image = png(fig)
    plt.close(fig)
    page = (
        f"<html><head><meta charset='utf-8'><title>comparison</title>{REPORT_STYLE}</head><body>"
        f"<h1>Strategies on one market</h1><table><tr>{head}</tr>{body}</table>"
        f"<img src='data:image/png;base64,{image}'></body></html>"
    )
    target = out / "comparison.html"
    target.write_text(page)
    return target
