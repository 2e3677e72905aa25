"""The adverse-selection predictor's economic check on LOBSTER days.

For each day: the first half trains P(a passive fill is adverse within 1 s | it
happens) from every trade (``fit_adverse`` on the features strategies see);
on the second half the same strategy runs with and without ``AdverseGuard``
(threshold 0.5, fixed beforehand: more likely adverse than not; the side
moves 2 ticks out). The 1-second mark-out per filled lot is compared.
Writes benchmarks/results/bench_adverse.json; prints a table.

    python benchmarks/bench_adverse.py
"""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import numpy as np

from makerkit.backtest import ReplayConfig, feature_samples, run_replay_backtest
from makerkit.backtest._events import TRADE, recorded_events
from makerkit.predictor import fit_adverse
from makerkit.strategies import AdverseGuard, make_strategy

STRATEGIES = {"symmetric": {"half_spread": 0.5}, "glft": {"sigma": 3.0, "k": 0.3, "A": 0.3}}
THRESHOLD, WIDEN = 0.5, 2


def halves(ev: object) -> tuple[object, object]:
    """The first and second half of a day by time."""
    ts = ev.ts  # type: ignore[attr-defined]
    k = int(np.searchsorted(ts, ts[0] + (ts[-1] - ts[0]) // 2))
    cols = ("ts", "kind", "side", "price", "qty")
    first = msgspec.structs.replace(ev, **{c: getattr(ev, c)[:k] for c in cols})  # type: ignore[type-var]
    second = msgspec.structs.replace(ev, **{c: getattr(ev, c)[k:] for c in cols},  # type: ignore[type-var]
                                     start_ns=int(ts[k]))  # fmt: skip
    return first, second


def main() -> None:
    out: dict[str, object] = {}
    print(f"{'day':5} {'strategy':10} {'fills':>6} {'1s mark-out':>12} {'guarded fills':>14} "
          f"{'1s mark-out':>12} {'better':>7}")  # fmt: skip
    for sym in ("GOOG", "AMZN"):
        first, second = halves(recorded_events("lobster", sym))
        samples = feature_samples(first, config=ReplayConfig())  # type: ignore[arg-type]
        tr = first.kind == TRADE  # type: ignore[attr-defined]
        trades = (first.ts[tr], first.side[tr], first.price[tr])  # type: ignore[attr-defined]
        model = fit_adverse(samples.ts, samples.mid, samples.features, trades=trades)
        for name, params in STRATEGIES.items():
            plain = run_replay_backtest(make_strategy(name, **params), second, ReplayConfig())  # type: ignore[arg-type]
            guard = AdverseGuard(make_strategy(name, **params), threshold=THRESHOLD, widen=WIDEN)
            guarded = run_replay_backtest(guard, second, ReplayConfig(), signals=model.signals)  # type: ignore[arg-type]
            a, b = plain.metrics, guarded.metrics
            better = b.markouts["1s"] > a.markouts["1s"]
            out[f"{sym}:{name}"] = {
                "plain": {"fills": a.fills, "markout_1s": a.markouts["1s"], "pnl": a.pnl_total},
                "guarded": {"fills": b.fills, "markout_1s": b.markouts["1s"], "pnl": b.pnl_total,
                            "sides_moved": guard.guarded},
                "guard_lowers_markout_loss": better, "base_rate": model.base_rate,
            }  # fmt: skip
            verdict = "yes" if better else "no"
            print(f"{sym:5} {name:10} {a.fills:>6} {a.markouts['1s']:>12.3f} {b.fills:>14} "
                  f"{b.markouts['1s']:>12.3f} {verdict:>7}", flush=True)  # fmt: skip
    path = Path(__file__).parent / "results" / "bench_adverse.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
