"""The predictor's target: on LOBSTER days, the best model beats logistic regression and
last-move persistence on macro-F1 at two horizons; every model trains in under 3 minutes.

Trains on the first 60% of each day (validation: the next 20%), tests on the last 20%
(gaps of one horizon between the parts), for GOOG L10 and AMZN L5, horizons 10 and 50
events. Writes benchmarks/results/bench_predictor.json; prints a table.

    python benchmarks/bench_predictor.py [--horizons 10 50] [--every 1]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from makerkit.data import data_dir, load_lobster
from makerkit.predictor import evaluate, lobster_dataset

DAYS = {
    "GOOG": "GOOG_2012-06-21_34200000_57600000_{}_10.csv.gz",
    "AMZN": "AMZN_2012-06-21_34200000_57600000_{}_5.csv.gz",
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--horizons", type=int, nargs="+", default=[10, 50])
    ap.add_argument("--every", type=int, default=1)
    args = ap.parse_args()
    root = data_dir()
    if root is None:
        msg = "no data folder: set MAKERKIT_DATA"
        raise SystemExit(msg)
    out: dict[str, dict[str, object]] = {}
    print(f"{'day':6} {'k':>4} {'best':>10} {'best F1':>8} {'logistic':>9} {'persist.':>9} "
          f"{'margin':>7} {'slowest fit s':>14}")  # fmt: skip
    for sym, pattern in DAYS.items():
        lob = root / "lobster"
        day = load_lobster(lob / pattern.format("message"), lob / pattern.format("orderbook"))
        ds = lobster_dataset(day, every=args.every)
        for k in args.horizons:
            report, _ = evaluate([ds], k)
            m = report["models"]
            best = report["best_model"]
            margin = m[best]["macro_f1"] - max(
                m["logistic"]["macro_f1"], m["persistence"]["macro_f1"]
            )
            slowest = max(r["train_seconds"] for r in m.values())
            out[f"{sym}:{k}"] = {"best_model": best, "margin_vs_logistic_and_persistence": margin,
                                 "slowest_train_seconds": slowest, "report": report}  # fmt: skip
            print(f"{sym:6} {k:>4} {best:>10} {m[best]['macro_f1']:>8.3f} "
                  f"{m['logistic']['macro_f1']:>9.3f} {m['persistence']['macro_f1']:>9.3f} "
                  f"{margin:>+7.3f} {slowest:>14.1f}", flush=True)  # fmt: skip
    path = Path(__file__).parent / "results" / "bench_predictor.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
