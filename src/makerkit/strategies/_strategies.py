"""Market makers: each a formula from the literature, in ticks and lots.

Notation: m the mid, q the position (lots), h a half-spread, all prices in
ticks; quotes are rounded away from the mid (bids down, asks up) so that a
strategy never quotes tighter than its formula says, and the side that would
take |q| past ``max_position`` is not quoted.
"""

from __future__ import annotations

import copy
import importlib.util
import math
import sys
from pathlib import Path
from typing import Any, ClassVar

import msgspec

from makerkit.core import QuoteIntent, StrategyContext
from makerkit.core.errors import ConfigError

__all__ = [
    "GLFT",
    "STRATEGIES",
    "AdaptiveSpread",
    "AdverseGuard",
    "AvellanedaStoikov",
    "InventorySkew",
    "Symmetric",
    "make_strategy",
    "with_venue_fees",
]


def _quotes(bid: float, ask: float, size: int, q: int, max_position: int | None) -> QuoteIntent:
    b, a = math.floor(bid), math.ceil(ask)
    if a <= b:  # never cross ourselves
        a = b + 1
    room_long = max_position is None or q + size <= max_position
    room_short = max_position is None or q - size >= -max_position
    return QuoteIntent(
        bid_price=b if room_long and b > 0 else None,
        bid_size=size if room_long and b > 0 else 0,
        ask_price=a if room_short else None,
        ask_size=size if room_short else 0,
    )


class _Base(msgspec.Struct, kw_only=True):
    wants_features: ClassVar[bool] = False  # the backtester computes features only if True
    size: int = 1
    max_position: int | None = None

    def __post_init__(self) -> None:
        for field in self.__struct_fields__:
            value = getattr(self, field)
            if field in _SIGNED:  # fees: negative is a rebate
                if value is not None and not math.isfinite(value):
                    msg = f"invalid `{field}` for {type(self).__name__}, not finite: {value}"
                    raise ConfigError(msg)
                continue
            if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0:
                msg = f"invalid `{field}` for {type(self).__name__}, must be >= 0, was {value}"
                raise ConfigError(msg)
        if self.size < 1:
            msg = f"invalid `size` for {type(self).__name__}, must be >= 1, was {self.size}"
            raise ConfigError(msg)

    def on_fill(self, side: int, price: int, qty: int, ctx: StrategyContext) -> None:
        """These strategies read their position from the context; nothing to keep."""


_SIGNED = frozenset({"maker_fee", "maker_fee_ticks"})


class _FeeAware(_Base, kw_only=True):
    """A closed form that prices the maker fee into its quotes.

    A fill at depth d earns d - f, f the fee per lot in ticks (negative: a
    rebate). Substituting d' = d - f turns the fill intensity A exp(-k d) into
    A exp(-k f) exp(-k d'): the same control problem with A_f = A exp(-k f),
    so each quote sits f further from its fee-free place, computed with A_f.
    f = ``maker_fee_ticks`` + ``maker_fee`` x mid (a fee on notional). Left
    None, the backtesters fill in their venue's fee (``with_venue_fees``);
    anywhere else None means no fee.
    """

    maker_fee: float | None = None  # fraction of notional, as ReplayConfig.maker_fee
    maker_fee_ticks: float | None = None  # tick-lots per lot, as BacktestConfig.maker_fee

    def fee_ticks(self, mid: float) -> float:
        """The maker fee of one lot at ``mid``, in ticks (negative: a rebate)."""
        return (self.maker_fee_ticks or 0.0) + (self.maker_fee or 0.0) * mid


def with_venue_fees(strategy: Any, *, rate: float = 0.0, per_lot: float = 0.0) -> Any:
    """``strategy`` with the venue's maker fee where it left its own unset (None).

    ``rate``: a fee on notional (the replay's ``maker_fee``); ``per_lot``: tick-lots
    per lot (the simulator's). Strategies that do not price fees come back as they are.
    """
    if isinstance(strategy, AdverseGuard):
        bound = with_venue_fees(strategy.inner, rate=rate, per_lot=per_lot)
        if bound is strategy.inner:
            return strategy
        guard = copy.copy(strategy)
        guard.inner = bound
        return guard
    if not isinstance(strategy, _FeeAware):
        return strategy
    changes: dict[str, float] = {}
    if strategy.maker_fee is None:
        changes["maker_fee"] = float(rate)
    if strategy.maker_fee_ticks is None:
        changes["maker_fee_ticks"] = float(per_lot)
    return msgspec.structs.replace(strategy, **changes) if changes else strategy


class Symmetric(_Base, kw_only=True):
    """bid = m - h, ask = m + h: the baseline that ignores inventory and risk."""

    name: str = "symmetric"
    half_spread: float = 2.0

    def quote(self, ctx: StrategyContext) -> QuoteIntent:
        """Quote both sides ``half_spread`` ticks from the mid."""
        m = ctx.mid
        if m is None:
            return QuoteIntent.none()
        h = self.half_spread
        return _quotes(m - h, m + h, self.size, ctx.position, self.max_position)


class InventorySkew(_Base, kw_only=True):
    """Quotes centred on r = m - 2 phi q: the gradient of a quadratic penalty phi q^2.

    A long position lowers both quotes (sell more readily, buy less), a short
    one raises them.
    """

    name: str = "inventory_skew"
    half_spread: float = 2.0
    phi: float = 0.05  # ticks per lot^2

    def quote(self, ctx: StrategyContext) -> QuoteIntent:
        """Quote around the inventory-adjusted centre."""
        m = ctx.mid
        if m is None:
            return QuoteIntent.none()
        r = m - 2 * self.phi * ctx.position
        h = self.half_spread
        return _quotes(r - h, r + h, self.size, ctx.position, self.max_position)


class AdaptiveSpread(_Base, kw_only=True):
    """h = base + vol_mult x sigma, sigma the EWMA volatility in ticks (feature ``ewma_vol``).

    Wider when the price is moving, where resting quotes are picked off.
    """

    wants_features: ClassVar[bool] = True
    name: str = "adaptive_spread"
    base_half_spread: float = 1.0
    vol_mult: float = 2.0
    phi: float = 0.0

    def quote(self, ctx: StrategyContext) -> QuoteIntent:
        """Quote a volatility-scaled half-spread around the (skewed) mid."""
        m = ctx.mid
        if m is None:
            return QuoteIntent.none()
        vol = ctx.features.get("ewma_vol", 0.0)
        sigma = (vol if math.isfinite(vol) else 0.0) * m  # log-return vol -> ticks
        h = self.base_half_spread + self.vol_mult * sigma
        r = m - 2 * self.phi * ctx.position
        return _quotes(r - h, r + h, self.size, ctx.position, self.max_position)


def _centre(ctx: StrategyContext, alpha: float) -> float | None:
    """The mid, moved by ``alpha`` x the context's prediction when there is one.

    With a forecast of the mid's drift the optimal quotes centre on where the
    price is going (Cartea and Jaimungal's market making with alpha): quotes
    lean with the signal instead of being picked off by the flow behind it.
    """
    m = ctx.mid
    if m is None or ctx.prediction is None or alpha == 0.0:
        return m
    return m + alpha * ctx.prediction


class AvellanedaStoikov(_FeeAware, kw_only=True):
    """Avellaneda and Stoikov (2008), with a rolling horizon tau.

    r = m - q gamma sigma^2 tau; total spread d = gamma sigma^2 tau + (2/gamma) ln(1 + gamma/k);
    bid = r - d/2 - f, ask = r + d/2 + f with f the maker fee per lot in ticks (the
    spread term does not depend on A, so the fee only moves each quote by f).
    sigma in ticks per sqrt(second), k per tick. With a predictor, m is the mid
    plus ``alpha`` x the predicted mid change.
    """

    name: str = "avellaneda_stoikov"
    gamma: float = 0.1
    k: float = 1.5
    sigma: float = 1.0
    horizon_s: float = 10.0
    alpha: float = 1.0

    def quote(self, ctx: StrategyContext) -> QuoteIntent:
        """Quote around the reservation price with the optimal spread."""
        m = _centre(ctx, self.alpha)
        if m is None:
            return QuoteIntent.none()
        var_tau = self.sigma**2 * self.horizon_s
        r = m - ctx.position * self.gamma * var_tau
        d = self.gamma * var_tau + (2 / self.gamma) * math.log(1 + self.gamma / self.k)
        h = d / 2 + self.fee_ticks(m)
        return _quotes(r - h, r + h, self.size, ctx.position, self.max_position)


class GLFT(_FeeAware, kw_only=True):
    """Gueant, Lehalle and Fernandez-Tapia (2013), infinite horizon, closed form.

    c1 = (1/gamma) ln(1 + gamma/k),
    c2 = sqrt(sigma^2 gamma / (2 A k) (1 + gamma/k)^(1 + k/gamma)),
    bid = m - c1 - (2q + 1)/2 c2,  ask = m + c1 - (2q - 1)/2 c2.
    With a maker fee f per lot in ticks: both quotes move f away from the mid
    and c2 is taken with A exp(-k f) (see ``_FeeAware``).
    A (fills/s) and k (per tick) describe how fast a quote d ticks from the
    mid is hit, lambda(d) = A exp(-k d) (``fit_intensity``). With a predictor,
    m is the mid plus ``alpha`` x the predicted mid change.
    """

    name: str = "glft"
    gamma: float = 0.1
    A: float = 1.0
    k: float = 1.5
    sigma: float = 1.0
    alpha: float = 1.0

    def coefficients(self, fee: float = 0.0) -> tuple[float, float]:
        """(c1, c2) of the closed form; with a maker fee ``fee`` (ticks), c2 uses A exp(-k fee)."""
        g, k = self.gamma, self.k
        a = self.A * math.exp(-k * fee) if fee else self.A
        c1 = math.log(1 + g / k) / g
        c2 = math.sqrt(self.sigma**2 * g / (2 * a * k) * (1 + g / k) ** (1 + k / g))
        return c1, c2

    def quote(self, ctx: StrategyContext) -> QuoteIntent:
        """Quote the closed-form depths for the current inventory."""
        m = _centre(ctx, self.alpha)
        if m is None:
            return QuoteIntent.none()
        f = self.fee_ticks(m)
        c1, c2 = self.coefficients(f)
        q = ctx.position
        bid = m - f - c1 - (2 * q + 1) / 2 * c2
        ask = m + f + c1 - (2 * q - 1) / 2 * c2
        return _quotes(bid, ask, self.size, q, self.max_position)


STRATEGIES: dict[str, type[_Base]] = {
    "symmetric": Symmetric,
    "inventory_skew": InventorySkew,
    "adaptive_spread": AdaptiveSpread,
    "avellaneda_stoikov": AvellanedaStoikov,
    "glft": GLFT,
}


def _is_strategy(cls: type) -> bool:
    """A one-level ``Strategy`` (quote) or a ``MarketMaker`` (decide)."""
    return callable(getattr(cls, "quote", None)) or callable(getattr(cls, "decide", None))


def _file_class(spec: str) -> type:
    """The class ``Name`` of ``path/to/file.py:Name``, imported once per file."""
    text, _, cls_name = spec.rpartition(":")
    path = Path(text).expanduser()
    if not path.is_file():
        msg = f"invalid strategy {spec!r}: no file {path} (use path/to/file.py:ClassName)"
        raise ConfigError(msg)
    resolved = path.resolve()
    module_name = f"makerkit_user_strategy_{abs(hash(str(resolved))):x}"
    module = sys.modules.get(module_name)
    if module is None:
        loader_spec = importlib.util.spec_from_file_location(module_name, resolved)
        if loader_spec is None or loader_spec.loader is None:
            msg = f"invalid strategy {spec!r}: {path} cannot be imported as Python"
            raise ConfigError(msg)
        module = importlib.util.module_from_spec(loader_spec)
        sys.modules[module_name] = module
        try:
            loader_spec.loader.exec_module(module)
        except Exception as exc:  # the user's file: say which and why, no traceback
            del sys.modules[module_name]
            msg = f"invalid strategy {spec!r}: importing {path} failed: {type(exc).__name__}: {exc}"
            raise ConfigError(msg) from exc
    cls = getattr(module, cls_name, None)
    if not isinstance(cls, type) or not _is_strategy(cls):
        have = sorted(
            n for n, v in vars(module).items()
            if isinstance(v, type) and _is_strategy(v) and v.__module__ == module_name
        )  # fmt: skip
        msg = (
            f"invalid strategy {spec!r}: {path} has no class {cls_name!r} with a quote() "
            f"(Strategy) or decide() (MarketMaker) method; strategies there: {have}"
        )
        raise ConfigError(msg)
    return cls


def make_strategy(name: str, **params: object) -> Any:
    """Build a strategy by name, or ``path/to/file.py:ClassName`` for one of your own.

    Unknown names or parameters list what is valid. A class from a file gets
    the parameters as keyword arguments (a ``msgspec.Struct`` is converted and
    checked like the built-ins).
    """
    if name.partition(":")[0].endswith(".py"):
        cls = _file_class(name)
        if issubclass(cls, msgspec.Struct):
            return _convert(name, cls, params)
        try:
            return cls(**params)
        except TypeError as exc:
            msg = f"invalid parameters for {name}: {exc}"
            raise ConfigError(msg) from exc
    if name not in STRATEGIES:
        msg = (
            f"invalid strategy {name!r}, must be one of {sorted(STRATEGIES)} "
            "or path/to/file.py:ClassName"
        )
        raise ConfigError(msg)
    return _convert(name, STRATEGIES[name], params)


def _convert(name: str, cls: type[msgspec.Struct], params: dict[str, object]) -> Any:
    """``cls`` from ``params``, checked field by field; errors list what is valid."""
    valid = [f for f in cls.__struct_fields__ if f != "name"]
    unknown = sorted(set(params) - set(valid))
    if unknown:
        msg = f"invalid parameter(s) {unknown} for {name}, valid: {valid}"
        raise ConfigError(msg)
    try:
        return msgspec.convert(params, cls, strict=False)
    except msgspec.ValidationError as exc:
        msg = f"invalid parameters for {name}: {exc}"
        raise ConfigError(msg) from exc


class AdverseGuard:
    """Wraps a strategy: a side likely to be picked off is quoted further out, or pulled.

    Reads ``p_adverse_bid`` / ``p_adverse_ask`` from the context's features (an
    adverse-selection model's probabilities, see ``makerkit.predictor.fit_adverse``);
    above ``threshold`` that side moves ``widen`` ticks away from the mid, or
    is not quoted at all with ``pull``.
    """

    wants_features = True

    def __init__(
        self, inner: Any, *, threshold: float = 0.5, widen: int = 1, pull: bool = False
    ) -> None:
        if not 0.0 < threshold < 1.0 or widen < 0:
            msg = f"invalid guard, need 0 < threshold < 1 and widen >= 0, got {threshold}, {widen}"
            raise ConfigError(msg)
        self.inner, self.threshold, self.widen, self.pull = inner, threshold, widen, pull
        self.name = f"{getattr(inner, 'name', type(inner).__name__)}+guard"
        self.guarded = 0  # sides moved or pulled

    def quote(self, ctx: StrategyContext) -> QuoteIntent:
        """The inner strategy's quotes, with the risky sides moved out."""
        intent: QuoteIntent = self.inner.quote(ctx)
        f = ctx.features
        bid, ask = intent.bid_price, intent.ask_price
        bid_size, ask_size = intent.bid_size, intent.ask_size
        if bid is not None and f.get("p_adverse_bid", 0.0) > self.threshold:
            self.guarded += 1
            bid, bid_size = (None, 0) if self.pull else (bid - self.widen, bid_size)
        if ask is not None and f.get("p_adverse_ask", 0.0) > self.threshold:
            self.guarded += 1
            ask, ask_size = (None, 0) if self.pull else (ask + self.widen, ask_size)
        return QuoteIntent(bid_price=bid, bid_size=bid_size, ask_price=ask, ask_size=ask_size)

    def on_fill(self, side: int, price: int, qty: int, ctx: StrategyContext) -> None:
        """Passed on."""
        self.inner.on_fill(side, price, qty, ctx)
