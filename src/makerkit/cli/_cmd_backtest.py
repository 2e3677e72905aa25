"""``backtest`` and ``compare``: strategies on one market, their metrics, reports and ranking.

Plain functions: ``_app.py`` registers them on the top-level app, in ``--help`` order.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import msgspec
import typer
from rich.table import Table

from makerkit.backtest import (
    DATA_HELP,
    DataSpec,
    load_market,
    load_markets,
    parse_data_spec,
    run_on_spec,
)
from makerkit.cli._common import (
    JsonOpt,
    ParamsOpt,
    PolicyOpt,
    _fail,
    _fitted,
    _json_line,
    _make_strategy,
    _parse_params,
    _with_fitted,
    err,
    out,
)
from makerkit.core import ConfigError, MakerkitError


def _run_backtest(
    name: str, params: dict[str, float | int], spec: DataSpec, market: Any = None,
    policy: Path | None = None,
) -> Any:  # fmt: skip
    from rich.progress import Progress

    strategy = _make_strategy(name, params, policy)
    where = f" on {spec.symbol}" if spec.symbol else ""
    with Progress(console=err, transient=True) as bar:
        task = bar.add_task(f"backtest {name}{where}", total=None)
        return run_on_spec(
            strategy, spec, market,
            progress=lambda n: bar.advance(task, n), total=lambda n: bar.update(task, total=n),
        )  # fmt: skip


def _data_quality(market: Any, result: Any) -> dict[str, int]:
    """``{events, crossed_events, gaps, dropped}`` of the events the backtest replayed."""
    if market is None:  # the simulator: its book is matched, never crossed
        events = int(getattr(result.config, "events", 0))
        return {"events": events, "crossed_events": 0, "gaps": 0, "dropped": 0}
    from makerkit.backtest import MultiMarket, data_quality

    if isinstance(market, MultiMarket):  # several instruments: their counts added up
        total: dict[str, int] = {}
        for one in market.markets.values():
            for key, value in data_quality(one).items():
                total[key] = total.get(key, 0) + value
        return total
    return data_quality(market)


def _warn_data_quality(quality: dict[str, int], market: Any) -> None:
    """Warn on stderr when the replayed book was crossed, had gaps or lost updates."""
    bad = {k: v for k, v in quality.items() if k != "events" and v}
    if not bad:
        return
    counts = ", ".join(f"{k} {v:,}" for k, v in bad.items())
    err.print(f"[bold yellow]warning: data quality:[/] {counts} (of {quality['events']:,} events)")
    for note in getattr(market, "notes", ()):
        err.print(f"  {note}", style="yellow", markup=False, highlight=False)


def backtest(
    strategy: Annotated[str, typer.Option(help="Strategy name (see makerkit.strategies).")],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for metrics.json and the path.")],
    param: Annotated[
        list[str] | None, typer.Option(help="Strategy parameter NAME=VALUE (repeatable).")
    ] = None,
    data: Annotated[str, typer.Option(help=DATA_HELP)] = "synthetic",
    policy: PolicyOpt = None,
    params_file: ParamsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Backtest a strategy; writes metrics.json, path.csv, fills.csv and report.html to --out."""
    try:
        spec = parse_data_spec(data)
        params = _with_fitted(_fitted(params_file, data), strategy, _parse_params(param or []))
        # a catalog range: one day in memory at a time; SYM1+SYM2: one replay core each
        market = load_markets(spec) if spec.several else load_market(spec, stream=True)
        result = _run_backtest(strategy, params, spec, market, policy=policy)
    except MakerkitError as exc:
        raise _fail(exc) from exc
    out_dir.mkdir(parents=True, exist_ok=True)
    metrics = msgspec.to_builtins(result.metrics)
    payload = {"strategy": result.strategy, "data": data,
               "config": msgspec.to_builtins(result.config), "metrics": metrics,
               # how the strategy used the venue, also at the top (they are in metrics too)
               "orders_sent": metrics["orders_sent"],
               "max_live_orders": metrics["max_live_orders"]}  # fmt: skip
    if len(result.positions) > 1:  # several instruments: the path and metrics are the first's
        payload["positions"] = result.positions
        payload["legs"] = result.legs
    # --- data quality of the replayed stream (crossed books, gaps, dropped updates) ---
    payload["data_quality"] = _data_quality(market, result)
    if result.fifo_exceptions is not None:  # queue=l3: where the record broke FIFO for us
        payload["data_quality"]["fifo_exceptions"] = result.fifo_exceptions
    _warn_data_quality(payload["data_quality"], market)
    # --- end data quality ---
    (out_dir / "metrics.json").write_bytes(msgspec.json.format(msgspec.json.encode(payload)))
    cols = list(result.path)
    rows = zip(*(result.path[c] for c in cols), strict=True)
    (out_dir / "path.csv").write_text(
        ",".join(cols) + "\n" + "".join(",".join(str(v) for v in r) + "\n" for r in rows)
    )
    (out_dir / "fills.csv").write_text(
        "ts_ns,side,price,qty\n" + "".join(f"{t},{s},{p},{q}\n" for t, s, p, q in result.fills)
    )
    try:
        from makerkit.backtest import write_report

        report = str(write_report(result, out_dir))
    except MakerkitError as exc:  # no matplotlib: the numbers are still written
        report = f"not written ({exc})"
    payload["report"] = report
    if result.stopped:
        err.print(f"[bold yellow]stopped early:[/] {result.stopped}")
    table = Table(title=f"{result.strategy} on {data}", show_header=False, title_justify="left")
    for key in ("pnl_total", "pnl_spread", "pnl_adverse", "pnl_inventory", "pnl_fees",
                "edge", "edge_ci95", "liquidation_cost", "sharpe", "pnl_per_bucket_ci95",
                "max_drawdown", "fills", "rejected_quotes", "quote_uptime", "avg_abs_inventory",
                "markouts"):  # fmt: skip
        shown = metrics[key]
        if key == "sharpe" and shown is None:
            shown = f"None ({metrics['sharpe_reason']})"
        table.add_row(key, str(shown))
    (err if as_json else out).print(table)
    if as_json:
        _json_line(payload)


def compare(
    strategies: Annotated[str, typer.Option(help="Comma-separated strategy names.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for comparison.json.")],
    data: Annotated[str, typer.Option(help=DATA_HELP)] = "synthetic",
    objective: Annotated[
        str,
        typer.Option(
            help="Rank by: edge (spread + adverse selection + fees, no inventory drift), pnl, "
            "edge_1s, edge_5s, edge_30s (fills marked later), pnl_after_liquidation, pnl_ci_low "
            "or sharpe. A run without fills never ranks "
            "above one with fills."
        ),
    ] = "edge",
    params_file: ParamsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Run several strategies on one market, ranked: comparison.json/.html.

    Default parameters, or with --params each strategy's fitted ones.
    """
    from makerkit.metrics import OBJECTIVES, objective_value, rank_runs

    names = [n.strip() for n in strategies.split(",") if n.strip()]
    rows, results = {}, {}
    try:
        if objective not in OBJECTIVES:
            msg = f"invalid --objective {objective!r}, must be one of {sorted(OBJECTIVES)}"
            raise ConfigError(msg)
        spec = parse_data_spec(data)
        fitted = _fitted(params_file, data)
        market = load_markets(spec) if spec.several else load_market(spec, stream=True)
        for name in names:
            results[name] = _run_backtest(name, _with_fitted(fitted, name, {}), spec, market)
            rows[name] = msgspec.to_builtins(results[name].metrics)
    except MakerkitError as exc:
        raise _fail(exc) from exc
    ranking = rank_runs(rows, objective)
    rows = {name: {"rank": i + 1, "objective": objective_value(rows[name], objective),
                   **rows[name]} for i, name in enumerate(ranking)}  # fmt: skip
    results = {name: results[name] for name in ranking}
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "comparison.json").write_bytes(msgspec.json.format(msgspec.json.encode(rows)))
    try:
        from makerkit.backtest import write_comparison

        write_comparison(results, out_dir)
    except MakerkitError as exc:
        err.print(f"comparison.html not written ({exc})")
    table = Table(title=f"strategies on {data}, ranked by {objective}", title_justify="left")
    keys = ("objective", "pnl_total", "pnl_inventory", "edge", "edge_ci95", "pnl_per_bucket_ci95",
            "sharpe", "max_drawdown", "fills", "rejected_quotes", "avg_abs_inventory")  # fmt: skip
    table.add_column("rank")
    table.add_column("strategy")
    for key in keys:
        table.add_column(key, justify="right")
    for name, m in rows.items():
        table.add_row(str(m["rank"]), name, *(_compare_cell(m[k]) for k in keys))
    (err if as_json else out).print(table)
    if as_json:
        _json_line({"data": data, "objective": objective, "ranking": ranking, "strategies": rows})


def _compare_cell(value: Any) -> str:
    """A number with separators, an interval as [lo, hi], None as a dash."""
    if value is None:
        return "-"
    if isinstance(value, list):
        return "[" + ", ".join(f"{v:,.1f}" for v in value) + "]"
    return f"{value:,.2f}" if isinstance(value, float) else str(value)
