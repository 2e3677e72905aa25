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
# # 4. Fit and tune on one window, judge on the next
#
# Parameters chosen on the data they are scored on say nothing about the strategy. Here GLFT
# is fitted to GOOG's 10:00-10:30 window (volatility, fill intensity, the instrument's rules),
# tuned there, and judged once on 10:30-11:00, which nothing before has seen
# ([research discipline](../concepts/research.md)).

# %%
import json
import subprocess
import sys
import tempfile
from pathlib import Path

makerkit = str(Path(sys.executable).with_name("makerkit"))
work = Path(tempfile.mkdtemp(prefix="makerkit-t04-"))


def run(*args: str) -> dict:
    """Run a makerkit command with --json; its last line, parsed."""
    done = subprocess.run([makerkit, *args, "--json"], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


# %% [markdown]
# ## Fit on the train window

# %%
fitted = run("fit", "--data", "lobster:GOOG", "--window", "10:00-10:30",
             "--out", str(work / "goog.json"))  # fmt: skip
market = fitted["market"]
print(fitted["instrument"]["rules"])
print(f"sigma {market['sigma']:.2f} ticks/sqrt(s), A {market['A']:.3f}, k {market['k']:.3f}")
print("GLFT's fitted parameters:", fitted["strategies"]["glft"])

# %% [markdown]
# ## Tune there, judge on the next window
#
# With a fitted k, GLFT's search space is its risk aversion gamma alone. Optuna's TPE (seeded)
# tries settings on the train window, ranked by edge (spread + adverse selection + fees); the
# best runs once on the test window.

# %%
tuned = run("tune", "--strategy", "glft", "--data", "lobster:GOOG",
            "--params", str(work / "goog.json"),
            "--train", "10:00-10:30", "--test", "10:30-11:00", "--trials", "6", "--seed", "0")  # fmt: skip
print("chosen on the train window:", tuned["best_params"])
for name in ("in_sample", "out_of_sample"):
    r = tuned[name]
    print(f"{name:>14}: fills {r['fills']:>4}  edge {r['edge']:>8,.0f} {r['edge_ci95']}"
          f"  pnl {r['pnl']:>8,.0f} {r['pnl_ci95']}")  # fmt: skip

# %% [markdown]
# The in-sample edge is the best of several tries, so it flatters; the out-of-sample one is
# the estimate. An interval that includes zero has not shown its sign. `--until 16:00` walks
# forward, fold after fold; `--workers 2` or `--ray` runs the trials in parallel.

# %% [markdown]
# ## The trials

# %%
for trial in sorted(tuned["trials"], key=lambda t: -t["objective"]):
    print({k: f"{v:.3g}" for k, v in trial["params"].items() if k not in ("A", "k", "sigma")},
          f"edge {trial['objective']:,.0f}", f"fills {trial['fills']}")  # fmt: skip
