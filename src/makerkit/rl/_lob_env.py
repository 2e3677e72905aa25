"""A Gymnasium market-making environment on the simulated limit-order book.

The market is the backtester's: the order-flow simulator drives the matching
engine and our quotes rest in the same book (post-only, price-time
priority), so fills come from the engine, not from a fill model. Each step
is one decision: the action sets the quotes, then the market runs
``decision_ms`` of its own time (waking early when one of our orders trades,
to account for it at once).

* action, in [-1, 1]^3 (rescaled to [0, 1]): bid offset and ask offset from
  the mid (x ``max_offset`` ticks) and quote size (1 .. ``max_size`` lots);
* observation: spread, imbalances, order-flow imbalance, 1 s and 5 s returns
  (basis points), volatility, inventory / ``max_inventory``, time left and,
  given a ``predictor``, its forecast of the mid change in ticks; each
  clipped to [-10, 10];
* reward (``reward="penalised"``): the change of equity (cash plus inventory
  at the mid, ticks x lots) minus ``inventory_penalty`` x q^2 per step; with
  ``reward="terminal"`` only a ``terminal_penalty`` x q^2 at the end. An
  episode's rewards add up to its final equity minus the penalties (tested).
"""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import msgspec
import numpy as np

from makerkit.backtest import OUR_IDS, SimGateway, backend_of
from makerkit.core import (
    BookView,
    Ladder,
    MarketMakerBase,
    Orders,
    Predictor,
    QuoteIntent,
    StrategyContext,
)
from makerkit.core.errors import ConfigError
from makerkit.data import MarketSimulator, SimParams
from makerkit.execution import OrderManager, TradingSession
from makerkit.features import FeatureConfig, FeatureStream

__all__ = ["LOBEnvConfig", "MarketMakingEnv", "observation", "quote_intent"]

SYMBOL = "SIM"  # the one instrument an env trades, as the session names it
OBS = ("spread_ticks", "imbalance_1", "imbalance_n", "ofi_window", "ret_1s", "ret_5s",
       "ewma_vol")  # fmt: skip
_SCALE = {"ret_1s": 1e4, "ret_5s": 1e4, "ewma_vol": 1e4, "ofi_window": 0.1}


class LOBEnvConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The market, the decision clock, the action ranges and the reward."""

    params: SimParams | None = None  # default: SimParams.default() (informed flow)
    backend: str | None = None  # the simulator's: "native" (default when built) or "python"
    engine: str | None = None  # the old name of `backend`, still accepted
    decision_ms: float = 1000.0
    episode_steps: int = 300
    warmup_events: int = 500
    max_offset: float = 5.0
    max_size: int = 3
    max_inventory: int = 20
    reward: str = "penalised"  # or "terminal"
    inventory_penalty: float = 0.01  # per lot^2 per step
    terminal_penalty: float = 0.5  # per lot^2 at the end (reward="terminal")
    # a recorded day instead of the simulator: a --data spec such as
    # "lobster:GOOG,queue=conservative" (``ReplayMarketEnv``)
    data: str | None = None
    replay_warmup_s: float = 30.0  # replayed before an episode, to rebuild the book

    def __post_init__(self) -> None:
        msgspec.structs.force_setattr(self, "backend", backend_of(self.backend, self.engine))
        msgspec.structs.force_setattr(self, "engine", None)
        if self.reward not in ("penalised", "terminal"):
            msg = f"invalid `reward` {self.reward!r}, must be 'penalised' or 'terminal'"
            raise ConfigError(msg)
        for name in ("decision_ms", "episode_steps", "max_offset", "max_size", "max_inventory"):
            if not getattr(self, name) > 0:
                msg = f"invalid `{name}`, must be > 0, was {getattr(self, name)}"
                raise ConfigError(msg)
        if min(self.inventory_penalty, self.terminal_penalty, self.warmup_events,
               self.replay_warmup_s) < 0:  # fmt: skip
            msg = "invalid penalties or warm-up, must be >= 0"
            raise ConfigError(msg)


def observation(
    feat: dict[str, float] | Any, position: int, time_left: float, cfg: LOBEnvConfig,
    forecast: float | None = None,
) -> np.ndarray[Any, Any]:  # fmt: skip
    """The observation vector from context features, inventory and time left."""
    vals = [feat.get(k, 0.0) * _SCALE.get(k, 1.0) for k in OBS]
    vals.append(position / cfg.max_inventory)
    vals.append(time_left)
    if forecast is not None:
        vals.append(forecast)
    obs = np.nan_to_num(np.asarray(vals, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    return np.clip(obs, -10.0, 10.0).astype(np.float32)


def quote_intent(
    action: np.ndarray[Any, Any], mid: float, position: int, cfg: LOBEnvConfig
) -> QuoteIntent:
    """An action in [-1, 1]^3 as quotes around ``mid`` (ticks), within the inventory limit."""
    a = (np.clip(np.asarray(action, dtype=np.float64).reshape(3), -1.0, 1.0) + 1.0) / 2
    size = 1 + round(a[2] * (cfg.max_size - 1))
    bid = math.floor(mid - a[0] * cfg.max_offset)
    ask = math.ceil(mid + a[1] * cfg.max_offset)
    if ask <= bid:
        ask = bid + 1
    room_long = position + size <= cfg.max_inventory
    room_short = position - size >= -cfg.max_inventory
    return QuoteIntent(
        bid_price=bid if room_long and bid > 0 else None, bid_size=size if room_long else 0,
        ask_price=ask if room_short else None, ask_size=size if room_short else 0,
    )  # fmt: skip


class _Agent(MarketMakerBase):
    """The learning agent as the execution layer sees it: its quotes come from ``step``."""

    symbols: tuple[str, ...] = (SYMBOL,)


class _Scored(gym.Env[np.ndarray, np.ndarray]):
    """What both market-making envs share: the trading session, the observation, the scoring.

    An env is a thin adapter over the execution layer: ``reset`` builds a
    ``TradingSession`` on its market's gateway, ``_quote`` hands it the step's
    quotes, and the session keeps the orders, position and cash. Subclasses
    keep ``cfg``, ``predictor`` and ``_feat`` and move the market.
    """

    cfg: LOBEnvConfig
    predictor: Predictor | None
    _feat: dict[str, float]
    session: TradingSession
    steps: int
    equity: float
    penalties: float
    new_fills: list[tuple[int, int, int]]

    def _start_session(
        self, gateway: Any, *, first_order_id: int, fee: Any, book: Any = None
    ) -> TradingSession:
        """A fresh session for an episode; the scoring state starts at zero."""
        self.session = TradingSession(
            _Agent(), gateway, manager=OrderManager(), first_order_id=first_order_id, fee=fee,
            book=book or (lambda _s, _d: BookView()),
        )  # fmt: skip
        gateway.session = self.session
        self.steps, self.penalties, self.equity = 0, 0.0, 0.0
        self.new_fills = []
        self._told = 0  # fills already reported in an earlier step
        return self.session

    @property
    def position(self) -> int:
        """Lots held, as the agent has been told."""
        return self.session.accounts[SYMBOL].position

    @property
    def cash(self) -> float:
        """Ticks x lots, after fees."""
        return self.session.accounts[SYMBOL].cash

    @property
    def fills(self) -> int:
        """Lots traded so far this episode."""
        return sum(f[4] for f in self.session.fills)

    def _quote(self, intent: QuoteIntent, now_ns: int) -> None:
        """Move the resting quotes towards ``intent`` (the order manager's rules)."""
        self.session.execute(Orders(quotes={SYMBOL: Ladder.from_intent(intent)}), now_ns)

    def _take_new_fills(self) -> None:
        """The step's fills as (side, price, qty), in the order they happened."""
        fills = self.session.fills
        self.new_fills = [(f[2], f[3], f[4]) for f in fills[self._told :]]
        self._told = len(fills)

    def _observation(self) -> np.ndarray[Any, Any]:
        forecast = None
        if self.predictor is not None:
            forecast = self.predictor.predict(self._feat) if self._feat else 0.0
        left = 1.0 - self.steps / self.cfg.episode_steps
        return observation(self._feat, self.position, left, self.cfg, forecast)

    def _score(
        self, mid: float, ended: bool = False
    ) -> tuple[np.ndarray[Any, Any], float, bool, bool, dict[str, Any]]:
        """Close a step at ``mid``: the reward net of its penalty (``ended``: no more market)."""
        cfg = self.cfg
        self.steps += 1
        equity = self.cash + self.position * mid
        reward = equity - self.equity
        self.equity = equity
        done = self.steps >= cfg.episode_steps
        truncated = not done and ended
        penalty = 0.0
        if cfg.reward == "penalised":
            penalty = cfg.inventory_penalty * self.position**2
        elif done or truncated:
            penalty = cfg.terminal_penalty * self.position**2
        self.penalties += penalty
        info = {"mid": mid, "position": self.position, "equity": equity, "fills": self.fills,
                "fees": self.session.accounts[SYMBOL].fees, "penalties": self.penalties,
                "new_fills": self.new_fills}  # fmt: skip
        return self._observation(), float(reward - penalty), done, truncated, info


class MarketMakingEnv(_Scored):
    """One market maker in the simulated market (``makerkit/MarketMaking-v0``)."""

    metadata: dict[str, Any] = {"render_modes": []}  # noqa: RUF012 - gymnasium's contract

    def __init__(
        self, config: LOBEnvConfig | None = None, predictor: Predictor | None = None
    ) -> None:
        self.cfg = config or LOBEnvConfig()
        self.predictor = predictor  # its forecast (ticks) joins the observation
        n = len(OBS) + 2 + (predictor is not None)
        self.observation_space = gym.spaces.Box(-10.0, 10.0, shape=(n,), dtype=np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, shape=(3,), dtype=np.float32)
        self.sim: MarketSimulator | None = None
        self._feat: dict[str, float] = {}
        self._last_mid = 0.0

    # ------------------------------------------------------------------ state
    def _now(self) -> int:
        assert self.sim is not None  # noqa: S101 - after reset
        return self.sim.params.start_ns + int(self.sim.seconds * 1e9)

    def _mid(self) -> float:
        assert self.sim is not None  # noqa: S101 - after reset
        bid, ask = self.sim.book.best_bid(), self.sim.book.best_ask()
        if bid and ask:
            self._last_mid = (bid[0] + ask[0]) / 2
        return float(self._last_mid)

    def _update_features(self) -> None:
        assert self.sim is not None  # noqa: S101 - after reset
        book = self.sim.book
        bid_top, ask_top = book.top(1, 3), book.top(-1, 3)
        if bid_top[0] and ask_top[0]:
            self._feat = self.features.on_book(self._now(), *bid_top, *ask_top)

    # ---------------------------------------------------------------- gym API
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray[Any, Any], dict[str, Any]]:
        """A fresh market (seeded from ``seed``, or from the env's generator)."""
        super().reset(seed=seed)
        market_seed = int(self.np_random.integers(0, 2**31 - 1))
        params = self.cfg.params or SimParams.default()
        self.sim = MarketSimulator(params, seed=market_seed, backend=self.cfg.backend)
        self.sim.advance(max(self.cfg.warmup_events, 1))
        self.features = FeatureStream(FeatureConfig(levels=3))
        self._feat = {}
        self._last_mid = float(params.start_price)
        self.gateway = SimGateway({SYMBOL: self.sim.book}, post_only=True)
        self._start_session(self.gateway, first_order_id=OUR_IDS + 1, fee=lambda *_: 0.0)
        self._update_features()
        return self._observation(), {"mid": self._mid()}

    def step(
        self, action: np.ndarray[Any, Any]
    ) -> tuple[np.ndarray[Any, Any], float, bool, bool, dict[str, Any]]:
        """Quote per ``action``, let the market run one decision interval, score it."""
        if self.sim is None:
            msg = "call reset() before step()"
            raise ConfigError(msg)
        return self.step_intent(quote_intent(action, self._mid(), self.position, self.cfg))

    def context(self) -> StrategyContext:
        """What a ``makerkit.core.Strategy`` would see now (to play one in this market)."""
        if self.sim is None:
            msg = "call reset() before context()"
            raise ConfigError(msg)
        bid, ask = self.sim.book.best_bid(), self.sim.book.best_ask()
        return StrategyContext(
            ts_ns=self._now(), best_bid=bid[0] if bid else None, best_ask=ask[0] if ask else None,
            bid_size=bid[1] if bid else 0, ask_size=ask[1] if ask else 0,
            position=self.position, pnl=self.equity, features=dict(self._feat),
        )  # fmt: skip

    def step_intent(
        self, intent: QuoteIntent
    ) -> tuple[np.ndarray[Any, Any], float, bool, bool, dict[str, Any]]:
        """One step with quotes given directly: how closed-form strategies play this market.

        ``info["new_fills"]`` lists the step's fills as (side, price, qty);
        ``info["fees"]`` is what the episode has paid in fees so far (tick-lots).
        """
        if self.sim is None:
            msg = "call reset() before step_intent()"
            raise ConfigError(msg)
        cfg = self.cfg
        now = self._now()
        self._quote(intent, now)  # fills up to now are already counted
        until = now + int(cfg.decision_ms * 1e6)
        while self._now() < until:
            n = self.sim.advance(1 << 20, until_ns=until, watch_from=OUR_IDS)
            self.gateway.poll(self._now())
            if n == 0 and self._now() < until:
                break
        self._take_new_fills()
        mid = self._mid()
        self._update_features()
        return self._score(mid)
