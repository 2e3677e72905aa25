"""Golden backtests: each built-in strategy's numbers, fills and path, on the simulator and a
recorded day, byte for byte.

They were recorded before the execution layer replaced the backtesters' own loops, so a
refactor of the loop that changes any decision, order or fill fails here. Regenerate with
``pytest --update-golden`` only for a change meant to move the numbers (and say why).
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

import msgspec
import pytest

from makerkit.backtest import (
    BacktestConfig,
    load_market,
    parse_data_spec,
    run_on_spec,
    run_synthetic_backtest,
)
from makerkit.strategies import STRATEGIES, make_strategy

GOLDEN = Path(__file__).parent / "backtests.json"
# the order manager's rules and the fees, which the synthetic spec does not take
COSTS = {"maker_fee": -0.2, "taker_fee": 0.5, "min_quote_life_ms": 200.0,
         "price_tolerance": 1, "post_only": False}  # fmt: skip

SPECS = {
    "sim": "synthetic:seed=7,events=30000",
    "sim_costs": "synthetic:seed=11,events=30000",  # with COSTS below
    "goog": "lobster:GOOG",
    "goog_python": "lobster:GOOG,native_strategy=false,decision_ms=1000,order_latency_ms=5",
}


def _digest(obj: Any) -> str:
    return hashlib.sha256(msgspec.json.encode(obj)).hexdigest()


def _summary(result: Any) -> dict[str, Any]:
    """What must not move: every metric, and digests of every fill and of the path."""
    path = {k: ["nan" if isinstance(v, float) and math.isnan(v) else v for v in col]
            for k, col in result.path.items()}  # fmt: skip
    metrics = msgspec.to_builtins(result.metrics)
    since = ("orders_sent", "max_live_orders", "edge", "edge_ci95", "markout_edge",
             "markout_edge_ci95")  # counted since the record  # fmt: skip
    for key in since:
        metrics.pop(key, None)
    return {
        "metrics": metrics,
        "fills": len(result.fills),
        "fills_sha256": _digest(result.fills),
        "path_rows": len(result.path["ts"]),
        "path_sha256": _digest(path),
        "stopped": result.stopped,
    }


def _close(a: Any, b: Any) -> bool:
    """Equal, with floats to 1e-9 relative (a sum's last bit may differ between libms)."""
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _run(case: str) -> dict[str, Any]:
    spec = parse_data_spec(SPECS[case])
    market = load_market(spec)
    out = {}
    for name in STRATEGIES:
        if case == "sim_costs":
            cfg = BacktestConfig(**spec.options, **COSTS)
            result = run_synthetic_backtest(make_strategy(name), cfg)
        else:
            result = run_on_spec(make_strategy(name), spec, market)
        out[name] = json.loads(json.dumps(_summary(result)))
    return out


@pytest.mark.parametrize("case", ["sim", "sim_costs"])
def test_synthetic_backtests_match_the_golden_record(case: str, update_golden: bool) -> None:
    _check(case, update_golden)


@pytest.mark.parametrize("case", ["goog", "goog_python"])
def test_recorded_day_backtests_match_the_golden_record(
    case: str, update_golden: bool, data_root: Path
) -> None:
    _check(case, update_golden)


def _check(case: str, update_golden: bool) -> None:
    got = _run(case)
    record = json.loads(GOLDEN.read_text()) if GOLDEN.exists() else {}
    if update_golden:
        record[case] = got
        GOLDEN.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
    expected = record[case]
    assert got.keys() == expected.keys()
    for name in got:
        for key in got[name]:
            assert _close(got[name][key], expected[name][key]), (case, name, key)
