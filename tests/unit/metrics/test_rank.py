"""Ranking runs by an objective: a run that never traded never ranks above one that did."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from makerkit.cli import app
from makerkit.core import ConfigError
from makerkit.metrics import objective_value, rank_runs


def run(**kw: Any) -> dict[str, Any]:
    base = {"pnl_total": 0.0, "pnl_spread": 0.0, "pnl_adverse": 0.0, "pnl_inventory": 0.0,
            "pnl_fees": 0.0, "liquidation_cost": 0.0, "pnl_per_bucket_ci95": [-1.0, 1.0],
            "sharpe": None, "fills": 10}  # fmt: skip
    return base | kw


def test_a_run_without_fills_never_ranks_above_one_with_fills() -> None:
    runs = {
        "idle": run(fills=0, pnl_total=0.0, pnl_per_bucket_ci95=[0.0, 0.0], sharpe=0.0),
        "loser": run(pnl_total=-500.0, pnl_adverse=-30.0, pnl_per_bucket_ci95=[-9.0, -1.0]),
        "winner": run(pnl_total=200.0, pnl_spread=40.0, pnl_adverse=-10.0, sharpe=1.0),
    }
    for objective in ("edge", "pnl", "pnl_after_liquidation", "pnl_ci_low", "sharpe"):
        order = rank_runs(runs, objective)
        assert order[-1] == "idle", objective  # 0 beats -500, but it never traded
        assert order[0] == "winner", objective


def test_objectives() -> None:
    drift = run(pnl_total=1000.0, pnl_spread=20.0, pnl_adverse=-50.0, pnl_inventory=1030.0,
                liquidation_cost=300.0)  # fmt: skip
    assert objective_value(drift, "edge") == -30.0  # the inventory drift does not count
    assert objective_value(drift, "pnl") == 1000.0
    assert objective_value(drift, "pnl_after_liquidation") == 700.0
    assert objective_value(drift, "pnl_ci_low") == -1.0
    assert objective_value(drift, "sharpe") is None
    # edge ranks the honest trader first, pnl the lucky one
    honest = run(pnl_total=100.0, pnl_spread=60.0, pnl_adverse=-20.0, pnl_inventory=60.0)
    runs = {"drift": drift, "honest": honest}
    assert rank_runs(runs, "edge") == ["honest", "drift"]
    assert rank_runs(runs, "pnl") == ["drift", "honest"]
    # no Sharpe (too few buckets) ranks below any Sharpe
    assert rank_runs({"a": run(sharpe=None), "b": run(sharpe=-2.0)}, "sharpe") == ["b", "a"]
    with pytest.raises(ConfigError, match="must be one of"):
        objective_value(drift, "sortino")


def test_the_edge_at_a_longer_mark_out_sees_adverse_selection_the_next_mark_missed() -> None:
    # 10 lots that earned 2 ticks each by the next mark and lost 1 each by 30 s
    picked = run(pnl_spread=30.0, pnl_adverse=-10.0, pnl_fees=-2.0, volume=10,
                 markouts={"1s": 1.0, "5s": 0.0, "30s": -1.0})  # fmt: skip
    assert objective_value(picked, "edge") == 18.0
    assert objective_value(picked, "edge_1s") == 8.0
    assert objective_value(picked, "edge_30s") == -12.0
    # a sweep's flat row carries the same numbers
    row = {"pnl_fees": -2.0, "volume": 10, "markout_5s": 0.5}
    assert objective_value(row, "edge_5s") == 3.0
    assert objective_value({"pnl_fees": 0.0, "volume": 3}, "edge_5s") is None  # no mark-out
    steady = run(pnl_spread=17.0, pnl_adverse=-2.0, volume=10, markouts={"30s": 1.0})
    runs = {"picked": picked, "steady": steady}
    assert rank_runs(runs, "edge") == ["picked", "steady"]  # 18 against 15 at the next mark
    assert rank_runs(runs, "edge_30s") == ["steady", "picked"]  # 10 against -12 at 30 s


def test_compare_ranks_and_shows_the_ci(tmp_path: Path) -> None:
    runner = CliRunner()
    args = ["compare", "--strategies", "symmetric,glft", "--data", "synthetic:events=20000",
            "--objective", "pnl", "--out", str(tmp_path), "--json"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout.strip().splitlines()[-1])
    rows = payload["strategies"]
    assert payload["objective"] == "pnl" and set(payload["ranking"]) == {"symmetric", "glft"}
    assert [rows[n]["rank"] for n in payload["ranking"]] == [1, 2]
    assert list(rows) == payload["ranking"]
    first, second = (rows[n] for n in payload["ranking"])
    assert (first["fills"] > 0) >= (second["fills"] > 0)
    if first["fills"] > 0 and second["fills"] > 0:
        assert first["objective"] >= second["objective"]
    assert all(len(r["pnl_per_bucket_ci95"]) == 2 for r in rows.values())
    saved = json.loads((tmp_path / "comparison.json").read_text())
    assert list(saved) == payload["ranking"]
    bad = runner.invoke(app, [*args[:5], "--objective", "luck", "--out", str(tmp_path)])
    assert bad.exit_code == 2 and "must be one of" in bad.output


def test_a_sweep_ranks_configurations_and_never_puts_an_idle_one_first() -> None:
    from makerkit.distributed import summarise

    def row(strategy: str, seed: int, **kw: Any) -> dict[str, Any]:
        return run(kind="backtest", strategy=strategy, market="synthetic", params="{}",
                   seed=seed, avg_abs_inventory=1.0, **kw)  # fmt: skip

    rows = [
        row("idle", 1, fills=0), row("idle", 2, fills=0),
        row("drift", 1, pnl_total=900.0, pnl_spread=5.0, pnl_adverse=-20.0),
        row("drift", 2, pnl_total=700.0, pnl_spread=5.0, pnl_adverse=-30.0),
        row("edge", 1, pnl_total=50.0, pnl_spread=40.0, pnl_adverse=-10.0, sharpe=1.0),
        row("edge", 2, pnl_total=30.0, pnl_spread=30.0, pnl_adverse=-10.0, sharpe=2.0),
    ]  # fmt: skip
    by_edge = summarise(rows)
    assert [s["strategy"] for s in by_edge] == ["edge", "drift", "idle"]
    assert by_edge[0]["objective"] == 25.0 and by_edge[0]["sharpe_mean"] == 1.5
    lo, hi = by_edge[0]["pnl_mean_ci95"]
    assert lo <= by_edge[0]["pnl_mean"] <= hi and (lo, hi) == tuple(
        summarise(rows)[0]["pnl_mean_ci95"]
    )
    assert [s["strategy"] for s in summarise(rows, "pnl")] == ["drift", "edge", "idle"]
    # by Sharpe: none from too few buckets ranks below any, and idle stays last
    assert [s["strategy"] for s in summarise(rows, "sharpe")] == ["edge", "drift", "idle"]
    with pytest.raises(ConfigError, match="must be one of"):
        summarise(rows, "luck")
