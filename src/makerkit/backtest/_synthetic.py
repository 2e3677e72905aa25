"""Backtest a strategy against the simulated market: our orders rest in the real engine.

The order-flow simulator and our quotes share one book (the simulator's), so
our orders queue behind and ahead of simulated ones by price-time priority
and are filled only when simulated market orders reach them: no fill model
to trust, the matching engine decides. The simulator runs in C++ until the
next decision time (the strategy decides after the first simulated event at
or past it, every ``decision_ms`` of market time), the strategy's next timer,
or until one of our orders trades (``on_fill`` is called at once).

The strategy trades through the execution layer (``makerkit.execution``): a
``TradingSession`` over a gateway to the simulated books. A strategy that
names several symbols gets one simulated market each (seeds ``seed``,
``seed + 1``, ...); the first drives the clock and the ``events`` budget, the
others are brought up to its time before every look (their fills carry that
time). Same inputs, same seed: the same result, byte for byte.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import msgspec
import numpy as np

from makerkit.backtest._gateways import OUR_IDS, SimGateway, book_view, observe
from makerkit.backtest._legs import LegPaths
from makerkit.backtest._replay_config import ReplayConfig, backend_of
from makerkit.backtest._window import DAY_NS, clock
from makerkit.core import (
    Predictor,
    as_market_maker,
)
from makerkit.core.errors import ConfigError
from makerkit.data import MarketSimulator, SimParams
from makerkit.execution import OrderManager, TradingSession
from makerkit.features import FeatureConfig, FeatureStream
from makerkit.metrics import Metrics, compute_metrics
from makerkit.strategies import with_venue_fees

__all__ = ["BacktestConfig", "BacktestResult", "run_synthetic_backtest"]

_SYMBOL = "SIM"  # the simulated instrument's name, for a one-level strategy


class BacktestConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What to run: the market, its length, the decision clock, costs."""

    events: int = 1_000_000
    seed: int = 7
    params: SimParams | None = None  # default: SimParams.default()
    decision_ms: float = 100.0
    chunk: int = 4096  # at most this many simulated commands between two looks
    maker_fee: float = 0.0  # tick-lots per lot traded passively (negative: a rebate)
    taker_fee: float = 0.0
    post_only: bool = True  # a quote that would cross is refused, not filled: we make markets
    min_quote_life_ms: float = 0.0
    price_tolerance: int = 0
    backend: str | None = None  # "native" (default when built) or "python"
    engine: str | None = None  # the old name of `backend`, still accepted
    # a window in market time (ns after midnight): the strategy trades from start to end
    start_ns: int | None = None
    end_ns: int | None = None

    def __post_init__(self) -> None:
        msgspec.structs.force_setattr(self, "backend", backend_of(self.backend, self.engine))
        msgspec.structs.force_setattr(self, "engine", None)
        if self.start_ns is not None and self.end_ns is not None and self.end_ns <= self.start_ns:
            msg = "invalid window, `end_ns` must be after `start_ns`"
            raise ConfigError(msg)
        if self.events <= 0 or self.chunk <= 0 or self.decision_ms <= 0:
            msg = "invalid backtest, `events`, `chunk` and `decision_ms` must be > 0"
            raise ConfigError(msg)


class BacktestResult(msgspec.Struct, frozen=True, kw_only=True):
    """Metrics plus the sampled path (one row per decision) and every fill."""

    strategy: str
    config: BacktestConfig | ReplayConfig
    metrics: Metrics
    path: dict[str, list[float]]  # ts, mid, position, equity, bid, ask
    fills: list[tuple[int, int, int, int]]  # ts, side, price, qty
    stopped: str | None = None  # why the run ended early (the strategy raised)
    # queue=l3: executions behind our order while volume was still ahead of it (FIFO broken)
    fifo_exceptions: int | None = None
    # the final position on every symbol the strategy traded (the path is the first one's)
    positions: dict[str, int] = msgspec.field(default_factory=dict)
    # several instruments: each one's position, fills and PnL split into spread, adverse
    # selection, inventory and fees, over its own path (the metrics are the first one's)
    legs: dict[str, dict[str, float]] = msgspec.field(default_factory=dict)


def _mid(book: Any) -> float | None:
    """The book's mid in ticks now (None when a side is empty)."""
    bid, ask = book.best_bid(), book.best_ask()
    return (bid[0] + ask[0]) / 2 if bid and ask else None


def _spread(book: Any) -> float | None:
    """The book's spread in ticks now (None when a side is empty)."""
    bid, ask = book.best_bid(), book.best_ask()
    return float(ask[0] - bid[0]) if bid and ask else None


def run_synthetic_backtest(
    strategy: Any,
    config: BacktestConfig | None = None,
    *,
    progress: Callable[[int], None] | None = None,
    predictor: Predictor | None = None,
    signals: Callable[[Mapping[str, float]], Mapping[str, float]] | None = None,
) -> BacktestResult:
    """Run ``strategy`` (a ``makerkit.core.Strategy`` or ``MarketMaker``) on the simulated market.

    A ``predictor`` fills the context's ``prediction`` at every decision;
    ``signals`` maps the features to more of them.
    """
    cfg = config or BacktestConfig()
    params = cfg.params or SimParams.default()
    strategy = with_venue_fees(strategy, per_lot=cfg.maker_fee)
    maker = as_market_maker(strategy, _SYMBOL)
    symbols = maker.symbols
    sims = {sym: MarketSimulator(params, seed=cfg.seed + i, backend=cfg.backend)
            for i, sym in enumerate(symbols)}  # fmt: skip
    primary = symbols[0]
    sim = sims[primary]
    book = sim.book
    books = {sym: s.book for sym, s in sims.items()}
    gateway = SimGateway(books, cfg.post_only)
    session = TradingSession(
        maker, gateway,
        manager=OrderManager(min_quote_life_ns=int(cfg.min_quote_life_ms * 1e6),
                             price_tolerance=cfg.price_tolerance),
        book=lambda sym, depth: book_view(books[sym], depth),
        fee=lambda _s, _p, qty, m: (cfg.maker_fee if m else cfg.taker_fee) * qty,
        first_order_id=OUR_IDS + 1,
    )  # fmt: skip
    gateway.session = session
    wants_features = (
        getattr(maker, "wants_features", True) or predictor is not None or signals is not None
    )
    features = FeatureStream(FeatureConfig(levels=3)) if wants_features else None
    path: dict[str, list[float]] = {
        k: [] for k in ("ts", "mid", "position", "equity", "bid", "ask")
    }
    both: list[bool] = []
    step_ns = int(cfg.decision_ms * 1e6)
    timer_ns = int(maker.timer_ms * 1e6) if maker.timer_ms else 0
    midnight = params.start_ns - params.start_ns % DAY_NS
    next_decision = max(params.start_ns, midnight + (cfg.start_ns or 0))  # warm-up before it
    end_ns = midnight + cfg.end_ns if cfg.end_ns is not None else None
    next_timer = next_decision + timer_ns if timer_ns else None
    done = 0
    others = [s for sym, s in sims.items() if sym != primary]
    account = session.accounts[primary]
    legs = LegPaths(symbols)

    def now() -> int:
        return params.start_ns + int(sim.seconds * 1e9)

    while done < cfg.events and (end_ns is None or now() < end_ns):
        # wake at the next decision or timer, or as soon as one of our orders trades
        wake = next_decision if next_timer is None else min(next_decision, next_timer)
        if end_ns is not None:
            wake = min(wake, end_ns)
        n = sim.advance(min(cfg.chunk, cfg.events - done), until_ns=wake, watch_from=OUR_IDS)
        if n == 0 and now() < wake:
            break  # the simulated market has nothing left to do
        done += n
        if progress is not None:
            progress(n)
        t = now()
        if end_ns is not None and t >= end_ns:
            break  # the window is over: no decision at or after its end
        for other in others:  # the other markets catch up with the first one's clock
            while params.start_ns + int(other.seconds * 1e9) < t:
                if other.advance(cfg.chunk, until_ns=t, watch_from=OUR_IDS) == 0:
                    break
        gateway.poll(t)  # passive fills since the last look
        if t >= next_decision:
            next_decision = t + step_ns
            bid_top, ask_top = (
                (book.top(1, 3), book.top(-1, 3)) if features is not None else (([], []),) * 2
            )
            seen = bool(bid_top[0]) and bool(ask_top[0])  # both sides have levels
            observe(session, t, features, (*bid_top, *ask_top) if seen else None, predictor,
                    signals)  # fmt: skip
            bid, ask = book.best_bid(), book.best_ask()
            m: float | None = (bid[0] + ask[0]) / 2 if bid and ask else None
            mids = {sym: _mid(b) for sym, b in books.items()} if len(symbols) > 1 else {}
            session.decide(t)
            for sym, leg_mid in mids.items():  # as the path: the mid before, the position after
                if leg_mid is not None:
                    legs.record(sym, t, leg_mid, session.accounts[sym].position)
            if m is not None or session.stopped is not None:
                if m is None:
                    m = float(params.start_price)
                lb, la = session.best_live(primary, 1), session.best_live(primary, -1)
                path["ts"].append(t)
                path["mid"].append(m)
                path["position"].append(account.position)
                path["equity"].append(account.cash + account.position * m)
                path["bid"].append(lb if lb is not None else np.nan)
                path["ask"].append(la if la is not None else np.nan)
                both.append(lb is not None and la is not None)
            if session.stopped is not None:
                if len(path["ts"]) == 1:  # stopped at once: a flat path of two points
                    for column in path.values():
                        column.append(column[-1])
                    both.append(both[-1])
                break
        if next_timer is not None and t >= next_timer:
            next_timer = t + timer_ns
            session.decide(t, timer=True)  # a strategy that raises is pulled here
    if len(path["ts"]) < 2:
        msg = "backtest too short: fewer than two decisions with a two-sided book"
        if cfg.start_ns is not None and now() < midnight + cfg.start_ns:
            msg = (
                f"invalid window: the simulated market ({done:,} events) ends at "
                f"{clock(now())}, before the window starts at {clock(cfg.start_ns)}; "
                "give more events or an earlier start"
            )
        raise ConfigError(msg)
    fill_ts, fill_side, fill_price, fill_qty, fill_fees = _primary_fills(session, primary)
    metrics = compute_metrics(
        ts=path["ts"], mid=path["mid"], position=path["position"], equity=path["equity"],
        quoted_both=both, fill_ts=fill_ts, fill_side=fill_side, fill_price=fill_price,
        fill_qty=fill_qty, fees=account.fees, quotes_placed=session.orders_sent,
        fill_fee=fill_fees, rejected_ts=session.rejected, final_spread=_spread(book),
        orders_sent=session.orders_sent, max_live_orders=session.max_live_orders,
    )  # fmt: skip
    return BacktestResult(
        strategy=maker.name,
        config=cfg,
        metrics=metrics,
        path=path,
        fills=list(zip(fill_ts, fill_side, fill_price, fill_qty, strict=True)),
        stopped=session.stopped,
        positions={sym: acc.position for sym, acc in session.accounts.items()},
        legs={
            sym: legs.summary(
                sym,
                [(f[0], f[2], f[3], f[4], f[6]) for f in session.fills if f[1] == sym],
                acc.position,
            )
            for sym, acc in session.accounts.items()
        }
        if len(symbols) > 1
        else {},
    )


def _primary_fills(session: TradingSession, symbol: str) -> tuple[list[Any], ...]:
    """ts, side, price, qty, fee of the fills on ``symbol`` (the path's instrument)."""
    rows = [f for f in session.fills if f[1] == symbol]
    return (
        [f[0] for f in rows], [f[2] for f in rows], [f[3] for f in rows],
        [f[4] for f in rows], [f[6] for f in rows],
    )  # fmt: skip
