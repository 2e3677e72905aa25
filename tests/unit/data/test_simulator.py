"""The order-flow simulator: deterministic, one algorithm in both engines, a real market."""

from __future__ import annotations

import numpy as np
import pytest

from makerkit.backtest import apply_stream
from makerkit.book import available_backends, make_book
from makerkit.core import ConfigError
from makerkit.data import MarketSimulator, SimParams, SimRun, simulate

FIELDS = ("action", "order_id", "side", "price", "qty", "ts")


def same_run(a: SimRun, b: SimRun) -> bool:
    streams = all(np.array_equal(getattr(a.stream, f), getattr(b.stream, f)) for f in FIELDS)
    counts = (a.fills, a.volume, a.rejected, a.proposals) == (
        b.fills,
        b.volume,
        b.rejected,
        b.proposals,
    )
    return streams and counts and np.array_equal(a.l1, b.l1)


def test_same_seed_same_stream_other_seed_other_stream(backend: str) -> None:
    first = simulate(events=5000, seed=11, engine=backend)
    assert same_run(first, simulate(events=5000, seed=11, engine=backend))
    assert not same_run(first, simulate(events=5000, seed=12, engine=backend))
    assert len(first) == 5000 and first.fills > 0 and first.seconds > 0


@pytest.mark.skipif("native" not in available_backends(), reason="needs the native engine")
def test_native_and_python_emit_the_same_market_chunk_by_chunk() -> None:
    params = SimParams.default(informed=1.5)
    native = MarketSimulator(params, seed=5, engine="native")
    python = MarketSimulator(params, seed=5, engine="python")
    for chunk in (3000, 1, 7000):
        assert same_run(native.run(chunk), python.run(chunk))
    native.value = python.value = native.value + 25  # re-anchoring keeps them together
    assert same_run(native.run(4000), python.run(4000))


@pytest.mark.parametrize("replay", available_backends())
def test_the_stream_replays_to_the_same_fills(backend: str, replay: str) -> None:
    run = simulate(events=20_000, seed=2, engine=backend)
    book = make_book(replay)
    stats = apply_stream(book, run.stream)
    assert (stats.fills, stats.volume) == (run.fills, run.volume)
    bid, ask = book.best_bid(), book.best_ask()
    assert run.l1[-1].tolist() == [*(bid or (0, 0)), *(ask or (0, 0))]


def price_response(run: SimRun, horizon: int = 50) -> float:
    """Mean mid move over the next `horizon` commands, signed by each market order's side."""
    l1 = run.l1.astype(np.float64)
    both = (l1[:, 0] > 0) & (l1[:, 2] > 0)
    mid = np.where(both, (l1[:, 0] + l1[:, 2]) / 2, np.nan)
    idx = np.flatnonzero(run.stream.action == 3)
    idx = idx[idx + horizon < len(mid)]
    moves = (mid[idx + horizon] - mid[idx - 1]) * run.stream.side[idx]
    return float(np.nanmean(moves))


def test_informed_flow_makes_market_orders_predict_the_price(backend: str) -> None:
    informed = simulate(SimParams.default(informed=2.0), events=60_000, seed=4, engine=backend)
    noise = simulate(SimParams.default(informed=0.0), events=60_000, seed=4, engine=backend)
    # adverse selection: after a market buy the price goes up (and down after a sell)
    assert price_response(informed) > 0.3
    assert price_response(informed) > 2 * abs(price_response(noise))


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"limit_rate": ()}, "limit_rate"),
        ({"cancel_rate": (0.1, -1.0)}, "cancel_rate"),
        ({"market_rate": float("nan")}, "market_rate"),
        ({"hawkes_alpha": 3.0, "hawkes_beta": 2.0}, "hawkes_alpha"),
        ({"limit_sizes": (1, 2), "limit_size_cdf": (1.0,)}, "limit_sizes"),
        ({"market_size_cdf": (0.0,)}, "market_sizes"),
        ({"start_price": 1}, "start_price"),
    ],
)
def test_bad_parameters_name_the_field(change: dict[str, object], field: str) -> None:
    base = {f: getattr(SimParams.default(), f) for f in SimParams.__struct_fields__}
    with pytest.raises(ConfigError, match=field):
        SimParams(**(base | change))


def test_bad_run_arguments(backend: str) -> None:
    sim = MarketSimulator(SimParams.default(), engine=backend)
    with pytest.raises(ConfigError, match="events"):
        sim.run(-1)
    with pytest.raises(ConfigError, match="backend"):
        MarketSimulator(SimParams.default(), backend="gpu")
    with pytest.raises(ConfigError, match="backend"):
        MarketSimulator(SimParams.default(), engine="gpu")  # the old name, same check
    with pytest.raises(ConfigError, match="old name"):
        MarketSimulator(SimParams.default(), backend="python", engine="native")
    assert len(sim.run(0)) == 0
    assert MarketSimulator(SimParams.default(), backend=backend).engine == backend


@pytest.mark.skipif("native" not in available_backends(), reason="needs the native engine")
def test_engines_agree_when_others_trade_the_simulated_orders_away() -> None:
    params = SimParams.default()
    sims = [MarketSimulator(params, seed=9, engine=e) for e in ("native", "python")]
    runs: list[list[SimRun]] = [[], []]
    oid = 1 << 40
    for _ in range(60):
        oid += 1
        for sim, out in zip(sims, runs, strict=True):
            out.append(sim.run(150))
            ask = sim.book.best_ask()
            if ask is not None:  # another trader lifts the offer and more: makers vanish
                sim.book.submit(oid, 1, ask[0] + 1, 25, account=7)
    for a, b in zip(*runs, strict=True):
        assert same_run(a, b)
