from __future__ import annotations

import os
from pathlib import Path

import pytest

from makerkit.book import available_backends
from makerkit.data import data_dir


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden", action="store_true", help="rewrite tests/golden files from this run"
    )


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


@pytest.fixture(params=available_backends())
def backend(request: pytest.FixtureRequest) -> str:
    """Run a test once per book backend built in this install."""
    return str(request.param)


@pytest.fixture(scope="session")
def data_root() -> Path:
    """The real market data; in CI it must be present (tests needing it never skip there)."""
    root = data_dir()
    if root is None or not root.is_dir():
        if os.environ.get("CI"):
            pytest.fail("MAKERKIT_DATA is not set and ../shared/data is missing in CI")
        pytest.skip("real market data not found (set MAKERKIT_DATA)")
    return root


GOLDEN = Path(__file__).parent / "golden"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test that reaches the real data (through ``data_root``) carries ``data``."""
    for item in items:
        if "data_root" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.data)


def pytest_sessionstart(session: pytest.Session) -> None:
    """In CI the C++ engine must have built: the pure-Python fallback would hide a broken build."""
    if os.environ.get("CI") and "native" not in available_backends():
        msg = (
            "the native engine is not built (the C++ build failed and pip fell back to pure Python)"
        )
        raise pytest.UsageError(msg)
