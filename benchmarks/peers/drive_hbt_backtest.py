"""Run a fixed-coefficient GLFT market maker in hftbacktest on an L2 event stream and time it.

    python benchmarks/peers/drive_hbt_backtest.py EVENTS.npz [--repeat 5] [--json]

Runs with the interpreter of the peers' virtualenv (``.venv-bench``) and
imports nothing from makerkit. ``makerkit bench backtest`` writes the input
from the same Binance capture its own backtester replays.

Input (``.npz``): int64 columns of equal length N, ``kind`` (1 depth: the new
absolute size at a price, 2 trade), ``side`` (+1 bid / buyer-initiated, -1 ask /
seller-initiated), ``price`` (ticks), ``qty`` (lots), ``ts`` (ns); scalars
``tick_size`` and ``lot_size`` (decimal units), ``gamma``, ``A``, ``k``,
``sigma`` (the GLFT parameters, per tick), ``size`` (lots), ``max_position``
(lots, < 0 for none), ``decision_ns``, ``order_latency_ns``,
``feed_latency_ns``, ``queue`` (0 risk-averse, 1 power-probabilistic),
``queue_power``, ``roi_lb``, ``roi_ub`` (ticks) and ``maker_fee``/``taker_fee``
(fractions of traded value).

Every event becomes one hftbacktest record flagged EXCH and LOCAL (its
exchange-side book runs the queue model, the local one feeds the strategy),
``local_ts = ts + feed_latency``. The strategy, every ``decision_ns``: mid from
the local best bid and ask, ``q`` the position in lots, c1 = ln(1 + g/k)/g,
c2 = sqrt(sigma^2 g / (2 A k) (1 + g/k)^(1 + k/g)),
bid = floor(mid - c1 - (2q + 1)/2 c2), ask = ceil(mid + c1 - (2q - 1)/2 c2)
(ask >= bid + 1), one GTX order per side, cancelled when the wanted price
moves, no side past ``max_position``. This is makerkit's ``GLFT.quote`` with
``requote_on_fill`` off.

``events_per_sec`` is N / wall seconds of the ``@njit`` loop on a fresh
backtester (median of ``--repeat``); the JIT compile happens first on a slice
(``jit_compile_s``). The position, equity (ticks x lots, fees included), fill
count and filled quantity (lots) come from the last run; the position path has
one entry per step.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np


def _glft_loop(hbt: Any, p: Any, out_pos: Any, out_eq: Any) -> int:
    """The strategy (compiled with numba ``njit``); returns the number of steps taken."""
    tick, lot = p[0], p[1]
    g, a_, k, sigma = p[2], p[3], p[4], p[5]
    size, max_pos, step = p[6], p[7], int(p[8])
    c1 = math.log(1.0 + g / k) / g
    c2 = math.sqrt(sigma * sigma * g / (2.0 * a_ * k) * (1.0 + g / k) ** (1.0 + k / g))
    next_id = 0
    steps = 0
    while hbt.elapse(step) == 0:
        hbt.clear_inactive_orders(0)
        depth = hbt.depth(0)
        bb = depth.best_bid_tick
        ba = depth.best_ask_tick
        q = round(hbt.position(0) / lot)
        if bb < depth.roi_lb_tick or ba > depth.roi_ub_tick or bb >= ba:
            continue
        mid = (bb + ba) / 2.0
        bid = math.floor(mid - c1 - (2 * q + 1) / 2.0 * c2)
        ask = math.ceil(mid + c1 - (2 * q - 1) / 2.0 * c2)
        if ask <= bid:
            ask = bid + 1
        want_bid = bid if (max_pos < 0 or q + size <= max_pos) and bid > 0 else -1
        want_ask = ask if max_pos < 0 or q - size >= -max_pos else -1
        have_bid = False
        have_ask = False
        values = hbt.orders(0).values()
        while values.has_next():
            o = values.get()
            if o.side == 1:
                if o.price_tick == want_bid and not have_bid:
                    have_bid = True
                elif o.cancellable:
                    hbt.cancel(0, o.order_id, False)
            else:
                if o.price_tick == want_ask and not have_ask:
                    have_ask = True
                elif o.cancellable:
                    hbt.cancel(0, o.order_id, False)
        if want_bid >= 0 and not have_bid:
            next_id += 1
            hbt.submit_buy_order(0, next_id, want_bid * tick, size * lot, 1, 0, False)
        if want_ask >= 0 and not have_ask:
            next_id += 1
            hbt.submit_sell_order(0, next_id, want_ask * tick, size * lot, 1, 0, False)
        if steps < out_pos.shape[0]:
            sv = hbt.state_values(0)
            out_pos[steps] = q
            out_eq[steps] = (sv.balance + hbt.position(0) * mid * tick - sv.fee) / (tick * lot)
        steps += 1
    return steps


def run(path: Path, repeat: int) -> dict[str, Any]:
    import hftbacktest as hbt_mod
    from numba import njit

    z = np.load(path)
    n = len(z["kind"])
    tick, lot = float(z["tick_size"]), float(z["lot_size"])
    ev = np.zeros(n, dtype=hbt_mod.event_dtype)
    kind = np.where(z["kind"] == 1, hbt_mod.DEPTH_EVENT, hbt_mod.TRADE_EVENT).astype(np.uint64)
    side = np.where(z["side"] > 0, hbt_mod.BUY_EVENT, hbt_mod.SELL_EVENT).astype(np.uint64)
    ev["ev"] = kind | side | np.uint64(hbt_mod.EXCH_EVENT) | np.uint64(hbt_mod.LOCAL_EVENT)
    ev["exch_ts"] = z["ts"]
    ev["local_ts"] = z["ts"] + int(z["feed_latency_ns"])
    ev["px"] = z["price"] * tick
    ev["qty"] = z["qty"] * lot
    params = np.array([tick, lot, float(z["gamma"]), float(z["A"]), float(z["k"]),
                       float(z["sigma"]), float(z["size"]), float(z["max_position"]),
                       float(z["decision_ns"])])  # fmt: skip
    steps_cap = int((z["ts"][-1] - z["ts"][0]) // int(z["decision_ns"])) + 16

    def build(data: np.ndarray) -> Any:
        asset = (
            hbt_mod.BacktestAsset()
            .data(data)
            .linear_asset(1.0)
            .constant_order_latency(int(z["order_latency_ns"]), int(z["order_latency_ns"]))
            .partial_fill_exchange()
            .trading_value_fee_model(float(z["maker_fee"]), float(z["taker_fee"]))
            .tick_size(tick)
            .lot_size(lot)
            .roi_lb(int(z["roi_lb"]) * tick)
            .roi_ub(int(z["roi_ub"]) * tick)
        )
        if int(z["queue"]) == 0:
            asset = asset.risk_adverse_queue_model()
        else:
            asset = asset.power_prob_queue_model(float(z["queue_power"]))
        return hbt_mod.ROIVectorMarketDepthBacktest([asset])

    loop = njit(_glft_loop)

    def once(data: np.ndarray) -> tuple[float, Any]:
        hbt = build(data)
        pos = np.zeros(steps_cap, dtype=np.float64)
        eq = np.zeros(steps_cap, dtype=np.float64)
        t0 = time.perf_counter()
        steps = loop(hbt, params, pos, eq)
        elapsed = time.perf_counter() - t0
        sv = hbt.state_values(0)
        trades, volume = int(sv.num_trades), float(sv.trading_volume)
        hbt.close()
        kept = min(steps, steps_cap)
        return elapsed, (steps, trades, volume, pos[:kept], eq[:kept])

    warm = ev[: min(n, 5000)].copy()
    t0 = time.perf_counter()
    once(warm)
    jit_s = time.perf_counter() - t0
    once(ev)  # the first full run is slower: untimed
    queue = (
        "risk-averse queue" if int(z["queue"]) == 0 else f"power-prob queue ({z['queue_power']})"
    )
    rates = []
    last: Any = None
    for _ in range(repeat):
        elapsed, last = once(ev)
        rates.append(n / elapsed)
    steps, trades, volume, pos, eq = last
    return {
        "version": hbt_mod.__version__,
        "setup": "ROIVectorMarketDepthBacktest, L2, EXCH+LOCAL, partial-fill exchange, " + queue,
        "events": n,
        "events_per_sec": statistics.median(rates),
        "runs": rates,
        "jit_compile_s": round(jit_s, 3),
        "steps": steps,
        "fills": trades,
        "filled_qty": round(volume / lot),
        "final_position": float(pos[-1]) if len(pos) else 0.0,
        "pnl": float(eq[-1]) if len(eq) else 0.0,
        "position_path": pos.tolist(),
        "equity_path": eq.tolist(),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("events", type=Path)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    try:
        result = run(args.events, args.repeat)
    except Exception as exc:  # the parent reports the peer as failed, with why
        print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}))
        return 1
    if not args.json:
        print(f"hftbacktest GLFT: {result['events_per_sec']:,.0f} events/s, "
              f"{result['fills']} fills, pnl {result['pnl']:,.1f}")  # fmt: skip
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
