"""Replay several recorded instruments at once, for a market maker that trades them together.

Each instrument has its own replay core (its own book, queue model and
latency); they share one decision grid from the latest of their starts, and
before every decision each core replays its events up to that time, so the
strategy sees every book as it was then. Fills are learned at the next
decision (with several instruments ``requote_on_fill`` does not apply: a
core woken early would see the others' books late). Immediate orders (IOC
or market, a hedge) take the recorded book on arrival, as the single-instrument
replay does; the record never reacts to them (no market impact). The path and
the metrics are the first symbol's; ``positions`` and ``legs`` (each one's PnL,
split as the metrics split the first's) list every instrument.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import msgspec

from makerkit.backtest._core_protocol import ReplayCore
from makerkit.backtest._events import MarketEvents
from makerkit.backtest._gateways import ReplayGateway, observe, timer_step
from makerkit.backtest._legs import LegPaths
from makerkit.backtest._replay_config import ReplayConfig
from makerkit.backtest._replay_core import (
    NOTICE_FILL,
    NOTICE_REJECTED,
    RUN_BUDGET,
    RUN_END,
)
from makerkit.backtest._synthetic import BacktestResult
from makerkit.core import BookView, Level, MarketMaker, Predictor
from makerkit.core.errors import ConfigError
from makerkit.execution import OrderManager, TradingSession
from makerkit.features import FeatureConfig, FeatureStream

__all__ = ["MultiMarket", "run_multi_replay"]


class MultiMarket(msgspec.Struct, frozen=True):
    """Recorded events of several instruments of one source and day, by symbol."""

    markets: dict[str, MarketEvents]

    def __len__(self) -> int:
        return sum(len(m) for m in self.markets.values())


class _Routed:
    """One gateway to several cores: each order goes to its symbol's core."""

    def __init__(self, gateways: Mapping[str, ReplayGateway]) -> None:
        self.gateways = gateways

    def place(self, symbol: str, order_id: int, side: int, price: int, size: int, ts_ns: int
              ) -> None:  # fmt: skip
        self.gateways[symbol].place(symbol, order_id, side, price, size, ts_ns)

    def cancel(self, symbol: str, order_id: int, ts_ns: int) -> None:
        self.gateways[symbol].cancel(symbol, order_id, ts_ns)

    def take(self, symbol: str, order_id: int, side: int, size: int, price: int | None,
             ts_ns: int) -> None:  # fmt: skip
        self.gateways[symbol].take(symbol, order_id, side, size, price, ts_ns)


def run_multi_replay(
    maker: MarketMaker,
    market: MultiMarket,
    cfg: ReplayConfig,
    make_core: Callable[[MarketEvents, ReplayConfig, int], ReplayCore],
    *,
    progress: Callable[[int], None] | None = None,
    predictor: Predictor | None = None,
    signals: Callable[[Mapping[str, float]], Mapping[str, float]] | None = None,
) -> BacktestResult:
    """Run ``maker`` over the instruments of ``market`` (see the module's docstring).

    ``make_core(events, cfg, start_ns)`` builds one instrument's core.
    """
    missing = [s for s in maker.symbols if s not in market.markets]
    if missing:
        msg = (
            f"{maker.name} trades {list(maker.symbols)} but the data has "
            f"{sorted(market.markets)}: no events for {missing} (name the strategy's symbols "
            "after the data's, e.g. --param quote_symbol=GOOG)"
        )
        raise ConfigError(msg)
    unused = [s for s in market.markets if s not in maker.symbols]
    if unused:
        msg = (
            f"{maker.name} trades {list(maker.symbols)}; the data also names {unused}, which "
            "it does not trade: name only the strategy's instruments"
        )
        raise ConfigError(msg)
    symbols = maker.symbols
    primary = symbols[0]
    start = max(market.markets[s].start_ns for s in symbols)
    grid = msgspec.structs.replace(cfg, requote_on_fill=False)
    cores = {s: make_core(market.markets[s], grid, start) for s in symbols}
    touch: dict[str, tuple[int | None, int, int | None, int]] = dict.fromkeys(
        symbols, (None, 0, None, 0)
    )

    def book(symbol: str, depth: int) -> BookView:
        bid, bid_size, ask, ask_size = touch[symbol]
        if depth == 1:
            return BookView(bids=(Level(bid, bid_size),) if bid is not None else (),
                            asks=(Level(ask, ask_size),) if ask is not None else ())  # fmt: skip
        core = cores[symbol]
        return BookView.from_columns(*core.top(1, depth), *core.top(-1, depth))

    gateways = {s: ReplayGateway(cores[s], s) for s in symbols}
    session = TradingSession(
        maker, _Routed(gateways),
        manager=OrderManager(min_quote_life_ns=round(cfg.min_quote_life_ms * 1e6),
                             price_tolerance=cfg.price_tolerance),
        book=book, touch=lambda s: touch[s],
        fee=lambda _s, price, qty, m: (cfg.maker_fee if m else cfg.taker_fee) * price * qty,
    )  # fmt: skip
    for gateway in gateways.values():
        gateway.session = session
    wants_features = (
        getattr(maker, "wants_features", True) or predictor is not None or signals is not None
    )
    features = FeatureStream(FeatureConfig(levels=3)) if wants_features else None
    path: dict[str, list[float]] = {k: [] for k in ("ts", "mid", "position", "equity", "bid",
                                                    "ask")}  # fmt: skip
    both: list[bool] = []
    nan = float("nan")
    timer_ns = round(maker.timer_ms * 1e6) if maker.timer_ms else 0
    next_timer: int | None = None
    budget = 1 << 18 if progress is not None else 1 << 62
    reported = 0
    state: dict[str, tuple[int, int, float]] = {}  # position, cash, fees by symbol
    legs = LegPaths(symbols)
    first = cores[primary]

    def top3() -> tuple[Any, ...]:
        return (*first.top(1, 3), *first.top(-1, 3))

    ended = False
    while not ended:
        t = 0
        for symbol, core in cores.items():
            while True:
                reason, t, bid, bid_size, ask, ask_size, position, cash, fees, pending, *_ = (
                    core.step(budget)
                )
                if progress is not None:
                    done = sum(c.events_done for c in cores.values())
                    progress(done - reported)
                    reported = done
                if reason != RUN_BUDGET:
                    break
            touch[symbol] = (bid, bid_size, ask, ask_size)
            state[symbol] = (position, cash, fees)
            for kind, ts, oid, side, price, qty, left, maker_fill in (
                core.notices() if pending else ()
            ):
                if kind == NOTICE_REJECTED:
                    session.rejected_order(symbol, oid, ts)
                    continue
                if kind == NOTICE_FILL:
                    session.filled(symbol, oid, side, price, qty, bool(maker_fill), ts)
                if left == 0:
                    session.closed(symbol, oid)
            if reason == RUN_END:
                ended = True  # the common window ends with the first instrument's data
                break
        if ended:
            break
        for symbol, (b, _, a, _) in touch.items():
            if b is not None and a is not None:
                legs.record(symbol, t, (b + a) / 2, state[symbol][0])
        bid, _, ask, _ = touch[primary]
        two_sided = bid is not None and ask is not None
        observe(session, t, features, top3 if two_sided else None, predictor, signals)
        session.decide(t)
        if timer_ns:
            next_timer, fire = timer_step(t, next_timer, timer_ns)
            if fire:
                session.decide(t, timer=True)
        if bid is not None and ask is not None:
            mid = (bid + ask) / 2
            position, cash, fees = state[primary]
            lb, la = session.best_live(primary, 1), session.best_live(primary, -1)
            path["ts"].append(t)
            path["mid"].append(mid)
            path["position"].append(position)
            path["equity"].append(cash - fees + position * mid)
            path["bid"].append(float(lb) if lb is not None else nan)
            path["ask"].append(float(la) if la is not None else nan)
            both.append(lb is not None and la is not None)
        if session.stopped is not None:
            break
    return _result(maker.name, grid, cores, primary, path, both, session, legs)


def _result(
    name: str, cfg: ReplayConfig, cores: Mapping[str, ReplayCore], primary: str,
    path: dict[str, list[float]], both: list[bool], session: TradingSession, legs: LegPaths,
) -> BacktestResult:  # fmt: skip
    """The first instrument's result, as a one-instrument replay reports it, plus every leg."""
    from makerkit.backtest._replay import _result as one  # it imports this module

    core = cores[primary]
    result = one(name, cfg, core, path, both, session.orders_sent, session.stopped,
                 core.rejections()[0].tolist(), session.max_live_orders, primary)  # fmt: skip
    split: dict[str, dict[str, float]] = {}
    for symbol, c in cores.items():
        f = c.fills()
        rows = [
            (int(ts), int(side), int(price), int(qty),
             (cfg.maker_fee if maker else cfg.taker_fee) * float(price) * float(qty))
            for ts, _oid, side, price, qty, maker in f.T.tolist()
        ]  # fmt: skip
        split[symbol] = legs.summary(symbol, rows, int(c.position))
    return msgspec.structs.replace(
        result, positions={s: int(c.position) for s, c in cores.items()}, legs=split
    )
