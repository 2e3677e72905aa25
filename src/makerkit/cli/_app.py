"""The ``makerkit`` command line: one entry point for every job.

Only the wiring is here: the app, its sub-apps and the top-level commands, registered in the
order ``--help`` lists them; the commands live in one module per group.
"""

from __future__ import annotations

import typer

from makerkit.cli._cmd_backtest import backtest, compare
from makerkit.cli._cmd_bench import bench_app
from makerkit.cli._cmd_data import data_app
from makerkit.cli._cmd_fit import fit
from makerkit.cli._cmd_replay import replay_app, stream
from makerkit.cli._cmd_tune import tune
from makerkit.cli._cmd_venue import demo, run_strategy, serve, version
from makerkit.cli._predictor import predictor_app
from makerkit.cli._rl import rl_app
from makerkit.cli._sweep import sweep

__all__ = ["app", "main"]

app = typer.Typer(
    name="makerkit",
    help="Research, backtest and run market-making strategies.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(replay_app, name="replay")
app.add_typer(bench_app, name="bench")
app.add_typer(data_app, name="data")
app.add_typer(predictor_app, name="predictor")
app.add_typer(rl_app, name="rl")
# the top-level commands, in the order --help lists them (before the groups)
app.command("sweep")(sweep)
app.command()(demo)
app.command("stream")(stream)
app.command()(serve)
app.command()(version)
app.command()(backtest)
app.command()(compare)
app.command()(fit)
app.command()(tune)
app.command("run-strategy")(run_strategy)


def main() -> None:
    """Run the CLI (console-script entry point)."""
    app()
