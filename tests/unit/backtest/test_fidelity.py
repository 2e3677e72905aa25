"""The fidelity benchmark: books checked, each L2 queue model scored against L3 truth."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from makerkit.backtest import ReplayConfig
from makerkit.cli._bench_fidelity import (
    L2_MODELS,
    STRATEGIES,
    _fill_times,
    _markout,
    _score,
    fidelity_table,
    run_fidelity_bench,
)
from makerkit.core.errors import DataError

S = 1_000_000_000


def fake(fills: list[tuple[int, int, int, int]], pnl: float = 0.0) -> Any:
    class Run:
        pass

    run = Run()
    run.fills = fills  # type: ignore[attr-defined]
    run.path = {"ts": [0, S, 2 * S, 3 * S], "mid": [100.0, 102.0, 102.0, 102.0]}  # type: ignore[attr-defined]
    run.metrics = type("M", (), {"pnl_total": pnl, "fills": len(fills)})()  # type: ignore[attr-defined]
    return run


def test_markout_and_fill_times_by_hand() -> None:
    # bought 1 @ 99 and sold 3 @ 101 at t = 0: 1 s later the mid is 102
    run = fake([(0, 1, 99, 1), (0, -1, 101, 3)])
    assert _markout(run) == pytest.approx((1 * 3 + 3 * -1) / 4)
    assert _markout(fake([])) is None
    times = _fill_times(fake([(0, 1, 99, 1), (2 * S, 1, 99, 3)]))
    assert times is not None
    assert times[0] == 0.0 and times[-1] == 2.0  # 25% filled at 0 s, the rest at 2 s
    assert _fill_times(fake([])) is None


def test_a_model_equal_to_the_truth_scores_zero_and_a_double_filler_scores_its_error() -> None:
    truth = fake([(0, 1, 99, 2), (S, -1, 103, 2)], pnl=10.0)
    same = _score([{"run": truth, "truth": truth}])
    assert same["fills_ratio_vs_l3"] == 1.0 and same["pnl_error"] == 0.0 and same["score"] == 0
    double = fake([(0, 1, 99, 4), (S, -1, 103, 4)], pnl=30.0)
    scored = _score([{"run": double, "truth": truth}])
    assert scored["fills_ratio_vs_l3"] == 2.0 and scored["pnl_error"] == 20.0
    assert scored["score"] == pytest.approx(math.log(2) + 2.0)


def test_the_models_cover_the_issue_and_the_default_is_one_of_them() -> None:
    assert len(L2_MODELS) == 8 and len(STRATEGIES) == 6
    default = ReplayConfig()
    assert any(
        f["queue"] == default.queue and f["queue_power"] == default.queue_power
        and f["clear_on_trade"] == default.clear_on_trade
        for f in L2_MODELS.values()
    )  # fmt: skip


@pytest.mark.expensive
def test_a_small_run_reports_the_contract(data_root: Path) -> None:
    out = run_fidelity_bench(
        lambda _m: None, root=data_root, repeat=1, strategies=STRATEGIES[:1],
        peers=lambda: (None, "no peers here"),
    )  # fmt: skip
    assert out["crossed_events"] == 0
    assert {d["data"].split(":")[0] for d in out["data_quality"]} == {"binance", "lobster"}
    models = out["queue_models"]
    assert set(models) == {"l3", *L2_MODELS}
    assert models["l3"]["fills_ratio_vs_l3"] == 1.0 and models["l3"]["pnl_error"] == 0.0
    for scored in models.values():
        assert {"fills_ratio_vs_l3", "pnl_error", "markout_error"} <= set(scored)
    assert out["default_queue_model"] in L2_MODELS
    assert out["peer_parity"] is None and out["peer_parity_reason"] == "no peers here"
    assert fidelity_table(out).row_count == len(models)


def test_a_root_without_lobster_days_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "lobster").mkdir()
    with pytest.raises(DataError, match="no LOBSTER day"):
        run_fidelity_bench(lambda _m: None, root=tmp_path)
