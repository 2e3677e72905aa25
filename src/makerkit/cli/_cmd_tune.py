"""``tune``: parameters searched on a train window, the chosen setting judged on the test window.

Plain function: ``_app.py`` registers it on the top-level app.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import msgspec
import typer
from rich.table import Table

from makerkit.backtest import DATA_HELP
from makerkit.cli._common import (
    JsonOpt,
    ParamsOpt,
    _fail,
    _fitted,
    _json_line,
    _parse_params,
    _with_fitted,
    err,
    out,
)
from makerkit.core import MakerkitError


def tune(
    strategy: Annotated[str, typer.Option(help="Strategy name, or path/to/file.py:ClassName.")],
    data: Annotated[
        str,
        typer.Option(
            help=DATA_HELP + " Without start=/end=: the windows come from --train and --test."
        ),
    ],
    train: Annotated[
        str,
        typer.Option(
            help="Train window in market time, HH:MM-HH:MM; on a catalog range, days: DAY[..DAY]."
        ),
    ],
    test: Annotated[
        str,
        typer.Option(
            help="Test window, HH:MM-HH:MM or DAY[..DAY]; it must start after train ends."
        ),
    ],
    search: Annotated[str, typer.Option(help="optuna (TPE, seeded) or grid.")] = "optuna",
    space: Annotated[
        list[str] | None,
        typer.Option(
            help="A searched parameter NAME=LOW:HIGH[:log] (repeatable; built-ins "
            "have a default space)."
        ),
    ] = None,
    param: Annotated[
        list[str] | None, typer.Option(help="A fixed parameter NAME=VALUE (repeatable).")
    ] = None,
    trials: Annotated[int, typer.Option(min=1, help="Optuna trials.")] = 30,
    grid_points: Annotated[int, typer.Option(min=1, help="Grid values per parameter.")] = 4,
    objective: Annotated[
        str,
        typer.Option(
            help="What the train window is ranked by: edge (spread + adverse + fees, "
            "no inventory drift; edge_1s, edge_5s, edge_30s: fills marked that much later), "
            "pnl, pnl_after_liquidation, pnl_ci_low or sharpe."
        ),
    ] = "edge",
    seed: Annotated[int, typer.Option(help="The search's seed (same seed, same trials).")] = 0,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Also write tune.json here.")
    ] = None,
    params_file: ParamsOpt = None,
    until: Annotated[
        str | None,
        typer.Option(
            help="Walk forward: after each fold move both windows on by the test's length, "
            "until a test window would end after HH:MM; each fold is tuned on its own train."
        ),
    ] = None,
    workers: Annotated[
        int, typer.Option(min=1, help="Run the train trials on this many processes.")
    ] = 1,
    ray: Annotated[
        bool, typer.Option("--ray", help="Run the train trials on a local Ray instance.")
    ] = False,
    ray_address: Annotated[
        str | None, typer.Option(help="A Ray cluster for the trials: auto or HOST:PORT.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Tune a strategy on one window, report it in and out of sample (never tuned on the test)."""
    from rich.progress import Progress

    from makerkit.distributed import parse_dimension, parse_window, walk_forward
    from makerkit.distributed import tune as run_tune

    try:
        train_window = parse_window(train, name="train")
        test_window = parse_window(test, name="test")
        dims = tuple(parse_dimension(s) for s in space or ())
        fixed = _parse_params(param or [])
        fitted = _with_fitted(_fitted(params_file, data), strategy, {})
        with Progress(console=err, transient=True) as bar:
            task = bar.add_task(f"tune {strategy} on {train}", total=None)

            def step(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            options: dict[str, Any] = {
                "search": search, "space": dims or None, "fixed": fixed, "trials": trials,
                "grid_points": grid_points, "objective": objective, "seed": seed,
                "progress": step, "fitted": fitted, "workers": workers,
                "runner": "ray" if ray or ray_address else ("local" if workers > 1 else None),
                "ray_address": ray_address,
            }  # fmt: skip
            if until is not None:
                walked = walk_forward(strategy, data, train_window, test_window, until=until,
                                      **options)  # fmt: skip
            else:
                result = run_tune(strategy, data, train_window, test_window, **options)
    except MakerkitError as exc:
        raise _fail(exc) from exc
    if until is not None:
        _show_walk(walked, out_dir, as_json)
        return
    payload: dict[str, Any] = msgspec.to_builtins(result)
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "tune.json").write_bytes(msgspec.json.format(msgspec.json.encode(payload)))
    table = Table(title=f"{strategy} on {data}: tuned on {result.train}, judged on {result.test}",
                  title_justify="left")  # fmt: skip
    for col in ("window", "pnl", "95% CI", "fills", "spread", "adverse", "inventory", "fees"):
        table.add_column(col, justify="left" if col == "window" else "right")
    for name, row in (("in sample (train)", result.in_sample),
                      ("out of sample (test)", result.out_of_sample)):  # fmt: skip
        ci = row["pnl_ci95"]
        table.add_row(
            name, f"{row['pnl']:,.1f}", "-" if ci is None else f"[{ci[0]:,.0f}, {ci[1]:,.0f}]",
            str(row["fills"]), f"{row['pnl_spread']:,.1f}", f"{row['pnl_adverse']:,.1f}",
            f"{row['pnl_inventory']:,.1f}", f"{row['pnl_fees']:,.1f}",
        )  # fmt: skip
    table.caption = f"best params: {result.best_params} ({len(result.trials)} settings tried)"
    (err if as_json else out).print(table)
    if as_json:
        _json_line(payload)


def _show_walk(walked: Any, out_dir: Path | None, as_json: bool) -> None:
    """One row per fold and the out-of-sample sums; walk_forward.json with --out."""
    payload: dict[str, Any] = msgspec.to_builtins(walked)
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "walk_forward.json").write_bytes(
            msgspec.json.format(msgspec.json.encode(payload))
        )
    table = Table(title=f"{walked.strategy} on {walked.data}: walk-forward, out of sample",
                  title_justify="left")  # fmt: skip
    for col in ("train", "test", "pnl", "edge", "edge 95% CI", "fills", "chosen"):
        table.add_column(col, justify="left" if col in ("train", "test", "chosen") else "right")
    for fold in walked.folds:
        row = fold.out_of_sample
        ci = row.get("edge_ci95")
        chosen = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
                           for k, v in fold.best_params.items())  # fmt: skip
        table.add_row(fold.train, fold.test, f"{row['pnl']:,.1f}", f"{row['edge']:,.1f}",
                      "-" if ci is None else f"[{ci[0]:,.0f}, {ci[1]:,.0f}]",
                      str(row["fills"]), chosen)  # fmt: skip
    total = walked.out_of_sample
    table.caption = (f"{total['folds']} folds: pnl {total['pnl']:,.1f}, edge {total['edge']:,.1f}; "
                     f"edge > 0 in {total['folds_with_positive_edge']}, its CI above zero in "
                     f"{total['folds_with_edge_ci_above_zero']}")  # fmt: skip
    (err if as_json else out).print(table)
    if as_json:
        _json_line(payload)
