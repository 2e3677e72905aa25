"""Strategies from the user's own files: ``--strategy path/to/file.py:ClassName``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from makerkit.cli import app
from makerkit.core.errors import ConfigError
from makerkit.strategies import make_strategy

MINE = '''
import msgspec
from makerkit.core import QuoteIntent

class Wide(msgspec.Struct, kw_only=True):
    """Quotes `offset` ticks either side of the mid."""
    offset: float = 3.0
    size: int = 1

    def quote(self, ctx):
        if ctx.best_bid is None or ctx.best_ask is None:
            return QuoteIntent.none()
        mid = (ctx.best_bid + ctx.best_ask) / 2
        return QuoteIntent(bid_price=int(mid - self.offset), ask_price=int(mid + self.offset) + 1,
                           bid_size=self.size, ask_size=self.size)

    def on_fill(self, side, price, qty, ctx):
        pass

class Plain:
    def __init__(self, offset=2):
        self.inner = Wide(offset=offset)

    def quote(self, ctx):
        return self.inner.quote(ctx)

    def on_fill(self, side, price, qty, ctx):
        pass
'''


@pytest.fixture
def mine(tmp_path: Path) -> Path:
    path = tmp_path / "mine.py"
    path.write_text(MINE)
    return path


def test_a_class_from_a_file_is_built_with_its_parameters(mine: Path) -> None:
    wide = make_strategy(f"{mine}:Wide", offset=5)
    assert type(wide).__name__ == "Wide" and wide.offset == 5.0
    assert make_strategy(f"{mine}:Plain", offset=4).inner.offset == 4
    with pytest.raises(ConfigError, match=r"invalid parameter\(s\) \['spread'\]"):
        make_strategy(f"{mine}:Wide", spread=1)
    with pytest.raises(ConfigError, match="invalid parameters for"):
        make_strategy(f"{mine}:Plain", spread=1)


def test_a_wrong_file_or_class_is_a_clear_error(mine: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no file"):
        make_strategy(f"{tmp_path}/missing.py:Wide")
    with pytest.raises(ConfigError, match=r"no class 'Narrow'.*\['Plain', 'Wide'\]"):
        make_strategy(f"{mine}:Narrow")
    broken = tmp_path / "broken.py"
    broken.write_text("def quote(:\n")
    with pytest.raises(ConfigError, match=r"importing .*broken\.py failed: SyntaxError"):
        make_strategy(f"{broken}:Any")


def test_backtest_runs_a_file_strategy(mine: Path, tmp_path: Path) -> None:
    out = tmp_path / "bt"
    args = ["backtest", "--strategy", f"{mine}:Wide", "--param", "offset=0.5",
            "--data", "synthetic:seed=3,events=100000", "--out", str(out)]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    payload = json.loads((out / "metrics.json").read_text())
    assert "stopped" not in result.output
    assert payload["strategy"] == "Wide" and payload["metrics"]["fills"] > 0
    bad = CliRunner().invoke(app, [*args[:2], f"{mine}:Nope", *args[3:]])
    assert bad.exit_code != 0 and "no class 'Nope'" in " ".join(bad.output.split())
    assert "Traceback" not in bad.output
