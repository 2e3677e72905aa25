"""The committed type stub of the native module must match the built module."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import makerkit
from makerkit.book import available_backends

pytestmark = pytest.mark.skipif(
    "native" not in available_backends(), reason="the native engine is not built"
)

COMMITTED = Path(__file__).parents[3] / "src" / "makerkit" / "_native.pyi"


def test_committed_stub_is_current(tmp_path: Path) -> None:
    pytest.importorskip("nanobind")
    out = tmp_path / "_native.pyi"
    subprocess.run(
        [sys.executable, "-m", "nanobind.stubgen", "-q", "-m", "makerkit._native", "-o", str(out)],
        check=True,
    )
    assert out.read_text() == COMMITTED.read_text(), (
        "src/makerkit/_native.pyi is stale: regenerate it with "
        "`python -m nanobind.stubgen -m makerkit._native -o src/makerkit/_native.pyi`"
    )
    assert Path(makerkit.__file__).parent.joinpath("_native.pyi").is_file()
