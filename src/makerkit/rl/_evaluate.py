"""Policies side by side on the same held-out seeds: the model market and the simulated book.

Model market: the trained policy against the closed forms (Avellaneda-Stoikov,
GLFT), the symmetric and inventory-skew strategies, every one scored with the
reward PPO was trained on (PnL minus AS's inventory penalty).

Simulated book (``MarketMakingEnv``, informed flow) or a recorded day
(``ReplayMarketEnv``): each contender plays the same episodes (same seeds,
same decision clock). The strategies quote through
``step_intent`` with their default parameters, GLFT and AS (gamma 0.1) with
A, k and sigma fitted on a simulator seed outside the evaluation (on a
recorded day: on the day itself). Per episode: the final PnL (ticks x lots),
and the Sharpe ratio of its per-step equity changes scaled to the episode
(mean / sd x sqrt(steps)); both are averaged over the episodes.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from makerkit.core import QuoteIntent
from makerkit.rl._lob_env import LOBEnvConfig
from makerkit.rl._model_env import (
    ModelParams,
    avellaneda_stoikov_policy,
    glft_policy,
    inventory_skew_policy,
    run_policy,
    symmetric_policy,
)
from makerkit.rl._replay_env import make_market_env

__all__ = ["evaluate_lob", "evaluate_model", "write_evaluation"]

Decide = Callable[[Any, np.ndarray[Any, Any]], QuoteIntent]  # (env, observation) -> quotes
PNL_PARTS = ("pnl_spread", "pnl_adverse", "pnl_inventory", "pnl_fees")
MODEL_POLICIES = {
    "avellaneda_stoikov": avellaneda_stoikov_policy,
    "glft": glft_policy,
    "inventory_skew": inventory_skew_policy,
    "symmetric": symmetric_policy,
}


def evaluate_model(
    params: ModelParams, gamma: float, *, episodes: int, seed: int, policy: Any = None
) -> dict[str, dict[str, float]]:
    """Every closed form (and ``policy``, an action function, as ``ppo``) on the same seeds."""
    rows = {}
    for name, make in MODEL_POLICIES.items():
        rows[name] = run_policy(make(params, gamma), params, episodes=episodes, seed=seed)
    if policy is not None:
        rows["ppo"] = run_policy(policy, params, episodes=episodes, seed=seed)
    ref = rows["avellaneda_stoikov"]["reward_mean"]
    for row in rows.values():
        row["ratio_to_avellaneda_stoikov"] = row["reward_mean"] / ref
    return rows


def _strategy(strategy: Any) -> Decide:
    def decide(env: Any, obs: np.ndarray[Any, Any]) -> QuoteIntent:
        ctx = env.context()
        for side, price, qty in env.new_fills:  # the last step's fills, as a runner reports them
            strategy.on_fill(side, price, qty, ctx)
        intent: QuoteIntent = strategy.quote(ctx)
        return intent

    return decide


def _ppo(path: str | Path, cfg: LOBEnvConfig) -> Decide:
    from makerkit.rl._lob_env import quote_intent
    from makerkit.rl._strategy import RLStrategy

    model = RLStrategy(path, cfg).model  # loads and checks the observation shape

    def decide(env: Any, obs: np.ndarray[Any, Any]) -> QuoteIntent:
        action, _ = model.predict(obs, deterministic=True)
        return quote_intent(action, env.context().mid or 0.0, env.position, cfg)

    return decide


def lob_contenders(
    cfg: LOBEnvConfig, policy: str | Path | None, fit_seed: int
) -> dict[str, Decide]:
    """symmetric, inventory_skew, glft and AS (fitted on ``fit_seed``), the trained policy."""
    from makerkit.backtest import fit_recorded, fit_synthetic
    from makerkit.rl._replay_env import _day
    from makerkit.strategies import make_strategy

    if cfg.data:  # a recorded day: fitted on the day itself (in-sample for A, k, sigma)
        fit = fit_recorded(_day(cfg.data), sample_s=60.0)
    else:
        fit = fit_synthetic(seed=fit_seed, events=300_000, sample_s=60.0, params=cfg.params)
    out: dict[str, Decide] = {
        name: _strategy(make_strategy(name)) for name in ("symmetric", "inventory_skew")
    }
    for name in ("glft", "avellaneda_stoikov"):  # fresh instances: strategies keep state
        out[name] = _strategy(make_strategy(name, gamma=0.1, **fit.params(name)))
    if policy is not None:
        out["ppo"] = _ppo(policy, cfg)
    return out


def play(decide: Decide, cfg: LOBEnvConfig, seed: int) -> dict[str, Any]:
    """One episode: final PnL, its reward (PnL minus the penalties), the equity path, fills.

    The PnL is also split (``metrics.pnl_decomposition``) at the decision
    clock: a fill of step i earns the spread to the mid when its quotes were
    set (mark i - 1) and is marked out at the step's end (mark i, the adverse
    part); the inventory part is the position carried across each step's mid
    change, and the fees are the session's. The four add up to the PnL.
    """
    from makerkit.metrics import pnl_decomposition

    env: Any = make_market_env(cfg)
    obs, info = env.reset(seed=seed)
    equity, inventory, mids = [0.0], [0], [float(info.get("mid", math.nan))]
    fill_step: list[int] = []
    fill_side: list[int] = []
    fill_price: list[int] = []
    fill_qty: list[int] = []
    done, truncated = False, False
    while not (done or truncated):
        obs, _, done, truncated, info = env.step_intent(decide(env, obs))
        equity.append(info["equity"])
        inventory.append(info["position"])
        mids.append(float(info["mid"]))
        for side, price, qty in info["new_fills"]:
            fill_step.append(len(mids) - 1)
            fill_side.append(side)
            fill_price.append(price)
            fill_qty.append(qty)
    if not math.isfinite(mids[0]):  # a replay's book was one-sided at the start: nothing filled
        mids[0] = mids[1] if len(mids) > 1 else 0.0
    parts = pnl_decomposition(
        ts=np.arange(len(mids)), mid=mids, position=inventory, fill_ts=fill_step,
        fill_side=fill_side, fill_price=fill_price, fill_qty=fill_qty,
    )  # fmt: skip
    parts["pnl_fees"] = -float(info.get("fees", 0.0))
    steps = np.diff(np.asarray(equity))
    sd = float(steps.std())
    sharpe = float(steps.mean() / sd * math.sqrt(len(steps))) if sd > 0 else 0.0
    return {"pnl": equity[-1], "reward": equity[-1] - info.get("penalties", 0.0),
            "sharpe": sharpe, "fills": info["fills"], "volume": int(sum(fill_qty)),
            **{k: parts[k] for k in PNL_PARTS},
            "abs_inventory": float(np.mean(np.abs(inventory))), "equity": equity}  # fmt: skip


def evaluate_lob(
    cfg: LOBEnvConfig, seeds: list[int], *, policy: str | Path | None = None, fit_seed: int = 99,
    progress: Callable[[str], None] | None = None,
) -> dict[str, dict[str, Any]]:  # fmt: skip
    """Every contender on the same episodes; per contender the means and the episodes."""
    rows: dict[str, dict[str, Any]] = {}
    for name, decide in lob_contenders(cfg, policy, fit_seed).items():
        episodes = []
        for seed in seeds:
            if progress is not None:
                progress(f"{name}, seed {seed}")
            episodes.append(play(decide, cfg, seed))
        pnl = np.array([e["pnl"] for e in episodes])
        rows[name] = {
            "pnl_mean": float(pnl.mean()), "pnl_std": float(pnl.std()),
            "reward_mean": float(np.mean([e["reward"] for e in episodes])),
            "sharpe_mean": float(np.mean([e["sharpe"] for e in episodes])),
            "fills_mean": float(np.mean([e["fills"] for e in episodes])),
            **{f"{k}_mean": float(np.mean([e[k] for e in episodes])) for k in PNL_PARTS},
            "abs_inventory_mean": float(np.mean([e["abs_inventory"] for e in episodes])),
            "episodes": episodes,
        }  # fmt: skip
    return rows


def evaluation_figure(rows: dict[str, dict[str, Any]]) -> bytes:
    """The evaluation report's plot as PNG bytes (the same one ``evaluation.html`` embeds).

    ``rows``: policy name -> its row, as ``evaluation.json`` holds them (other keys of that
    file, which are not rows, are skipped).
    """
    import base64

    return base64.b64decode(_evaluation_png(_rows(rows)))


def _rows(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in data.items() if isinstance(v, dict) and "reward_mean" in v}


def _evaluation_png(rows: dict[str, dict[str, Any]]) -> str:
    """The two panels, base64: per-episode paths on the book, means on the model market."""
    from makerkit.metrics import png as _png
    from makerkit.metrics import pyplot as _pyplot

    episodic = all(isinstance(r.get("episodes"), list) for r in rows.values())
    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8))
    if episodic:
        for name, r in rows.items():
            longest = max(len(e["equity"]) for e in r["episodes"])  # truncated ones: held flat
            paths = np.array([e["equity"] + [e["equity"][-1]] * (longest - len(e["equity"]))
                              for e in r["episodes"]], dtype=np.float64)  # fmt: skip
            left.plot(paths.mean(axis=0), lw=1.2, label=name)
        left.set(xlabel="step (decision)", ylabel="mean equity (ticks x lots)",
                 title="Equity, mean over the episodes")  # fmt: skip
        left.legend(fontsize=8)
        right.boxplot([[e["pnl"] for e in r["episodes"]] for r in rows.values()])
        right.set_xticks(range(1, len(rows) + 1), list(rows), fontsize=8, rotation=15)
        right.set(ylabel="final PnL per episode", title="PnL over the held-out seeds")
    else:  # the model market: means and spreads per policy
        names = list(rows)
        left.bar(names, [r["reward_mean"] for r in rows.values()],
                 yerr=[r["pnl_std"] for r in rows.values()], capsize=4)  # fmt: skip
        left.set(ylabel="mean reward (bars: PnL sd)", title="Reward: PnL minus inventory penalty")
        right.bar(names, [r["final_inventory_std"] for r in rows.values()])
        right.set(ylabel="sd of the final inventory", title="Inventory risk")
        for ax in (left, right):
            ax.tick_params(axis="x", labelrotation=15, labelsize=8)
    image = _png(fig)
    plt.close(fig)
    return image


def write_evaluation(rows: dict[str, dict[str, Any]], out_dir: Path, title: str) -> Path:
    """``evaluation.html``: the table, and for the book the mean equity path and PnL spread."""
    import html

    from makerkit.metrics import REPORT_STYLE as _STYLE

    out_dir.mkdir(parents=True, exist_ok=True)
    keys = [k for k in next(iter(rows.values())) if k != "episodes"]
    head = "".join(f"<th>{html.escape(k)}</th>" for k in ("policy", *keys))
    body = "".join(
        f"<tr><td>{html.escape(name)}</td>"
        + "".join(f"<td>{r[k]:,.3f}</td>" for k in keys) + "</tr>"
        for name, r in rows.items()
    )  # fmt: skip
    name = html.escape(title)
    parts = [f"<html><head><meta charset='utf-8'><title>{name}</title>{_STYLE}</head><body>"
             f"<h1>{name}</h1><table><tr>{head}</tr>{body}</table>"]  # fmt: skip
    parts.append(f"<img src='data:image/png;base64,{_evaluation_png(rows)}'>")
    parts.append("</body></html>")
    target = out_dir / "evaluation.html"
    target.write_text("\n".join(parts))
    return target
