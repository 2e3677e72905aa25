"""One name, ``backend``, for the engine behind the book, the simulator and the replay core."""

from __future__ import annotations

import pytest

from makerkit.backtest import BacktestConfig, ReplayConfig, backend_of
from makerkit.book import available_backends, resolve_backend
from makerkit.core import ConfigError
from makerkit.rl import LOBEnvConfig


@pytest.mark.parametrize("config", [BacktestConfig, ReplayConfig])
def test_configs_take_backend_and_still_take_engine(config: type) -> None:
    assert config(backend="python").backend == "python"
    old = config(engine="python")
    assert old.backend == "python" and old.engine is None  # one name from here on
    assert config().backend is None  # native when built
    with pytest.raises(ConfigError, match="old name"):
        config(backend="python", engine="native")
    with pytest.raises(ConfigError, match="invalid `backend`"):
        config(backend="gpu")


def test_one_resolver_says_what_runs() -> None:
    assert resolve_backend("auto") == available_backends()[0]
    assert resolve_backend("python") == "python"
    with pytest.raises(ConfigError, match="invalid `backend`"):
        resolve_backend("fast")
    assert backend_of(None, "python") == "python" and backend_of("auto", None) is None
    assert LOBEnvConfig(engine="python").backend == "python"
