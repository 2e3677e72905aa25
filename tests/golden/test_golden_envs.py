"""Golden RL episodes: the same seed and actions give the same observations, rewards and fills.

Recorded before the environments became adapters over the execution layer's
trading session; regenerate with ``pytest --update-golden`` only for a change
meant to move them.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("gymnasium")

from makerkit.rl import LOBEnvConfig, MarketMakingEnv, ReplayMarketEnv

GOLDEN = Path(__file__).parent / "envs.json"
STEPS = 80


def _episode(env: Any, seed: int) -> dict[str, Any]:
    obs, _ = env.reset(seed=seed)
    actions = np.random.default_rng(seed).uniform(-1, 1, size=(STEPS, 3))
    actions[:, :2] = actions[:, :2] / 4 - 0.75  # quotes near the touch: they trade
    seen = [obs.tolist()]
    rewards, fills = [], []
    for action in actions:
        obs, reward, terminated, truncated, info = env.step(action.astype(np.float32))
        seen.append(obs.tolist())
        rewards.append(float(reward))
        fills.append([list(f) for f in info.get("new_fills", env.new_fills)])
        if terminated or truncated:
            break
    return {
        "steps": len(rewards),
        "rewards": rewards,
        "observations_sha256": hashlib.sha256(json.dumps(seen).encode()).hexdigest(),
        "fills": fills,
        "position": int(env.position),
    }


def _check(case: str, got: dict[str, Any], update_golden: bool) -> None:
    record = json.loads(GOLDEN.read_text()) if GOLDEN.exists() else {}
    if update_golden:
        record[case] = got
        GOLDEN.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
    expected = record[case]
    assert got["steps"] == expected["steps"] and got["fills"] == expected["fills"]
    assert got["position"] == expected["position"]
    assert got["observations_sha256"] == expected["observations_sha256"]
    for a, b in zip(got["rewards"], expected["rewards"], strict=True):
        assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def test_the_simulated_book_env_repeats_its_golden_episode(update_golden: bool) -> None:
    env = MarketMakingEnv(LOBEnvConfig(episode_steps=STEPS, decision_ms=500.0))
    got = _episode(env, seed=3)
    assert sum(len(f) for f in got["fills"]) > 5
    _check("lob", got, update_golden)


def test_the_recorded_day_env_repeats_its_golden_episode(
    update_golden: bool, data_root: Path
) -> None:
    cfg = LOBEnvConfig(data="lobster:GOOG,queue=probabilistic,order_latency_ms=1",
                       episode_steps=STEPS, decision_ms=3000.0)  # fmt: skip
    got = _episode(ReplayMarketEnv(cfg), seed=5)
    assert sum(len(f) for f in got["fills"]) > 5
    _check("replay", got, update_golden)
