"""The dashboard's strategies view: the demo's live table, side by side, in headless Chromium.

The venue here is the in-process one of ``conftest``; the demo's side is its own
writer (``_write_live``) fed a ``DemoState``, so the page must show exactly the
cells the terminal table is built from (``table_rows``).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
if os.environ.get("CI"):
    try:
        import playwright.sync_api  # noqa: F401 - only its presence is checked here
    except ImportError:
        pytest.fail("browser tests need playwright in CI", pytrace=False)
else:
    pytest.importorskip("playwright.sync_api")

from makerkit.cli._demo import DEMO_STATE_ENV, DemoState, StrategyRow, _write_live, table_rows
from tests.browser.conftest import Api, Page

COLUMNS = ("strategy", "symbol", "position", "pnl", "fills", "orders", "spread", "status")
ROWS = """() => [...document.querySelectorAll('[data-testid=strategy-row]')]
    .map(r => [...r.cells].map(c => c.textContent))"""


def _state() -> DemoState:
    rows = [
        StrategyRow(name="symmetric", symbol="AAA", account_id=2, orders=40, fills=3,
                    position=2.0, pnl=12.5, spread=0.04),
        StrategyRow(name="glft", symbol="BBB", account_id=3, orders=12, fills=1,
                    position=-1.0, pnl=-1234.567, spread=None),
        StrategyRow(name="rl", symbol="CCC", account_id=4, status="training 40%"),
    ]  # fmt: skip
    return DemoState(url="http://demo", started=time.monotonic() - 42, strategies=rows, symbols={})


def _cells(state: DemoState) -> list[list[str]]:
    return [[str(r[c]) for c in COLUMNS] for r in table_rows(state)]


def _shows(page: Page, expected: list[list[str]]) -> None:
    page.wait(f"want => JSON.stringify(({ROWS})()) === JSON.stringify(want)", expected)


@pytest.fixture
def demo_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The venue reads the demo's file from the environment, as ``makerkit demo`` starts it."""
    monkeypatch.setenv(DEMO_STATE_ENV, str(tmp_path / "live.json"))
    return tmp_path


def test_a_venue_without_a_demo_hides_the_view_and_logs_nothing(page: Page, api: Api) -> None:
    assert api.get("/demo/strategies") == {"running": False, "strategies": []}
    page.page.goto(page.url, wait_until="domcontentloaded")
    page.wait("() => /\\d/.test(document.querySelector('[data-testid=best-bid]').textContent)")
    page.page.wait_for_timeout(1500)  # a poll or two: nothing to show, nothing logged
    assert page.tid("strategies-panel").is_hidden()
    assert page.console_errors == []


def test_the_view_shows_each_participant_as_the_live_table_and_follows_it(
    page: Page, api: Api, demo_file: Path, artifacts: Any
) -> None:
    state = _state()
    _write_live(state, demo_file)
    assert api.get("/demo/strategies")["strategies"] == table_rows(state)
    page.page.goto(page.url, wait_until="domcontentloaded")
    page.tid("strategies-panel").wait_for(state="visible")
    _shows(page, _cells(state))
    assert _cells(state)[2][-1] == "training 40%"  # the rl row says how far it is
    loss = page.page.locator("[data-strategy=glft] td[data-col=pnl]")
    assert loss.inner_text() == "-1,234.57" and loss.get_attribute("class") == "loss"
    # the next sample: the rl strategy joined and quotes, the others traded on
    rl = state.strategies[2]
    rl.status, rl.orders, rl.fills, rl.position, rl.pnl, rl.spread = None, 6, 2, 1.0, 0.75, 0.1
    state.strategies[0].fills, state.strategies[0].position = 4, 3.0
    _write_live(state, demo_file)
    _shows(page, _cells(state))
    assert page.page.locator("[data-strategy=rl]").get_attribute("data-status") == "trading"
    page.page.locator("[data-testid=strategies-panel]").screenshot(
        path=str(artifacts / "strategies-view.png")
    )
    assert page.console_errors == []
