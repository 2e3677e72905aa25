"""Several training seeds against the closed forms on held-out episodes, with confidence intervals.

One policy is trained per seed; every policy and every reference plays the
same held-out episodes (common random numbers), so PPO - GLFT is taken
episode by episode and its bootstrap interval is far tighter than the two
means' own. The verdict reads the interval of that paired difference:
``beats`` when its lower bound is above 0, ``worse`` when its upper bound is
below 0, ``not distinguishable`` when it straddles 0. Pooled over seeds, an
episode's PPO score is the mean of the seeds' policies on it, resampled by
episode: the interval covers the episodes' noise, not the seeds' (the seeds'
spread is reported beside it as ``seed_range``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import numpy.typing as npt

from makerkit.core.clock import monotonic_ns
from makerkit.core.errors import ConfigError

__all__ = [
    "bootstrap_ci",
    "compare_lob",
    "compare_model",
    "compare_rows",
    "model_training",
    "verdict",
]

F64 = npt.NDArray[np.float64]
Steps = Callable[[int, int], None]  # (training seed, steps done)
REFERENCE = "glft"
# the model market's training markets draw their seeds from [0, 2^31): evaluation starts above
MODEL_EVAL_SEED = 2**31
LOB_EVAL_SEED = 5000
# per episode, beside the reward: fills, lots traded and the PnL's parts (they sum to it)
LOB_PARTS = ("fills", "volume", "pnl_spread", "pnl_adverse", "pnl_inventory", "pnl_fees")


def bootstrap_ci(
    x: F64, *, level: float = 0.95, resamples: int = 4000, seed: int = 0
) -> tuple[float, float]:
    """The percentile bootstrap interval of the mean of ``x``."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1 or x.size < 2:
        msg = f"a confidence interval needs at least 2 values, got {x.size}"
        raise ConfigError(msg)
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, x.size, size=(resamples, x.size))].mean(axis=1)
    lo, hi = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def verdict(lo: float, hi: float) -> str:
    """What a paired difference's interval says: beats, worse or not distinguishable."""
    if lo > 0:
        return "beats"
    if hi < 0:
        return "worse"
    return "not distinguishable"


def _summary(x: F64, resamples: int) -> dict[str, Any]:
    lo, hi = bootstrap_ci(x, resamples=resamples)
    return {"mean": float(x.mean()), "sd": float(x.std()), "ci95": [lo, hi]}


def _against(x: F64, ref: F64, resamples: int) -> dict[str, Any]:
    diff = _summary(x - ref, resamples)
    lo, hi = diff["ci95"]
    return {**diff, "verdict": verdict(lo, hi), "beats": lo > 0}


def compare_rows(
    ppo: dict[int, F64], references: dict[str, F64], *, against: str = REFERENCE,
    resamples: int = 4000,
) -> dict[str, Any]:  # fmt: skip
    """Per-episode scores (same episodes, same order everywhere) -> means, intervals, verdicts."""
    if against not in references:
        msg = f"the reference {against!r} is not among {sorted(references)}"
        raise ConfigError(msg)
    ref = np.asarray(references[against], dtype=np.float64)
    arrays = {s: np.asarray(v, dtype=np.float64) for s, v in ppo.items()}
    if not arrays or any(v.shape != ref.shape for v in (*arrays.values(), *references.values())):
        msg = "every policy must be scored on the same episodes (equal lengths, at least one seed)"
        raise ConfigError(msg)
    key = f"ppo_minus_{against}"
    seeds = []
    for s, x in arrays.items():
        vs = _against(x, ref, resamples)
        seeds.append({"seed": s, **_summary(x, resamples), key: vs,
                      "verdict": vs["verdict"], f"ppo_beats_{against}": vs["beats"]})  # fmt: skip
    pooled_x = np.mean(np.stack(list(arrays.values())), axis=0)
    vs = _against(pooled_x, ref, resamples)
    means = [row["mean"] for row in seeds]
    pooled = {**_summary(pooled_x, resamples), key: vs, "verdict": vs["verdict"],
              f"ppo_beats_{against}": vs["beats"],
              "seed_range": [min(means), max(means)]}  # fmt: skip
    refs = {name: _summary(np.asarray(v, dtype=np.float64), resamples)
            for name, v in references.items()}  # fmt: skip
    return {"references": refs, "seeds": seeds, "pooled": pooled,
            f"ppo_beats_{against}": vs["beats"], "verdict": vs["verdict"]}  # fmt: skip


def _train_seconds(train: Callable[[], Any]) -> float:
    started = monotonic_ns()
    train()
    return (monotonic_ns() - started) / 1e9


def model_training(terminal_penalty: float) -> tuple[float, float]:
    """(residual scale, learning rate) chosen on validation episodes for this model market.

    Each was chosen on validation episodes, ``eval_seed`` 2^31 + 10^6, never
    on the evaluation's. Without a terminal penalty the exact optimum departs
    from GLFT by under 0.3 for |q| <= 6, only in the episode's last twentieth:
    a 0.25 residual covers most of it, and 3e-5 (over 1e-4, and over a 0.1
    residual) keeps more of GLFT, there being little to gain. With one, the
    optimum sells down into the close, far from GLFT's quotes: a 1.0 residual
    at 1e-4 (over 0.25, 0.5 and 2.0, and over 3e-5 and 3e-4).
    """
    return (1.0, 1e-4) if terminal_penalty > 0 else (0.25, 3e-5)


def compare_model(
    seeds: list[int], out_dir: Path, *, timesteps: int, gamma: float = 0.1, episodes: int = 1000,
    eval_seed: int | None = None, residual: bool = True, residual_scale: float | None = None,
    learning_rate: float | None = None, log_std_init: float = -1.0,
    on_steps: Steps | None = None, on_stage: Callable[[str], None] | None = None,
    terminal_penalty: float = 0.0,
) -> dict[str, Any]:  # fmt: skip
    """Train one PPO per seed on the model market; each beside AS, GLFT and the optimum.

    ``residual``: the action adjusts GLFT's quotes by at most +-``residual_scale``
    (the zero action is GLFT). ``residual_scale`` and ``learning_rate`` default
    to the ones validated for the market (``model_training``).
    ``terminal_penalty``: the cost of each unit^2 still held at the end, a
    close to be flat into that GLFT's infinite horizon does not see.
    """
    chosen_scale, chosen_rate = model_training(terminal_penalty)
    residual_scale = chosen_scale if residual_scale is None else residual_scale
    learning_rate = chosen_rate if learning_rate is None else learning_rate
    from makerkit.rl._gym_model import ActionMap, ppo_policy, train_ppo
    from makerkit.rl._model_env import (
        ModelParams,
        as_penalty,
        avellaneda_stoikov_policy,
        episode_rewards,
        glft_policy,
        optimal_policy,
    )

    params = msgspec.structs.replace(
        as_penalty(ModelParams(max_offset=4.0), gamma), terminal_penalty=terminal_penalty
    )
    eval_seed = MODEL_EVAL_SEED if eval_seed is None else eval_seed
    mapping = ActionMap(base="glft", gamma=gamma, scale=residual_scale) if residual else ActionMap()

    def play(policy: Any) -> dict[str, F64]:
        return episode_rewards(policy, params, episodes=episodes, seed=eval_seed)

    tell = on_stage or (lambda _m: None)
    tell("the closed forms and the optimum")
    refs = {"avellaneda_stoikov": play(avellaneda_stoikov_policy(params, gamma)),
            "glft": play(glft_policy(params, gamma)),
            "optimum": play(optimal_policy(params, gamma))}  # fmt: skip
    ppo: dict[int, dict[str, F64]] = {}
    runs = []
    for s in seeds:
        folder = out_dir / f"seed-{s}"
        tell(f"training seed {s}")
        secs = _train_seconds(lambda s=s, folder=folder: train_ppo(  # type: ignore[misc]
            folder, timesteps=timesteps, seed=s, params=params, action=mapping, threads=1,
            learning_rate=learning_rate, log_std_init=log_std_init,
            on_steps=None if on_steps is None else (lambda n, s=s: on_steps(s, n))))  # fmt: skip
        tell(f"evaluating seed {s}")
        ppo[s] = play(ppo_policy(folder / "policy.zip", params))
        runs.append({"seed": s, "train_seconds": secs, "policy": str(folder / "policy.zip")})
    result = {
        "env": "model", "gamma": gamma, "timesteps": timesteps, "episodes": episodes,
        "eval_seed": eval_seed, "training_seeds": seeds,
        "action": f"residual around GLFT, +-{residual_scale}" if residual else "absolute offsets",
        "learning_rate": learning_rate, "log_std_init": log_std_init,
        "terminal_penalty": terminal_penalty,
        "metric": "reward: PnL minus gamma sigma^2 / 2 x inventory^2 per unit of time"
                  + (f", minus {terminal_penalty} x inventory^2 at the end"
                     if terminal_penalty else ""),
        **compare_rows({s: r["reward"] for s, r in ppo.items()},
                       {n: r["reward"] for n, r in refs.items()}),
        "pnl": compare_rows({s: r["pnl"] for s, r in ppo.items()},
                            {n: r["pnl"] for n, r in refs.items()}),
        # the headroom: how far each closed form is from the best any policy can do
        "minus_optimum": {name: _against(refs[name]["reward"], refs["optimum"]["reward"], 4000)
                          for name in ("avellaneda_stoikov", "glft")},
    }  # fmt: skip
    for row, run in zip(result["seeds"], runs, strict=True):
        row.update(run)
    return result


def compare_lob(
    seeds: list[int], out_dir: Path, *, timesteps: int, episodes: int = 100,
    eval_seed: int | None = None, fit_seed: int = 99, on_steps: Steps | None = None,
    on_stage: Callable[[str], None] | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Train one PPO per seed on the simulated book; each beside the fitted closed forms.

    GLFT and AS take A, k and sigma fitted on simulator seed ``fit_seed``,
    outside the evaluation. Scores per episode: the reward PPO learns (final
    equity minus the inventory penalties), the PnL and its Sharpe ratio, and
    why (``LOB_PARTS``): the fills, the lots traded and the PnL split into
    spread, adverse selection (marked out at the step's end), inventory and
    fees, each with the same paired intervals.
    """
    from makerkit.rl._evaluate import lob_contenders, play
    from makerkit.rl._gym_model import train_ppo
    from makerkit.rl._lob_env import LOBEnvConfig
    from makerkit.rl._replay_env import make_market_env

    cfg = LOBEnvConfig()
    eval_seed = LOB_EVAL_SEED if eval_seed is None else eval_seed
    held_out = list(range(eval_seed, eval_seed + episodes))
    tell = on_stage or (lambda _m: None)

    def scores(decide: Any, name: str) -> dict[str, F64]:
        tell(f"playing {name}")
        eps = [play(decide, cfg, s) for s in held_out]
        return {k: np.array([e[k] for e in eps], dtype=np.float64)
                for k in ("reward", "pnl", "sharpe", *LOB_PARTS)}  # fmt: skip

    refs = {name: scores(decide, name)
            for name, decide in lob_contenders(cfg, None, fit_seed).items()}  # fmt: skip
    ppo: dict[int, dict[str, F64]] = {}
    runs = []
    for s in seeds:
        folder = out_dir / f"seed-{s}"
        tell(f"training seed {s}")
        secs = _train_seconds(lambda s=s, folder=folder: train_ppo(  # type: ignore[misc]
            folder, timesteps=timesteps, seed=s, discount=0.99, n_envs=4, threads=1,
            make_env=lambda: make_market_env(cfg),
            on_steps=None if on_steps is None else (lambda n, s=s: on_steps(s, n))))  # fmt: skip
        decide = lob_contenders(cfg, folder / "policy.zip", fit_seed)["ppo"]
        ppo[s] = scores(decide, f"PPO seed {s}")
        runs.append({"seed": s, "train_seconds": secs, "policy": str(folder / "policy.zip")})
    result = {
        "env": "lob", "timesteps": timesteps, "episodes": episodes,
        "eval_seeds": [held_out[0], held_out[-1]], "fit_seed": fit_seed, "training_seeds": seeds,
        "metric": "reward: final equity minus the inventory penalties (ticks x lots)",
        **compare_rows({s: r["reward"] for s, r in ppo.items()},
                       {n: r["reward"] for n, r in refs.items()}),
        "pnl": compare_rows({s: r["pnl"] for s, r in ppo.items()},
                            {n: r["pnl"] for n, r in refs.items()}),
        "sharpe": compare_rows({s: r["sharpe"] for s, r in ppo.items()},
                               {n: r["sharpe"] for n, r in refs.items()}),
        # why: how often each is filled, and where its PnL comes from
        **{part: compare_rows({s: r[part] for s, r in ppo.items()},
                              {n: r[part] for n, r in refs.items()})
           for part in LOB_PARTS},
    }  # fmt: skip
    for row, run in zip(result["seeds"], runs, strict=True):
        row.update(run)
    return result
