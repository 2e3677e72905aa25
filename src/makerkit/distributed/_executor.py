"""Run independent tasks on local processes or on Ray, retrying tasks whose worker was lost.

Both runners hand back one row per task, in task order, whatever order they
finished in. A task that raises gets a row with its ``error`` (the rest of the
sweep goes on); a task whose worker process dies is run again, up to
``retries`` more times, before it is reported as lost.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import socket
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from makerkit.core.clock import monotonic_ns
from makerkit.core.errors import ConfigError

__all__ = ["ExecutorInfo", "run_tasks"]

Row = dict[str, Any]
_PASSED_ENV = ("MAKERKIT_DATA", "MAKERKIT_BOOK_BACKEND")


class ExecutorInfo(dict[str, Any]):
    """What ran the sweep: runner, workers, lost workers, retried tasks."""


def _error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


_STARTED: Any = None  # in a worker: where it reports each task's start


def _init_worker(started: Any) -> None:
    global _STARTED
    _STARTED = started


def _marked(job: tuple[Callable[[Any], Row], int, Any]) -> Row:
    """Run one task in a worker, first telling the parent that it started."""
    fn, index, task = job
    _STARTED.put(index)
    return fn(task)


def _local(
    fn: Callable[[Any], Row], tasks: Sequence[Any], workers: int, retries: int,
    done: Callable[[int, Row], None],
) -> ExecutorInfo:  # fmt: skip
    """A process pool; when a worker dies the pool is rebuilt and the lost tasks rerun.

    A dead worker in a parallel round makes suspects of the tasks that had
    started and not finished; suspects then run alone, one worker, where a
    loss is surely theirs. A task lost alone more than ``retries`` times is
    reported and not run again. So one task that always kills its worker costs
    the others nothing.
    """
    ctx = multiprocessing.get_context("spawn")  # clean workers, as Ray's are
    remaining = dict(enumerate(tasks))
    losses = dict.fromkeys(remaining, 0)
    suspects: set[int] = set()
    info = ExecutorInfo(runner="local", workers=workers, lost_workers=0, retried_tasks=0)
    while remaining:
        alone = bool(suspects)
        batch = {i: remaining[i] for i in sorted(suspects)} if alone else dict(remaining)
        broken = False
        started_q = ctx.SimpleQueue()  # written at once: a worker that dies still told us
        pool = ProcessPoolExecutor(1 if alone else min(workers, len(batch)), mp_context=ctx,
                                   initializer=_init_worker, initargs=(started_q,))  # fmt: skip
        with pool:
            futures = {pool.submit(_marked, (fn, i, task)): i for i, task in batch.items()}
            pending: set[Future[Row]] = set(futures)
            while pending:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in finished:
                    i = futures[fut]
                    try:
                        row = fut.result()
                    except BrokenProcessPool:
                        broken = True
                        continue
                    except Exception as exc:  # the task's own failure: reported in its row
                        row = {"error": _error(exc)}
                    del remaining[i]
                    suspects.discard(i)
                    done(i, row)
        started: set[int] = set()
        while not started_q.empty():
            started.add(started_q.get())
        started_q.close()
        if not broken:
            continue
        info["lost_workers"] += 1
        lost = (started & set(batch) & set(remaining)) or set(batch) & set(remaining)
        info["retried_tasks"] += len(lost)
        if not alone:
            suspects |= lost
            continue
        for i in lost:  # ran alone: the loss is this task's
            losses[i] += 1
            if losses[i] > retries:
                del remaining[i]
                suspects.discard(i)
                done(i, {"error": f"worker lost {losses[i]} times, gave up (retries={retries})"})
    return info


def _reachable(address: str) -> None:
    """Fail fast on HOST:PORT nobody listens on (Ray itself retries for minutes)."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        msg = f"invalid --ray-address {address!r}, must be `auto` or HOST:PORT"
        raise ConfigError(msg)
    try:
        with socket.create_connection((host.removeprefix("ray://"), int(port)), timeout=5):
            pass
    except OSError as exc:
        msg = f"cannot reach a Ray cluster at {address}: {exc.strerror or exc}"
        raise ConfigError(msg) from exc


def _ray(
    fn: Callable[[Any], Row], tasks: Sequence[Any], workers: int, retries: int,
    done: Callable[[int, Row], None], address: str | None,
) -> ExecutorInfo:  # fmt: skip
    """Ray tasks: on the cluster at ``address``, or a local instance of ``workers`` CPUs."""
    try:
        import ray
        import ray.exceptions
    except ImportError as exc:
        msg = f"the Ray runner needs `pip install makerkit[dist]` ({exc})"
        raise ConfigError(msg) from exc
    if address is not None and address != "auto":
        _reachable(address)
    env = {k: os.environ[k] for k in _PASSED_ENV if k in os.environ}
    started_here = not ray.is_initialized()
    clock = monotonic_ns()
    if started_here:
        kwargs: dict[str, Any] = {"runtime_env": {"env_vars": env}, "log_to_driver": False}
        try:
            if address is None:
                ray.init(num_cpus=workers, include_dashboard=False, logging_level=logging.WARNING,
                         **kwargs)  # fmt: skip
            else:
                ray.init(address=address, **kwargs)
        except ConnectionError as exc:
            msg = f"cannot reach a Ray cluster at {address}: {exc}"
            raise ConfigError(msg) from exc
    cpus = int(ray.cluster_resources().get("CPU", workers))  # type: ignore[no-untyped-call]
    info = ExecutorInfo(runner="ray", workers=cpus, lost_workers=0, retried_tasks=0,
                        startup_seconds=(monotonic_ns() - clock) / 1e9)  # fmt: skip
    try:
        remote = ray.remote(num_cpus=1, max_retries=retries)(fn)
        refs = {remote.remote(task): i for i, task in enumerate(tasks)}
        pending = list(refs)
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            i = refs[ready[0]]
            try:
                row = ray.get(ready[0])
            except ray.exceptions.RayTaskError as exc:  # the task raised
                row = {"error": _error(exc.cause) if exc.cause is not None else str(exc)}
            except ray.exceptions.RayError as exc:  # worker or node lost, retries spent
                info["lost_workers"] += 1
                row = {"error": f"worker lost, gave up (retries={retries}): {_error(exc)}"}
            done(i, row)
    finally:
        if started_here:
            ray.shutdown()
    return info


def run_tasks(
    fn: Callable[[Any], Row], tasks: Sequence[Any], *, workers: int = 1, runner: str = "local",
    ray_address: str | None = None, retries: int = 2,
    on_result: Callable[[int, Row], None] | None = None,
) -> tuple[list[Row], ExecutorInfo]:  # fmt: skip
    """``fn(task)`` for every task; rows in task order and what ran them.

    ``fn`` must be importable by the workers (a module-level function).
    """
    if workers < 1:
        msg = f"invalid workers, must be >= 1, was {workers}"
        raise ConfigError(msg)
    if retries < 0:
        msg = f"invalid retries, must be >= 0, was {retries}"
        raise ConfigError(msg)
    if runner not in ("local", "ray"):
        msg = f"invalid runner {runner!r}, must be `local` or `ray`"
        raise ConfigError(msg)
    rows: dict[int, Row] = {}

    def done(i: int, row: Row) -> None:
        rows[i] = row
        if on_result is not None:
            on_result(i, row)

    if runner == "ray" or ray_address is not None:
        info = _ray(fn, tasks, workers, retries, done, ray_address)
    else:
        info = _local(fn, tasks, workers, retries, done)
    return [rows[i] for i in range(len(tasks))], info
