"""What the command groups share: the consoles, the common options and the output helpers.

Apart from the commands, so that each group module imports these without importing another group.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from makerkit.core import ConfigError, MakerkitError

out = Console()


err = Console(stderr=True, soft_wrap=True)


BackendOpt = Annotated[
    str | None,
    typer.Option(
        "--backend", "--engine",
        help="Engine backend: python or native (default: the selected one); --engine is its "
        "old name.",
    ),
]  # fmt: skip


JsonOpt = Annotated[bool, typer.Option("--json", help="End with one line of JSON.")]
ParamsOpt = Annotated[
    Path | None,
    typer.Option(
        "--params",
        help="A parameters file from `makerkit fit`: each built-in's fitted parameters "
        "(--param still wins). Refused when fitted on another instrument.",
    ),
]


def _fitted(path: Path | None, data: str | None) -> Any:
    """The parameters file at ``path`` (None without one), checked against ``data``."""
    if path is None:
        return None
    from makerkit.backtest import load_params

    return load_params(path, data)


def _with_fitted(fitted: Any, name: str, params: dict[str, Any]) -> dict[str, Any]:
    """``name``'s fitted parameters under the ones given by hand."""
    from makerkit.backtest import params_for

    return {**params_for(fitted, name), **params}


def _fail(exc: MakerkitError) -> typer.Exit:
    err.print(f"[bold red]error:[/] {exc}", highlight=False)
    return typer.Exit(2)


def _json_line(payload: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(payload, default=str) + "\n")
    sys.stdout.flush()


def _emit_bench(table: Table, result: dict[str, Any], output: Path | None, as_json: bool) -> None:
    """A benchmark's table (to stderr under --json), its JSON file, its last JSON line."""
    (err if as_json else out).print(table)
    if output is not None:
        output.write_text(json.dumps(result, indent=2))
    if as_json:
        _json_line(result)


def _parse_params(items: list[str]) -> dict[str, Any]:
    """``NAME=VALUE`` pairs: an int, a float, true/false, else the text (a symbol, say)."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            msg = f"invalid --param {item!r}, must be NAME=VALUE"
            raise ConfigError(msg)
        for kind in (int, float):
            try:
                out[key] = kind(value)
                break
            except ValueError:
                continue
        else:
            flags = {"true": True, "false": False}
            out[key] = flags.get(value.lower(), value)
    return out


PolicyOpt = Annotated[
    Path | None, typer.Option(help="For --strategy rl: a policy.zip from `rl train --env lob`.")
]


def _make_strategy(name: str, params: dict[str, Any], policy: Path | None) -> Any:
    """A strategy by name; ``rl`` loads a trained policy (makerkit[rl])."""
    if name != "rl":
        from makerkit.strategies import make_strategy

        return make_strategy(name, **params)
    if policy is None or params:
        msg = "the rl strategy takes --policy PATH (a policy.zip) and no --param"
        raise ConfigError(msg)
    try:
        from makerkit.rl import RLStrategy
    except ImportError as exc:
        msg = f"the rl strategy needs makerkit[rl]: {exc}"
        raise ConfigError(msg) from exc
    return RLStrategy(policy)
