"""``makerkit rl``: evaluate market-making policies in the model market."""

from __future__ import annotations

import contextlib
import json
import math
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import msgspec
import typer
from rich.console import Console
from rich.table import Table

from makerkit.core import ConfigError, MakerkitError

__all__ = ["rl_app"]

rl_app = typer.Typer(help="Reinforcement learning: environments and policies.",
                     no_args_is_help=True)  # fmt: skip
out = Console()
err = Console(stderr=True, soft_wrap=True)
POLICIES = ("avellaneda-stoikov", "symmetric")


@contextlib.contextmanager
def _refusals() -> Iterator[None]:
    """Bad input and a missing extra end the command with a clear line and exit code 2."""
    try:
        yield
    except MakerkitError as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(2) from exc
    except ImportError as exc:
        err.print(f"[bold red]error:[/] {exc}: pip install makerkit[rl]", highlight=False)
        raise typer.Exit(2) from exc


REWARD = "pnl minus gamma sigma^2 / 2 x inventory^2 per unit of time (pnl_mean: the raw PnL)"


def _reward(terminal_penalty: float) -> str:
    """The reward's name, with the cost at the close when the market has one."""
    if not terminal_penalty:
        return REWARD
    close = f", minus {terminal_penalty} x inventory^2 at the end"
    return REWARD.replace(" (pnl_mean", close + " (pnl_mean")


def _params(gamma: float, penalised: bool, terminal_penalty: float = 0.0) -> Any:
    from makerkit.rl import ModelParams, as_penalty

    base = ModelParams(max_offset=4.0, terminal_penalty=terminal_penalty)
    return as_penalty(base, gamma) if penalised else base


TerminalOpt = Annotated[
    float,
    typer.Option(
        help="Model market: the cost of each unit^2 of inventory still held at the end, a close "
        "to be flat into (0: none; GLFT's infinite horizon does not see it).",
    ),
]


def _check_terminal(env: str, terminal_penalty: float) -> None:
    if not (math.isfinite(terminal_penalty) and terminal_penalty >= 0):
        msg = f"invalid --terminal-penalty, must be finite and >= 0, was {terminal_penalty}"
        raise ConfigError(msg)
    if terminal_penalty and env != "model":
        msg = "--terminal-penalty goes with --env model (the book env has its own reward)"
        raise ConfigError(msg)


DataOpt = Annotated[
    str | None,
    typer.Option(
        help="--env lob on a recorded day: lobster:SYMBOL[:DAY][,queue=...] or binance:..."
    ),
]


def _lob_config(env: str, data: str | None) -> Any:
    """The book env's settings (None for the model market); a recorded day checked here."""
    if env != "lob":
        if data is not None:
            msg = "--data goes with --env lob"
            raise ConfigError(msg)
        return None
    from makerkit.rl import LOBEnvConfig, ReplayMarketEnv

    cfg = LOBEnvConfig(data=data)
    if data is not None:
        ReplayMarketEnv(cfg)  # refuses a bad spec or too short a day before any work
    return cfg


@rl_app.command("train")
def train_cmd(
    out_dir: Annotated[
        Path,
        typer.Option(
            "--out",
            help="Folder for the policy, checkpoints, logs (CSV; TensorBoard when installed).",
        ),
    ],
    env: Annotated[
        str, typer.Option(help="model (the Avellaneda-Stoikov market) or lob (the simulated book).")
    ] = "model",
    timesteps: Annotated[int, typer.Option(help="Environment steps to train for.")] = 800_000,
    seed: Annotated[int, typer.Option(help="Training seed.")] = 0,
    gamma: Annotated[float, typer.Option(help="Risk aversion of the reward's penalty.")] = 0.1,
    terminal_penalty: TerminalOpt = 0.0,
    data: DataOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="End with one line of JSON.")] = False,
) -> None:
    """PPO (stable-baselines3) on the model market or the book (simulated or a recorded day)."""
    with _refusals():
        if env not in ("model", "lob"):
            msg = f"invalid --env {env!r}, must be `model` or `lob` (the simulated book)"
            raise ConfigError(msg)
        _check_terminal(env, terminal_penalty)
        if timesteps < 1000:
            msg = f"invalid --timesteps, must be >= 1000, was {timesteps}"
            raise ConfigError(msg)
        from makerkit.rl import train_ppo

        lob_cfg = _lob_config(env, data)
    from makerkit.rl import make_market_env

    params = _params(gamma, penalised=True, terminal_penalty=terminal_penalty)
    if lob_cfg is not None:
        train_ppo(
            out_dir, timesteps=timesteps, seed=seed, discount=0.99, n_envs=4,
            make_env=lambda: make_market_env(lob_cfg), progress=not as_json,
        )  # fmt: skip
    else:
        train_ppo(out_dir, timesteps=timesteps, seed=seed, params=params, progress=not as_json)
    market = lob_cfg if lob_cfg is not None else params
    meta = {
        "env": env, "timesteps": timesteps, "seed": seed, "gamma": gamma,
        "params": msgspec.to_builtins(market), "policy": str(out_dir / "policy.zip"),
    }  # fmt: skip
    (out_dir / "meta.json").write_text(json.dumps(meta, indent=2))
    (err if as_json else out).print(f"policy saved to {out_dir / 'policy.zip'}")
    if as_json:
        sys.stdout.write(json.dumps(meta) + "\n")


def _print_rows(rows: dict[str, dict[str, Any]], title: str, console: Console) -> None:
    keys = [k for k in next(iter(rows.values())) if k not in ("episodes", "episode_count")]
    table = Table(title=title, title_justify="left")
    table.add_column("policy")
    for key in keys:
        table.add_column(key, justify="right")
    for name, row in rows.items():
        table.add_row(name, *(f"{row[k]:,.3f}" for k in keys))
    console.print(table)


def _evaluate_lob(policy: str, episodes: int, seed: int, out_dir: Path | None,
                  as_json: bool, data: str | None) -> None:  # fmt: skip
    """The trained policy against the strategies on the simulated book, same episodes."""
    from makerkit.rl import evaluate_lob, write_evaluation

    if not policy.endswith(".zip"):
        msg = f"invalid --policy {policy!r}: --env lob takes a policy.zip (`rl train --env lob`)"
        raise ConfigError(msg)
    cfg = _lob_config("lob", data)
    seeds = list(range(seed, seed + episodes))
    with err.status("playing") as status:
        rows = evaluate_lob(cfg, seeds, policy=policy,
                            progress=lambda m: status.update(f"playing {m}"))  # fmt: skip
    market = data or "the simulated book (informed flow)"
    title = f"{market}, seeds {seeds[0]}..{seeds[-1]}"
    _print_rows(rows, title, err if as_json else out)
    flat = {name: {k: v for k, v in r.items() if k != "episodes"} for name, r in rows.items()}
    ppo = flat["ppo"]
    verdict = {f"ppo_beats_{name}_on_sharpe": ppo["sharpe_mean"] > flat[name]["sharpe_mean"]
               for name in flat if name != "ppo"}  # fmt: skip
    payload = {"env": "lob", "data": data, "policy": policy, "seeds": [seeds[0], seeds[-1]],
               "policies": flat, **verdict}  # fmt: skip
    if out_dir is not None:
        (out_dir / "evaluation.json").parent.mkdir(parents=True, exist_ok=True)
        (out_dir / "evaluation.json").write_text(json.dumps(payload, indent=2))
        payload["report"] = str(write_evaluation(rows, out_dir, title))
    if as_json:
        sys.stdout.write(json.dumps(payload) + "\n")


@rl_app.command("evaluate")
def evaluate_cmd(
    policy: Annotated[
        str, typer.Option(help=f"One of {', '.join(POLICIES)}, or a trained policy.zip.")
    ],
    env: Annotated[
        str, typer.Option(help="model (the Avellaneda-Stoikov market) or lob (the simulated book).")
    ] = "model",
    gamma: Annotated[float, typer.Option(help="Risk aversion of the AS formulas.")] = 0.1,
    terminal_penalty: TerminalOpt = 0.0,
    episodes: Annotated[
        int | None, typer.Option(help="Episodes to play (default: 1000 model, 30 lob).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed (held-out seeds: not the training ones).")] = 0,
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", help="Compare with every reference policy: evaluation.json/html."),
    ] = None,
    data: DataOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="End with one line of JSON.")] = False,
) -> None:
    """Play a policy: PnL, final inventory and spread statistics, beside the references."""
    from makerkit.rl import avellaneda_stoikov_policy, run_policy, symmetric_policy

    with _refusals():
        if env not in ("model", "lob"):
            msg = f"invalid --env {env!r}, must be `model` or `lob`"
            raise ConfigError(msg)
        _check_terminal(env, terminal_penalty)
        n = episodes if episodes is not None else (1000 if env == "model" else 30)
        if n < 1:
            msg = f"invalid --episodes, must be >= 1, was {n}"
            raise ConfigError(msg)
        if env == "lob":
            _evaluate_lob(policy, n, seed, out_dir, as_json, data)
            return
        if data is not None:
            msg = "--data goes with --env lob"
            raise ConfigError(msg)
        trained = policy.endswith(".zip")
        if not trained and policy not in POLICIES:
            msg = f"invalid --policy {policy!r}, must be one of {list(POLICIES)} or a policy.zip"
            raise ConfigError(msg)
        # one reward everywhere: the one PPO learns (PnL minus AS's inventory penalty);
        # the raw PnL is reported beside it as pnl_mean
        params = _params(gamma, penalised=True, terminal_penalty=terminal_penalty)
        if trained:
            from makerkit.rl import ppo_policy

            act = ppo_policy(policy, params)
        else:
            make = avellaneda_stoikov_policy if policy == "avellaneda-stoikov" else symmetric_policy
            act = make(params, gamma)
        stats: dict[str, Any] = run_policy(act, params, episodes=n, seed=seed)
        if trained:  # scored beside the closed form, same seeds, same reward
            ref = run_policy(avellaneda_stoikov_policy(params, gamma), params,
                             episodes=n, seed=seed)  # fmt: skip
            stats["avellaneda_stoikov_reward_mean"] = ref["reward_mean"]
            stats["ratio_to_avellaneda_stoikov"] = stats["reward_mean"] / ref["reward_mean"]
        compared = None
        if out_dir is not None:
            from makerkit.rl import evaluate_model, write_evaluation

            compared = evaluate_model(params, gamma, episodes=n, seed=seed,
                                      policy=act if trained else None)  # fmt: skip
            title = f"the model market (gamma {gamma}), {n} episodes from seed {seed}"
            write_evaluation(compared, out_dir, title)
            (out_dir / "evaluation.json").write_text(json.dumps(compared, indent=2))
    table = Table(title=f"{policy} (gamma {gamma}) in the model market, {n} episodes",
                  show_header=False, title_justify="left")  # fmt: skip
    for key, value in stats.items():
        table.add_row(key, f"{value:,.3f}" if isinstance(value, float) else str(value))
    console = err if as_json else out
    console.print(table)
    if compared is not None:
        _print_rows(compared, "every policy on the same seeds, PPO's reward", console)
    if as_json:
        payload = {"env": env, "policy": policy, "gamma": gamma, "seed": seed,
                   "terminal_penalty": terminal_penalty,
                   "reward": _reward(terminal_penalty), **stats}  # fmt: skip
        if compared is not None:
            payload["policies"] = compared
        sys.stdout.write(json.dumps(payload) + "\n")


def _seed_list(text: str) -> list[int]:
    try:
        seeds = [int(part) for part in text.split(",") if part.strip()]
    except ValueError as exc:
        msg = f"invalid --seeds {text!r}, must be integers separated by commas, e.g. 0,1,2"
        raise ConfigError(msg) from exc
    if not seeds or len(set(seeds)) != len(seeds):
        msg = f"invalid --seeds {text!r}, must name at least one seed, each once"
        raise ConfigError(msg)
    return seeds


def _ci(row: dict[str, Any]) -> str:
    lo, hi = row["ci95"]
    return f"{row['mean']:,.2f} [{lo:,.2f}, {hi:,.2f}]"


def _print_comparison(result: dict[str, Any], console: Console) -> None:
    """References, then each seed and the pooled row: mean [95% CI], PPO - GLFT [95% CI]."""
    table = Table(title=f"{result['env']} market, {result['episodes']} held-out episodes: "
                  f"{result['metric']}", title_justify="left")  # fmt: skip
    for col in ("policy", "mean [95% CI]", "PPO - GLFT [95% CI]", "verdict", "train s"):
        table.add_column(col, justify="left" if col in ("policy", "verdict") else "right")
    for name, row in result["references"].items():
        table.add_row(name, _ci(row), "", "", "")
    for row in result["seeds"]:
        vs = row["ppo_minus_glft"]
        table.add_row(f"PPO seed {row['seed']}", _ci(row), _ci(vs), vs["verdict"],
                      f"{row['train_seconds']:,.0f}")  # fmt: skip
    pooled = result["pooled"]
    table.add_row("PPO pooled", _ci(pooled), _ci(pooled["ppo_minus_glft"]), pooled["verdict"], "")
    console.print(table)
    for name, gap in result.get("minus_optimum", {}).items():
        console.print(f"{name} - optimum, paired: {_ci(gap)} ({gap['verdict']}): what {name} "
                      "leaves for any policy to gain", highlight=False)  # fmt: skip
    if "pnl_spread" in result:
        _print_why(result, console)


def _print_why(result: dict[str, Any], console: Console) -> None:
    """Where each policy's PnL comes from: fills and the PnL's parts, means per episode."""
    parts = ("fills", "pnl_spread", "pnl_adverse", "pnl_inventory", "pnl_fees", "pnl")
    table = Table(title="why: per episode, fills and the PnL split (spread + adverse + "
                  "inventory + fees = PnL)", title_justify="left")  # fmt: skip
    table.add_column("policy")
    for col in ("fills", "spread", "adverse", "inventory", "fees", "PnL"):
        table.add_column(col, justify="right")
    for name in result["references"]:
        table.add_row(name, *(f"{result[p]['references'][name]['mean']:,.2f}" for p in parts))
    for k, row in enumerate(result["seeds"]):
        cells = (f"{result[p]['seeds'][k]['mean']:,.2f}" for p in parts)
        table.add_row(f"PPO seed {row['seed']}", *cells)
    table.add_row("PPO pooled", *(f"{result[p]['pooled']['mean']:,.2f}" for p in parts))
    table.add_row("PPO - GLFT, pooled [95% CI]", *(_ci(result[p]["pooled"]["ppo_minus_glft"])
                                                  for p in parts))  # fmt: skip
    console.print(table)


@rl_app.command("compare")
def compare_cmd(
    out_dir: Annotated[
        Path, typer.Option("--out", help="Folder: one policy per seed (seed-N/), compare.json.")
    ],
    env: Annotated[
        str, typer.Option(help="model (the Avellaneda-Stoikov market) or lob (the simulated book).")
    ] = "model",
    seeds: Annotated[str, typer.Option(help="Training seeds, one policy each.")] = "0,1,2",
    timesteps: Annotated[
        int,
        typer.Option(help="Environment steps per training seed (the manual's tables: 100000)."),
    ] = 100_000,
    episodes: Annotated[
        int | None, typer.Option(help="Held-out episodes (default: 1000 model, 100 lob).")
    ] = None,
    eval_seed: Annotated[
        int | None,
        typer.Option(
            help="First held-out seed (default: 2^31 model, above the training draws; 5000 lob)."
        ),
    ] = None,
    gamma: Annotated[float, typer.Option(help="Risk aversion (model market).")] = 0.1,
    terminal_penalty: TerminalOpt = 0.0,
    action: Annotated[
        str,
        typer.Option(
            help="Model market: residual (adjusts GLFT; zero action = GLFT) or absolute (offsets)."
        ),
    ] = "residual",
    residual_scale: Annotated[
        float | None,
        typer.Option(
            help="--action residual: the most it moves a quote (price units; default: the one "
            "validated for the market, 0.25, or 1.0 with a --terminal-penalty)."
        ),
    ] = None,
    learning_rate: Annotated[
        float | None,
        typer.Option(
            help="PPO's learning rate (default: the one validated for the market, 3e-5, or "
            "1e-4 with a --terminal-penalty)."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="End with one line of JSON.")] = False,
) -> None:
    """Train PPO on several seeds; each and the pooled scores beside the closed forms, with CIs."""
    with _refusals():
        if env not in ("model", "lob"):
            msg = f"invalid --env {env!r}, must be `model` or `lob` (the simulated book)"
            raise ConfigError(msg)
        if action not in ("residual", "absolute"):
            msg = f"invalid --action {action!r}, must be `residual` or `absolute`"
            raise ConfigError(msg)
        _check_terminal(env, terminal_penalty)
        if timesteps < 1000:
            msg = f"invalid --timesteps, must be >= 1000, was {timesteps}"
            raise ConfigError(msg)
        for name, value in (("--residual-scale", residual_scale),
                            ("--learning-rate", learning_rate)):  # fmt: skip
            if value is not None and not (math.isfinite(value) and value > 0):
                msg = f"invalid {name}, must be > 0, was {value}"
                raise ConfigError(msg)
            if value is not None and env != "model":
                msg = f"{name} goes with --env model (the book env trains with its own)"
                raise ConfigError(msg)
        n = episodes if episodes is not None else (1000 if env == "model" else 100)
        if n < 2:
            msg = f"invalid --episodes, must be >= 2 (an interval needs two), was {n}"
            raise ConfigError(msg)
        seed_list = _seed_list(seeds)
        from tqdm import tqdm  # type: ignore[import-untyped]

        from makerkit.rl import (
            compare_lob,
            compare_model,
            train_ppo,  # noqa: F401 - refuses a missing extra here
        )

    console = err if as_json else out
    bars: dict[int, Any] = {}

    def on_steps(seed: int, done: int) -> None:
        if seed not in bars:
            bars[seed] = tqdm(total=timesteps, desc=f"training seed {seed}", unit="step",
                              file=sys.stderr, disable=None, leave=False)  # fmt: skip
        bar = bars[seed]
        bar.update(min(done, timesteps) - bar.n)

    def on_stage(message: str) -> None:
        for bar in bars.values():
            bar.close()
        bars.clear()
        err.print(message, highlight=False)

    out_dir.mkdir(parents=True, exist_ok=True)
    if env == "model":
        result = compare_model(
            seed_list, out_dir, timesteps=timesteps, gamma=gamma, episodes=n,
            eval_seed=eval_seed,
            residual=action == "residual", residual_scale=residual_scale,
            learning_rate=learning_rate, on_steps=on_steps, on_stage=on_stage,
            terminal_penalty=terminal_penalty,
        )  # fmt: skip
    else:
        result = compare_lob(
            seed_list, out_dir, timesteps=timesteps, episodes=n,
            eval_seed=eval_seed,
            on_steps=on_steps, on_stage=on_stage,
        )  # fmt: skip
    on_stage("done")
    (out_dir / "compare.json").write_text(json.dumps(result, indent=2))
    _print_comparison(result, console)
    if as_json:
        sys.stdout.write(json.dumps(result) + "\n")
