"""``makerkit sweep CONFIG``: a grid of backtests and RL seeds, on local processes or Ray."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from makerkit.core import ConfigError, MakerkitError

__all__ = ["sweep"]

out = Console()
err = Console(stderr=True, soft_wrap=True)
Row = dict[str, Any]

ConfigArg = Annotated[
    Path, typer.Argument(help="Sweep config (TOML or JSON); see `makerkit.distributed`.")
]
OutOpt = Annotated[
    Path, typer.Option("--out", help="Folder for results.parquet, report.html, RL policies.")
]
WorkersOpt = Annotated[int, typer.Option(help="Local worker processes (or local Ray CPUs).")]
RayOpt = Annotated[bool, typer.Option("--ray", help="Run on a local Ray instance.")]
AddressOpt = Annotated[str | None, typer.Option(help="A Ray cluster to run on: auto or HOST:PORT.")]
RetriesOpt = Annotated[int, typer.Option(help="Reruns of a task whose worker was lost.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="End with one line of JSON.")]
ObjectiveOpt = Annotated[
    str,
    typer.Option(
        help="Rank configurations by the mean of: edge (spread + adverse selection + fees), "
        "edge_1s, edge_5s, edge_30s (fills marked later), pnl, pnl_after_liquidation, "
        "pnl_ci_low or sharpe; one without fills never ranks "
        "above one with fills."
    ),
]


def _trainer() -> Callable[[Row], Row]:
    try:
        from makerkit.rl import sweep_train
    except ImportError as exc:
        msg = f"the [rl] section needs `pip install makerkit[rl]` ({exc})"
        raise ConfigError(msg) from exc
    return sweep_train


def _table(rows: list[Row], summary: list[Row], title: str) -> Table:
    table = Table(title=title, title_justify="left")
    for col in ("strategy", "data", "params", "runs", "objective", "fills", "pnl_mean",
                "pnl_mean_ci95", "pnl_std", "sharpe / vs AS"):  # fmt: skip
        table.add_column(col, justify="left" if col in ("strategy", "data", "params") else "right")
    for s in summary[:20]:
        ci = s["pnl_mean_ci95"]
        table.add_row(
            s["strategy"], s["data"], s["params"], str(s["runs"]),
            "-" if s["objective"] is None else f"{s['objective']:,.1f}",
            f"{s['fills_mean']:,.0f}", f"{s['pnl_mean']:,.1f}",
            "-" if ci is None else f"[{ci[0]:,.1f}, {ci[1]:,.1f}]",
            f"{s['pnl_std']:,.1f}", f"{s['sharpe_mean']:.2f}",
        )  # fmt: skip
    for r in rows:
        if r["kind"] == "rl" and not r.get("error"):
            table.add_row(
                r["strategy"], r["data"], f"seed {r['seed']}", "1", "-", "-",
                f"{r['pnl_total']:,.1f}", "-", f"{r['pnl_std']:,.1f}",
                f"{r['ratio_to_avellaneda_stoikov']:.0%} of AS",
            )  # fmt: skip
    return table


def sweep(
    config: ConfigArg,
    out_dir: OutOpt = Path("sweep-out"),
    workers: WorkersOpt = 2,
    ray: RayOpt = False,
    ray_address: AddressOpt = None,
    retries: RetriesOpt = 2,
    objective: ObjectiveOpt = "edge",
    train: Annotated[
        str | None,
        typer.Option(
            help="Rank on this window only (HH:MM-HH:MM of market time, or DAY[..DAY] of "
            "catalog markets); with --test, the best configuration is then judged on the test "
            "window."
        ),
    ] = None,
    test: Annotated[
        str | None, typer.Option(help="The test window, after --train; needs --train.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Run a grid (strategies x parameters x markets x seeds, plus PPO seeds) in parallel."""
    from makerkit.distributed import (
        in_window,
        is_days,
        judge_best,
        load_sweep,
        parse_window,
        run_sweep,
        summarise,
        write_html,
        write_parquet,
    )
    from makerkit.metrics import OBJECTIVES

    failures: list[Row] = []
    judged: list[Row] = []
    try:
        if objective not in OBJECTIVES:
            msg = f"invalid --objective {objective!r}, must be one of {sorted(OBJECTIVES)}"
            raise ConfigError(msg)
        if test is not None and train is None:
            msg = "invalid --test without --train: the best setting is chosen on --train"
            raise ConfigError(msg)
        plan = load_sweep(config, out_dir)
        train_window = parse_window(train, name="train") if train else None
        test_window = parse_window(test, name="test") if test else None
        if train_window and test_window and is_days(train_window) != is_days(test_window):
            msg = "invalid windows: --train and --test must both be times or both days"
            raise ConfigError(msg)
        days = train_window is not None and is_days(train_window)
        if (
            train_window
            and test_window
            and (test_window[0] <= train_window[1] if days else test_window[0] < train_window[1])
        ):
            msg = (f"invalid windows, the test window {test} must start after the train "
                   f"window {train} ends (never rank on what you judge on)")  # fmt: skip
            raise ConfigError(msg)
        if test_window is not None:
            in_window(plan, test_window, name="test")  # a bad test window fails before the work
        whole = plan  # the test window is cut from the plan as the config gave it
        if train_window is not None:
            plan = in_window(plan, train_window, name="train")
        trainer = _trainer() if plan.rl else None
        runner = "ray" if ray or ray_address else "local"
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TimeElapsedColumn())  # fmt: skip
        with Progress(*columns, console=err, transient=as_json) as bar:
            task = bar.add_task(f"sweep {plan.name} on {runner}", total=len(plan.tasks))

            def done(row: Row) -> None:
                bar.advance(task)
                if row.get("error"):
                    failures.append(row)
                    bar.console.print(f"[red]task {row['task_id']} failed:[/] {row['error']}")

            result = run_sweep(plan, workers=workers, runner=runner, ray_address=ray_address,
                               retries=retries, rl_trainer=trainer, on_result=done)  # fmt: skip
        out_dir.mkdir(parents=True, exist_ok=True)
        parquet = write_parquet(result.rows, out_dir / "results.parquet")
        summary = summarise(result.rows, objective)
        if test_window is not None and summary:
            judged = judge_best(whole, summary[0], test_window, workers=workers, runner=runner,
                                ray_address=ray_address, retries=retries)  # fmt: skip
            write_parquet(judged, out_dir / "test.parquet")
    except MakerkitError as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(2) from exc
    info = {**result.info, "tasks": len(result.rows), "seconds": round(result.seconds, 3)}
    report = write_html(result.rows, info, out_dir / "report.html", plan.name, objective)
    title = (f"sweep {plan.name}: {len(result.rows)} tasks in {result.seconds:.1f} s "
             f"({info['runner']}, {info['workers']} workers)")  # fmt: skip
    console = err if as_json else out
    console.print(_table(result.rows, summary, title))
    console.print(f"table: {parquet}\nreport: {report}")
    out_of_sample = summarise(judged, objective)[:1] if judged else []
    if out_of_sample:
        o = out_of_sample[0]
        console.print(f"judged on {test}: {o['strategy']} {o['params']}: objective "
                      f"{o['objective']}, pnl {o['pnl_mean']:,.1f} "
                      f"(CI {o['pnl_mean_ci95']}), fills {o['fills_mean']:,.0f}")  # fmt: skip
    if as_json:
        payload = {"name": plan.name, **info, "failed": len(failures),
                   "results": str(parquet), "report": str(report), "objective": objective,
                   "best": summary[:1]}  # fmt: skip
        if train is not None:
            payload |= {"train": train, "test": test, "out_of_sample": out_of_sample}
        sys.stdout.write(json.dumps(payload) + "\n")
    if failures:
        raise typer.Exit(1)
