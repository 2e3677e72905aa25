"""Backtest a strategy against the simulated market: our orders rest in the real engine.

The order-flow simulator and our quotes share one book (the simulator's), so
our orders queue behind and ahead of simulated ones by price-time priority
and are filled only when simulated market orders reach them: no fill model
to trust, the matching engine decides. The simulator runs in C++ until the
next decision time (the strategy decides after the first simulated event at
or past it, every ``decision_ms`` of market time) or until one of our orders
trades (``on_fill`` is called at once). The order manager turns intents into
commands. Same inputs, same seed: the same result, byte for byte.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import msgspec
import numpy as np

from makerkit.backtest._replay_config import ReplayConfig
from makerkit.core import (
    OrderStatus,
    OrderType,
    Predictor,
    QuoteIntent,
    StrategyContext,
    TimeInForce,
)
from makerkit.core.errors import ConfigError
from makerkit.data import MarketSimulator, SimParams
from makerkit.features import FeatureConfig, FeatureStream
from makerkit.metrics import Metrics, compute_metrics
from makerkit.strategies import Cancel, LiveQuote, OrderManager, Place

__all__ = ["BacktestConfig", "BacktestResult", "run_synthetic_backtest"]

_OUR_IDS = 1 << 40  # far above any simulated order id
_ACCOUNT = 1


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
    engine: str | None = None

    def __post_init__(self) -> None:
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
    """Run ``strategy`` (a ``makerkit.core.Strategy``) against the simulated market.

    A ``predictor`` fills ``StrategyContext.prediction`` at every decision;
    ``signals`` maps the features to more of them.
    """
    cfg = config or BacktestConfig()
    params = cfg.params or SimParams.default()
    sim = MarketSimulator(params, seed=cfg.seed, engine=cfg.engine)
    book = sim.book
    manager = OrderManager(
        min_quote_life_ns=int(cfg.min_quote_life_ms * 1e6), price_tolerance=cfg.price_tolerance
    )
    wants_features = (
        getattr(strategy, "wants_features", True) or predictor is not None or signals is not None
    )
    features = FeatureStream(FeatureConfig(levels=3)) if wants_features else None
    live: dict[int, LiveQuote | None] = {1: None, -1: None}
    seen: dict[int, int] = {}  # our order id -> remaining at the last look
    position, cash, fees, placed = 0, 0.0, 0.0, 0
    next_id = _OUR_IDS
    fills: list[tuple[int, int, int, int]] = []
    fill_fees: list[float] = []
    rejected: list[int] = []  # when each quote was refused
    path: dict[str, list[float]] = {
        k: [] for k in ("ts", "mid", "position", "equity", "bid", "ask")
    }
    both: list[bool] = []
    step_ns = int(cfg.decision_ms * 1e6)
    next_decision = params.start_ns
    done = 0
    feat: dict[str, float] = {}
    stopped: str | None = None

    def now() -> int:
        return params.start_ns + int(sim.seconds * 1e9)

    def context() -> StrategyContext:
        """What the strategy sees now (the book read once)."""
        bid, ask = book.best_bid(), book.best_ask()
        mid = (bid[0] + ask[0]) / 2 if bid and ask else None
        return StrategyContext(
            ts_ns=now(),
            best_bid=bid[0] if bid else None,
            best_ask=ask[0] if ask else None,
            bid_size=bid[1] if bid else 0,
            ask_size=ask[1] if ask else 0,
            position=position,
            pnl=cash + position * mid if mid is not None else cash,
            features=feat,
        )

    def fill(side: int, price: int, qty: int, maker: bool) -> None:
        nonlocal position, cash, fees, stopped
        position += side * qty
        cash -= side * qty * price
        fee = (cfg.maker_fee if maker else cfg.taker_fee) * qty
        fees += fee
        cash -= fee
        fills.append((now(), side, price, qty))
        fill_fees.append(fee)
        try:
            strategy.on_fill(side, price, qty, context())
        except Exception as exc:  # stopped at the next decision
            stopped = stopped or f"{type(exc).__name__} in {type(strategy).__name__}.on_fill: {exc}"

    while done < cfg.events:
        # wake at the next decision time, or as soon as one of our orders trades
        n = sim.advance(min(cfg.chunk, cfg.events - done), until_ns=next_decision,
                        watch_from=_OUR_IDS)  # fmt: skip
        if n == 0 and now() < next_decision:
            break  # the simulated market has nothing left to do
        done += n
        if progress is not None:
            progress(n)
        # passive fills since the last look
        for side in (1, -1):
            quote = live[side]
            if quote is None:
                continue
            left = int(book.remaining(quote.order_id))
            traded = seen[quote.order_id] - left
            if traded > 0:
                fill(side, quote.price, traded, maker=True)
                seen[quote.order_id] = left
            if left == 0:
                live[side] = None
                del seen[quote.order_id]
        t = now()
        if t < next_decision:
            continue
        next_decision = t + step_ns
        if features is not None:
            bid_top, ask_top = book.top(1, 3), book.top(-1, 3)
            if bid_top[0] and ask_top[0]:
                feat = features.on_book(t, *bid_top, *ask_top)
                if signals is not None:
                    feat.update(signals(feat))
        ctx = context()
        if predictor is not None:
            forecast = predictor.predict(feat)
            if math.isfinite(forecast):
                ctx = msgspec.structs.replace(ctx, prediction=forecast)
        m = ctx.mid
        try:
            intent = strategy.quote(ctx)
        except Exception as exc:  # any strategy error stops the run cleanly
            stopped = f"{type(exc).__name__} in {type(strategy).__name__}.quote: {exc}"
            intent = QuoteIntent.none()  # pull everything, then stop
        for cmd in manager.plan(intent, live, t):
            if isinstance(cmd, Cancel):
                book.cancel(cmd.order_id, ts=t)
                seen.pop(cmd.order_id, None)
                for side, quote in live.items():
                    if quote is not None and quote.order_id == cmd.order_id:
                        live[side] = None
                continue
            assert isinstance(cmd, Place)  # noqa: S101 - the manager emits nothing else
            next_id += 1
            placed += 1
            res = book.submit(
                next_id, cmd.side, cmd.price, cmd.size, order_type=OrderType.LIMIT,
                tif=TimeInForce.POST_ONLY if cfg.post_only else TimeInForce.GTC,
                account=_ACCOUNT, ts=t,
            )  # fmt: skip
            if res.status == OrderStatus.REJECTED:
                rejected.append(t)
            for f in res.fills:  # we crossed: taker fills at the makers' prices
                fill(cmd.side, f.price, f.qty, maker=False)
            if res.remaining:
                live[cmd.side] = LiveQuote(
                    order_id=next_id, side=cmd.side, price=cmd.price, size=res.remaining,
                    placed_ns=t,
                )  # fmt: skip
                seen[next_id] = res.remaining
        if m is not None or stopped is not None:
            if m is None:
                m = float(params.start_price)
            path["ts"].append(t)
            path["mid"].append(m)
            path["position"].append(position)
            path["equity"].append(cash + position * m)
            path["bid"].append(live[1].price if live[1] else np.nan)
            path["ask"].append(live[-1].price if live[-1] else np.nan)
            both.append(live[1] is not None and live[-1] is not None)
        if stopped is not None:
            if len(path["ts"]) == 1:  # stopped at once: a flat path of two points
                for column in path.values():
                    column.append(column[-1])
                both.append(both[-1])
            break
    if len(path["ts"]) < 2:
        msg = "backtest too short: fewer than two decisions with a two-sided book"
        raise ConfigError(msg)
    cols: list[tuple[int, ...]] = list(zip(*fills, strict=True)) if fills else [()] * 4
    metrics = compute_metrics(
        ts=path["ts"], mid=path["mid"], position=path["position"], equity=path["equity"],
        quoted_both=both, fill_ts=cols[0], fill_side=cols[1], fill_price=cols[2],
        fill_qty=cols[3], fees=fees, quotes_placed=placed, fill_fee=fill_fees,
        rejected_ts=rejected, final_spread=_spread(book),
    )  # fmt: skip
    return BacktestResult(
        strategy=getattr(strategy, "name", type(strategy).__name__),
        config=cfg,
        metrics=metrics,
        path=path,
        fills=fills,
        stopped=stopped,
    )
