"""Backtest benchmark: our replay backtester and hftbacktest, one GLFT, one Binance capture.

Both replay the same L2 events (every level update of every depth diff, and
every trade) with the same GLFT formula and fixed coefficients, the same order
latency and queue model, no trade clearing, no fees and a decision every 100
ms of market time (the rules under which the two give the same fills and PnL:
``makerkit bench parity``); hftbacktest runs in its own virtualenv
(``.venv-bench``, see ``benchmarks/peers/drive_hbt_backtest.py``). events/s is
the event count over the wall time of one backtest (ours: the whole
``run_replay_backtest`` call, setup and metrics included; hftbacktest's: its
compiled loop, JIT excluded); medians of ``repeat`` runs, side by side. Ours
in four modes: the built-in GLFT deciding inside the core (the default for
built-in strategies); the same formula as a user's own class, called from
Python every decision while the core's order manager places its quotes (what
any one-level user strategy gets); the same through the execution layer's
session (``native_strategy=False``, what ladders and several instruments get);
and the pure-Python core. ``python_us_per_decision``: the wall time the two
Python modes add per decision over the core's own GLFT (medians, same run).
A fifth, ``native_compiled_strategy``, is the same formula as a user's
``KernelStrategy`` from a file (``examples/strategies/glft_kernel.py``),
compiled by numba and called from inside the core; like hftbacktest's, its
JIT time is left out of events/s and reported as ``compile_s``. It runs when
numba is installed and the example file is there (a run from the repository).
"""

from __future__ import annotations

import statistics
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from makerkit.backtest import (
    DEPTH,
    TRADE,
    MarketEvents,
    ReplayConfig,
    recorded_events,
    run_replay_backtest,
)
from makerkit.book import available_backends
from makerkit.cli._bench import run_peer_driver
from makerkit.core.clock import monotonic_ns
from makerkit.core.errors import DataError
from makerkit.strategies import GLFT, make_strategy, numba_available

__all__ = ["GLFT_PARAMS", "HBT_DRIVER", "run_backtest_bench", "write_hbt_events"]

HBT_DRIVER = Path("benchmarks") / "peers" / "drive_hbt_backtest.py"
# GLFT in ticks of BTCUSDT (0.01) and lots of 1e-6 BTC: at zero inventory it joins the
# touch; the 10-lot limit keeps it there instead of drifting off with a large position
GLFT_PARAMS = {"gamma": 0.05, "A": 2.0, "k": 4.0, "sigma": 3.0, "size": 1, "max_position": 10}


def write_hbt_events(path: Path, events: MarketEvents, cfg: dict[str, Any]) -> None:
    """Write the peer driver's input: ``events`` and the GLFT, replayed under the rules ``cfg``.

    ``cfg`` holds ``ReplayConfig`` fields; the queue model is the power-probabilistic
    one (``probabilistic``) or the risk-averse one (``conservative``).
    """
    other = np.setdiff1d(np.unique(events.kind), [DEPTH, TRADE])
    if other.size:
        msg = (
            f"invalid events for hftbacktest's driver: {events.source} {events.symbol} has kinds "
            f"{other.tolist()}, only depth ({DEPTH}) and trades ({TRADE}) are written"
        )
        raise DataError(msg)
    lo, hi = events.price_range()
    pad = max(hi - lo, 1000)
    np.savez(
        path, kind=events.kind, side=events.side, price=events.price, qty=events.qty,
        ts=events.ts, tick_size=events.tick / 1e8, lot_size=events.lot / 1e8,
        gamma=GLFT_PARAMS["gamma"], A=GLFT_PARAMS["A"], k=GLFT_PARAMS["k"],
        sigma=GLFT_PARAMS["sigma"], size=GLFT_PARAMS["size"],
        max_position=GLFT_PARAMS["max_position"],
        decision_ns=round(cfg["decision_ms"] * 1e6),
        order_latency_ns=round(cfg["order_latency_ms"] * 1e6),
        feed_latency_ns=round(cfg.get("feed_latency_ms", 0.0) * 1e6),
        queue=1 if cfg["queue"] == "probabilistic" else 0, queue_power=cfg["queue_power"],
        roi_lb=max(lo - pad, 1), roi_ub=hi + pad, maker_fee=cfg.get("maker_fee", 0.0),
        taker_fee=cfg.get("taker_fee", 0.0),
    )  # fmt: skip


def _path_sample(values: list[float], points: int = 200) -> list[float]:
    if len(values) <= points:
        return [float(v) for v in values]
    idx = np.linspace(0, len(values) - 1, points).round().astype(int)
    return [float(values[i]) for i in idx]


KERNEL_EXAMPLE = Path("examples") / "strategies" / "glft_kernel.py"


class _UserGLFT(GLFT, kw_only=True):
    """GLFT as a user's own class: not a built-in, so Python decides every time."""


def run_backtest_bench(
    repeat: int,
    say: Callable[[str], None],
    *,
    symbol: str = "btcusdt",
    day: str = "2024-08-08",
    queue: str = "probabilistic",
    peers_python: str | None = None,
    driver: Path | None = None,
) -> dict[str, Any]:
    """Time our backtester (each engine) and, when installed, hftbacktest; return the report."""
    say(f"loading binance {symbol} {day}")
    started = monotonic_ns()
    events = recorded_events("binance", symbol, day)
    load_s = (monotonic_ns() - started) / 1e9
    n = len(events)
    # hftbacktest's rules: no trade clearing (it has none), no fees
    cfg = {"queue": queue, "queue_power": 2.0, "order_latency_ms": 1.0, "feed_latency_ms": 0.0,
           "decision_ms": 100.0, "requote_on_fill": False, "clear_on_trade": False,
           "maker_fee": 0.0, "taker_fee": 0.0}  # fmt: skip
    result: dict[str, Any] = {
        "data": f"binance:{symbol}:{day}", "events": n, "load_s": round(load_s, 3),
        "strategy": "glft", "params": GLFT_PARAMS, "config": cfg, "repeat": repeat,
    }  # fmt: skip
    ours: dict[str, Any] = {}
    modes = [("python", "python", False)]
    if "native" in available_backends():
        # the built-in GLFT decides inside the core; the same formula as a user's class
        # (Python decides, the core's order manager places); and through the session
        modes = [("native", "native", True), ("native_python_strategy", "native", True),
                 ("native_session", "native", False), *modes]  # fmt: skip
        if numba_available() and KERNEL_EXAMPLE.is_file():
            modes.insert(1, ("native_compiled_strategy", "native", True))
    compile_s: float | None = None
    for mode, engine, kernel in modes:
        say(f"makerkit ({mode})")
        rates, last = [], None
        for _ in range(repeat if engine == "native" else 1):
            strategy: Any
            if mode == "native_compiled_strategy":  # a user's file, as --strategy loads it
                strategy = make_strategy(f"{KERNEL_EXAMPLE}:GLFTKernel", **GLFT_PARAMS)
                t0 = monotonic_ns()
                strategy.compiled()  # the JIT, once per process: timed apart
                compile_s = compile_s or (monotonic_ns() - t0) / 1e9
            else:
                strategy = (_UserGLFT if mode == "native_python_strategy" else GLFT)(
                    **GLFT_PARAMS  # type: ignore[arg-type]
                )
            replay = ReplayConfig(backend=engine, native_strategy=kernel, **cfg)  # type: ignore[arg-type]
            t0 = monotonic_ns()
            last = run_replay_backtest(strategy, events, replay)
            rates.append(n / ((monotonic_ns() - t0) / 1e9))
        assert last is not None  # noqa: S101 - repeat >= 1
        ours[mode] = {
            "events_per_sec": statistics.median(rates), "runs": rates,
            "fills": last.metrics.fills, "pnl": last.metrics.pnl_total,
            "final_position": last.path["position"][-1], "steps": len(last.path["ts"]),
            "position_path": _path_sample(last.path["position"]),
        }  # fmt: skip
    if compile_s is not None:
        ours["native_compiled_strategy"]["compile_s"] = compile_s
    best = ours.get("native") or ours["python"]
    if "native" in ours:  # what Python adds per decision over the same run decided in the core
        kernel_s = n / ours["native"]["events_per_sec"]
        for mode in ("native_python_strategy", "native_session"):
            extra = n / ours[mode]["events_per_sec"] - kernel_s
            ours[mode]["python_us_per_decision"] = extra / ours[mode]["steps"] * 1e6
    result["makerkit"] = ours
    result["events_per_sec"] = best["events_per_sec"]
    result["hftbacktest_events_per_sec"] = None
    result["ratio_vs_hftbacktest"] = None
    if peers_python is None or driver is None:
        result["hftbacktest"] = {"note": "not installed (make bench-peers creates .venv-bench)"}
        return result
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "events.npz"
        write_hbt_events(path, events, cfg)
        say(f"hftbacktest through {peers_python}")
        peer, stderr = run_peer_driver(peers_python, driver, path, repeat)
    if "events_per_sec" not in peer:
        result["hftbacktest"] = {"error": peer.get("error") or stderr[-800:] or "no output"}
        return result
    peer["position_path"] = _path_sample(peer["position_path"])
    peer.pop("equity_path", None)
    result["hftbacktest"] = peer
    result["hftbacktest_events_per_sec"] = peer["events_per_sec"]
    result["ratio_vs_hftbacktest"] = result["events_per_sec"] / peer["events_per_sec"]
    for r in ours.values():
        r["ratio_vs_hftbacktest"] = r["events_per_sec"] / peer["events_per_sec"]
    a, b = np.asarray(best["position_path"]), np.asarray(peer["position_path"])
    if len(a) == len(b) and a.std() > 0 and b.std() > 0:
        result["position_path_correlation"] = float(np.corrcoef(a, b)[0, 1])
    return result
