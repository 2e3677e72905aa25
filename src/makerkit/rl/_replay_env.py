"""The market-making environment on a recorded day: the backtester's replay core and queue model.

Same observation, action and reward as ``MarketMakingEnv``; the market is a
LOBSTER or Binance day replayed by the backtester's core (C++ when built):
our quotes join the recorded queues and fill only once the volume ahead of
them has traded or been cancelled (``queue=conservative|probabilistic``), with
the spec's order and feed latencies and fees.

An episode is ``episode_steps`` decisions from a start drawn (by the seed)
anywhere in the day, after ``replay_warmup_s`` of book rebuilding. An episode
that reaches the end of the recording stops early (``truncated``).
"""

from __future__ import annotations

from functools import cache
from typing import Any

import gymnasium as gym
import msgspec
import numpy as np

from makerkit.backtest import (
    NOTICE_FILL,
    NOTICE_REJECTED,
    RUN_DECISION,
    RUN_END,
    MarketEvents,
    ReplayConfig,
    ReplayCore,
    ReplayGateway,
    load_market,
    make_replay_core,
    parse_data_spec,
    window_events,
)
from makerkit.core import Predictor, QuoteIntent, StrategyContext
from makerkit.core.errors import ConfigError
from makerkit.features import FeatureConfig, FeatureStream
from makerkit.rl._lob_env import OBS, SYMBOL, LOBEnvConfig, _Scored, quote_intent

__all__ = ["ReplayMarketEnv", "make_market_env"]

_BUDGET = 1 << 22
_SLACK_S = 60.0


@cache
def _day(spec_text: str) -> MarketEvents:
    """A recorded day, loaded once per process (several envs share it)."""
    head, *opts = spec_text.split(",")
    where = [o for o in opts if o.startswith(("catalog=", "missing="))]  # a catalog's folder
    events = load_market(parse_data_spec(",".join([head, *where])))
    assert events is not None  # noqa: S101 - parse refused non-recorded specs earlier
    return events


def _slice(ev: MarketEvents, lo: int, hi: int, start_ns: int) -> MarketEvents:
    return msgspec.structs.replace(
        ev, ts=ev.ts[lo:hi], kind=ev.kind[lo:hi], side=ev.side[lo:hi], price=ev.price[lo:hi],
        qty=ev.qty[lo:hi], start_ns=start_ns,
    )  # fmt: skip


class ReplayMarketEnv(_Scored):
    """One market maker on a recorded day (``LOBEnvConfig(data="lobster:GOOG")``)."""

    metadata: dict[str, Any] = {"render_modes": []}  # noqa: RUF012 - gymnasium's contract

    def __init__(self, config: LOBEnvConfig, predictor: Predictor | None = None) -> None:
        if not config.data:
            msg = "ReplayMarketEnv needs LOBEnvConfig(data='lobster:SYMBOL[:DAY][,...]')"
            raise ConfigError(msg)
        spec = parse_data_spec(config.data)
        if spec.synthetic:
            msg = f"invalid data {config.data!r}: a recorded day (lobster:... or binance:...)"
            raise ConfigError(msg)
        self.cfg = config
        fields = ReplayConfig.__struct_fields__  # not the spec's catalog=, missing=
        self.replay = msgspec.convert(
            {k: v for k, v in spec.options.items() if k in fields}
            | {"decision_ms": config.decision_ms, "requote_on_fill": False},
            ReplayConfig,
        )
        # a window (start=, end=) bounds where episodes trade: train on one, judge on another
        self.events = window_events(_day(config.data), spec.window)
        self.predictor = predictor
        n = len(OBS) + 2 + (predictor is not None)
        self.observation_space = gym.spaces.Box(-10.0, 10.0, shape=(n,), dtype=np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, shape=(3,), dtype=np.float32)
        # the replay ends with its last event and a decision needs an event after it: the
        # slice runs _SLACK_S past the episode (quiet books go seconds without one)
        span = (config.episode_steps * config.decision_ms * 1e6
                + (config.replay_warmup_s + _SLACK_S) * 1e9)  # fmt: skip
        first, last = int(self.events.start_ns), int(self.events.ts[-1])
        if spec.window.start is not None:  # decisions, after the warm-up, start in the window
            first = max(int(self.events.ts[0]), first - int(config.replay_warmup_s * 1e9))
        if last - first < span:
            msg = (
                f"the recording is {(last - first) / 1e9:.0f} s long, an episode needs "
                f"{span / 1e9:.0f} s (fewer episode_steps or a shorter decision_ms)"
            )
            raise ConfigError(msg)
        self._starts = (first, last - int(span))
        self.core: ReplayCore | None = None

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray[Any, Any], dict[str, Any]]:
        """A fresh episode from a start drawn from ``seed``."""
        super().reset(seed=seed)
        cfg, ev = self.cfg, self.events
        t0 = int(self.np_random.integers(self._starts[0], self._starts[1] + 1))
        begin = t0 + int(cfg.replay_warmup_s * 1e9)
        end = begin + int(cfg.episode_steps * cfg.decision_ms * 1e6 + _SLACK_S * 1e9)
        lo, hi = np.searchsorted(ev.ts, [t0, end], side="left")
        self.episode_events = _slice(ev, int(lo), int(hi), begin)  # what this episode replays
        self.core = make_replay_core(self.episode_events, self.replay)
        self.features = FeatureStream(FeatureConfig(levels=3))
        maker_fee, taker_fee = self.replay.maker_fee, self.replay.taker_fee
        self._start_session(
            ReplayGateway(self.core, SYMBOL), first_order_id=1,
            fee=lambda _s, price, qty, m: (maker_fee if m else taker_fee) * price * qty,
        )  # fmt: skip
        self._feat: dict[str, float] = {}
        self._mid = float("nan")
        self.ended = not self._advance()
        return self._observation(), {"mid": self._mid}

    def _advance(self) -> bool:
        """Run the replay to the next decision; False at the end of the recording."""
        core = self.core
        assert core is not None  # noqa: S101 - after reset
        while True:
            reason, t, bid, bsz, ask, asz, *_ = core.step(_BUDGET)
            # what the agent has been told: fills count once their reports arrive
            session = self.session
            for kind, _ts, oid, side, price, qty, left, maker in core.notices():
                if kind == NOTICE_REJECTED:
                    session.rejected_order(SYMBOL, oid, _ts)
                    continue
                if kind == NOTICE_FILL:
                    session.filled(SYMBOL, oid, side, price, qty, bool(maker), _ts)
                if left == 0:
                    session.closed(SYMBOL, oid)
            if reason == RUN_END:
                return False
            if reason == RUN_DECISION:
                self._t = t
                self._touch = (bid, bsz, ask, asz)
                if bid is not None and ask is not None:
                    self._mid = (bid + ask) / 2
                    self._feat = self.features.on_book(t, *core.top(1, 3),
                                                       *core.top(-1, 3))  # fmt: skip
                return True

    def context(self) -> StrategyContext:
        """What a ``makerkit.core.Strategy`` would see now."""
        bid, bsz, ask, asz = self._touch
        return StrategyContext(
            ts_ns=self._t, best_bid=bid, best_ask=ask, bid_size=bsz, ask_size=asz,
            position=self.position, pnl=self.equity, features=dict(self._feat),
        )  # fmt: skip

    def step(
        self, action: np.ndarray[Any, Any]
    ) -> tuple[np.ndarray[Any, Any], float, bool, bool, dict[str, Any]]:
        """Quote per ``action``, replay one decision interval, score it."""
        if self.core is None:
            msg = "call reset() before step()"
            raise ConfigError(msg)
        mid = self._mid if self._mid == self._mid else 0.0
        return self.step_intent(quote_intent(action, mid, self.position, self.cfg))

    def step_intent(
        self, intent: QuoteIntent
    ) -> tuple[np.ndarray[Any, Any], float, bool, bool, dict[str, Any]]:
        """One step with quotes given directly (how closed-form strategies play it)."""
        if self.core is None:
            msg = "call reset() before step_intent()"
            raise ConfigError(msg)
        if self._mid != self._mid:  # no two-sided book yet: quote nothing
            intent = QuoteIntent.none()
        self._quote(intent, self._t)
        self.ended = self.ended or not self._advance()
        self._take_new_fills()
        return self._score(self._mid if self._mid == self._mid else 0.0, self.ended)


def make_market_env(
    config: LOBEnvConfig | None = None, predictor: Predictor | None = None
) -> gym.Env[np.ndarray, np.ndarray]:
    """``makerkit/MarketMaking-v0``: the simulated book, or a recorded day with ``data``."""
    from makerkit.rl._lob_env import MarketMakingEnv

    cfg = config or LOBEnvConfig()
    if cfg.data:
        return ReplayMarketEnv(cfg, predictor)
    return MarketMakingEnv(cfg, predictor)
