"""``makerkit rl``: evaluate market-making policies in the model market."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from makerkit.core import ConfigError, MakerkitError

__all__ = ["rl_app"]

rl_app = typer.Typer(help="Reinforcement learning: environments and policies.",
                     no_args_is_help=True)  # fmt: skip
out = Console()
err = Console(stderr=True)
POLICIES = ("avellaneda-stoikov", "symmetric")


@rl_app.command("evaluate")
def evaluate_cmd(
    policy: Annotated[str, typer.Option(help=f"One of {', '.join(POLICIES)}.")],
    env: Annotated[str, typer.Option(help="model: the Avellaneda-Stoikov market.")] = "model",
    gamma: Annotated[float, typer.Option(help="Risk aversion of the AS formulas.")] = 0.1,
    episodes: Annotated[int, typer.Option(help="Episodes to play.")] = 1000,
    seed: Annotated[int, typer.Option(help="Seed (held-out seeds: not the training ones).")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="End with one line of JSON.")] = False,
) -> None:
    """Play a policy in the model market: PnL, final inventory and spread statistics."""
    from makerkit.rl import ModelParams, avellaneda_stoikov_policy, run_policy, symmetric_policy

    try:
        if env != "model":
            msg = f"invalid --env {env!r}: this release has `model`"
            raise ConfigError(msg)
        if policy not in POLICIES:
            msg = f"invalid --policy {policy!r}, must be one of {list(POLICIES)}"
            raise ConfigError(msg)
        if episodes < 1:
            msg = f"invalid --episodes, must be >= 1, was {episodes}"
            raise ConfigError(msg)
        params = ModelParams()
        make = avellaneda_stoikov_policy if policy == "avellaneda-stoikov" else symmetric_policy
        stats: dict[str, Any] = run_policy(make(params, gamma), params, episodes=episodes,
                                           seed=seed)  # fmt: skip
    except MakerkitError as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(2) from exc
    table = Table(title=f"{policy} (gamma {gamma}) in the model market, {episodes} episodes",
                  show_header=False, title_justify="left")  # fmt: skip
    for key, value in stats.items():
        table.add_row(key, f"{value:,.3f}" if isinstance(value, float) else str(value))
    (err if as_json else out).print(table)
    if as_json:
        payload = {"env": env, "policy": policy, "gamma": gamma, "seed": seed, **stats}
        sys.stdout.write(json.dumps(payload) + "\n")
