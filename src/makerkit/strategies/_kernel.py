"""Strategies written as one numeric function, which the replay core calls compiled.

A Python strategy costs a replay about 4 µs at each decision (the context, the
call, the intent), which at a decision every 100 ms on a busy feed halves the
replay's speed. A ``KernelStrategy`` writes its decision as a function of
float64 arrays that numba compiles to machine code: the replay core calls it
directly, as it runs the built-ins, with no Python in the loop (hftbacktest
runs numba strategies the same way). Everywhere else (the simulator, the RL
environments, live trading) the same class is an ordinary ``Strategy`` whose
``quote`` calls the same function: compiled when numba is installed
(``pip install 'makerkit[jit]'``), as plain Python when it is not.

The kernel is ``kernel(view, params, state, out)``:

* ``view`` mirrors ``StrategyContext``: ``view[TIME_S]`` (the context's time in
  seconds), ``BID``, ``BID_SIZE``, ``ASK``, ``ASK_SIZE``, ``MID``, ``POSITION``,
  ``PNL``, ``PREDICTION``; NaN where there is none (a missing side's size is 0).
* ``params`` holds the class's fields except ``name``, in the order they are
  declared (None as NaN, True as 1.0).
* ``state`` is ``state_size`` floats the kernel keeps between decisions, zero
  at first (``initial_state`` may say otherwise).
* ``out`` is NaN on entry; the kernel writes ``out[OUT_BID]``,
  ``out[OUT_BID_SIZE]``, ``out[OUT_ASK]``, ``out[OUT_ASK_SIZE]`` in ticks and
  lots. A side is quoted when its size is at least 1 and its price a number:
  the bid is floored and the ask ceiled (never tighter than asked), a price
  must be above 0, and an ask at or below the bid moves to one tick above it.
  An infinite or huge (2^53 or more) price or size stops the run.

Both paths read ``out`` by the same rule (``quote_from_out`` here and its twin
in ``cpp/src/replay_backtest.cpp``): the same decisions, orders and fills
either way (a differential test holds them equal).
"""

from __future__ import annotations

import importlib
import math
import re
from collections.abc import Callable
from typing import Any, ClassVar

import msgspec
import numpy as np
import numpy.typing as npt

from makerkit.core import QuoteIntent, StrategyContext
from makerkit.core.errors import ConfigError

__all__ = [
    "ASK",
    "ASK_SIZE",
    "BID",
    "BID_SIZE",
    "MID",
    "OUT_ASK",
    "OUT_ASK_SIZE",
    "OUT_BID",
    "OUT_BID_SIZE",
    "PNL",
    "POSITION",
    "PREDICTION",
    "TIME_S",
    "KernelStrategy",
    "numba_available",
    "out_of_range",
    "quote_from_out",
]

# the view: keep in step with kernel_quotes() in cpp/src/replay_backtest.cpp
TIME_S, BID, BID_SIZE, ASK, ASK_SIZE, MID, POSITION, PNL, PREDICTION = range(9)
VIEW_SIZE = 9
OUT_BID, OUT_BID_SIZE, OUT_ASK, OUT_ASK_SIZE = range(4)
OUT_SIZE = 4
_OUT_NAMES = ("OUT_BID", "OUT_BID_SIZE", "OUT_ASK", "OUT_ASK_SIZE")
_HUGE = 2.0**53  # past it a double no longer counts every integer

Floats = npt.NDArray[np.float64]
Kernel = Callable[[Floats, Floats, Floats, Floats], None]


def numba_available() -> bool:
    """Whether kernels compile (numba is installed); without it they run as plain Python."""
    return _numba() is not None


def _numba() -> Any:
    try:
        return importlib.import_module("numba")
    except ImportError:
        return None


def out_of_range(slot: int, value: float) -> str:
    """Why a kernel's ``out[slot]`` stops the run (the same words on both paths)."""
    return (
        f"the kernel wrote out[{_OUT_NAMES[slot]}] = {value!r}: prices and sizes must be "
        "finite and below 2^53 (NaN leaves the side unquoted)"
    )


def quote_from_out(out: Floats) -> QuoteIntent:
    """The quotes a kernel's ``out`` asks for (the rule in the module docstring)."""
    sides: list[tuple[int | None, int]] = []
    for s in (0, 1):
        price, size = float(out[2 * s]), float(out[2 * s + 1])
        if math.isnan(size) or size < 1:
            sides.append((None, 0))
            continue
        if not size < _HUGE:
            raise ConfigError(out_of_range(2 * s + 1, size))
        if math.isnan(price):
            sides.append((None, 0))
            continue
        if not abs(price) < _HUGE:
            raise ConfigError(out_of_range(2 * s, price))
        p = math.floor(price) if s == 0 else math.ceil(price)
        sides.append((p, math.floor(size)) if p > 0 else (None, 0))
    (bid, bid_size), (ask, ask_size) = sides
    if bid is not None and ask is not None and ask <= bid:
        ask = bid + 1
    return QuoteIntent(bid_price=bid, bid_size=bid_size, ask_price=ask, ask_size=ask_size)


class KernelStrategy(msgspec.Struct, kw_only=True, dict=True):
    """A one-level market maker whose decision is a numba-compilable ``kernel``.

    Subclass it, declare the parameters as fields and write ``kernel`` as a
    ``staticmethod`` over the four arrays (see the module docstring)::

        class Skewed(KernelStrategy, kw_only=True):
            name: str = "skewed"
            half_spread: float = 2.0
            skew: float = 0.5

            @staticmethod
            def kernel(view, params, state, out):
                centre = view[MID] - params[1] * view[POSITION]
                out[OUT_BID] = centre - params[0]
                out[OUT_ASK] = centre + params[0]
                out[OUT_BID_SIZE] = 1.0
                out[OUT_ASK_SIZE] = 1.0

    Replays run the compiled kernel inside the core (no Python per decision)
    unless a predictor or signals are asked for; every other runner calls
    ``quote``.
    """

    name: str = "kernel"
    wants_features: ClassVar[bool] = False
    state_size: ClassVar[int] = 0

    @staticmethod
    def kernel(view: Floats, params: Floats, state: Floats, out: Floats) -> None:
        """Write the quotes wanted now into ``out``; subclasses must override it."""
        msg = "a KernelStrategy subclass must define kernel(view, params, state, out)"
        raise NotImplementedError(msg)

    def __post_init__(self) -> None:
        if type(self).kernel is KernelStrategy.kernel:
            msg = f"{type(self).__name__} must define kernel(view, params, state, out)"
            raise ConfigError(msg)
        if self.state_size < 0:
            msg = f"invalid state_size for {type(self).__name__}, must be >= 0: {self.state_size}"
            raise ConfigError(msg)
        self.param_array()  # every field a number, said now rather than at the first decision

    def param_array(self) -> Floats:
        """The kernel's ``params``: the fields except ``name``, in declared order."""
        values: list[float] = []
        for field in self.__struct_fields__:
            if field == "name":
                continue
            value = getattr(self, field)
            if value is None:
                values.append(math.nan)
            elif isinstance(value, bool | int | float):
                values.append(float(value))
            else:
                msg = (
                    f"invalid field {field!r} of {type(self).__name__}: a kernel's parameters "
                    f"are numbers (or None), was {value!r}"
                )
                raise ConfigError(msg)
        return np.asarray(values, dtype=np.float64)

    def initial_state(self) -> Floats:
        """The kernel's ``state`` at the start: ``state_size`` zeros unless overridden."""
        return np.zeros(self.state_size, dtype=np.float64)

    def buffers(self) -> tuple[Floats, Floats]:
        """(params, state) as the kernel reads and writes them, made on first use.

        The state lives in the strategy: after a run it is where the run left it;
        ``reset`` starts it again.
        """
        held = self.__dict__.get("_buffers")
        if held is None:
            state = np.ascontiguousarray(self.initial_state(), dtype=np.float64)
            if state.shape != (self.state_size,):
                msg = (
                    f"{type(self).__name__}.initial_state() must give {self.state_size} "
                    f"floats, gave shape {state.shape}"
                )
                raise ConfigError(msg)
            held = (self.param_array(), state)
            self.__dict__["_buffers"] = held
        return held

    def reset(self) -> None:
        """Forget the state (and re-read the parameters) before the next decision."""
        self.__dict__.pop("_buffers", None)

    def compiled(self) -> int | None:
        """The address of the compiled kernel for the replay core; None without numba."""
        made = _compiled(type(self), len(self.buffers()[0]), self.state_size)
        return None if made is None else int(made[1].address)

    def quote(self, ctx: StrategyContext) -> QuoteIntent:
        """Call the kernel on the context (compiled when numba is installed)."""
        held = self.__dict__.get("_call")
        if held is None:
            params, _state = self.buffers()
            made = _compiled(type(self), len(params), self.state_size)
            kernel = type(self).kernel if made is None else made[0]
            view = np.full(VIEW_SIZE, math.nan)
            held = (kernel, view, np.full(OUT_SIZE, math.nan))
            self.__dict__["_call"] = held
        kernel, view, out = held
        params, state = self.buffers()
        bid, ask = ctx.best_bid, ctx.best_ask
        view[TIME_S] = ctx.ts_ns / 1e9
        view[BID] = math.nan if bid is None else bid
        view[BID_SIZE] = ctx.bid_size
        view[ASK] = math.nan if ask is None else ask
        view[ASK_SIZE] = ctx.ask_size
        view[MID] = math.nan if bid is None or ask is None else (bid + ask) / 2
        view[POSITION] = ctx.position
        view[PNL] = ctx.pnl
        view[PREDICTION] = math.nan if ctx.prediction is None else ctx.prediction
        out.fill(math.nan)
        kernel(view, params, state, out)
        return quote_from_out(out)

    def on_fill(self, side: int, price: int, qty: int, ctx: StrategyContext) -> None:
        """Kernels learn of fills from the position in the next view."""


_CACHE: dict[tuple[type, int, int], tuple[Any, Any]] = {}
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _numba_reason(exc: Exception) -> str:
    """What numba refused, in a few words: its first specific lines and where."""
    lines = [ln.strip() for ln in _ANSI.sub("", str(exc)).splitlines() if ln.strip()]
    specific = [ln for ln in lines if not ln.startswith(("Failed in ", "During: "))]
    where = next((ln for ln in lines if ln.startswith("File ")), "")
    said = " ".join(specific[:2]) if specific else (lines[0] if lines else repr(exc))
    return f"{said} ({where.rstrip(':')})" if where and where not in said else said


def _compiled(cls: type[KernelStrategy], n_params: int, n_state: int) -> tuple[Any, Any] | None:
    """(jitted kernel, cfunc entry) for ``cls``, compiled once per process; None without numba.

    The entry answers 1, or 0 when the kernel raised (numba prints the error):
    the core stops the run then. Bounds are checked, so a kernel writing past
    an array raises instead of corrupting memory.
    """
    numba = _numba()
    if numba is None:
        return None
    key = (cls, n_params, n_state)
    made = _CACHE.get(key)
    if made is not None:
        return made
    carray, types = numba.carray, numba.types  # numba is optional (and untyped)

    try:
        jitted = numba.njit(boundscheck=True, inline="always")(cls.kernel)
        shapes = ((VIEW_SIZE,), (n_params,), (n_state,), (OUT_SIZE,))

        def entry(view: Any, params: Any, state: Any, out: Any) -> int:
            jitted(carray(view, shapes[0]), carray(params, shapes[1]),
                   carray(state, shapes[2]), carray(out, shapes[3]))  # fmt: skip
            return 1

        ptr = types.CPointer(types.float64)
        compiled = numba.cfunc(types.int32(ptr, ptr, ptr, ptr), boundscheck=True)(entry)
    except Exception as exc:  # numba's typing errors: the user's kernel, said plainly
        msg = f"{cls.__name__}.kernel cannot be compiled by numba: {_numba_reason(exc)}"
        raise ConfigError(msg) from exc
    made = (jitted, compiled)
    _CACHE[key] = made
    return made
