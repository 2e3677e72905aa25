"""The demo's rl participant: its policy trains in a child process while the market runs.

Training PPO takes minutes of CPU. In the demo's own process it would hold the
GIL and starve the runners; in a child at a lower priority the venue and the
other strategies trade from the first second, and the rl strategy joins once
its policy is saved. The child trains in ``<policy dir>/training/`` and moves
``policy.zip`` into place only when done, so a killed run never leaves a half
policy for the next run to pick up as cached.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Protocol

import msgspec

__all__ = ["PolicyTrainer", "SubprocessTrainer", "TrainingStatus", "training_progress"]

_NICE = 10  # the child's niceness: the market comes first on a busy machine


class TrainingStatus(msgspec.Struct, frozen=True, kw_only=True):
    """Where a policy's training stands."""

    fraction: float | None = None  # of the steps done (None: not known yet)
    policy: Path | None = None  # the saved policy, once ready
    error: str | None = None  # the training failed: why


class PolicyTrainer(Protocol):
    """Trains the rl strategy's policy out of the demo's way (a fake one in tests)."""

    def start(self) -> None:
        """Begin training; returns at once."""

    def poll(self) -> TrainingStatus:
        """Where the training stands now; never blocks."""

    def stop(self) -> None:
        """Abandon an unfinished training (the demo is over)."""


def training_progress(log_csv: Path, steps: int) -> float | None:
    """The fraction done, read off stable-baselines3's CSV log (``time/total_timesteps``).

    The logger rewrites the file when new columns appear: a half-written file
    reads as unknown, never as an error.
    """
    try:
        text = log_csv.read_text()
    except OSError:
        return None
    done: int | None = None
    with contextlib.suppress(csv.Error, ValueError):
        for row in csv.DictReader(io.StringIO(text)):
            value = row.get("time/total_timesteps")
            if value:
                done = int(float(value))
    if done is None or steps <= 0:
        return None
    return min(1.0, done / steps)


class SubprocessTrainer:
    """``train_ppo`` in a child interpreter (its own GIL), niced, its output in a log file."""

    def __init__(self, policy: Path, steps: int, log: Path) -> None:
        self.policy = policy
        self.steps = steps
        self.log_path = log
        self.work = policy.parent / "training"
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: io.BufferedWriter | None = None
        self._fraction: float | None = None

    def start(self) -> None:
        """Spawn the child; what an earlier killed run left in ``training/`` goes first."""
        shutil.rmtree(self.work, ignore_errors=True)
        self.work.mkdir(parents=True, exist_ok=True)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("wb")
        cmd = [sys.executable, "-m", "makerkit.cli._demo_rl", str(self.policy), str(self.steps)]
        # its own session: a Ctrl-C reaches the demo, which stops it
        self._proc = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            cmd, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip

    def poll(self) -> TrainingStatus:
        """Running (with the fraction done), ready (the policy), or failed (the log's tail)."""
        if self._proc is None:
            return TrainingStatus()
        code = self._proc.poll()
        if code is None:
            seen = training_progress(self.work / "logs" / "progress.csv", self.steps)
            self._fraction = seen if seen is not None else self._fraction
            return TrainingStatus(fraction=self._fraction)
        self._close_log()
        if code == 0 and self.policy.exists():
            return TrainingStatus(fraction=1.0, policy=self.policy)
        tail = self.log_path.read_text(errors="replace")[-600:] if self.log_path.exists() else ""
        return TrainingStatus(
            fraction=self._fraction,
            error=f"the policy's training exited with code {code} ({self.log_path}): {tail}",
        )

    def stop(self) -> None:
        """Terminate the child (and wait); a finished one is left alone."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


def train_demo_policy(policy: Path, steps: int) -> None:
    """The child's work: the demo's PPO run, then ``policy.zip`` moved into place."""
    from makerkit.rl import LOBEnvConfig, MarketMakingEnv, train_ppo

    with contextlib.suppress(OSError):
        os.nice(_NICE)
    work = policy.parent / "training"
    train_ppo(work, timesteps=steps, seed=0, discount=0.99, n_envs=4,
              make_env=lambda: MarketMakingEnv(LOBEnvConfig()), progress=False)  # fmt: skip
    (work / "policy.zip").replace(policy)  # atomic: the next run sees all of it or none


if __name__ == "__main__":
    train_demo_policy(Path(sys.argv[1]), int(sys.argv[2]))
