"""The held-out episodes say why a policy earns: fills and the PnL split into its parts."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("gymnasium")

from makerkit.rl._evaluate import PNL_PARTS, _strategy, evaluate_lob, play
from makerkit.rl._lob_env import LOBEnvConfig
from makerkit.rl._replay_env import make_market_env
from makerkit.strategies import make_strategy


def _by_hand(cfg: LOBEnvConfig, seed: int) -> tuple[float, float, float, int]:
    """Spread, adverse and inventory of the symmetric strategy, summed step by step here."""
    env = make_market_env(cfg)
    strategy = make_strategy("symmetric")
    _, info = env.reset(seed=seed)
    mid, position = info["mid"], 0
    spread = adverse = inventory = 0.0
    volume, done, truncated = 0, False, False
    while not (done or truncated):
        ctx = env.context()
        for side, price, qty in env.new_fills:
            strategy.on_fill(side, price, qty, ctx)
        _, _, done, truncated, info = env.step_intent(strategy.quote(ctx))
        inventory += position * (info["mid"] - mid)  # what was held through the step
        for side, price, qty in info["new_fills"]:
            spread += side * qty * (mid - price)  # against the mid the quotes were set at
            adverse += side * qty * (info["mid"] - mid)  # marked out at the step's end
            volume += qty
        mid, position = info["mid"], info["position"]
    return spread, adverse, inventory, volume


def test_the_parts_are_those_summed_by_hand_and_add_up_to_the_pnl() -> None:
    cfg = LOBEnvConfig(episode_steps=60)
    rows = evaluate_lob(cfg, [3, 4], fit_seed=1)
    traded = 0
    for name, row in rows.items():
        for episode in row["episodes"]:
            total = sum(episode[k] for k in PNL_PARTS)
            assert total == pytest.approx(episode["pnl"], abs=1e-9), name
            assert episode["pnl_fees"] == 0.0  # the simulated book charges none
            assert episode["volume"] >= episode["fills"]
            traded += episode["fills"]
        for k in PNL_PARTS:
            assert row[f"{k}_mean"] == pytest.approx(
                sum(e[k] for e in row["episodes"]) / len(row["episodes"])
            )
    assert traded > 0
    spread, adverse, inventory, volume = _by_hand(cfg, 3)
    ours = rows["symmetric"]["episodes"][0]
    assert ours["volume"] == volume > 0
    assert (ours["pnl_spread"], ours["pnl_adverse"], ours["pnl_inventory"]) == pytest.approx(
        (spread, adverse, inventory), abs=1e-9
    )
    assert ours["pnl_spread"] > 0  # a resting quote earns the half spread it is away from the mid


def test_a_recorded_day_with_fees_counts_them_in_the_split(data_root: Path) -> None:
    cfg = LOBEnvConfig(
        data="lobster:GOOG,queue=probabilistic,order_latency_ms=1,maker_fee=0.0002",
        episode_steps=80, decision_ms=500.0,
    )  # fmt: skip
    decide = _strategy(make_strategy("symmetric"))  # as `rl evaluate` plays a strategy
    for seed in (1, 2, 3):
        episode = play(decide, cfg, seed)
        if episode["fills"]:
            break
    assert episode["fills"] > 0
    assert episode["pnl_fees"] < 0  # a maker fee is paid on every fill
    total = sum(episode[k] for k in PNL_PARTS)
    assert total == pytest.approx(episode["pnl"], rel=1e-12, abs=1e-9)
