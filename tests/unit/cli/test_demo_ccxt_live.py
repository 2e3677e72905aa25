"""``makerkit demo --ccxt``: ccxt's own Binance class trades the demo venue beside the others."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from makerkit.cli._demo import DemoConfig, DemoState, run_demo, table_rows

pytest.importorskip("fastapi")
pytest.importorskip("ccxt")

TIMEOUT_S = 90.0


@pytest.mark.slow
def test_the_ccxt_bot_quotes_and_fills_through_the_binance_api_like_the_others(
    tmp_path: Path,
) -> None:
    import httpx

    cfg = DemoConfig(port=0, out_dir=tmp_path, rl=False, ccxt=True)
    seen: list[dict[str, Any]] = []
    done = asyncio.Event()

    def tick(state: DemoState) -> None:
        row = next(r for r in state.strategies if r.name == "ccxt")
        if row.orders > 0 and row.fills > 0 and not done.is_set():
            # the dashboard shows it as the terminal does, in this very sample
            seen.append(httpx.get(state.url + "/demo/strategies", timeout=5).json())
            assert seen[0]["strategies"] == table_rows(state)
            done.set()

    async def go() -> DemoState | None:
        task = asyncio.create_task(run_demo(cfg, on_tick=tick, say=lambda _m: None))
        waiter = asyncio.create_task(done.wait())
        await asyncio.wait({task, waiter}, timeout=TIMEOUT_S, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        if task.done():
            return task.result()  # it ended (or raised) on its own: say so below
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return None

    ended = asyncio.run(go())
    assert ended is None, f"the demo ended before the ccxt bot filled: {ended}"
    assert seen, "the ccxt bot never quoted and filled"
    rows = {r["strategy"]: r for r in seen[0]["strategies"]}
    assert list(rows) == ["symmetric", "inventory_skew", "adaptive_spread",
                          "avellaneda_stoikov", "glft", "ccxt"]  # fmt: skip
    assert rows["ccxt"]["status"] == "trading" and int(rows["ccxt"]["orders"]) > 0
    keys = json.loads((tmp_path / "accounts.json").read_text())["accounts"]["ccxt"]
    assert keys["api_key"] and keys["api_secret"]  # what a ccxt user would paste
    log = (tmp_path / "server.log").read_text()
    assert "Traceback" not in log


@pytest.mark.slow
def test_a_headless_ccxt_run_pulls_every_quote_on_the_way_out(tmp_path: Path) -> None:
    cfg = DemoConfig(port=0, out_dir=tmp_path, rl=False, ccxt=True, duration=6.0)
    state = asyncio.run(run_demo(cfg, say=lambda _m: None))
    row = next(r for r in state.strategies if r.name == "ccxt")
    assert row.decisions > 0 and row.orders > 0 and row.stopped is None
    assert state.errors == [] and state.open_orders_left == 0
