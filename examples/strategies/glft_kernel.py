r"""GLFT as a compiled kernel: a user's Python strategy at the built-ins' speed.

The closed form of Gueant, Lehalle and Fernandez-Tapia, written as one
numeric function over arrays. numba compiles it and the replay core calls it
at every decision without going back to Python, so a recorded day replays as
fast as with the built-in ``glft`` (``makerkit bench backtest`` measures
both); without numba it runs as plain Python, with the same quotes.

With ``sigma_halflife_s`` > 0, sigma (ticks per sqrt second) is an EWMA of
the squared mid changes the kernel has seen, kept in its ``state``; at 0 it
is the ``sigma`` given, and the quotes are the built-in ``glft``'s.

    makerkit backtest --strategy examples/strategies/glft_kernel.py:GLFTKernel \\
        --data binance:btcusdt:2024-08-08 --param gamma=0.05 --param A=2 \\
        --param k=4 --param sigma=3 --param max_position=10 --out runs/kernel
    makerkit backtest --strategy examples/strategies/glft_kernel.py:GLFTKernel \\
        --data synthetic --param sigma_halflife_s=30 --out runs/kernel-sim
"""

from __future__ import annotations

import math

from makerkit.strategies import (
    MID,
    OUT_ASK,
    OUT_ASK_SIZE,
    OUT_BID,
    OUT_BID_SIZE,
    POSITION,
    TIME_S,
    KernelStrategy,
)

# params: the fields below in the order they are declared (name excluded)
GAMMA, A, K, SIGMA, SIZE, MAX_POSITION, HALFLIFE = range(7)
# state: what the kernel remembers between decisions
LAST_MID, LAST_T, VAR, SEEN = range(4)


class GLFTKernel(KernelStrategy, kw_only=True):
    """GLFT's bid and ask for the current inventory; sigma fixed or fitted online."""

    name: str = "glft_kernel"
    gamma: float = 0.1
    A: float = 1.0  # the paper's name
    k: float = 1.5
    sigma: float = 1.0
    size: int = 1
    max_position: int | None = None  # None: no limit (NaN in the kernel)
    sigma_halflife_s: float = 0.0  # > 0: fit sigma online with this half-life
    state_size = 4

    @staticmethod
    def kernel(view, params, state, out):  # type: ignore[no-untyped-def]  # numba types it
        """The quotes for this view; sigma updated first when it is fitted online."""
        m = view[MID]
        if m != m:  # one side of the book is empty: quote nothing
            return
        sigma = params[SIGMA]
        if params[HALFLIFE] > 0:
            t = view[TIME_S]
            if state[SEEN] > 0 and t > state[LAST_T]:
                dt = t - state[LAST_T]
                w = 1.0 - 0.5 ** (dt / params[HALFLIFE])
                change = m - state[LAST_MID]
                state[VAR] += w * (change * change / dt - state[VAR])
            state[LAST_MID], state[LAST_T], state[SEEN] = m, t, 1.0
            if state[VAR] > 0:
                sigma = math.sqrt(state[VAR])
        g, a, k = params[GAMMA], params[A], params[K]
        q, size, cap = view[POSITION], params[SIZE], params[MAX_POSITION]
        c1 = math.log(1 + g / k) / g
        c2 = math.sqrt(sigma**2 * g / (2 * a * k) * (1 + g / k) ** (1 + k / g))
        if cap != cap or q + size <= cap:  # room to buy (cap NaN: no limit)
            out[OUT_BID] = m - c1 - (2 * q + 1) / 2 * c2
            out[OUT_BID_SIZE] = size
        if cap != cap or q - size >= -cap:
            out[OUT_ASK] = m + c1 - (2 * q - 1) / 2 * c2
            out[OUT_ASK_SIZE] = size
