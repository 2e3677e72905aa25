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
# # 6. Trade the demo venue from ccxt
#
# The venue speaks Binance's spot API beside its own ([Connect ccxt](../how-to/ccxt.md)): same
# journal, same risk checks, same sequence numbers. A bot written against ccxt paper-trades on
# the simulated market unchanged; the only change is where its URLs point.
#
# We start a venue with simulated flow, open an account with opening balances, and trade it
# with ccxt's own `binance` class.

# %%
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import ccxt
import httpx

work = Path(tempfile.mkdtemp(prefix="makerkit-t06-"))
with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
venue = subprocess.Popen(
    [str(Path(sys.executable).with_name("makerkit")), "serve", "--market", "--market-rate", "400",
     "--symbols", "AAA,BBB", "--port", str(port), "--journal", str(work / "venue.db")],
    env={**os.environ, "MAKERKIT_ADMIN_KEY": "tutorial-admin"},
)  # fmt: skip
BASE = f"http://127.0.0.1:{port}"
deadline = time.monotonic() + 60
while True:  # until the venue answers and its simulated book has both sides
    try:
        book = httpx.get(f"{BASE}/api/v3/depth", params={"symbol": "AAAUSD"}).json()
        if book.get("bids") and book.get("asks"):
            break
    except httpx.TransportError:
        pass
    assert time.monotonic() < deadline, "the venue did not start"
    time.sleep(0.2)

# %% [markdown]
# ## An account with a key and a secret
#
# `POST /admin/accounts` answers the API key and the secret that signs Binance-style requests
# (HMAC-SHA256), shown this once. Opening balances are deposits.

# %%
acc = httpx.post(f"{BASE}/admin/accounts", headers={"X-API-Key": "tutorial-admin"},
                 json={"name": "ccxt", "balances": {"USD": "100000", "AAA": "100"}}).json()  # fmt: skip
ex = ccxt.binance({"apiKey": acc["api_key"], "secret": acc["api_secret"]})
ex.urls["api"] = {k: BASE + v.split("binance.com", 1)[1] for k, v in ex.urls["api"].items()}
markets = ex.load_markets()
print(sorted(markets), markets["AAA/USD"]["id"], markets["AAA/USD"]["limits"]["amount"])

# %% [markdown]
# ## Read the market, rest an order, cancel it

# %%
book = ex.fetch_order_book("AAA/USD", 5)
print("best", book["bids"][0], book["asks"][0], "lastUpdateId", book["nonce"])
bid = ex.create_order("AAA/USD", "limit", "buy", 2, round(book["bids"][0][0] - 1, 2))
print("resting:", ex.fetch_order(bid["id"], "AAA/USD")["status"])
print("open:", len(ex.fetch_open_orders("AAA/USD")))
print("cancel:", ex.cancel_order(bid["id"], "AAA/USD")["status"])

# %% [markdown]
# ## Refusals arrive as ccxt's exceptions
#
# A post-only order that would take is refused with Binance's code -2010, which ccxt raises as
# `OrderImmediatelyFillable`; a quantity beyond what the account may hold, with
# `InsufficientFunds` on a venue that does not allow shorting (this one does: see
# `fetch_balance`'s info). Nothing refused changes the venue.

# %%
try:
    ex.create_order("AAA/USD", "limit", "buy", 1, book["asks"][0][0] + 1, {"postOnly": True})
except ccxt.OrderImmediatelyFillable as exc:
    print("post-only refused:", exc)
try:
    ex.fetch_order("999999999", "AAA/USD")
except ccxt.OrderNotFound as exc:
    print("unknown order:", exc)

# %% [markdown]
# ## Take liquidity and read the fills

# %%
fill = ex.create_order("AAA/USD", "market", "buy", 1)
balance = ex.fetch_balance()
print("market order:", fill["status"], fill["filled"], "at", fill["average"])
print("AAA", balance["AAA"], "| short selling allowed:", balance["info"].get("allowShort"))
print("my trades:", [(t["side"], t["price"], t["amount"]) for t in ex.fetch_my_trades("AAA/USD")])

# %%
venue.send_signal(2)  # SIGINT: the venue flushes its journal and stops
print("venue exit code:", venue.wait(timeout=30))
