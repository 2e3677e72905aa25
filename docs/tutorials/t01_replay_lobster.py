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
# # 1. Replay a LOBSTER day and look at the book
#
# A LOBSTER day is two files: every order event that touched the top N levels (the message
# file), and the top N levels after each event (the orderbook file). makerkit rebuilds the book
# from the messages alone, order by order, and checks it against the orderbook file after
# **every** message. Then we look at the book it built: its levels, and the orders queued in
# them.
#
# The data is read from `MAKERKIT_DATA` (default `../shared/data`).

# %%
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from makerkit.backtest import replay_lobster
from makerkit.book import available_backends
from makerkit.data import data_dir, load_lobster

root = data_dir()
assert root is not None, "set MAKERKIT_DATA to the folder holding lobster/"
lobster = root / "lobster"
day = "GOOG_2012-06-21_34200000_57600000"
message, orderbook = lobster / f"{day}_message_10.csv.gz", lobster / f"{day}_orderbook_10.csv.gz"
print("engines built:", available_backends())

# %% [markdown]
# ## The command line
#
# `makerkit replay lobster MESSAGE ORDERBOOK` does the whole check and says how it went;
# `--json` ends with one line of JSON ([its keys](../reference/json.md#makerkit-replay-lobster)).
# Exit code 1 means a mismatch.

# %%
makerkit = str(Path(sys.executable).with_name("makerkit"))
run = subprocess.run(
    [makerkit, "replay", "lobster", str(message), str(orderbook), "--json"],
    capture_output=True,
    text=True,
    check=True,
)
print(run.stdout.strip().splitlines()[-1])

# %% [markdown]
# ## The same from Python
#
# `load_lobster` reads both files (prices stay integers: USD × 10,000). `replay_lobster`
# replays the messages; with `record_l1=True` it also returns the best bid and ask after every
# message, and with `wrap` we keep a handle on the book it builds.

# %%
lob = load_lobster(message, orderbook)
print(f"{len(lob):,} messages, {lob.levels} level(s) in the orderbook file")

books = []
report, l1 = replay_lobster(lob, record_l1=True, wrap=lambda book: books.append(book) or book)
book = books[0]
print(f"rows checked {report.rows_checked:,}, mismatched {report.mismatched_rows}")
print(f"visible trades {report.visible_trades:,}, hidden trades {report.hidden_trades:,}")
assert report.mismatched_rows == 0

# %% [markdown]
# ## The spread over the day
#
# `l1` has one row per message: ask price, ask size, bid price, bid size. A tick on this day is
# $0.01, which is 100 price units.

# %%
ask, bid = l1[:, 0], l1[:, 2]
two_sided = (ask > 0) & (bid > 0)
spread_ticks = (ask - bid)[two_sided] / report.tick
print("spread in ticks, p10 / p50 / p90 / p99:", np.percentile(spread_ticks, [10, 50, 90, 99]))
print(f"mid at the close: ${(ask[-1] + bid[-1]) / 2 / 10_000:.3f}")

# %% [markdown]
# ## The book at the close
#
# `l2(depth)` gives price levels with their size and order count; `l3(depth)` every order in
# each level, in time priority. Prices are ticks of the book's grid.
# Orders deeper than the file's 10 levels are never in it, so levels entering from beyond hold
# one placeholder for what the orderbook file showed there (`seeded_levels`).

# %%
l2 = book.l2(5)
for side, levels in (("ask", l2.asks), ("bid", l2.bids)):
    for level in levels:
        print(f"{side}  price {level.price:>8}  size {level.size:>5}  orders {level.count}")

# %%
l3 = book.l3(2)
for level in (*l3.asks, *l3.bids):
    queue = ", ".join(f"#{o.order_id}:{o.qty}" for o in level.orders[:8])
    print(f"price {level.price}: {queue}{' ...' if len(level.orders) > 8 else ''}")

# %% [markdown]
# The same replay, checked on all three sample days (GOOG at levels 1 and 10, AMZN at level 5),
# matches every row; it is what the backtester's L3 queue (`queue=l3`) is built from
# ([backtesting](../concepts/backtesting.md#queue-models)).
