"""Backtest a strategy on recorded data (LOBSTER, Binance): a queue model decides our fills.

The replay, the book and the queue tracking run in the core (C++ when built,
``PyReplayCore`` otherwise); Python runs only when the strategy decides: every
``decision_ms`` of market time and, with ``requote_on_fill``, when one of its
fills becomes visible. The strategy sees the book after every event up to
its view time; its orders reach the exchange ``feed_latency_ms +
order_latency_ms`` later and are queued behind what the level shows then.
The recorded market never reacts to our orders (no impact), which is the
limit of any replay: the synthetic backtest is the place to study impact.
Same events, same config: the same result, byte for byte.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from numbers import Integral
from typing import Any

import msgspec
import numpy as np

from makerkit.backtest._core_protocol import NativeReplayCore, ReplayCore
from makerkit.backtest._events import MarketEvents, StreamedMarket, check_events
from makerkit.backtest._gateways import ReplayGateway, observe, timer_step
from makerkit.backtest._replay_config import QUEUE_MODELS, ReplayConfig
from makerkit.backtest._replay_core import (
    NOTICE_FILL,
    NOTICE_REJECTED,
    RUN_BUDGET,
    RUN_DECISION,
    RUN_END,
    RUN_NOTICE,
    RUN_STOPPED,
    PyReplayCore,
)
from makerkit.backtest._replay_multi import MultiMarket, run_multi_replay
from makerkit.backtest._synthetic import BacktestResult
from makerkit.book import resolve_backend
from makerkit.core import (
    BookView,
    Level,
    OneLevelMaker,
    Predictor,
    QuoteIntent,
    StrategyContext,
    as_market_maker,
)
from makerkit.core.errors import ConfigError, DataError
from makerkit.execution import OrderManager, TradingSession
from makerkit.features import FeatureConfig, FeatureStream
from makerkit.metrics import compute_metrics
from makerkit.strategies import (
    GLFT,
    AvellanedaStoikov,
    InventorySkew,
    KernelStrategy,
    Symmetric,
    with_venue_fees,
)
from makerkit.strategies import out_of_range as _kernel_out_of_range

__all__ = ["make_replay_core", "native_kernel", "run_replay_backtest"]

_CHUNK = 1 << 18  # events between progress reports
# the built-ins' and the kernels' on_fill keep nothing: no call needed
_NO_FILL_HOOKS = (GLFT.on_fill, KernelStrategy.on_fill)
# what the core's stops fill in a StrategyContext, in the order it passes them
_CONTEXT_FIELDS = ("ts_ns", "best_bid", "best_ask", "bid_size", "ask_size", "position", "pnl",
                   "features")  # fmt: skip

try:  # the C++ core's class, when built: it alone can run a built-in strategy inside
    from makerkit._native import ReplayBacktest as _NATIVE_CORE
except ImportError:  # pragma: no cover - built without a compiler
    _NATIVE_CORE = type("_NoNativeCore", (), {})  # type: ignore[assignment,misc]


def make_replay_core(
    market: MarketEvents | StreamedMarket, cfg: ReplayConfig, start_ns: int | None = None
) -> ReplayCore:
    """The core for these events: native unless ``cfg.backend == "python"`` or not built.

    A ``StreamedMarket`` starts with its head; the core asks for each next chunk
    when it has replayed the one before (memory holds one chunk at a time).
    ``start_ns``: the first decision's time (default: the events' start).
    """
    events = market.head if isinstance(market, StreamedMarket) else market
    check_events(events)
    if (cfg.queue == "l3") != events.order_level:
        if cfg.queue == "l3":
            msg = (
                f"queue=l3 needs order-level events; {events.source} {events.symbol} is an L2 "
                "stream (LOBSTER days have an order-level view; Binance captures do not)"
            )
        else:
            msg = (
                f"order-level events replay with queue=l3 only, not {cfg.queue!r}: the L2 "
                "models run on the day's L2 view"
            )
        raise ConfigError(msg)
    lo, hi = market.price_range()
    pad = cfg.roi_ticks if cfg.roi_ticks is not None else max(hi - lo, 1000)
    kwargs: dict[str, Any] = {
        "roi_lo": max(lo - pad, 1), "roi_hi": hi + pad,
        "queue_model": QUEUE_MODELS[cfg.queue], "queue_power": cfg.queue_power,
        "feed_latency_ns": round(cfg.feed_latency_ms * 1e6),
        "order_latency_ns": round(cfg.order_latency_ms * 1e6),
        "decision_ns": max(round(cfg.decision_ms * 1e6), 1),
        "start_ns": events.start_ns if start_ns is None else start_ns,
        "wake_on_fill": cfg.requote_on_fill, "post_only": cfg.post_only,
        "maker_fee": cfg.maker_fee, "taker_fee": cfg.taker_fee,
        "clear_on_trade": cfg.clear_on_trade,
    }  # fmt: skip
    if events.ref is not None:
        kwargs["ref"] = np.ascontiguousarray(events.ref, dtype=np.int64)
    ts, kind, side, price, qty = (
        np.ascontiguousarray(c, dtype=np.int64)
        for c in (events.ts, events.kind, events.side, events.price, events.qty)
    )
    if resolve_backend(cfg.backend or "auto") == "native":
        from makerkit._native import ReplayBacktest

        native: NativeReplayCore = ReplayBacktest(ts, kind, side, price, qty, **kwargs)
        core: ReplayCore = native
    else:
        core = PyReplayCore(ts, kind, side, price, qty, **kwargs)
    if isinstance(market, StreamedMarket):
        core.stream(_feeder(market.chunks(), events.order_level))
    return core


def _feeder(chunks: Iterator[MarketEvents], order_level: bool) -> Callable[[], Any]:
    """The columns of each next chunk, checked, for ``core.stream``; None at the end."""

    def feed() -> tuple[Any, ...] | None:
        ev = next(chunks, None)
        if ev is None:
            return None
        check_events(ev)
        if ev.order_level != order_level:
            msg = "invalid stream: a chunk is order-level and another is not"
            raise DataError(msg)
        cols = (ev.ts, ev.kind, ev.side, ev.price, ev.qty)
        ref = np.ascontiguousarray(ev.ref, dtype=np.int64) if ev.ref is not None else None
        return (*(np.ascontiguousarray(c, dtype=np.int64) for c in cols), ref)

    return feed


class _Progress:
    """Tells ``progress`` (when given) how many events were replayed since it last heard."""

    def __init__(self, progress: Callable[[int], None] | None) -> None:
        self.progress = progress
        self.reported = 0
        self.budget = _CHUNK if progress is not None else 1 << 62  # events between reports

    def __call__(self, core: ReplayCore) -> None:
        if self.progress is not None:
            done = core.events_done
            self.progress(done - self.reported)
            self.reported = done


def native_kernel(strategy: Any) -> tuple[int, list[float]] | None:
    """(kind, parameters) of a built-in strategy the core can run itself; None otherwise.

    The core's formulas have no fee term: a strategy pricing a fee runs as a class.
    """
    kind = type(strategy)
    if kind in (AvellanedaStoikov, GLFT) and (strategy.maker_fee or strategy.maker_fee_ticks):
        return None
    if kind is Symmetric:
        return 1, [strategy.half_spread]
    if kind is InventorySkew:
        return 2, [strategy.half_spread, strategy.phi]
    if kind is AvellanedaStoikov:
        return 3, [strategy.gamma, strategy.k, strategy.sigma, strategy.horizon_s]
    if kind is GLFT:
        return 4, [strategy.gamma, strategy.A, strategy.k, strategy.sigma]
    return None


def _run_native_kernel(
    core: NativeReplayCore,
    strategy: Any,
    kernel: tuple[int, list[float]],
    manager: OrderManager,
    progress: Callable[[int], None] | None,
) -> tuple[dict[str, list[float]], list[bool], dict[str, np.ndarray[Any, Any]], int]:
    """Let the core decide for a built-in strategy: its path (``_native_path``), quotes placed."""
    mp = strategy.max_position
    core.set_strategy(
        kernel[0], kernel[1], strategy.size, -1 if mp is None else mp, manager.min_quote_life_ns,
        manager.price_tolerance, manager.size_tolerance,
        -1 if manager.max_order_size is None else manager.max_order_size,
    )  # fmt: skip
    report = _Progress(progress)
    while core.run(report.budget) != RUN_END:
        report(core)
    report(core)
    return (*_native_path(core), int(core.placed))


def _run_compiled(
    core: NativeReplayCore,
    strategy: KernelStrategy,
    address: int,
    manager: OrderManager,
    progress: Callable[[int], None] | None,
) -> tuple[dict[str, list[float]], list[bool], dict[str, np.ndarray[Any, Any]], int, str | None]:
    """Let the core call a compiled strategy at each decision: no Python until the end.

    The same order-manager rules and path as the built-ins; a kernel that
    raises or writes a price out of range stops the run with its quotes pulled,
    as the Python path does.
    """
    params, state = strategy.buffers()
    mos = manager.max_order_size
    core.set_kernel(address, params, state, manager.min_quote_life_ns, manager.price_tolerance,
                    manager.size_tolerance, -1 if mos is None else mos)  # fmt: skip
    report = _Progress(progress)
    while (reason := core.run(report.budget)) not in (RUN_END, RUN_STOPPED):
        report(core)
    report(core)
    stopped: str | None = None
    if reason == RUN_STOPPED:
        label, status = type(strategy).__name__, core.kernel_status
        stopped = (
            f"{label}.kernel raised (numba printed the error)" if status < 0
            else f"ConfigError in {label}.quote: "
            + _kernel_out_of_range(status - 1, core.kernel_bad_value)
        )  # fmt: skip
    return (*_native_path(core), int(core.placed), stopped)


def _native_path(
    core: NativeReplayCore,
) -> tuple[dict[str, list[float]], list[bool], dict[str, np.ndarray[Any, Any]]]:
    """The core's path: a row per decision with a two-sided book, quoted-both flags.

    Also the same columns as arrays, which the metrics read without converting back.
    """
    ts, cols = core.path()
    mid, pos, eq, bid, ask, both = (cols[i] for i in range(6))
    arrays = {"ts": ts[0], "mid": mid, "position": pos.astype(np.int64), "equity": eq,
              "quoted_both": both > 0}  # fmt: skip
    path: dict[str, list[float]] = {
        "ts": ts[0].tolist(), "mid": mid.tolist(),
        "position": arrays["position"].tolist(), "equity": eq.tolist(),
        "bid": bid.tolist(), "ask": ask.tolist(),  # ticks as floats, NaN: not quoted
    }  # fmt: skip
    return path, arrays["quoted_both"].tolist(), arrays


def _check_ints(intent: QuoteIntent) -> None:
    """Ticks and lots are ints (a price may be None): else the strategy's error, said plainly."""
    for value, price in ((intent.bid_price, True), (intent.bid_size, False),
                         (intent.ask_price, True), (intent.ask_size, False)):  # fmt: skip
        if not (price and value is None) and (
            isinstance(value, bool) or not isinstance(value, Integral)
        ):
            msg = f"prices and sizes are ticks and lots (ints), was {intent!r}"
            raise ConfigError(msg)


def _why_stopped(exc: Exception, intent: object, where: str) -> str:
    """The reason a strategy's error stopped the run; a non-int price or size said plainly."""
    if isinstance(exc, TypeError) and isinstance(intent, QuoteIntent):
        try:
            _check_ints(intent)
        except ConfigError as plain:
            exc = plain
    return f"{type(exc).__name__} in {where}: {exc}"


def _run_managed(
    core: NativeReplayCore,
    maker: OneLevelMaker,
    manager: OrderManager,
    cfg: ReplayConfig,
    progress: Callable[[int], None] | None,
    *,
    predictor: Predictor | None,
    signals: Callable[[Mapping[str, float]], Mapping[str, float]] | None,
) -> tuple[dict[str, list[float]], list[bool], dict[str, np.ndarray[Any, Any]], int, str | None]:
    """A one-level Python strategy on the native core: Python quotes, the core does the rest.

    The order manager's one-rung rule, the live quotes and the path are the
    core's (the built-ins' fast path); Python builds the context, calls
    ``quote`` and ``on_fill``. The same decisions, orders and fills as the
    execution layer's session (held equal by the differential tests). One
    call into the core per decision: ``quote_and_run`` carries the quote out,
    replays to the next decision and answers what the next context needs
    (the touch, the position and PnL as the strategy knows them).
    """
    mos = manager.max_order_size
    core.set_manager(manager.min_quote_life_ns, manager.price_tolerance,
                     manager.size_tolerance, -1 if mos is None else mos)  # fmt: skip
    inner = maker.inner
    quote_fn, fill_fn = inner.quote, inner.on_fill
    label = type(inner).__name__
    listens = getattr(type(inner), "on_fill", None) not in _NO_FILL_HOOKS
    wants_features = getattr(maker, "wants_features", True) or predictor is not None
    features = FeatureStream(FeatureConfig(levels=3)) if wants_features or signals else None
    redo = features is not None or predictor is not None  # the context gets them after the stop
    next_stop, quote_and_run = core.next_stop, core.quote_and_run
    notices, top = core.notices, core.top
    report = _Progress(progress)
    budget = report.budget
    feat: Mapping[str, float] = {}
    stopped: str | None = None
    forecast: float | None = None
    intent: QuoteIntent | None = None
    # the core makes each context itself: one object per decision crosses the boundary
    make, names, no_feat = StrategyContext, _CONTEXT_FIELDS, feat
    stop = next_stop(budget, make, names, no_feat)
    while True:
        reason, pending, ctx = stop
        if reason not in (RUN_DECISION, RUN_NOTICE):  # the budget or the end
            report(core)
            if reason == RUN_END:
                break
            stop = next_stop(budget, make, names, no_feat)
            continue
        # a strategy that ignores its fills leaves the notices to quote_and_run
        if pending and listens:
            stopped = _tell_fills(notices(), core.seen(), fill_fn, label, cfg, ctx, feat,
                                  forecast)  # fmt: skip
        if redo:
            two_sided = ctx.best_bid is not None and ctx.best_ask is not None
            if features is not None and reason == RUN_DECISION and two_sided:
                feat = features.on_book(ctx.ts_ns, *top(1, 3), *top(-1, 3))
                if signals is not None:
                    feat.update(signals(feat))
            if predictor is not None:
                forecast = predictor.predict(feat)
                forecast = forecast if math.isfinite(forecast) else None
            ctx = msgspec.structs.replace(ctx, features=feat, prediction=forecast)
        if stopped is None:
            try:
                intent = quote_fn(ctx)
                stop = quote_and_run(intent.bid_price, intent.bid_size, intent.ask_price,
                                     intent.ask_size, reason == RUN_DECISION, budget, make,
                                     names, no_feat)  # fmt: skip
                continue
            except Exception as exc:  # any strategy error stops the run cleanly
                stopped = _why_stopped(exc, intent, f"{label}.quote")
        core.apply_quotes(-1, 0, -1, 0, True)  # pull everything, then stop
        break
    report(core)
    return (*_native_path(core), int(core.placed), stopped)


def _tell_fills(
    seen: Sequence[tuple[int, ...]],
    told: tuple[int, int, float],
    fill_fn: Callable[[int, int, int, StrategyContext], None],
    label: str,
    cfg: ReplayConfig,
    now: StrategyContext,
    feat: Mapping[str, float],
    forecast: float | None,
) -> str | None:
    """Tell the strategy each visible fill; the reason it stopped, if its ``on_fill`` raised.

    Each fill is told with the position and cash right after it, at its own time,
    as the session tells it: undo the batch, then replay it fill by fill.
    """
    fills = [(n[1], n[3], n[4], n[5], n[7]) for n in seen if n[0] == NOTICE_FILL]
    if not fills:
        return None
    position, told_cash, told_fees = told
    bid, ask, bid_size, ask_size = now.best_bid, now.best_ask, now.bid_size, now.ask_size
    two_sided = bid is not None and ask is not None
    fee = [(cfg.maker_fee if m else cfg.taker_fee) * p * q for _, _, p, q, m in fills]
    held = position - sum(sd * q for _, sd, _, q, _ in fills)
    change = sum(-sd * q * p - f for (_, sd, p, q, _), f in zip(fills, fee, strict=True))
    money = told_cash - told_fees - change
    for (at, side, price, qty, _m), paid in zip(fills, fee, strict=True):
        held += side * qty
        money += -side * qty * price - paid
        ctx = StrategyContext(
            ts_ns=at, best_bid=bid, best_ask=ask, bid_size=bid_size, ask_size=ask_size,
            position=held, features=feat, prediction=forecast,
            pnl=money + held * (bid + ask) / 2 if two_sided else money,  # type: ignore[operator]
        )  # fmt: skip
        try:
            fill_fn(side, price, qty, ctx)
        except Exception as exc:  # the caller stops the run
            return f"{type(exc).__name__} in {label}.on_fill: {exc}"
    return None


def run_replay_backtest(
    strategy: Any,
    events: MarketEvents | StreamedMarket | MultiMarket,
    config: ReplayConfig | None = None,
    *,
    progress: Callable[[int], None] | None = None,
    predictor: Predictor | None = None,
    signals: Callable[[Mapping[str, float]], Mapping[str, float]] | None = None,
) -> BacktestResult:
    """Run ``strategy`` (a ``makerkit.core.Strategy`` or ``MarketMaker``) over recorded ``events``.

    A built-in strategy runs inside the core, and so does a compiled
    ``KernelStrategy`` (numba installed); any other trades through the
    execution layer (``TradingSession``), called from Python at its decisions.
    A ``predictor`` fills the context's ``prediction`` at every decision;
    ``signals`` maps the features to more of them (an adverse-selection model's
    probabilities, say). Either way the strategy is called from Python.
    A ``MultiMarket`` (several instruments of one day) replays each in its own
    core on one decision grid, for a strategy that trades them together.
    """
    cfg = config or ReplayConfig()
    strategy = with_venue_fees(strategy, rate=cfg.maker_fee)
    if isinstance(events, MultiMarket):  # several instruments, one replay core each
        first = next(iter(events.markets))
        return run_multi_replay(
            as_market_maker(strategy, first), events, cfg, make_replay_core,
            progress=progress, predictor=predictor, signals=signals,
        )  # fmt: skip
    core = make_replay_core(events, cfg)
    manager = OrderManager(
        min_quote_life_ns=round(cfg.min_quote_life_ms * 1e6), price_tolerance=cfg.price_tolerance
    )
    plain = predictor is None and signals is None
    kernel = native_kernel(strategy) if cfg.native_strategy and plain else None
    if kernel is not None and isinstance(core, _NATIVE_CORE):
        rows, quoted, arrays, placed = _run_native_kernel(core, strategy, kernel, manager,
                                                          progress)  # fmt: skip
        live, refused = _native_max_live(core, rows), _rejections(core)
        return _result(strategy.name, cfg, core, rows, quoted, placed, None, refused, live,
                       events.symbol, arrays)  # fmt: skip
    if (
        cfg.native_strategy and plain and isinstance(strategy, KernelStrategy)
        and isinstance(core, _NATIVE_CORE)
        and (address := strategy.compiled()) is not None
    ):  # fmt: skip
        rows, quoted, arrays, placed, stopped = _run_compiled(core, strategy, address, manager,
                                                              progress)  # fmt: skip
        live, refused = _native_max_live(core, rows), _rejections(core)
        return _result(strategy.name, cfg, core, rows, quoted, placed, stopped, refused, live,
                       events.symbol, arrays)  # fmt: skip
    maker = as_market_maker(strategy, events.symbol or "REPLAY")
    if cfg.native_strategy and isinstance(maker, OneLevelMaker) and isinstance(core, _NATIVE_CORE):
        # a one-level strategy decides in Python; the core's order manager carries it out
        rows, quoted, arrays, placed, stopped = _run_managed(
            core, maker, manager, cfg, progress, predictor=predictor, signals=signals
        )
        live, refused = _native_max_live(core, rows), _rejections(core)
        return _result(maker.name, cfg, core, rows, quoted, placed, stopped, refused, live,
                       events.symbol, arrays)  # fmt: skip
    if len(maker.symbols) != 1:
        msg = (
            f"{maker.name} trades {len(maker.symbols)} symbols {maker.symbols}; these events "
            f"are one instrument ({events.symbol or 'unnamed'}): replay the day of each, e.g. "
            "--data lobster:GOOG+AMZN"
        )
        raise ConfigError(msg)
    symbol = maker.symbols[0]
    touch: tuple[int | None, int, int | None, int] = (None, 0, None, 0)  # bid, size, ask, size
    top = core.top

    def book(_symbol: str, depth: int) -> BookView:
        bid, bid_size, ask, ask_size = touch
        if depth == 1:
            return BookView(bids=(Level(bid, bid_size),) if bid is not None else (),
                            asks=(Level(ask, ask_size),) if ask is not None else ())  # fmt: skip
        return BookView.from_columns(*top(1, depth), *top(-1, depth))

    gateway = ReplayGateway(core, symbol)
    session = TradingSession(
        maker, gateway, manager=manager, book=book, touch=lambda _s: touch,
        fee=lambda _s, price, qty, m: (cfg.maker_fee if m else cfg.taker_fee) * price * qty,
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
    step, notices = core.step, core.notices

    def top3() -> tuple[Any, ...]:
        return (*top(1, 3), *top(-1, 3))

    ts_col, mid_col, pos_col = path["ts"], path["mid"], path["position"]
    eq_col, bid_col, ask_col = path["equity"], path["bid"], path["ask"]
    report = _Progress(progress)
    budget = report.budget
    nan = float("nan")
    timer_ns = round(maker.timer_ms * 1e6) if maker.timer_ms else 0
    next_timer: int | None = None
    filled, closed, rejected = session.filled, session.closed, session.rejected_order
    best_live = session.best_live
    bids, asks = session.accounts[symbol].live[1], session.accounts[symbol].live[-1]

    while True:
        reason, t, bid, bid_size, ask, ask_size, position, cash, fees, pending, *_known = step(
            budget
        )
        if reason in (RUN_BUDGET, RUN_END):
            report(core)
            if reason == RUN_END:
                break
            continue
        touch = (bid, bid_size, ask, ask_size)
        mid = (bid + ask) / 2 if bid is not None and ask is not None else nan
        cash -= fees
        # the strategy knows of its fills only once their reports arrive: the notices
        for kind, _ts, oid, side, price, qty, left, maker_fill in notices() if pending else ():
            if kind == NOTICE_REJECTED:
                rejected(symbol, oid, _ts)  # closed too
                continue
            if kind == NOTICE_FILL:
                filled(symbol, oid, side, price, qty, bool(maker_fill), _ts)
            if left == 0:
                closed(symbol, oid)
        if reason == RUN_NOTICE and not cfg.requote_on_fill and session.stopped is None:
            continue
        seen = reason == RUN_DECISION and bid is not None and ask is not None
        observe(session, t, features, top3 if seen else None, predictor, signals)
        session.decide(t)
        if timer_ns and reason == RUN_DECISION:  # timers run at the decision times
            next_timer, fire = timer_step(t, next_timer, timer_ns)
            if fire:
                session.decide(t, timer=True)
        if (reason == RUN_DECISION or session.stopped is not None) and mid == mid:
            # one resting order a side is the common case: its price, no search
            lb = (next(iter(bids.values())).price if len(bids) == 1 else best_live(symbol, 1)
                  ) if bids else None  # fmt: skip
            la = (next(iter(asks.values())).price if len(asks) == 1 else best_live(symbol, -1)
                  ) if asks else None  # fmt: skip
            ts_col.append(t)
            mid_col.append(mid)
            pos_col.append(position)
            eq_col.append(cash + position * mid)
            bid_col.append(float(lb) if lb is not None else nan)
            ask_col.append(float(la) if la is not None else nan)
            both.append(lb is not None and la is not None)
        if session.stopped is not None:
            break
    refused = _rejections(core)
    return _result(maker.name, cfg, core, path, both, session.orders_sent, session.stopped,
                   refused, session.max_live_orders, symbol)  # fmt: skip


def _native_max_live(core: ReplayCore, path: dict[str, list[float]]) -> dict[str, int]:
    """The built-in strategies in the core hold at most one order a side: did they hold one?"""
    fills = core.fills()
    sides = set(fills[2].tolist()) if len(fills[2]) else set()
    sides |= set(core.rejections()[1].tolist())
    out = {}
    for name, side, column in (("bid", 1, path["bid"]), ("ask", -1, path["ask"])):
        quoted = side in sides or any(p == p for p in column)
        out[name] = 1 if quoted else 0
    return out


def _rejections(core: ReplayCore) -> list[int]:
    """When the core refused each of our quotes, also those not yet noticed at the end."""
    refused: list[int] = core.rejections()[0].tolist()
    return refused


def _result(
    name: str,
    cfg: ReplayConfig,
    core: ReplayCore,
    path: dict[str, list[float]],
    both: list[bool],
    placed: int,
    stopped: str | None,
    refused: list[int] | None,
    max_live: dict[str, int],
    symbol: str,
    arrays: Mapping[str, np.ndarray[Any, Any]] | None = None,
) -> BacktestResult:
    """Metrics and fills of a finished run; ``arrays``: the path's columns as arrays too."""
    columns: Mapping[str, Any] = arrays if arrays is not None else {**path, "quoted_both": both}
    if stopped is not None and len(path["ts"]) == 1:  # stopped at once: a flat path of two
        for column in path.values():
            column.append(column[-1])
        both.append(both[-1])
        columns = {**path, "quoted_both": both}
    if len(path["ts"]) < 2:
        why = f" (the strategy stopped: {stopped})" if stopped else ""
        msg = f"backtest too short: fewer than two decisions with a two-sided book{why}"
        raise ConfigError(msg)
    fills = core.fills()
    fill_ts, _oid, fill_side, fill_price, fill_qty, maker = (fills[i] for i in range(6))
    rate = np.where(maker > 0, cfg.maker_fee, cfg.taker_fee)
    fill_fee = rate * fill_price.astype(np.float64) * fill_qty.astype(np.float64)
    bid, _bq, ask, _aq = core.touch()
    metrics = compute_metrics(
        ts=columns["ts"], mid=columns["mid"], position=columns["position"],
        equity=columns["equity"], quoted_both=columns["quoted_both"], fill_ts=fill_ts,
        fill_side=fill_side, fill_price=fill_price, fill_qty=fill_qty, fees=float(core.fees),
        quotes_placed=placed, fill_fee=fill_fee, rejected_ts=refused or (),
        rejected_quotes=int(core.rejected),
        final_spread=None if bid is None or ask is None else float(ask - bid),
        orders_sent=placed, max_live_orders=max_live,
    )  # fmt: skip
    return BacktestResult(
        strategy=name,
        config=cfg,
        metrics=metrics,
        path=path,
        fills=list(
            zip(
                fill_ts.tolist(),
                fill_side.tolist(),
                fill_price.tolist(),
                fill_qty.tolist(),
                strict=True,
            )
        ),
        stopped=stopped,
        fifo_exceptions=int(core.fifo_exceptions) if cfg.queue == "l3" else None,
        positions={symbol: int(fill_side @ fill_qty)},
    )
