"""The README's out-of-sample table: each built-in fitted and tuned on train, judged on test.

Every real data set, after the venue's fees.

    .venv/bin/python scripts/out_of_sample.py --out runs/oos [--trials 16]

Per data set: `makerkit fit` on the train window only, then `makerkit tune --params` for each
strategy (Optuna, seeded) on the train window, the chosen setting run once on the test window.
The default queue model (probabilistic, power 2: the one `bench fidelity` checks against the
L3 truth). Prints a markdown table; writes every tune result to --out.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import msgspec
import numpy as np

from makerkit.backtest import MarketEvents, fit_market, load_market, params_for, parse_data_spec
from makerkit.distributed import tune
from makerkit.strategies import STRATEGIES

# Nasdaq (2012): a maker rebate of $0.0020 and a taker fee of $0.0030 a share; Binance's
# regular tier: spot 0.1% both sides, USD-M futures 0.02% maker and 0.05% taker
DATASETS = {
    "GOOG 2012-06-21": ("lobster:GOOG:2012-06-21", ("10:00", "12:45"), ("12:45", "16:00"),
                        ("per_share", -0.0020, 0.0030)),
    "AMZN 2012-06-21": ("lobster:AMZN:2012-06-21", ("10:00", "12:45"), ("12:45", "16:00"),
                        ("per_share", -0.0020, 0.0030)),
    "BTCUSDT spot 2024-08-08": ("binance:BTCUSDT:2024-08-08", None, None,
                                ("rate", 0.001, 0.001)),
    "BTCUSDT USD-M 2024-07-18": ("binance:BTCUSDT:2024-07-18", None, None,
                                 ("rate", 0.0002, 0.0005)),
}  # fmt: skip


def clock_of(ns: int) -> str:
    """HH:MM:SS of market time (whole seconds: a window boundary)."""
    s = ns % (86_400 * 10**9) // 10**9
    return f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}"


def _events(data: str) -> MarketEvents:
    events = load_market(parse_data_spec(data))
    if events is None:
        msg = f"{data} is not recorded data"
        raise SystemExit(msg)
    return events


def _halves(data: str) -> tuple[tuple[str, str], tuple[str, str]]:
    """First half and second half of a capture, in market time."""
    events = _events(data)
    start, end = int(events.start_ns) + 10**9, int(events.ts[-1])
    mid = (start + end) // 2
    return (clock_of(start), clock_of(mid)), (clock_of(mid), clock_of(end))


def _fees(data: str, fees: tuple[str, float, float]) -> str:
    kind, maker, taker = fees
    if kind == "rate":
        return f"maker_fee={maker},taker_fee={taker}"
    events = _events(data)  # a fee per share: as a rate at the day's price
    price = float(np.median(events.price[events.kind == 2])) * events.tick * 1e-4  # USD
    return f"maker_fee={maker / price:.3e},taker_fee={taker / price:.3e}"


def main() -> None:
    """Fit, tune and judge every strategy on every data set; print the table."""
    say = sys.stdout.write
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("runs/oos"))
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--only", default=None, help="One data set's name.")
    parser.add_argument("--objective", default="edge", help="What train is ranked by.")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for name, (data, train, test, fees) in DATASETS.items():
        if args.only and args.only != name:
            continue
        if train is None or test is None:
            train, test = _halves(data)
        spec = f"{data},{_fees(data, fees)}"
        fitted = fit_market(f"{spec},start={train[0]},end={train[1]}")
        (args.out / f"{name}.params.json").write_bytes(msgspec.json.encode(fitted))
        for strategy in STRATEGIES:
            result = tune(strategy, spec, train, test, trials=args.trials, seed=0,
                          objective=args.objective,
                          fitted=params_for(fitted, strategy))  # fmt: skip
            (args.out / f"{name}.{strategy}.json").write_bytes(msgspec.json.encode(result))
            o = result.out_of_sample
            rows.append((name, strategy, f"{train[0]}-{train[1]}", f"{test[0]}-{test[1]}", o))
            say(json.dumps({"data": name, "strategy": strategy, "oos": o}) + "\n")
            sys.stdout.flush()
    say(
        "\n| data | strategy | minutes | fills | PnL [95% CI] | spread | adverse | inventory "
        "| fees | edge [95% CI] | edge 5 s [95% CI] | edge 30 s [95% CI] |\n"
    )
    say("|---|---|---|---|---|---|---|---|---|---|---|---|\n")

    def cell(value: float, ci: list[float] | None) -> str:
        return f"{value:,.0f}" + ("" if ci is None else f" [{ci[0]:,.0f}, {ci[1]:,.0f}]")

    for name, strategy, _tr, _te, o in rows:
        marked, marked_ci = o["markout_edge"], o["markout_edge_ci95"]
        say(f"| {name} | {strategy} | {o['buckets']} | {o['fills']:,} "
            f"| {cell(o['pnl'], o['pnl_ci95'])} | {o['pnl_spread']:,.0f} "
            f"| {o['pnl_adverse']:,.0f} | {o['pnl_inventory']:,.0f} | {o['pnl_fees']:,.0f} "
            f"| {cell(o['edge'], o['edge_ci95'])} "
            f"| {cell(marked.get('5s', 0.0), marked_ci.get('5s'))} "
            f"| {cell(marked.get('30s', 0.0), marked_ci.get('30s'))} |\n")  # fmt: skip


if __name__ == "__main__":
    main()
