"""The Avellaneda-Stoikov model market, vectorised: the reference where the optimum is known.

Dynamics (Avellaneda and Stoikov 2008, section 4): the mid moves by +-sigma
sqrt(dt) each step with equal odds; a bid delta_b below it is hit with
probability A exp(-k delta_b) dt in the step, an ask delta_a above it is
lifted with A exp(-k delta_a) dt; each fill is one unit. Defaults are the
paper's simulation: S0 = 100, T = 1, sigma = 2, dt = 0.005 (200 steps),
A = 140, k = 1.5.

Reward per step: the change of wealth x + q S (cash plus inventory at the
mid), minus ``inventory_penalty`` x q^2 x dt; optionally a terminal penalty
``terminal_penalty`` x q_T^2. Summed over an episode the rewards are the final
PnL minus the penalties (tested).

``ModelVecEnv`` steps N markets together in numpy (millions of steps per
second); ``avellaneda_stoikov_policy`` and ``symmetric_policy`` are the
paper's two strategies, the yardsticks for learned policies.
"""

from __future__ import annotations

import math
from typing import Any

import msgspec
import numpy as np
import numpy.typing as npt

from makerkit.core.errors import ConfigError

__all__ = [
    "ModelParams",
    "ModelVecEnv",
    "as_penalty",
    "avellaneda_stoikov_policy",
    "episode_rewards",
    "glft_policy",
    "inventory_skew_policy",
    "optimal_policy",
    "run_policy",
    "symmetric_policy",
]

F64 = npt.NDArray[np.float64]


class ModelParams(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The model market; the paper's values by default."""

    s0: float = 100.0
    horizon: float = 1.0
    sigma: float = 2.0
    dt: float = 0.005
    A: float = 140.0
    k: float = 1.5
    max_offset: float = 10.0  # actions are clipped to [0, max_offset]
    inventory_penalty: float = 0.0
    terminal_penalty: float = 0.0

    def __post_init__(self) -> None:
        for name in ("horizon", "sigma", "dt", "A", "k", "max_offset"):
            if not getattr(self, name) > 0:
                msg = f"invalid `{name}`, must be > 0, was {getattr(self, name)}"
                raise ConfigError(msg)
        for name in ("inventory_penalty", "terminal_penalty"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                msg = f"invalid `{name}`, must be finite and >= 0, was {value}"
                raise ConfigError(msg)
        if self.dt > self.horizon:
            msg = "invalid `dt`, must be <= `horizon`"
            raise ConfigError(msg)

    @property
    def steps(self) -> int:
        """Steps per episode."""
        return round(self.horizon / self.dt)


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def _mix(z: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """splitmix64's finaliser, elementwise (wrapping uint64 arithmetic)."""
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    out: npt.NDArray[np.uint64] = z ^ (z >> np.uint64(31))
    return out


class ModelVecEnv:
    """N model markets stepped together; observation (q, time left, S - S0) per market.

    ``step(actions)`` takes an (N, 2) array of (bid offset, ask offset) and
    returns observations, rewards, terminated flags and per-market info
    arrays; finished markets restart on their own (auto-reset).

    Market i draws its random numbers from a counter-based stream keyed by
    ``seed + i`` alone, so N markets stepped together are exactly N markets
    stepped one by one (``ModelVecEnv(1, seed=seed + i)``), whatever N is.
    """

    def __init__(self, num_envs: int, params: ModelParams | None = None, seed: int = 0) -> None:
        if num_envs < 1:
            msg = f"invalid `num_envs`, must be >= 1, was {num_envs}"
            raise ConfigError(msg)
        self.n = num_envs
        self.p = params or ModelParams()
        seeds = np.arange(seed, seed + num_envs, dtype=np.int64).astype(np.uint64)
        with np.errstate(over="ignore"):
            self.keys = _mix(seeds * _GOLDEN + _GOLDEN)
        self.draws = np.zeros(num_envs, dtype=np.uint64)  # per-market counters
        self.fill_scale = self.p.A * self.p.dt
        self.move = self.p.sigma * math.sqrt(self.p.dt)
        self.reset()

    def _uniforms(self) -> F64:
        """Three uniforms in [0, 1) per market, from its own stream."""
        with np.errstate(over="ignore"):
            base = self.keys + self.draws * np.uint64(3) * _GOLDEN
            z = np.stack([_mix(base + np.uint64(j + 1) * _GOLDEN) for j in range(3)], axis=1)
        self.draws += np.uint64(1)
        return (z >> np.uint64(11)).astype(np.float64) * 2.0**-53

    def reset(self) -> F64:
        """Every market back to its start; the observations."""
        n = self.n
        self.s = np.full(n, self.p.s0)
        self.q = np.zeros(n)
        self.x = np.zeros(n)
        self.t = np.zeros(n, dtype=np.int64)
        return self.observe()

    def observe(self) -> F64:
        """(inventory, time left as a fraction, mid minus S0)."""
        left = 1.0 - self.t / self.p.steps
        return np.column_stack([self.q, left, self.s - self.p.s0])

    def step(self, actions: F64) -> tuple[F64, F64, npt.NDArray[np.bool_], dict[str, Any]]:
        """Advance every market by dt under (bid offset, ask offset) actions."""
        p = self.p
        a = np.clip(np.asarray(actions, dtype=np.float64).reshape(self.n, 2), 0.0, p.max_offset)
        db, da = a[:, 0], a[:, 1]
        wealth0 = self.x + self.q * self.s
        u = self._uniforms()
        hit_b = u[:, 0] < np.minimum(self.fill_scale * np.exp(-p.k * db), 1.0)
        hit_a = u[:, 1] < np.minimum(self.fill_scale * np.exp(-p.k * da), 1.0)
        self.x += np.where(hit_a, self.s + da, 0.0) - np.where(hit_b, self.s - db, 0.0)
        self.q += hit_b.astype(np.float64) - hit_a.astype(np.float64)
        self.s += np.where(u[:, 2] < 0.5, self.move, -self.move)
        self.t += 1
        reward = self.x + self.q * self.s - wealth0 - p.inventory_penalty * self.q**2 * p.dt
        done = self.t >= p.steps
        reward -= np.where(done, p.terminal_penalty * self.q**2, 0.0)
        info = {
            "pnl": np.where(done, self.x + self.q * self.s, np.nan),
            "final_inventory": np.where(done, self.q, np.nan),
            "spread": da + db, "fills": hit_a.astype(np.int64) + hit_b.astype(np.int64),
        }  # fmt: skip
        if done.any():
            info["final_observation"] = self.observe()  # rows of finished markets, pre-reset
            self.s[done], self.q[done], self.x[done], self.t[done] = p.s0, 0.0, 0.0, 0
        return self.observe(), reward, done, info


def avellaneda_stoikov_policy(params: ModelParams, gamma: float) -> Any:
    """The paper's inventory strategy: quotes around r = S - q gamma sigma^2 (T - t)."""
    if gamma <= 0:
        msg = f"invalid `gamma`, must be > 0, was {gamma}"
        raise ConfigError(msg)
    spread_const = (2 / gamma) * math.log(1 + gamma / params.k)

    def act(obs: F64) -> F64:
        q, left = obs[:, 0], obs[:, 1] * params.horizon
        risk = gamma * params.sigma**2 * left
        half = (risk + spread_const) / 2
        # r - S = -q risk; bid offset = S - (r - half), ask offset = (r + half) - S
        return np.column_stack([q * risk + half, half - q * risk])

    return act


def symmetric_policy(params: ModelParams, gamma: float) -> Any:
    """The paper's benchmark: the same average spread as the AS strategy, centred on the mid."""
    steps = params.steps
    lefts = (1.0 - np.arange(steps) / steps) * params.horizon
    spread = float(np.mean(gamma * params.sigma**2 * lefts + (2 / gamma)
                           * math.log(1 + gamma / params.k)))  # fmt: skip

    def act(obs: F64) -> F64:
        return np.full((obs.shape[0], 2), spread / 2)

    return act


def _play(
    policy: Any, p: ModelParams, episodes: int, seed: int, num_envs: int
) -> tuple[F64, F64, F64, list[float]]:
    """Per-episode PnL, final inventory and reward; the per-step mean spreads.

    Episode j is market ``seed + j``'s first episode (for ``episodes <=
    num_envs``): two policies played from one seed meet the same random
    numbers episode by episode (common random numbers, for paired comparisons).
    """
    env = ModelVecEnv(min(num_envs, episodes), p, seed=seed)
    obs = env.reset()
    pnls: list[float] = []
    invs: list[float] = []
    spreads: list[float] = []
    rewards = np.zeros(env.n)
    totals: list[float] = []
    while len(pnls) < episodes:
        obs, r, done, info = env.step(policy(obs))
        rewards += r
        spreads.append(float(info["spread"].mean()))
        if done.any():
            pnls.extend(info["pnl"][done].tolist())
            invs.extend(info["final_inventory"][done].tolist())
            totals.extend(rewards[done].tolist())
            rewards[done] = 0.0
    return (np.asarray(pnls[:episodes]), np.asarray(invs[:episodes]),
            np.asarray(totals[:episodes]), spreads)  # fmt: skip


def run_policy(
    policy: Any, params: ModelParams | None = None, *, episodes: int = 1000, seed: int = 0,
    num_envs: int = 1000,
) -> dict[str, float]:  # fmt: skip
    """Play ``episodes`` episodes; PnL, final inventory and quoted spread statistics."""
    pnl, inv, totals, spreads = _play(policy, params or ModelParams(), episodes, seed, num_envs)
    return {
        "episodes": episodes, "pnl_mean": float(pnl.mean()), "pnl_std": float(pnl.std()),
        "final_inventory_mean": float(inv.mean()), "final_inventory_std": float(inv.std()),
        "spread_mean": float(np.mean(spreads)), "reward_mean": float(totals.mean()),
    }  # fmt: skip


def episode_rewards(
    policy: Any, params: ModelParams, *, episodes: int, seed: int, num_envs: int = 1000
) -> dict[str, F64]:
    """Each episode's reward and PnL, in episode order (same seed: same markets, paired)."""
    pnl, _, totals, _ = _play(policy, params, episodes, seed, num_envs)
    return {"reward": totals, "pnl": pnl}


def as_penalty(params: ModelParams, gamma: float) -> ModelParams:
    """The model market scored the way the AS strategy is (to first order) optimal for.

    A running inventory penalty of gamma sigma^2 / 2 per unit^2 per unit of time.
    """
    return msgspec.structs.replace(params, inventory_penalty=0.5 * gamma * params.sigma**2)


def inventory_skew_policy(params: ModelParams, gamma: float) -> Any:
    """The ``inventory_skew`` strategy here: AS's mean spread, centre moved by a fixed 2 phi q.

    phi = gamma sigma^2 T / 4: AS's reservation shift at mid-episode, held for the
    whole episode (no clock in the quotes).
    """
    base = symmetric_policy(params, gamma)
    skew = gamma * params.sigma**2 * params.horizon / 2  # = 2 phi

    def act(obs: F64) -> F64:
        half = base(obs)
        q = obs[:, 0]
        return np.column_stack([half[:, 0] + skew * q, half[:, 1] - skew * q])

    return act


def glft_policy(params: ModelParams, gamma: float) -> Any:
    """Gueant-Lehalle-Fernandez-Tapia's infinite-horizon closed form on the model's A, k, sigma."""
    from makerkit.strategies import GLFT

    c1, c2 = GLFT(gamma=gamma, A=params.A, k=params.k, sigma=params.sigma).coefficients()

    def act(obs: F64) -> F64:
        q = obs[:, 0]
        return np.column_stack([c1 + (2 * q + 1) / 2 * c2, c1 - (2 * q - 1) / 2 * c2])

    return act


def optimal_policy(params: ModelParams, gamma: float, *, grid: int = 161, q_max: int = 40) -> Any:
    """The exact optimum of this discrete market for PPO's reward, by backward induction.

    The reward (wealth change minus gamma sigma^2 / 2 q^2 dt) is the mid's
    martingale part plus the spread earned plus the penalty, so the value is
    x + q S + theta(t, q) and Bellman's recursion runs over (step, inventory)
    alone: each step picks the (bid, ask) offsets, on a ``grid``-point mesh of
    [0, max_offset], that maximise the spread earned minus the penalty plus
    theta at the next step, theta at the end being minus the terminal
    penalty. Inventory is capped at +-``q_max`` in the recursion. The
    yardstick a learned policy cannot beat, up to the mesh.
    """
    if gamma <= 0:
        msg = f"invalid `gamma`, must be > 0, was {gamma}"
        raise ConfigError(msg)
    p = msgspec.structs.replace(params, inventory_penalty=0.5 * gamma * params.sigma**2)
    qs = np.arange(-q_max, q_max + 1, dtype=np.float64)
    mesh = np.linspace(0.0, p.max_offset, grid)
    fill = np.minimum(p.A * p.dt * np.exp(-p.k * mesh), 1.0)
    pb, pa = fill[None, :, None], fill[None, None, :]
    db, da = mesh[None, :, None], mesh[None, None, :]
    theta = -p.terminal_penalty * qs * qs  # what the last inventory costs at the end
    table = np.zeros((p.steps, qs.size, 2))
    cost = p.inventory_penalty * p.dt

    def after(shift: int) -> F64:
        j = np.clip(np.arange(qs.size) + shift, 0, qs.size - 1)
        out: F64 = (theta[j] - cost * (qs + shift) ** 2)[:, None, None]
        return out

    for t in reversed(range(p.steps)):
        up, flat, down = after(1), after(0), after(-1)
        value = (pb * db + pa * da + pb * (1 - pa) * up + (1 - pb) * pa * down
                 + (pb * pa + (1 - pb) * (1 - pa)) * flat)  # fmt: skip
        best = value.reshape(qs.size, -1).argmax(axis=1)
        theta = value.reshape(qs.size, -1)[np.arange(qs.size), best]
        table[t] = np.column_stack([mesh[best // grid], mesh[best % grid]])

    def act(obs: F64) -> F64:
        t = np.clip(np.round((1.0 - obs[:, 1]) * p.steps).astype(np.int64), 0, p.steps - 1)
        j = np.clip(np.round(obs[:, 0]).astype(np.int64) + q_max, 0, qs.size - 1)
        out: F64 = table[t, j]
        return out

    return act
