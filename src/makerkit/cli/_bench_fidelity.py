"""Fidelity benchmark: are the books right, and how far is each L2 queue model from L3 truth?

* ``crossed_events``: every LOBSTER day and Binance capture under the data
  root, as the backtester sees them (the L2 streams, and the LOBSTER days'
  order-level streams), checked by ``data_quality``.
* ``queue_models``: on every LOBSTER day with its orderbook file, six
  strategy settings (symmetric, Avellaneda-Stoikov and GLFT, two each) run
  once with ``queue=l3`` (our order in the real FIFO queue) and once with
  every L2 model on the same day's L2 view: conservative and probabilistic
  with power 1, 2 and 3, each with and without the trade-clearing rule.
  Per model, summed or averaged over the runs: filled lots relative to L3,
  the fill-time error (mean distance in seconds between the times at which
  5%, 10%, ... 95% of the run's volume had filled), the PnL error (mean
  absolute difference, tick-lots) and the 1 s mark-out error (mean absolute
  difference of the volume-weighted 1 s mark-out, ticks per lot).
* ``default_queue_model``: the L2 model closest to L3, by
  |log fills ratio| + PnL error relative to the L3 PnL scale.
* ``peer_parity``: makerkit beside hftbacktest 2.4.4 (``make bench-peers``),
  null with the reason when the peers' virtualenv is missing.
* ``l3_speed``: events/s of ``queue=l3`` in the native core (the built-in
  GLFT deciding inside it; the run loop alone, and the whole backtest call).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import numpy as np
from rich.table import Table

from makerkit.backtest import (
    RUN_END,
    BacktestResult,
    MarketEvents,
    NativeReplayCore,
    ReplayConfig,
    binance_events,
    data_quality,
    lobster_events,
    lobster_l3_events,
    make_replay_core,
    native_kernel,
    run_replay_backtest,
)
from makerkit.book import available_backends
from makerkit.core.clock import monotonic_ns
from makerkit.core.errors import DataError
from makerkit.data import BinanceFiles, LobsterFiles, load_binance_capture, load_lobster
from makerkit.strategies import make_strategy

__all__ = ["L2_MODELS", "STRATEGIES", "fidelity_table", "peers_or_reason", "run_fidelity_bench"]

# (name, params) in ticks and lots: two settings each, one near the touch and one wider
STRATEGIES: list[tuple[str, dict[str, Any]]] = [
    ("symmetric", {"half_spread": 1.0}),
    ("symmetric", {"half_spread": 3.0}),
    ("avellaneda_stoikov", {"gamma": 0.1, "k": 1.5, "sigma": 1.0}),
    ("avellaneda_stoikov", {"gamma": 0.05, "k": 0.5, "sigma": 2.0}),
    ("glft", {"sigma": 2.0, "max_position": 5}),
    ("glft", {"gamma": 0.05, "A": 2.0, "k": 0.8, "sigma": 5.0, "max_position": 10}),
]
# name -> ReplayConfig fields, on the L2 view
L2_MODELS: dict[str, dict[str, Any]] = {
    f"{queue}{suffix}{'+clear' if clear else ''}": {
        "queue": queue,
        "queue_power": power,
        "clear_on_trade": clear,
    }
    for queue, suffix, power in (
        ("conservative", "", 1.0),
        ("probabilistic", "_p1", 1.0),
        ("probabilistic", "_p2", 2.0),
        ("probabilistic", "_p3", 3.0),
    )
    for clear in (False, True)
}
_COMMON: dict[str, Any] = {"order_latency_ms": 1.0, "decision_ms": 100.0}
_MARKOUT_NS = 1_000_000_000


def _markout(run: BacktestResult) -> float | None:
    """Volume-weighted 1 s mark-out of the fills, ticks per lot (None without fills)."""
    if not run.fills:
        return None
    ts = np.asarray(run.path["ts"], dtype=np.int64)
    mid = np.asarray(run.path["mid"], dtype=np.float64)
    f = np.asarray(run.fills, dtype=np.float64)  # ts, side, price, qty
    at = np.searchsorted(ts, f[:, 0].astype(np.int64) + _MARKOUT_NS, side="right") - 1
    later = mid[np.clip(at, 0, len(mid) - 1)]
    return float(np.sum(f[:, 1] * (later - f[:, 2]) * f[:, 3]) / np.sum(f[:, 3]))


def _fill_times(run: BacktestResult) -> np.ndarray[Any, Any] | None:
    """When 5%, 10%, ... 95% of the run's filled volume had filled (s), None without fills."""
    if not run.fills:
        return None
    f = np.asarray(run.fills, dtype=np.float64)
    done = np.cumsum(f[:, 3]) / f[:, 3].sum()
    k = np.searchsorted(done, np.arange(0.05, 0.951, 0.05))
    out: np.ndarray[Any, Any] = f[np.clip(k, 0, len(f) - 1), 0] / 1e9
    return out


def _lots(run: BacktestResult) -> int:
    return int(sum(q for _t, _s, _p, q in run.fills))


def _days(root: str | Path | None, say: Callable[[str], None]) -> list[tuple[str, str, Path]]:
    """(symbol, day, message file) of every LOBSTER day with its orderbook file."""
    files = LobsterFiles(None if root is None else Path(root) / LobsterFiles.folder)
    out = []
    for symbol in files.symbols():
        for day in files.days(symbol):
            message = files.file(symbol, day)
            if message.with_name(message.name.replace("message", "orderbook")).exists():
                out.append((symbol, day, message))
            else:
                say(f"lobster {symbol} {day}: no orderbook file beside {message.name}, left out")
    return out


def _quality(root: str | Path | None, say: Callable[[str], None]) -> tuple[int, list[Any]]:
    """Crossed events over every Binance capture (the LOBSTER days are counted by the caller)."""
    rows: list[dict[str, Any]] = []
    files = BinanceFiles(None if root is None else Path(root) / BinanceFiles.folder)
    for symbol in files.symbols():
        for day in files.days(symbol):
            say(f"binance {symbol} {day}: checking the book")
            ev = binance_events(load_binance_capture(files.file(symbol, day)))
            rows.append({"data": f"binance:{symbol}:{day}", **data_quality(ev)})
    return sum(r["crossed_events"] for r in rows), rows


def _l3_speed(ev: MarketEvents, repeat: int) -> dict[str, Any]:
    """queue=l3 events/s, native: the run loop with GLFT in the core, and the whole call."""
    loop, whole = [], []
    name, params = STRATEGIES[4]
    for _ in range(repeat):
        cfg = ReplayConfig(queue="l3", backend="native", **_COMMON)
        core = cast(NativeReplayCore, make_replay_core(ev, cfg))  # backend="native"
        strategy = make_strategy(name, **params)
        kernel = native_kernel(strategy)
        assert kernel is not None  # noqa: S101 - GLFT is built in
        limit = getattr(strategy, "max_position", None)
        core.set_strategy(kernel[0], kernel[1], getattr(strategy, "size", 1),
                          -1 if limit is None else limit, 0, 0, 0, -1)  # fmt: skip
        t0 = monotonic_ns()
        while core.run(1 << 62) != RUN_END:
            pass
        loop.append(len(ev) / max((monotonic_ns() - t0) / 1e9, 1e-9))
        t0 = monotonic_ns()
        run_replay_backtest(make_strategy(name, **params), ev, cfg)
        whole.append(len(ev) / max((monotonic_ns() - t0) / 1e9, 1e-9))
    return {
        "events": len(ev), "core_events_per_sec": statistics.median(loop),
        "backtest_events_per_sec": statistics.median(whole), "repeat": repeat,
    }  # fmt: skip


def run_fidelity_bench(
    say: Callable[[str], None],
    *,
    root: str | Path | None = None,
    repeat: int = 3,
    peers: Callable[[], tuple[dict[str, Any] | None, str | None]] | None = None,
    strategies: list[tuple[str, dict[str, Any]]] | None = None,
) -> dict[str, Any]:
    """Check every book, compare every L2 queue model with L3 truth; return the report.

    ``root`` is the data folder (default: ``MAKERKIT_DATA``), holding ``lobster/`` and
    ``crypto/``.
    """
    settings = STRATEGIES if strategies is None else strategies
    days = _days(root, say)
    if not days:
        msg = "no LOBSTER day with its orderbook file under the data root"
        raise DataError(msg)
    crossed, quality = _quality(root, say)
    runs: dict[str, list[dict[str, Any]]] = {"l3": [], **{m: [] for m in L2_MODELS}}
    speed: dict[str, Any] | None = None
    for symbol, day, message in days:
        say(f"lobster {symbol} {day}: building the L2 and the order-level streams")
        loaded = load_lobster(
            message, message.with_name(message.name.replace("message", "orderbook"))
        )
        l2, l3 = lobster_events(loaded, symbol=symbol), lobster_l3_events(loaded, symbol=symbol)
        for view, ev in (("l2", l2), ("l3", l3)):
            quality.append({"data": f"lobster:{symbol}:{day} ({view})", **data_quality(ev)})
            crossed += quality[-1]["crossed_events"]
        if speed is None and "native" in available_backends():
            speed = _l3_speed(l3, repeat)
        for name, params in settings:
            say(f"lobster {symbol} {day}: {name} {params}")
            truth = run_replay_backtest(
                make_strategy(name, **params), l3, ReplayConfig(queue="l3", **_COMMON)
            )
            base = {"data": f"lobster:{symbol}:{day}", "strategy": name, "params": params}
            runs["l3"].append({**base, "run": truth, "truth": truth})
            for model, fields in L2_MODELS.items():
                run = run_replay_backtest(
                    make_strategy(name, **params), l2, ReplayConfig(**fields, **_COMMON)
                )
                runs[model].append({**base, "run": run, "truth": truth})
    table = {model: _score(rows) for model, rows in runs.items()}
    l2_only = {m: s for m, s in table.items() if m != "l3"}
    best = min(l2_only, key=lambda m: l2_only[m]["score"])
    default = ReplayConfig()
    current = next(
        (m for m, f in L2_MODELS.items()
         if f["queue"] == default.queue and f["queue_power"] == default.queue_power
         and f["clear_on_trade"] == default.clear_on_trade),
        None,
    )  # fmt: skip
    parity, reason = peers() if peers is not None else (None, "not measured")
    return {
        "crossed_events": crossed,
        "data_quality": quality,
        "queue_models": table,
        "default_queue_model": best,
        "current_default": current,
        "runs": len(runs["l3"]),
        "strategies": [{"name": n, "params": p} for n, p in settings],
        "config": _COMMON,
        "peer_parity": parity,
        "peer_parity_reason": reason,
        "l3_speed": speed,
    }


def _score(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """One model's errors against L3 over its runs."""
    lots = sum(_lots(r["run"]) for r in rows)
    truth_lots = sum(_lots(r["truth"]) for r in rows)
    pnl_err = [abs(r["run"].metrics.pnl_total - r["truth"].metrics.pnl_total) for r in rows]
    scale = statistics.fmean(abs(r["truth"].metrics.pnl_total) for r in rows) or 1.0
    marks, times = [], []
    for r in rows:
        a, b = _markout(r["run"]), _markout(r["truth"])
        if a is not None and b is not None:
            marks.append(abs(a - b))
        ta, tb = _fill_times(r["run"]), _fill_times(r["truth"])
        if ta is not None and tb is not None:
            times.append(float(np.mean(np.abs(ta - tb))))
    ratio = lots / truth_lots if truth_lots else math.nan
    pnl_error = statistics.fmean(pnl_err)
    return {
        "fills": sum(r["run"].metrics.fills for r in rows),
        "filled_lots": lots,
        "fills_ratio_vs_l3": ratio,
        "fill_time_error_s": statistics.fmean(times) if times else None,
        "pnl": sum(r["run"].metrics.pnl_total for r in rows),
        "pnl_error": pnl_error,
        "pnl_error_rel": pnl_error / scale,
        "markout_1s": statistics.fmean(
            m for r in rows if (m := _markout(r["run"])) is not None
        ) if any(r["run"].fills for r in rows) else None,
        "markout_error": statistics.fmean(marks) if marks else None,
        "score": (abs(math.log(ratio)) if ratio > 0 else math.inf) + pnl_error / scale,
        "runs": len(rows),
    }  # fmt: skip


def peers_or_reason() -> tuple[dict[str, Any] | None, str | None]:
    """Our backtester beside hftbacktest on the Binance captures, or None and why not."""
    from makerkit.cli._bench import _peers_python
    from makerkit.cli._bench_parity import peer_parity, peer_parity_unavailable_reason

    python, driver = _peers_python()
    hbt = driver.parent / "drive_hbt_backtest.py" if driver is not None else None
    reason = peer_parity_unavailable_reason(python, hbt)
    if reason is not None:
        return None, reason
    found = peer_parity(lambda _m: None, peers_python=python, driver=hbt)
    return found, None if found is not None else peer_parity_unavailable_reason(python, hbt)


def fidelity_table(result: dict[str, Any]) -> Table:
    """Each queue model against L3 truth, and the checks, as one table."""
    table = Table(
        title=f"queue models against L3 truth ({result['runs']} runs: LOBSTER days x "
        f"{len(result['strategies'])} strategy settings)",
        title_justify="left",
    )
    for col in ("model", "fills / L3", "fill time err (s)", "PnL", "PnL err", "1 s mark-out",
                "mark-out err"):  # fmt: skip
        table.add_column(col, justify="left" if col == "model" else "right",
                         no_wrap=col == "model")  # fmt: skip

    def num(x: float | None, fmt: str) -> str:
        return "-" if x is None or x != x else format(x, fmt)

    for model, s in result["queue_models"].items():
        mark = " (default)" if model == result["default_queue_model"] else ""
        table.add_row(f"{model}{mark}", num(s["fills_ratio_vs_l3"], ".3f"),
                      num(s["fill_time_error_s"], ",.1f"), num(s["pnl"], ",.0f"),
                      num(s["pnl_error"], ",.0f"), num(s["markout_1s"], ".3f"),
                      num(s["markout_error"], ".3f"))  # fmt: skip
    speed = result["l3_speed"] or {}
    parity = result["peer_parity"]
    table.caption = (
        f"crossed events in every recorded day: {result['crossed_events']}; "
        f"queue=l3 native: {num(speed.get('core_events_per_sec'), ',.0f')} events/s in the core, "
        f"{num(speed.get('backtest_events_per_sec'), ',.0f')} for the whole backtest; "
        f"peer parity: {'see JSON' if parity else result['peer_parity_reason']}"
    )
    return table
