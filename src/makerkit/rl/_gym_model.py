"""The model market as a single Gymnasium environment, for stable-baselines3's trainers.

Observation: inventory / 10, time left, (S - S0) / 10. Action in [-1, 1]^2:
with ``ActionMap()`` (absolute) rescaled to bid and ask offsets in [0,
``max_offset``]; with ``ActionMap(base="glft")`` (residual) an adjustment of
+-``scale`` around GLFT's closed-form offsets, so the zero action is GLFT
and training only has to find improvements. Rewards as in ``ModelVecEnv``
(the change of wealth minus the configured penalties).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import msgspec
import numpy as np

from makerkit.core.errors import ConfigError, DataError
from makerkit.rl._model_env import ModelParams, ModelVecEnv, glft_policy

__all__ = [
    "ActionMap",
    "ModelEnv",
    "ModelVectorEnv",
    "model_obs",
    "ppo_policy",
    "scale_action",
    "train_ppo",
]

ACTION_FILE = "action.json"  # beside policy.zip: how its actions become offsets


def scale_action(action: np.ndarray[Any, Any], max_offset: float) -> np.ndarray[Any, Any]:
    """[-1, 1] -> [0, max_offset] offsets."""
    scaled: np.ndarray[Any, Any] = (np.clip(action, -1.0, 1.0) + 1.0) / 2.0 * max_offset
    return scaled


class ActionMap(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """How a policy's action in [-1, 1]^2 becomes (bid, ask) offsets.

    ``base=None``: absolute offsets in [0, max_offset]. ``base="glft"``: GLFT's
    offsets (risk aversion ``gamma``, the market's A, k, sigma) plus ``scale``
    x action; the market clips the result to [0, max_offset] as it clips any quote.
    """

    base: str | None = None
    gamma: float = 0.1
    scale: float = 1.0

    def __post_init__(self) -> None:
        if self.base not in (None, "glft"):
            msg = f"invalid action base {self.base!r}, must be None (absolute) or 'glft'"
            raise ConfigError(msg)
        if not (self.gamma > 0 and self.scale > 0):
            msg = (
                f"invalid action map, gamma and scale must be > 0, were {self.gamma}, {self.scale}"
            )
            raise ConfigError(msg)

    def offsets(
        self, action: np.ndarray[Any, Any], raw: np.ndarray[Any, Any], params: ModelParams
    ) -> np.ndarray[Any, Any]:
        """Offsets for ``action`` rows in markets whose ``ModelVecEnv`` observations are ``raw``."""
        a = np.asarray(action, dtype=np.float64).reshape(-1, 2)
        if self.base is None:
            return scale_action(a, params.max_offset)
        base: np.ndarray[Any, Any] = glft_policy(params, self.gamma)(raw)
        return base + self.scale * np.clip(a, -1.0, 1.0)


class ModelEnv(gym.Env[np.ndarray, np.ndarray]):
    """One Avellaneda-Stoikov market (``makerkit/ModelMarket-v0``)."""

    metadata: dict[str, Any] = {"render_modes": []}  # noqa: RUF012 - gymnasium's contract

    def __init__(self, params: ModelParams | None = None, action: ActionMap | None = None) -> None:
        self.params = params or ModelParams()
        self.action_map = action or ActionMap()
        self.raw = np.zeros((1, 3))
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, shape=(3,), dtype=np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
        self.env: ModelVecEnv | None = None

    def _obs(self, raw: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        return np.array([raw[0, 0] / 10, raw[0, 1], raw[0, 2] / 10], dtype=np.float32)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray[Any, Any], dict[str, Any]]:
        """A fresh market."""
        super().reset(seed=seed)
        self.env = ModelVecEnv(1, self.params, seed=int(self.np_random.integers(0, 2**31 - 1)))
        self.raw = self.env.reset()
        return self._obs(self.raw), {}

    def step(
        self, action: np.ndarray[Any, Any]
    ) -> tuple[np.ndarray[Any, Any], float, bool, bool, dict[str, Any]]:
        """One dt of the market."""
        assert self.env is not None  # noqa: S101 - after reset
        offsets = self.action_map.offsets(action, self.raw, self.params)
        raw, reward, done, info = self.env.step(offsets)
        self.raw = raw
        pnl = float(info["pnl"][0]) if done[0] else None
        obs = self._obs(raw) if not done[0] else np.zeros(3, dtype=np.float32)
        return obs, float(reward[0]), bool(done[0]), False, {"pnl": pnl}


class ModelVectorEnv(gym.vector.VectorEnv[np.ndarray, np.ndarray, np.ndarray]):
    """N model markets as one Gymnasium ``VectorEnv`` (``ModelVecEnv`` underneath, in numpy).

    Spaces, observations and action scaling are ``ModelEnv``'s. Finished
    markets restart within the step that ends them (``AutoresetMode.SAME_STEP``):
    that step returns the fresh observation, the terminal one is in
    ``infos["final_obs"]`` (rows where ``infos["_final_obs"]``), the episode's
    PnL in ``infos["pnl"]``.
    """

    metadata: dict[str, Any] = {  # noqa: RUF012 - gymnasium's contract
        "autoreset_mode": gym.vector.AutoresetMode.SAME_STEP
    }

    def __init__(
        self, num_envs: int, params: ModelParams | None = None, action: ActionMap | None = None
    ) -> None:
        self.num_envs = num_envs
        self.params = params or ModelParams()
        self.action_map = action or ActionMap()
        self.raw = np.zeros((num_envs, 3))
        self.single_observation_space = gym.spaces.Box(-np.inf, np.inf, (3,), np.float32)
        self.single_action_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
        self.observation_space = gym.vector.utils.batch_space(
            self.single_observation_space, num_envs
        )
        self.action_space = gym.vector.utils.batch_space(self.single_action_space, num_envs)
        self.env: ModelVecEnv | None = None
        self._rng = np.random.default_rng()

    def reset(
        self, *, seed: int | list[int | None] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray[Any, Any], dict[str, Any]]:
        """Fresh markets: market i on the random stream of ``seed + i``."""
        if isinstance(seed, list):
            msg = "ModelVectorEnv takes one seed (market i uses seed + i), not a list"
            raise ConfigError(msg)
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        first = seed if seed is not None else int(self._rng.integers(0, 2**31 - 1))
        self.env = ModelVecEnv(self.num_envs, self.params, seed=first)
        self.raw = self.env.reset()
        return model_obs(self.raw), {}

    def step(
        self, actions: np.ndarray[Any, Any]
    ) -> tuple[
        np.ndarray[Any, Any], np.ndarray[Any, Any], np.ndarray[Any, Any], np.ndarray[Any, Any],
        dict[str, Any],
    ]:  # fmt: skip
        """Every market one dt under its action (rows in [-1, 1]^2)."""
        if self.env is None:
            msg = "call reset() before step()"
            raise ConfigError(msg)
        offsets = self.action_map.offsets(actions, self.raw, self.params)
        raw, reward, done, info = self.env.step(offsets)
        self.raw = raw
        infos: dict[str, Any] = {"pnl": info["pnl"], "_pnl": done}
        if "final_observation" in info:
            infos["final_obs"] = model_obs(info["final_observation"])
            infos["_final_obs"] = done
        truncated = np.zeros(self.num_envs, dtype=np.bool_)
        return model_obs(raw), reward, done, truncated, infos


def model_obs(raw: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """``ModelVecEnv`` observations as ``ModelEnv`` shows them (for trained policies)."""
    return np.column_stack([raw[:, 0] / 10, raw[:, 1], raw[:, 2] / 10]).astype(np.float32)


def train_ppo(
    out_dir: Any, *, timesteps: int, seed: int, params: ModelParams | None = None,
    make_env: Any = None, discount: float = 1.0, n_envs: int = 8, progress: bool = False,
    threads: int = 2, action: ActionMap | None = None, learning_rate: float = 3e-4,
    log_std_init: float = 0.0, on_steps: Any = None,
) -> Any:  # fmt: skip
    """PPO (stable-baselines3) on ``n_envs`` environments; checkpoints and logs in ``out_dir``.

    ``out_dir`` gets ``policy.zip`` (the final policy), ``checkpoints/`` (five
    along the way), ``best/best_model.zip`` and ``eval/evaluations.npz`` (five
    held-out episodes every tenth of the run, or less often when they would
    take more steps than the training between them), and ``logs/`` (CSV, and
    TensorBoard's event files when tensorboard is installed).

    The environments are model markets with ``params`` and ``action`` (its map
    saved as ``action.json`` beside the policy), or what ``make_env()`` builds.
    ``threads``: torch's CPU threads (1 per worker when several train at once).
    ``log_std_init``: the exploration noise's starting log sd (a residual policy
    starts near its base: below 0). ``on_steps(n)``: told the steps done, per rollout.
    """
    import importlib.util
    import sys
    from pathlib import Path

    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import (
        BaseCallback,
        CallbackList,
        CheckpointCallback,
        EvalCallback,
    )
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.logger import configure

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(threads)
    mapping = action or ActionMap()
    if make_env is None:
        (out / ACTION_FILE).write_bytes(msgspec.json.encode(mapping))
    factory = make_env if make_env is not None else (lambda: ModelEnv(params, mapping))
    venv = make_vec_env(factory, n_envs=n_envs, seed=seed)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model = PPO("MlpPolicy", venv, seed=seed, n_steps=256, batch_size=256,
                learning_rate=learning_rate, gamma=discount, gae_lambda=0.95, device=device,
                verbose=0,
                policy_kwargs={"net_arch": [64, 64], "log_std_init": log_std_init})  # fmt: skip

    class _Told(BaseCallback):
        def _on_step(self) -> bool:
            return True

        def _on_rollout_end(self) -> None:
            if on_steps is not None:
                on_steps(self.num_timesteps)

    formats = ["csv"] + (["tensorboard"] if importlib.util.find_spec("tensorboard") else [])
    model.set_logger(configure(str(out / "logs"), formats))
    every = max(timesteps // 5 // n_envs, 1)
    checkpoints = CheckpointCallback(every, str(out / "checkpoints"), name_prefix="ppo")

    class _BoundedEval(EvalCallback):
        """Held-out evaluation every tenth of the run, never more often than it costs.

        Five episodes of a long environment can take ten times a short run's
        own steps; after each evaluation the next waits at least as many
        training steps as it took (a long run is not changed by this).
        """

        not_before = 0

        def _on_step(self) -> bool:
            if self.n_calls < self.not_before:
                return True
            done = len(self.evaluations_length)
            keep: bool = super()._on_step()
            if len(self.evaluations_length) > done:
                used = int(sum(self.evaluations_length[-1]))
                self.not_before = self.n_calls + -(-used // n_envs)
            return keep

    # held-out evaluation during training: its own env and seed, the best policy kept
    eval_env = make_vec_env(factory, n_envs=1, seed=seed + 10_000)
    evaluation = _BoundedEval(eval_env, eval_freq=max(timesteps // 10 // n_envs, 1),
                              n_eval_episodes=5, deterministic=True, verbose=0,
                              best_model_save_path=str(out / "best"),
                              log_path=str(out / "eval"))  # fmt: skip
    # SB3's bar (tqdm.rich) draws on a terminal; piped or captured output gets the CSV log only
    show = progress and sys.stderr.isatty() and bool(importlib.util.find_spec("tqdm"))
    try:
        model.learn(timesteps, callback=CallbackList([checkpoints, evaluation, _Told()]),
                    progress_bar=show)  # fmt: skip
    finally:
        model.logger.close()  # the CSV (and TensorBoard) writers hold files open
    model.save(out / "policy.zip")
    return model


def ppo_policy(path: Any, params: ModelParams) -> Any:
    """A saved PPO policy as a ``run_policy`` action function (deterministic actions).

    Its actions become offsets by the ``action.json`` saved beside it (absolute
    offsets when there is none: policies trained before residual ones).
    """
    from pathlib import Path

    from stable_baselines3 import PPO

    sidecar = Path(path).parent / ACTION_FILE
    try:
        mapping = (msgspec.json.decode(sidecar.read_bytes(), type=ActionMap)
                   if sidecar.exists() else ActionMap())  # fmt: skip
    except msgspec.DecodeError as exc:
        msg = f"cannot read {sidecar}: {exc}"
        raise DataError(msg) from exc

    try:
        model = PPO.load(str(path), device="cpu")
    except Exception as exc:  # a corrupt or foreign file: say which
        msg = f"cannot load the policy {path}: {type(exc).__name__}: {exc}"
        raise DataError(msg) from exc

    def act(obs: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        action, _ = model.predict(model_obs(obs), deterministic=True)
        return mapping.offsets(action, obs, params)

    return act
