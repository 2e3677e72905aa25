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
# # 2. Backtest GLFT on a recorded day; read the report and its decomposition
#
# GLFT (Guéant, Lehalle and Fernandez-Tapia) quotes around the mid at distances set by the
# market's volatility and fill intensity, skewed against its inventory. We run it on the AMZN
# LOBSTER day of 2012-06-21, from 10:00 to 10:30 of market time, with the default queue model,
# then read what the report says and where the PnL came from.

# %%
import tempfile
from pathlib import Path

import msgspec
from IPython.display import Image, display

from makerkit.backtest import (
    load_market,
    parse_data_spec,
    report_figures,
    run_on_spec,
    write_report,
)
from makerkit.metrics import pnl_decomposition  # noqa: F401  (the split the metrics carry)
from makerkit.strategies import make_strategy

out = Path(tempfile.mkdtemp(prefix="makerkit-t02-"))

# %% [markdown]
# ## The run
#
# A data spec names the market and the replay options: the day, the window, the queue model
# (`probabilistic` is the default; `conservative` and `l3` are the others), latencies and fees.
# The book is built from the day's first message; the strategy trades only inside the window.

# %%
spec = parse_data_spec("lobster:AMZN,start=10:00,end=10:30,queue=probabilistic,order_latency_ms=1")
market = load_market(spec)
glft = make_strategy("glft", gamma=0.05)
result = run_on_spec(glft, spec, market)
m = msgspec.to_builtins(result.metrics)
print(
    f"{m['fills']} fills, PnL {m['pnl_total']:,.0f} tick-lots, quote uptime {m['quote_uptime']:.1%}"
)

# %% [markdown]
# ## Where the PnL came from
#
# The total splits four ways, exactly: the spread captured at each fill (against the mid at
# the mark before it), adverse selection (the mid's move to the next mark, against the position
# taken), inventory (position × mid change between marks) and fees. The **edge** is what the
# quoting earned without the inventory's drift: spread + adverse + fees.

# %%
parts = ("pnl_spread", "pnl_adverse", "pnl_inventory", "pnl_fees")
for key in parts:
    print(f"{key:>14} {m[key]:>10,.0f}")
print(f"{'sum':>14} {sum(m[k] for k in parts):>10,.0f}   pnl_total {m['pnl_total']:,.0f}")
assert abs(sum(m[k] for k in parts) - m["pnl_total"]) < 1e-6
print(f"edge {m['edge']:,.0f}, 95% CI {m['edge_ci95']}")
print(f"mean PnL per minute, 95% CI {m['pnl_per_bucket_ci95']} over {m['buckets']} minutes")
print("mark-outs (ticks per lot):", {k: round(v, 2) for k, v in m["markouts"].items()})

# %% [markdown]
# Read it as: GLFT earns the spread at the fill, and the market takes it back within the
# next decision and the seconds after (negative mark-outs): adverse selection. Whether the
# total is positive mostly depends on the inventory's drift, which is why the edge, not the
# PnL, ranks strategies by default. An interval that includes zero has not shown its sign.

# %% [markdown]
# ## The report
#
# `write_report` writes the same `report.html` as `makerkit backtest`; `report_figures` gives
# its plots (title, PNG) to show here.

# %%
report = write_report(result, out)
print(report)
for title, image in report_figures(result):
    print(title)
    display(Image(image))

# %% [markdown]
# - **Equity**: in steps with the mid when the position is large: that is inventory, not
#   market making.
# - **Inventory**: it should cross zero often; pinned at a side, its exit quotes are not hit.
# - **Quotes against the mid**: where GLFT sat in the first minutes.
# - **Mark-outs**: the PnL per lot of a fill h seconds later; falling below zero is adverse
#   selection.
# - **PnL distribution**: per minute of market time.
#
# [Read a report](../how-to/read-a-report.md) goes through every figure and metric.

# %% [markdown]
# ## Against the other strategies
#
# `makerkit compare` runs several on the same market, ranked by edge. The same from Python:

# %%
from makerkit.metrics import rank_runs  # noqa: E402

runs = {name: msgspec.to_builtins(run_on_spec(make_strategy(name), spec, market).metrics)
        for name in ("symmetric", "avellaneda_stoikov", "glft")}  # fmt: skip
for rank, name in enumerate(rank_runs(runs, "edge"), 1):
    r = runs[name]
    print(
        f"{rank}. {name:<20} edge {r['edge']:>9,.0f}  pnl {r['pnl_total']:>9,.0f}  fills {r['fills']}"
    )
