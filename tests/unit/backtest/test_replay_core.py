"""The replay core's queue models, latency and fills on hand-made events, in both engines."""

from __future__ import annotations

import gc
from typing import Any

import msgspec
import numpy as np
import pytest

from makerkit.backtest._events import DEPTH, HIDDEN, TRADE, MarketEvents
from makerkit.backtest._replay import make_replay_core
from makerkit.backtest._replay_config import ReplayConfig
from makerkit.backtest._replay_core import (
    NOTICE_CANCELED,
    NOTICE_FILL,
    NOTICE_REJECTED,
    RUN_DECISION,
    RUN_END,
    RUN_NOTICE,
)
from makerkit.book import available_backends
from makerkit.core.errors import ConfigError

ENGINES = ["python"] + (["native"] if "native" in available_backends() else [])
MS = 1_000_000


def events(rows: list[tuple[int, int, int, int, int]]) -> MarketEvents:
    """(ts_ms, kind, side, price, qty) rows; the book starts 100 bid / 102 ask."""
    base = [(0, DEPTH, 1, 100, 10), (0, DEPTH, -1, 102, 10), (0, DEPTH, 1, 99, 5),
            (0, DEPTH, -1, 103, 5)]  # fmt: skip
    cols = np.asarray(base + rows, dtype=np.int64)
    return MarketEvents(
        ts=cols[:, 0] * MS, kind=cols[:, 1], side=cols[:, 2], price=cols[:, 3], qty=cols[:, 4],
        source="test", symbol="T", start_ns=0,
    )  # fmt: skip


def core(rows: list[tuple[int, int, int, int, int]], engine: str, **cfg: Any) -> Any:
    defaults: dict[str, Any] = {"order_latency_ms": 0.0, "decision_ms": 1000.0}
    return make_replay_core(events(rows), ReplayConfig(engine=engine, **(defaults | cfg)))


def start(c: Any) -> None:
    """Run to the first decision (t = 0, the book seeded)."""
    assert c.run(1 << 40) == RUN_DECISION
    assert c.now == 0


def drain(c: Any) -> list[tuple[int, ...]]:
    """Run to the end; every notice on the way."""
    out: list[tuple[int, ...]] = []
    while True:
        r = c.run(1 << 40)
        out.extend(c.notices())
        if r == RUN_END:
            out.extend(c.notices())
            return out


@pytest.mark.parametrize("engine", ENGINES)
def test_seeded_book_and_views(engine: str) -> None:
    c = core([(5, DEPTH, 1, 99, 5)], engine)
    start(c)
    assert c.touch() == (100, 10, 102, 10)
    assert c.top(1, 5) == ([100, 99], [10, 5])
    assert c.top(-1, 1) == ([102], [10])
    assert c.depth_at(1, 99) == 5 and c.depth_at(-1, 99) == 0


@pytest.mark.parametrize("engine", ENGINES)
def test_trades_consume_the_queue_ahead_before_us(engine: str) -> None:
    # we join 10 lots at 100; 4 then 7 sell at 100: 11 > 10 ahead, 1 lot for us
    c = core([(1, TRADE, -1, 100, 4), (2, TRADE, -1, 100, 7)], engine)
    start(c)
    c.submit(1, 1, 100, 3)
    notes = drain(c)
    assert [n[:7] for n in notes] == [(NOTICE_FILL, 2 * MS, 1, 1, 100, 1, 2)]
    assert c.position == 1 and c.cash == -100


@pytest.mark.parametrize("engine", ENGINES)
def test_conservative_and_probabilistic_queues_differ_on_cancels(engine: str) -> None:
    # ahead 10; 10 more join behind us; 10 are cancelled; then 6 sell at 100
    rows = [(1, DEPTH, 1, 100, 20), (2, DEPTH, 1, 100, 10), (3, TRADE, -1, 100, 6)]
    fills = {}
    for queue in ("conservative", "probabilistic"):
        c = core(rows, engine, queue=queue, queue_power=1.0)
        start(c)
        c.submit(1, 1, 100, 2)
        fills[queue] = [n[5] for n in drain(c) if n[0] == NOTICE_FILL]
    # conservative: the cancels were all behind us (ahead stays 10): no fill
    # probabilistic, power 1: half ahead (10 of 20): ahead 5, so 6 sold fill 1 of ours
    assert fills == {"conservative": [], "probabilistic": [1]}


@pytest.mark.parametrize("engine", ENGINES)
def test_the_level_shrinking_below_ahead_moves_us_up_in_both_models(engine: str) -> None:
    for queue in ("conservative", "probabilistic"):
        c = core([(1, DEPTH, 1, 100, 2), (2, TRADE, -1, 100, 3)], engine, queue=queue)
        start(c)
        c.submit(1, 1, 100, 5)
        assert [n[5] for n in drain(c) if n[0] == NOTICE_FILL] == [1], queue  # 3 - 2 ahead


@pytest.mark.parametrize("engine", ENGINES)
def test_trade_through_and_crossing_book_fill_in_full(engine: str) -> None:
    c = core([(1, TRADE, 1, 103, 1)], engine)  # a buyer lifts 102 and 103
    start(c)
    c.submit(1, -1, 102, 4)  # at the touch, behind 10: filled anyway, the price went through
    notes = drain(c)
    assert [(n[0], n[4], n[5], n[6]) for n in notes] == [(NOTICE_FILL, 102, 4, 0)]
    assert c.touch()[2] == 102  # by default the book waits for the depth stream to say so

    c2 = core([(1, DEPTH, 1, 101, 3)], engine)  # a bid appears at our ask's price
    start(c2)
    c2.submit(1, -1, 101, 2)  # inside the spread: nothing ahead
    assert [(n[0], n[5]) for n in drain(c2)] == [(NOTICE_FILL, 2)]  # the bid crossed our ask


@pytest.mark.parametrize("engine", ENGINES)
def test_post_only_rejects_a_crossing_quote_and_taker_takes_the_book(engine: str) -> None:
    c = core([(5, DEPTH, 1, 99, 5)], engine)
    start(c)
    c.submit(1, 1, 102, 3)
    assert [(n[0], n[5], n[6]) for n in drain(c)] == [(NOTICE_REJECTED, 3, 0)]
    assert c.rejected == 1 and c.position == 0

    c = core([(5, DEPTH, 1, 99, 5)], engine, post_only=False, taker_fee=0.001)
    start(c)
    c.submit(1, 1, 103, 12)  # 10 at 102, 2 at 103 (the book is the record: no impact)
    notes = drain(c)
    assert [(n[4], n[5], n[7]) for n in notes] == [(102, 10, 0), (103, 2, 0)]
    assert c.position == 12 and c.cash == -(102 * 10 + 103 * 2)
    assert c.fees == pytest.approx(0.001 * (102 * 10 + 103 * 2))
    assert c.touch() == (100, 10, 102, 10)


@pytest.mark.parametrize("engine", ENGINES)
def test_an_immediate_order_takes_the_book_up_to_its_limit_and_never_rests(engine: str) -> None:
    # post-only refuses crossing quotes, never an IOC: it is meant to take
    c = core([(5, DEPTH, -1, 102, 10), (6, TRADE, 1, 102, 50)], engine, taker_fee=0.001)
    start(c)
    c.take(1, 1, 103, 17)  # 10 at 102, 5 at 103, the 2 left canceled on arrival
    notes = drain(c)
    assert [(n[0], n[4], n[5], n[6], n[7]) for n in notes] == [
        (NOTICE_FILL, 102, 10, 7, 0),
        (NOTICE_FILL, 103, 5, 2, 0),
        (NOTICE_CANCELED, 103, 2, 0, 0),
    ]
    assert c.rejected == 0 and c.open_orders == 0
    assert c.position == 15 and c.cash == -(102 * 10 + 103 * 5)
    assert c.fees == pytest.approx(0.001 * (102 * 10 + 103 * 5))
    assert c.touch() == (100, 10, 102, 10)  # no market impact: the record goes on


@pytest.mark.parametrize("engine", ENGINES)
def test_an_immediate_order_that_cannot_take_is_canceled_whole(engine: str) -> None:
    c = core([(5, TRADE, 1, 100, 50)], engine)
    start(c)
    c.take(1, -1, 101, 4)  # a sell limited to 101 against a 100 bid: nothing to take
    assert [(n[0], n[5]) for n in drain(c)] == [(NOTICE_CANCELED, 4)]
    assert c.position == 0 and c.fills().shape == (6, 0)  # the trade at 100 never reached it


@pytest.mark.parametrize("engine", ENGINES)
def test_order_latency_keeps_an_order_out_of_earlier_trades(engine: str) -> None:
    rows = [(1, TRADE, -1, 100, 50), (3, TRADE, -1, 100, 11)]
    c = core(rows, engine, order_latency_ms=2.0)
    start(c)
    c.submit(1, 1, 100, 1)  # reaches the exchange at 2 ms, behind 10 (the depth still says 10)
    drain(c)
    assert c.fills()[:, 0].tolist() == [3 * MS, 1, 1, 100, 1, 1]  # ts, id, side, price, qty, maker


@pytest.mark.parametrize("engine", ENGINES)
def test_fills_wake_the_strategy_when_the_response_arrives(engine: str) -> None:
    c = core([(1, TRADE, -1, 100, 20)], engine, order_latency_ms=0.5, feed_latency_ms=0.2)
    start(c)
    c.submit(1, 1, 100, 1)  # arrives at 0.7 ms
    assert c.run(1 << 40) == RUN_NOTICE
    assert c.now == 1 * MS + 300_000  # filled at 1 ms, known 0.5 - 0.2 ms later in view time
    assert [n[0] for n in c.notices()] == [NOTICE_FILL]


@pytest.mark.parametrize("engine", ENGINES)
def test_cancel_takes_effect_on_arrival_only(engine: str) -> None:
    rows = [(1, TRADE, -1, 100, 11), (3, TRADE, -1, 100, 11)]
    c = core(rows, engine, order_latency_ms=0.0)
    start(c)
    c.submit(1, 1, 100, 5)
    assert c.run(1 << 40) == RUN_NOTICE  # 1 filled at 1 ms
    assert c.notices()[0][5] == 1
    c.cancel(1)
    notes = drain(c)
    assert [(n[0], n[5]) for n in notes] == [(NOTICE_CANCELED, 4)]
    assert c.open_orders == 0 and c.position == 1


def test_bad_config_is_refused_with_what_is_valid() -> None:
    with pytest.raises(ConfigError, match="conservative"):
        ReplayConfig(queue="fifo")
    with pytest.raises(ConfigError, match="decision_ms"):
        ReplayConfig(decision_ms=0)
    with pytest.raises(ConfigError, match="order_latency_ms"):
        ReplayConfig(order_latency_ms=-1)


@pytest.mark.parametrize("engine", ENGINES)
def test_no_fills_is_an_empty_six_row_table(engine: str) -> None:
    c = core([(5, DEPTH, 1, 99, 5)], engine)
    drain(c)
    assert c.fills().shape == (6, 0)


@pytest.mark.parametrize("engine", ENGINES)
def test_clear_on_trade_empties_the_levels_a_trade_went_through_only_when_on(
    engine: str,
) -> None:
    # a buyer lifts 103: the 102 level must have gone, but no depth update says so yet
    for clear, ask in ((True, (103, 5)), (False, (102, 10))):
        c = core([(1, TRADE, 1, 103, 2)], engine, clear_on_trade=clear)
        drain(c)
        assert c.touch()[2:] == ask


@pytest.mark.parametrize("engine", ENGINES)
def test_a_hidden_execution_fills_through_our_price_or_with_nothing_ahead(engine: str) -> None:
    # a hidden bid at 99 executes 3: our bid at 100 (behind 10) was better, it fills;
    # a hidden bid at 100 executes: our order at 100 still has 10 displayed ahead, no fill;
    # the depth never moves
    c = core([(1, HIDDEN, 1, 99, 3), (2, HIDDEN, 1, 100, 4)], engine)
    start(c)
    c.submit(1, 1, 100, 5)
    notes = drain(c)
    assert [(n[0], n[1], n[5]) for n in notes] == [(NOTICE_FILL, MS, 3)]
    assert c.touch() == (100, 10, 102, 10) and c.queue_ahead(1) == 10
    c2 = core([(1, HIDDEN, 1, 101, 4)], engine)  # inside the spread, where we alone bid
    start(c2)
    c2.submit(1, 1, 101, 2)
    assert [(n[0], n[5]) for n in drain(c2)] == [(NOTICE_FILL, 2)]


@pytest.mark.parametrize("engine", ENGINES)
def test_the_strategy_learns_its_position_when_the_fill_report_arrives(engine: str) -> None:
    # we sell 4 at 102 at t = 0 (order latency 5 ms: resting at t = 5 ms); a buyer lifts
    # 103 at 6 ms and fills us; the report reaches the strategy at 11 ms
    c = core([(6, TRADE, 1, 103, 1), (30, DEPTH, 1, 99, 5)], engine,
             order_latency_ms=5.0, decision_ms=2.0)  # fmt: skip
    start(c)
    c.submit(1, -1, 102, 4)
    seen = {}
    while (reason := c.step(1 << 40))[0] != RUN_END:
        if reason[0] == RUN_DECISION:
            seen[reason[1] // MS] = (reason[6], reason[10])  # (account, what it was told)
        c.notices()
    assert seen[8] == (-4, 0) and seen[10] == (-4, 0)  # filled at 6 ms, not yet reported
    assert seen[12] == (-4, -4)
    assert c.step(0)[10:] == (-4, 408, 0.0)


@pytest.mark.skipif("native" not in ENGINES, reason="needs the native engine")
def test_the_native_core_keeps_the_event_arrays_it_reads_in_place_alive() -> None:
    # narrow columns: make_replay_core converts them, so only the core holds the int64 arrays
    rows = [(1, TRADE, 1, 103, 2), (2, DEPTH, -1, 102, 3), (3, DEPTH, 1, 101, 4),
            (4, TRADE, -1, 100, 12)]  # fmt: skip
    ev = events(rows)
    narrow = msgspec.structs.replace(
        ev, **{c: getattr(ev, c).astype(np.int32) for c in ("kind", "side", "price", "qty")}
    )
    cfg = ReplayConfig(order_latency_ms=0.0, decision_ms=1000.0)
    native = make_replay_core(narrow, msgspec.structs.replace(cfg, backend="native"))
    del narrow
    gc.collect()
    junk = [np.full(64, -7, dtype=np.int64) for _ in range(256)]  # reuse freed memory, if any
    reference = make_replay_core(ev, msgspec.structs.replace(cfg, backend="python"))
    for c in (native, reference):
        start(c)
        c.submit(1, 1, 100, 5)
    assert drain(native) == drain(reference) and native.touch() == reference.touch()
    assert native.fills().tolist() == reference.fills().tolist() and len(junk) == 256


@pytest.mark.skipif("native" not in ENGINES, reason="needs the native engine")
@pytest.mark.parametrize(
    ("column", "row", "value", "field"),
    [("side", 6, 0, "side"), ("kind", 5, 9, "kind"), ("qty", 6, -1, "qty"), ("ts", 5, -1, "ts")],
)
def test_the_native_core_names_the_first_bad_event_row(
    column: str, row: int, value: int, field: str
) -> None:
    from makerkit._native import ReplayBacktest

    cols = {c: getattr(events([(1, DEPTH, 1, 99, 5)] * 4), c).copy()
            for c in ("ts", "kind", "side", "price", "qty")}  # fmt: skip
    cols[column][row] = value
    cols["side"][7] = 5  # a later bad row: the first one is named
    with pytest.raises(ValueError, match=rf"invalid `{field}` at row {row}\b"):
        ReplayBacktest(cols["ts"], cols["kind"], cols["side"], cols["price"], cols["qty"],
                       roi_lo=1, roi_hi=200, queue_model=0, queue_power=1.0, feed_latency_ns=0,
                       order_latency_ns=0, decision_ns=MS, start_ns=0, wake_on_fill=True,
                       post_only=True, maker_fee=0.0, taker_fee=0.0)  # fmt: skip
