"""A real venue with the market driver on loopback, and headless Chromium pages on it."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ADMIN = "admin-key-for-browser-tests"
# commands per second per symbol: three symbols give the page well over 1,000 updates/s
MARKET_RATE = 500.0
ARTIFACTS = Path(__file__).parent / "artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _missing(what: str) -> None:
    """Skip without the browser stack; in CI a missing piece is a failure, never a skip."""
    if os.environ.get("CI"):
        pytest.fail(f"browser tests need {what} in CI", pytrace=False)
    pytest.skip(f"browser tests need {what}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class LiveVenue:
    """``makerkit serve --market`` in a thread: started, stopped and restarted on one port."""

    def __init__(self, journal: Path) -> None:
        self.journal = journal
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server: Any = None
        self.thread: threading.Thread | None = None
        self.app: Any = None

    def start(self) -> None:
        import uvicorn

        from makerkit.server import Settings, create_app
        from makerkit.server._wsproto import VenueWSProtocol

        settings = Settings(
            port=self.port,
            journal=str(self.journal),
            admin_key=ADMIN,
            symbols="AAA,BBB,CCC",
            market=True,
            market_rate=MARKET_RATE,
        )
        self.app = create_app(settings)
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=self.port,
            log_level="warning", ws=VenueWSProtocol, lifespan="on",  # as `makerkit serve`
        )  # fmt: skip
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            assert self.thread.is_alive(), "the venue did not start"
            assert time.monotonic() < deadline, "the venue did not start in 15 s"
            time.sleep(0.01)

    def stop(self) -> None:
        if self.server is None or self.thread is None:
            return
        self.server.should_exit = True
        self.thread.join(timeout=15)
        assert not self.thread.is_alive(), "the venue did not stop"
        self.server = None
        self.thread = None

    def _on_loop(self, coro: Any) -> Any:
        loop = self.server.servers[0].get_loop()
        return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout=10)

    def pause_market(self) -> None:
        """Stop the simulated flow; the book then holds still."""
        self._on_loop(self.app.state.driver.stop())

    def resume_market(self) -> None:
        self._on_loop(self.app.state.driver.start())


class Api:
    """REST calls with an account's key."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def get(self, path: str, key: str | None = None, **params: Any) -> Any:
        response = self.client.get(path, headers=_h(key), params=params)
        assert response.status_code == 200, response.text
        return response.json()

    def post(self, path: str, body: dict[str, Any], key: str | None = None) -> Any:
        return self.client.post(path, json=body, headers=_h(key))

    def account(self, name: str) -> tuple[int, str]:
        response = self.post("/admin/accounts", {"name": name}, ADMIN)
        assert response.status_code == 200, response.text
        body = response.json()
        return body["account_id"], body["api_key"]


def _h(key: str | None) -> dict[str, str]:
    return {"X-API-Key": key} if key else {}


@pytest.fixture(scope="session")
def chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        _missing("a `chromium` executable on PATH")
    assert path is not None
    return path


@pytest.fixture(scope="module")
def venue(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveVenue]:
    live = LiveVenue(tmp_path_factory.mktemp("venue") / "venue.db")
    live.start()
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture(scope="module")
def api(venue: LiveVenue) -> Iterator[Api]:
    import httpx

    with httpx.Client(base_url=venue.url, timeout=10) as client:
        yield Api(client)


@pytest.fixture(scope="module")
def browser(chromium: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


class Page:
    """A fresh browser context and page, with every console error and page error kept."""

    def __init__(self, browser: Any, url: str) -> None:
        self.url = url
        self.context = browser.new_context(viewport={"width": 1600, "height": 1100})
        self.page = self.context.new_page()
        self.page.set_default_timeout(10_000)
        self.console_errors: list[str] = []
        self.page_errors: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda exc: self.page_errors.append(str(exc)))

    def _console(self, message: Any) -> None:
        if message.type == "error":
            self.console_errors.append(f"{message.text} ({message.location})")

    def tid(self, test_id: str) -> Any:
        return self.page.get_by_test_id(test_id)

    def text(self, test_id: str) -> str:
        return str(self.tid(test_id).inner_text()).strip()

    def wait(self, js: str, arg: Any = None, timeout_ms: float = 10_000) -> Any:
        """Wait until a JS expression (a function of ``arg``) is truthy; return its value."""
        return self.page.wait_for_function(js, arg=arg, timeout=timeout_ms).json_value()

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def page(browser: Any, venue: LiveVenue) -> Iterator[Page]:
    p = Page(browser, venue.url)
    try:
        yield p
        # what the page caught itself (a failed handler, an error frame) it shows here
        last_error = p.page.evaluate(
            "document.querySelector('[data-testid=last-error]')?.textContent ?? ''"
        )
    finally:
        p.close()
    assert p.page_errors == [], f"uncaught exceptions in the page: {p.page_errors}"
    assert last_error == "", f"the page reported an error: {last_error}"


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
