# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 3. Your own market maker, in the backtester and live
#
# A market maker never sends an order: at every decision it reads a `MarketContext` and answers
# the `Orders` it wants resting, a `Ladder` of `Level(price, size)` rungs per side. The
# execution layer turns that into the fewest cancels and places. Prices are ticks, sizes lots
# ([Write your own market maker](../how-to/write-a-market-maker.md)).
#
# We write a small ladder that leans against its inventory, backtest it on a recorded day,
# then run the same object live against a venue started here, on loopback.

# %%
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import msgspec

from makerkit.backtest import load_market, parse_data_spec, run_on_spec
from makerkit.core import Ladder, Level, MarketMakerBase, Orders


class SimpleLadder(MarketMakerBase):
    """A few rungs a side around the mid, shifted against the inventory."""

    def __init__(self, symbol: str = "SIM", levels: int = 3, half_spread: int = 2):
        self.symbols, self.levels, self.half_spread = (symbol,), levels, half_spread

    def decide(self, ctx):
        view = ctx[self.symbols[0]]
        if view.book.mid is None:
            return Orders.none(self.symbols)
        skew = view.position // 2  # lean against the inventory
        bid = int(view.book.mid) - self.half_spread - skew
        ask = int(view.book.mid) + self.half_spread + 1 - skew
        return Orders(quotes={self.symbols[0]: Ladder(
            bids=tuple(Level(bid - i, 1) for i in range(self.levels)),
            asks=tuple(Level(ask + i, 1) for i in range(self.levels)))})  # fmt: skip


# %% [markdown]
# ## In the backtester
#
# On GOOG's recorded day, 10:00 to 10:20, with the default queue model. The first symbol of a
# market maker is bound to a one-instrument market, so `"SIM"` stands for GOOG here.

# %%
spec = parse_data_spec("lobster:GOOG,start=10:00,end=10:20")
result = run_on_spec(SimpleLadder(levels=3, half_spread=5), spec, load_market(spec))
m = msgspec.to_builtins(result.metrics)
print(f"fills {m['fills']}, orders sent {m['orders_sent']}, most resting {m['max_live_orders']}")
print(f"pnl {m['pnl_total']:,.0f} = spread {m['pnl_spread']:,.0f} + adverse {m['pnl_adverse']:,.0f}"
      f" + inventory {m['pnl_inventory']:,.0f} + fees {m['pnl_fees']:,.0f}")  # fmt: skip

# %% [markdown]
# The same class from a file runs from the command line:
# `makerkit backtest --strategy ladder.py:SimpleLadder --param levels=3 --data lobster:GOOG --out runs/ladder`.
#
# ## Live, against a venue on loopback
#
# `makerkit serve --market` is the venue with simulated order flow on AAA, BBB and CCC. We start
# one on a free port with a throwaway journal and an admin key, create an account, and let
# `LiveRunner` drive our ladder over the REST API for a few seconds.

# %%
from makerkit.client import LiveRunner, VenueClient  # noqa: E402

with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
work = Path(tempfile.mkdtemp(prefix="makerkit-t03-"))
venue = subprocess.Popen(
    [str(Path(sys.executable).with_name("makerkit")), "serve", "--market", "--market-rate", "400",
     "--port", str(port), "--journal", str(work / "venue.db")],
    env={**os.environ, "MAKERKIT_ADMIN_KEY": "tutorial-admin"},
    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
)  # fmt: skip
base = f"http://127.0.0.1:{port}"


async def wait_for_book(deadline_s: float = 30.0) -> None:
    """Until the venue answers and the simulated market has both sides on AAA."""
    start = time.monotonic()
    while time.monotonic() - start < deadline_s:
        try:
            async with VenueClient(base, "tutorial-admin") as admin:
                book = await admin.book("AAA")
                if book.bids and book.asks:
                    return
        except (OSError, httpx.HTTPError):  # not listening yet
            pass
        await asyncio.sleep(0.2)
    raise TimeoutError("the venue did not come up")


await wait_for_book()
async with VenueClient(base, "tutorial-admin") as admin:
    key = (await admin.create_account("ladder")).api_key
print("venue up on", base)

# %%
async with VenueClient(base, key) as client:
    summary = await LiveRunner(SimpleLadder(symbol="AAA", levels=3, half_spread=2), client, "AAA",
                               decision_ms=100).run(seconds=3.0)  # fmt: skip
    left = await client.open_orders("AAA")
print(msgspec.to_builtins(summary))
print("open orders left after the run:", len(left))

# %% [markdown]
# The runner decided every 100 ms, kept at most three orders a side resting, and cancelled
# them all when it stopped. An integration test holds a strategy's decisions equal in the
# backtester and live on the same simulated market.

# %%
venue.send_signal(2)  # SIGINT: the venue flushes its journal and stops
print("venue exit code:", venue.wait(timeout=30))
