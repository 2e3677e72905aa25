"""queue=l3: our order in the real FIFO queue of order-level data, in both engines."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from makerkit.backtest import ReplayConfig, run_replay_backtest
from makerkit.backtest._events import (
    ADD,
    CANCEL,
    EXECUTE,
    HIDDEN,
    MarketEvents,
    data_quality,
    lobster_events,
    recorded_events,
)
from makerkit.backtest._l3 import lobster_l3_events, stream_l3_events
from makerkit.backtest._replay import make_replay_core
from makerkit.backtest._replay_core import RUN_DECISION, RUN_END
from makerkit.backtest._spec import parse_data_spec, run_on_spec
from makerkit.book import available_backends
from makerkit.core.errors import ConfigError, DataError
from makerkit.data import (
    ACTION_ADD,
    ACTION_CANCEL,
    ACTION_MARKET,
    ACTION_MODIFY,
    LobsterDay,
    OrderStream,
    load_lobster,
    simulate,
)
from makerkit.strategies import make_strategy
from tests.unit.backtest.conftest import head

ENGINES = ["python"] + (["native"] if "native" in available_backends() else [])
MS = 1_000_000
AMZN = "AMZN_2012-06-21_34200000_57600000_{}_5.csv.gz"


def l3(rows: list[tuple[int, int, int, int, int, int]]) -> MarketEvents:
    """(ts_ms, kind, side, price, qty, ref) rows."""
    cols = np.asarray(rows, dtype=np.int64)
    return MarketEvents(
        ts=cols[:, 0] * MS, kind=cols[:, 1], side=cols[:, 2], price=cols[:, 3], qty=cols[:, 4],
        ref=cols[:, 5], source="test", symbol="T", start_ns=0,
    )  # fmt: skip


def l3_core(rows: list[tuple[int, int, int, int, int, int]], engine: str, **cfg: Any) -> Any:
    defaults: dict[str, Any] = {"order_latency_ms": 0.0, "decision_ms": 1e6, "queue": "l3"}
    return make_replay_core(l3(rows), ReplayConfig(engine=engine, **(defaults | cfg)))


# the book: bids A 5 @ 100, B 3 @ 100, F 4 @ 99; ask C 10 @ 102 (events 0-3 at t = 0)
SEED = [(0, ADD, 1, 100, 5, 0), (0, ADD, 1, 100, 3, 1), (0, ADD, -1, 102, 10, 2),
        (0, ADD, 1, 99, 4, 3)]  # fmt: skip


@pytest.mark.parametrize("engine", ENGINES)
def test_a_hand_computed_queue(engine: str) -> None:
    """We bid 4 @ 100 at t = 0 behind A and B (8 ahead); worked by hand:

    D joins behind us, B cancels (ahead 5), D cancels (behind: still 5), A executes
    2 (ahead 3), E joins behind us, A executes 3 (ahead 0), E executes 2: it reached
    us first, we fill 2; a hidden sell at 100 fills 1 more (displayed first); an
    execution at 99 went through our price: our last lot.
    """
    rows = [
        *SEED,
        (1, ADD, 1, 100, 6, 4),  # D
        (2, CANCEL, 1, 100, 3, 1),  # B
        (3, CANCEL, 1, 100, 6, 4),  # D
        (4, EXECUTE, 1, 100, 2, 0),  # A
        (5, ADD, 1, 100, 2, 8),  # E
        (6, EXECUTE, 1, 100, 3, 0),  # A, gone
        (7, EXECUTE, 1, 100, 2, 8),  # E
        (8, HIDDEN, 1, 100, 1, 11),
        (9, EXECUTE, 1, 99, 4, 3),  # F
    ]
    c = l3_core(rows, engine)
    assert c.run(1 << 40) == RUN_DECISION and c.now == 0
    c.submit(1, 1, 100, 4)
    ahead = {}  # events applied -> the volume ahead of us then
    while c.run(1) != RUN_END:
        c.notices()  # a fill wakes the strategy until it has read it
        ahead[c.events_done] = c.queue_ahead(1)
    ahead[c.events_done] = c.queue_ahead(1)
    # after D, B, D, A, E, A, E, hidden, F (-1: filled)
    assert [ahead[k] for k in range(5, 14)] == [8, 5, 5, 3, 3, 0, 0, 0, -1]
    fills = c.fills()
    assert fills[0].tolist() == [7 * MS, 8 * MS, 9 * MS]  # when
    assert fills[4].tolist() == [2, 1, 1]  # how much
    assert set(fills[3].tolist()) == {100} and fills[5].tolist() == [1, 1, 1]  # maker
    assert c.position == 4 and c.cash == -400 and c.fifo_exceptions == 0
    assert c.touch() == (None, 0, 102, 10)  # the record emptied every bid; ours took nothing


@pytest.mark.parametrize("engine", ENGINES)
def test_an_order_arriving_through_our_quote_trades_with_us(engine: str) -> None:
    # we improve the bid to 101 (nothing ahead); a sell of 5 rests at 101: it would
    # have traded with us (3 lots, all we bid); then an execution behind our order at
    # 100 while A and B are ahead of it is a FIFO exception: no fill there
    rows = [*SEED, (1, ADD, -1, 101, 5, 4), (2, ADD, 1, 100, 1, 5), (3, EXECUTE, 1, 100, 1, 5)]
    c = l3_core(rows, engine)
    c.run(1 << 40)
    c.submit(1, 1, 101, 3)
    c.submit(2, 1, 100, 1)
    while c.run(1 << 40) != RUN_END:
        c.notices()
    fills = c.fills()
    assert fills[1].tolist() == [1] and fills[3].tolist() == [101] and fills[4].tolist() == [3]
    assert c.fifo_exceptions == 1 and c.queue_ahead(2) == 8


def _random_stream(rng: random.Random, n: int) -> list[tuple[int, int, int, int, int, int]]:
    """A FIFO market at bids 98-100 / asks 102-104 (executions take the level's front)."""
    rows: list[tuple[int, int, int, int, int, int]] = []
    live: dict[int, list[int]] = {}  # add index -> [side, price, left]
    queues: dict[tuple[int, int], list[int]] = {}
    for t in range(n):
        side = rng.choice((1, -1))
        price = rng.choice((98, 99, 100)) if side > 0 else rng.choice((102, 103, 104))
        q = queues.setdefault((side, price), [])
        r = rng.random()
        if r < 0.45 or not q:
            i = len(rows)
            live[i] = [side, price, rng.randint(1, 5)]
            q.append(i)
            rows.append((t + 1, ADD, side, price, live[i][2], i))
        elif r < 0.75:  # a cancel anywhere in the queue
            i = rng.choice(q)
            take = rng.randint(1, live[i][2])
            rows.append((t + 1, CANCEL, side, price, take, i))
            live[i][2] -= take
        elif r < 0.95:  # an execution at the front
            i = q[0]
            take = rng.randint(1, live[i][2])
            rows.append((t + 1, EXECUTE, side, price, take, i))
            live[i][2] -= take
        else:
            rows.append((t + 1, HIDDEN, side, price, rng.randint(1, 3), len(rows)))
        queues[(side, price)] = [i for i in q if live[i][2] > 0]
    return rows


@pytest.mark.parametrize("seed", range(6))
def test_random_fifo_markets_against_a_queue_of_named_orders(seed: int) -> None:
    """An independent oracle keeps the level's queue as a list with our order in it."""
    rng = random.Random(seed)
    rows = _random_stream(rng, 3_000)
    ours_price, arrive_ms = rng.choice((99, 100)), rng.randint(200, 1_500)
    for engine in ENGINES:
        c = l3_core(rows, engine, decision_ms=float(arrive_ms))
        while c.run(1 << 40) != RUN_DECISION or c.now < arrive_ms * MS:
            pass
        c.submit(1, 1, ours_price, 50)
        done = c.events_done
        # the oracle: (add index or "us", lots) in queue order at our price
        queue: list[list[Any]] = []
        left = {i: r[4] for i, r in enumerate(rows) if r[1] == ADD}
        for r in rows[:done]:
            if r[1] in (CANCEL, EXECUTE):
                left[r[5]] -= r[4]
        queue = [[i, left[i]] for i, r in enumerate(rows[:done])
                 if r[1] == ADD and r[2] == 1 and r[3] == ours_price and left[i] > 0]  # fmt: skip
        queue.append(["us", 50])
        expected_fills = 0
        previous = float("inf")
        for i in range(done, len(rows)):
            _ts, kind, side, price, qty, ref = rows[i]
            us = next(e for e in queue if e[0] == "us")
            ahead = sum(e[1] for e in queue[: queue.index(us)])
            if side == 1 and us[1] > 0:
                if kind == ADD and price == ours_price:
                    queue.append([i, qty])
                elif kind in (CANCEL, EXECUTE) and price == ours_price:
                    entry = next((e for e in queue if e[0] == ref), None)
                    before = entry is not None and queue.index(entry) < queue.index(us)
                    if entry is not None:
                        entry[1] -= qty
                    if kind == EXECUTE and not before and ahead == 0:
                        take = min(us[1], qty)
                        us[1] -= take
                        expected_fills += take
                elif (kind == HIDDEN and price == ours_price and ahead == 0) or (
                    kind in (EXECUTE, HIDDEN) and price < ours_price
                ):
                    take = min(us[1], qty)
                    us[1] -= take
                    expected_fills += take
                queue[:] = [e for e in queue if e[0] == "us" or e[1] > 0]
            while c.events_done == i:  # decisions and fill notices come and go
                c.run(1)
                c.notices()
            now_ahead = c.queue_ahead(1)
            us = next(e for e in queue if e[0] == "us")
            if us[1] > 0:
                want = sum(e[1] for e in queue[: queue.index(us)])
                assert now_ahead == want, (engine, i)
                assert now_ahead <= previous  # our position never increases
                previous = now_ahead
            assert c.position == expected_fills, (engine, i)
        assert expected_fills > 0  # the run reached our order


@pytest.fixture(scope="module")
def amzn(data_root: Path) -> LobsterDay:
    lob = data_root / "lobster"
    return load_lobster(lob / AMZN.format("message"), lob / AMZN.format("orderbook"))


def test_the_order_level_stream_rebuilds_the_days_book(amzn: LobsterDay) -> None:
    day = head(amzn, 40_000)
    ev = lobster_l3_events(day)
    assert ev.order_level and not ev.notes
    assert data_quality(ev)["crossed_events"] == 0
    assert set(np.unique(ev.kind).tolist()) <= {ADD, CANCEL, EXECUTE, HIDDEN}
    # every cancel and execution names an earlier add at its side and price
    touch = np.flatnonzero(np.isin(ev.kind, (CANCEL, EXECUTE)))
    assert (ev.ref[touch] < touch).all()
    assert (ev.kind[ev.ref[touch]] == ADD).all()
    assert (ev.price[ev.ref[touch]] == ev.price[touch]).all()
    # the L3 book ends where the L2 view (read from the orderbook file) ends
    tops = []
    for stream, queue in ((ev, "l3"), (lobster_events(day), "probabilistic")):
        core = make_replay_core(stream, ReplayConfig(queue=queue, decision_ms=1e12))
        while core.run(1 << 62) != RUN_END:
            pass
        tops.append((*core.top(-1, 5), *core.top(1, 5)))
    assert tops[0] == tops[1]


@pytest.mark.skipif("native" not in available_backends(), reason="needs the native engine")
@pytest.mark.parametrize(
    ("name", "params"),
    [("symmetric", {"half_spread": 1.0}), ("glft", {"sigma": 5.0, "max_position": 5})],
)
def test_native_and_python_agree_on_a_lobster_day(
    amzn: LobsterDay, name: str, params: dict[str, Any]
) -> None:
    ev = lobster_l3_events(head(amzn, 30_000))
    runs = {
        (engine, kernel): run_replay_backtest(
            make_strategy(name, **params), ev,
            ReplayConfig(queue="l3", engine=engine, native_strategy=kernel, order_latency_ms=1.0),
        )
        for engine in ("native", "python") for kernel in (True, False)
    }  # fmt: skip
    first = runs["native", True]
    assert first.metrics.fills > 20
    for run in runs.values():
        assert run.fills == first.fills and run.metrics == first.metrics


@pytest.mark.usefixtures("data_root")
def test_bad_input_gets_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="l3"):
        ReplayConfig(queue="fifo")
    rows = [*SEED, (1, ADD, 1, 100, 1, 4)]
    with pytest.raises(ConfigError, match="queue=l3 only"):
        make_replay_core(l3(rows), ReplayConfig(queue="probabilistic"))
    l2 = MarketEvents(
        ts=np.zeros(2, np.int64), kind=np.ones(2, np.int64), side=np.asarray([1, -1]),
        price=np.asarray([100, 102]), qty=np.asarray([5, 5]), source="test", symbol="T",
    )  # fmt: skip
    with pytest.raises(ConfigError, match="needs order-level events"):
        make_replay_core(l2, ReplayConfig(queue="l3"))
    empty = MarketEvents(
        ts=np.zeros(0, np.int64), kind=np.zeros(0, np.int64), side=np.zeros(0, np.int64),
        price=np.zeros(0, np.int64), qty=np.zeros(0, np.int64), ref=np.zeros(0, np.int64),
        source="test", symbol="T",
    )  # fmt: skip
    with pytest.raises(DataError, match="no events"):  # a window with nothing in it
        make_replay_core(empty, ReplayConfig(queue="l3"))
    with pytest.raises(DataError, match="only lobster"):
        recorded_events("binance", "btcusdt", order_level=True)


@pytest.mark.usefixtures("data_root")
def test_queue_l3_on_a_spec_and_a_binance_spec_is_refused() -> None:
    spec = parse_data_spec("lobster:AMZN,queue=l3,decision_ms=1000")
    result = run_on_spec(make_strategy("symmetric", half_spread=1.0), spec)
    assert result.metrics.fills > 0 and result.config.queue == "l3"
    with pytest.raises(DataError, match="order-level"):
        run_on_spec(make_strategy("symmetric"), parse_data_spec("binance:BTCUSDT,queue=l3"))


def _stream(rows: list[tuple[int, int, int, int, int]]) -> OrderStream:
    """(action, order_id, side, price, qty) rows, 1 ms apart, GTC."""
    cols = np.asarray(rows, dtype=np.int64)
    n = len(rows)
    return OrderStream(
        action=cols[:, 0], order_id=cols[:, 1], side=cols[:, 2], price=cols[:, 3],
        qty=cols[:, 4], tif=np.zeros(n, np.int64), ts=np.arange(1, n + 1, dtype=np.int64) * MS,
    )  # fmt: skip


def test_a_command_stream_becomes_named_order_events_by_hand() -> None:
    ev = stream_l3_events(_stream([
        (ACTION_ADD, 1, 1, 100, 5),  # rests: add 0
        (ACTION_ADD, 2, 1, 100, 3),  # rests: add 1
        (ACTION_ADD, 3, -1, 102, 4),  # rests: add 2
        (ACTION_MARKET, 4, -1, 0, 6),  # sells 5 into order 1, 1 into order 2
        (ACTION_MODIFY, 2, 1, 0, 1),  # order 2 sized down 2 -> 1 in place
        (ACTION_MODIFY, 3, -1, 103, 4),  # order 3 moves: out, and in again at the back
        (ACTION_ADD, 5, 1, 103, 2),  # crosses order 3's new price: executes 2 of it
        (ACTION_CANCEL, 2, 0, 0, 0),
    ]))  # fmt: skip
    rows = list(zip(*(c.tolist() for c in (ev.kind, ev.side, ev.price, ev.qty, ev.ref)),
                    strict=True))  # fmt: skip
    assert rows == [
        (ADD, 1, 100, 5, 0), (ADD, 1, 100, 3, 1), (ADD, -1, 102, 4, 2),
        (EXECUTE, 1, 100, 5, 0), (EXECUTE, 1, 100, 1, 1),
        (CANCEL, 1, 100, 1, 1),
        (CANCEL, -1, 102, 4, 2), (ADD, -1, 103, 4, 7),
        (EXECUTE, -1, 103, 2, 7),
        (CANCEL, 1, 100, 1, 1),
    ]  # fmt: skip


def test_the_simulators_own_stream_replays_with_its_book() -> None:
    sim = simulate(events=30_000, seed=5)
    ev = stream_l3_events(sim.stream)
    assert ev.order_level and data_quality(ev)["crossed_events"] == 0
    core = make_replay_core(ev, ReplayConfig(queue="l3", decision_ms=1e12))
    while core.run(1 << 62) != RUN_END:
        pass
    bid, bid_size, ask, ask_size = sim.l1[-1].tolist()
    assert core.touch() == (bid, bid_size, ask, ask_size)
    spec = parse_data_spec("synthetic:seed=5,events=30000,queue=l3")
    runs = [
        run_replay_backtest(make_strategy("glft"), ev, ReplayConfig(queue="l3", engine=engine))
        for engine in ENGINES
    ]
    assert runs[0].metrics.fills > 10
    assert all(r.fills == runs[0].fills and r.metrics == runs[0].metrics for r in runs)
    assert run_on_spec(make_strategy("glft"), spec).fills == runs[0].fills
    with pytest.raises(ConfigError, match="queue=l3 only"):
        parse_data_spec("synthetic:seed=5,queue=probabilistic")


@pytest.mark.usefixtures("data_root")
def test_the_cli_backtests_with_queue_l3_and_reports_fifo_exceptions(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from makerkit.cli import app

    out = tmp_path / "bt"
    args = ["backtest", "--strategy", "symmetric", "--param", "half_spread=1",
            "--data", "lobster:GOOG,queue=l3", "--out", str(out)]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    payload = json.loads((out / "metrics.json").read_text())
    assert payload["config"]["queue"] == "l3" and payload["metrics"]["fills"] > 1000
    quality = payload["data_quality"]
    assert quality["crossed_events"] == 0 and quality["fifo_exceptions"] >= 0
