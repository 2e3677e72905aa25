"""The demo's rl participant joins when its policy is ready; the market does not wait for it.

The trainer and the policy loader are fakes the tests drive: nothing here waits on
a training run, and no wall-clock sleep decides a result (each step is a condition
on the demo's state, seen from its ``on_tick``, with a timeout).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import pytest

from makerkit.cli._demo import (
    DemoConfig,
    DemoState,
    StrategyRow,
    _PendingRL,
    _tables,
    run_demo,
    table_rows,
)
from makerkit.cli._demo_rl import SubprocessTrainer, TrainingStatus, training_progress

pytest.importorskip("gymnasium")
pytest.importorskip("stable_baselines3")

TIMEOUT_S = 90.0  # for the conditions below, on a busy machine


class FakeTrainer:
    """A training the test finishes (or fails) when it wants."""

    made: ClassVar[list[FakeTrainer]] = []

    def __init__(self, policy: Path, steps: int, log: Path) -> None:
        self.policy, self.steps, self.log = policy, steps, log
        self.fraction: float | None = 0.4
        self.ready = False
        self.error: str | None = None
        self.started = self.stopped = False
        FakeTrainer.made.append(self)

    def start(self) -> None:
        self.started = True

    def poll(self) -> TrainingStatus:
        if self.error is not None:
            return TrainingStatus(error=self.error)
        if self.ready:
            return TrainingStatus(fraction=1.0, policy=self.policy)
        return TrainingStatus(fraction=self.fraction)

    def stop(self) -> None:
        self.stopped = True


class Loader:
    """Loads a "policy" as a plain symmetric quoter (no torch), noting which file it got."""

    def __init__(self) -> None:
        self.paths: list[Path] = []

    def __call__(self, path: Path) -> Any:
        from makerkit.strategies import make_strategy

        self.paths.append(path)
        return make_strategy("symmetric")


def _no_trainer(policy: Path, steps: int, log: Path) -> FakeTrainer:
    msg = "a cached policy must not be trained again"
    raise AssertionError(msg)


def _rows(state: DemoState) -> dict[str, StrategyRow]:
    return {r.name: r for r in state.strategies}


async def _run_until(
    cfg: DemoConfig, steps: list[Callable[[DemoState], bool]], **kw: Any
) -> list[DemoState]:
    """Run the demo until each step's condition held in turn (each may act on the way)."""
    seen: list[DemoState] = []
    done = asyncio.Event()

    def tick(state: DemoState) -> None:
        if not seen:
            seen.append(state)
        while steps and steps[0](state):
            steps.pop(0)
        if not steps:
            done.set()

    task = asyncio.create_task(run_demo(cfg, on_tick=tick, say=lambda _m: None, **kw))
    waiter = asyncio.create_task(done.wait())
    finished, _ = await asyncio.wait({task, waiter}, timeout=TIMEOUT_S,
                                     return_when=asyncio.FIRST_COMPLETED)  # fmt: skip
    task.cancel()
    waiter.cancel()
    await asyncio.gather(task, waiter, return_exceptions=True)
    if task in finished and task.exception() is not None:
        raise task.exception()  # type: ignore[misc]
    assert not steps, f"the demo never reached step {len(steps)} from the end: {seen and seen[0]}"
    return seen


@pytest.mark.slow
def test_the_market_trades_while_the_policy_trains_and_rl_joins_when_it_is_ready(
    tmp_path: Path,
) -> None:
    import httpx

    FakeTrainer.made.clear()
    loader = Loader()
    cfg = DemoConfig(port=0, out_dir=tmp_path / "demo", train_steps=1234)
    others = ("symmetric", "inventory_skew", "adaptive_spread", "avellaneda_stoikov", "glft")
    endpoint: list[Any] = []

    def others_trade_while_rl_trains(state: DemoState) -> bool:
        rows = _rows(state)
        if not all(rows[n].orders > 0 for n in others):
            return False
        rl = rows["rl"]
        assert (rl.status, rl.orders, rl.decisions) == ("training 40%", 0, 0)
        # the dashboard's view of this very sample: the terminal table's cells
        endpoint.append(httpx.get(state.url + "/demo/strategies", timeout=5).json())
        assert endpoint[0]["strategies"] == table_rows(state)
        assert endpoint[0]["strategies"][-1]["status"] == "training 40%"
        FakeTrainer.made[0].ready = True  # the policy is saved now
        return True

    def rl_trades(state: DemoState) -> bool:
        rl = _rows(state)["rl"]
        return rl.status is None and rl.orders > 0

    asyncio.run(_run_until(cfg, [others_trade_while_rl_trains, rl_trades],
                           make_trainer=FakeTrainer, load_policy=loader))  # fmt: skip
    (trainer,) = FakeTrainer.made
    assert trainer.started and trainer.steps == 1234
    assert trainer.policy == tmp_path / "demo-policy" / "policy.zip"  # the cache's place
    assert loader.paths == [trainer.policy]
    keys = json.loads((tmp_path / "demo" / "accounts.json").read_text())
    assert "rl" in keys["accounts"]  # its account exists from the start


@pytest.mark.slow
def test_a_cached_policy_joins_at_once_and_is_not_trained_again(tmp_path: Path) -> None:
    cached = tmp_path / "demo-policy" / "policy.zip"
    cached.parent.mkdir()
    cached.write_bytes(b"a policy")
    loader = Loader()
    cfg = DemoConfig(port=0, out_dir=tmp_path / "demo")
    first: list[str | None] = []

    def first_tick(state: DemoState) -> bool:
        first.append(_rows(state)["rl"].status)
        return True

    def rl_trades(state: DemoState) -> bool:
        return _rows(state)["rl"].orders > 0

    asyncio.run(_run_until(cfg, [first_tick, rl_trades], make_trainer=_no_trainer,
                           load_policy=loader))  # fmt: skip
    assert first == [None]  # trading from the first sample on
    assert loader.paths == [cached]


@pytest.mark.slow
def test_a_training_still_running_when_the_demo_ends_is_stopped_and_noted(
    tmp_path: Path,
) -> None:
    FakeTrainer.made.clear()
    cfg = DemoConfig(port=0, out_dir=tmp_path / "demo", duration=3.0)
    state = asyncio.run(run_demo(cfg, say=lambda _m: None, make_trainer=FakeTrainer,
                                 load_policy=Loader()))  # fmt: skip
    (trainer,) = FakeTrainer.made
    assert trainer.started and trainer.stopped
    rl = _rows(state)["rl"]
    assert rl.status == "training 40%" and rl.orders == 0
    assert any("rl did not trade: training 40%" in n for n in state.notes)
    assert state.errors == []
    assert sum(r.orders for r in state.strategies) > 0


def test_pending_rl_reports_progress_failure_and_loads_once_ready(tmp_path: Path) -> None:
    async def go() -> None:
        FakeTrainer.made.clear()
        loader = Loader()
        cfg = DemoConfig(out_dir=tmp_path / "demo", train_steps=5000)
        pending = _PendingRL(tmp_path / "p.zip", True, cfg, FakeTrainer, loader)
        trainer = FakeTrainer.made[0]
        assert trainer.started and trainer.log == tmp_path / "demo" / "rl-training.log"
        trainer.fraction = None
        assert pending.advance() is None and pending.status == "training"
        trainer.fraction = 0.123
        assert pending.advance() is None and pending.status == "training 12%"
        trainer.ready = True
        assert pending.advance() is None and pending.status == "loading the policy"
        assert pending.loading is not None
        await asyncio.wait_for(asyncio.shield(pending.loading), 10)
        strategy = pending.advance()
        assert strategy is not None and loader.paths == [tmp_path / "p.zip"]

        failing = _PendingRL(tmp_path / "q.zip", True, cfg, FakeTrainer, loader)
        FakeTrainer.made[-1].error = "exit 1"
        assert failing.advance() is None
        assert (failing.status, failing.error) == ("training failed", "exit 1")
        await failing.stop()
        assert not FakeTrainer.made[-1].stopped  # it had ended; nothing to stop

        def broken(path: Path) -> Any:
            msg = "not a policy"
            raise ValueError(msg)

        bad = _PendingRL(tmp_path / "r.zip", False, cfg, FakeTrainer, broken)
        assert bad.loading is not None
        await asyncio.gather(bad.loading, return_exceptions=True)
        assert bad.advance() is None and bad.status == "policy failed to load"
        assert bad.error == "ValueError: not a policy"

    asyncio.run(go())


def test_progress_is_read_off_the_training_log_and_a_torn_file_is_unknown(tmp_path: Path) -> None:
    log = tmp_path / "progress.csv"
    assert training_progress(log, 1000) is None  # not written yet
    log.write_text("time/fps,time/total_timesteps\n100,256\n")
    assert training_progress(log, 1024) == 0.25
    # the logger rewrote the file with more columns: the last row counts
    log.write_text("time/fps,time/total_timesteps,train/loss\n100,256,\n90,768,0.5\n")
    assert training_progress(log, 1024) == 0.75
    log.write_text("time/fps,time/total_timesteps,train/loss\n100,25")  # torn mid-write
    assert training_progress(log, 1024) == 25 / 1024
    log.write_text("time/fps,time/total_timesteps\n100,")  # nothing in the column yet
    assert training_progress(log, 1024) is None
    log.write_text("time/total_timesteps\n4096\n")
    assert training_progress(log, 1024) == 1.0  # never past done


def test_the_terminal_table_and_the_dashboard_share_their_cells() -> None:
    from rich.console import Console

    rows = [
        StrategyRow(name="glft", symbol="AAA", position=-3.0, pnl=1234.5, fills=7, orders=20,
                    spread=0.05),
        StrategyRow(name="rl", symbol="BBB", status="training 40%"),
        StrategyRow(name="inventory_skew", symbol="CCC", stopped="killed"),
    ]  # fmt: skip
    state = DemoState(url="http://x", started=0.0, strategies=rows, symbols={})
    cells = table_rows(state)
    assert [c["status"] for c in cells] == ["trading", "training 40%", "stopped"]
    assert (cells[0]["position"], cells[0]["pnl"], cells[0]["spread"]) == ("-3", "1,234.50", "0.05")
    console = Console(width=200, record=True)
    console.print(_tables(state))
    text = console.export_text()
    line = next(line for line in text.splitlines() if "glft" in line)
    glft = [cell for cell in line.split() if cell not in ("│", "┃")]
    assert glft[1:] == ["AAA", "-3", "1,234.50", "7", "20", "0.05"]
    assert "rl (training 40%)" in text and "inventory_skew (stopped)" in text


@pytest.mark.expensive
@pytest.mark.slow
def test_the_real_trainer_trains_in_a_child_and_saves_the_policy_whole(tmp_path: Path) -> None:
    policy = tmp_path / "demo-policy" / "policy.zip"
    (policy.parent / "training").mkdir(parents=True)
    (policy.parent / "training" / "stale").write_text("from a killed run")
    trainer = SubprocessTrainer(policy, 2048, tmp_path / "train.log")
    trainer.start()
    assert not (policy.parent / "training" / "stale").exists()
    try:
        status = asyncio.run(_until_done(trainer))
    finally:
        trainer.stop()
    assert status.error is None, status.error
    assert status.policy == policy and policy.stat().st_size > 1000
    assert not (policy.parent / "training" / "policy.zip").exists()  # moved, not copied

    from makerkit.rl import RLStrategy

    RLStrategy(policy)  # it loads


async def _until_done(trainer: SubprocessTrainer) -> TrainingStatus:
    async def wait() -> TrainingStatus:
        while True:
            status = trainer.poll()
            if status.policy is not None or status.error is not None:
                return status
            await asyncio.sleep(0.2)

    return await asyncio.wait_for(wait(), 300)


@pytest.mark.slow
def test_stopping_the_real_trainer_kills_the_child_and_leaves_no_policy(tmp_path: Path) -> None:
    policy = tmp_path / "demo-policy" / "policy.zip"
    trainer = SubprocessTrainer(policy, 10_000_000, tmp_path / "train.log")
    trainer.start()
    assert trainer.poll().policy is None
    trainer.stop()
    status = trainer.poll()
    assert status.error is not None and "exited with code" in status.error
    assert not policy.exists()
