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
# # 5. PPO on the model market, against the closed forms
#
# The Avellaneda–Stoikov model market (a Brownian mid; a quote at distance d fills with
# probability A·exp(−k·d)·dt) has its optimal policy in closed form, which makes it the
# yardstick for a learned one ([reinforcement learning](../concepts/rl.md)). We train PPO for a
# tiny number of steps, so it will not be good yet, and score it beside the closed forms on the
# same held-out seeds, with the reward PPO learns (PnL minus AS's inventory penalty).

# %%
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from IPython.display import Image, display

from makerkit.rl import evaluation_figure

makerkit = str(Path(sys.executable).with_name("makerkit"))
work = Path(tempfile.mkdtemp(prefix="makerkit-t05-"))


def run(*args: str) -> dict:
    """Run a makerkit command with --json; its last line, parsed."""
    done = subprocess.run([makerkit, *args, "--json"], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


# %% [markdown]
# ## Train
#
# 8 markets stepped together; 4,096 steps here (the default is 800,000, about 3 minutes).

# %%
trained = run("rl", "train", "--env", "model", "--timesteps", "4096", "--seed", "0",
              "--out", str(work / "ppo"))  # fmt: skip
print(trained["policy"], "gamma", trained["gamma"])

# %% [markdown]
# ## Evaluate beside the closed forms
#
# Every policy plays the same 200 episodes of a held-out seed.

# %%
evaluated = run("rl", "evaluate", "--policy", trained["policy"], "--episodes", "200",
                "--seed", "123", "--out", str(work / "eval"))  # fmt: skip
rows = json.loads((work / "eval" / "evaluation.json").read_text())
print("scored by:", evaluated.get("reward"))
print(f"{'policy':<20} {'reward':>8} {'PnL':>8} {'PnL sd':>8} {'final q sd':>10} {'vs AS':>6}")
for name, row in rows.items():
    if isinstance(row, dict) and "reward_mean" in row:
        print(f"{name:<20} {row['reward_mean']:>8.1f} {row['pnl_mean']:>8.1f} {row['pnl_std']:>8.1f}"
              f" {row['final_inventory_std']:>10.1f} {row.get('ratio_to_avellaneda_stoikov', 0):>6.2f}")

# %% [markdown]
# ## The evaluation report's plots

# %%
display(Image(evaluation_figure(rows)))  # the plot evaluation.html embeds

# %% [markdown]
# With 800,000 steps PPO reaches 0.99 of the AS closed form's reward (the table in
# [reinforcement learning](../concepts/rl.md#the-model-market)); with a few thousand it is
# still learning where to quote. The same policy file runs as the `rl` strategy in the
# backtester and live (`--strategy rl --policy policy.zip`).
