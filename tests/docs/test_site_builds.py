"""The manual builds in strict mode: a broken link, anchor or reference fails the suite.

The generated pages come from the code (every command's help, the OpenAPI schema, a JSON
section per ``--json`` command), so a change to the code can break the manual: this catches
it where the change is made. The tutorials are rendered without running them here; their own
test runs them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("mkdocs")
pytest.importorskip("material")

ROOT = Path(__file__).parents[2]


@pytest.mark.slow
def test_the_manual_builds_strict_without_a_warning(tmp_path: Path) -> None:
    mkdocs = shutil.which("mkdocs", path=str(Path(sys.executable).parent))
    assert mkdocs is not None, "the docs extra installs mkdocs beside this interpreter"
    env = {**os.environ, "MAKERKIT_DOCS_EXECUTE": "0", "NO_MKDOCS_2_WARNING": "1"}
    site = tmp_path / "site"
    done = subprocess.run(
        [mkdocs, "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT, env=env, capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    assert "WARNING" not in output, output[-4000:]
    for page in ("index.html", "reference/cli.html", "reference/rest.html",
                 "tutorials/t01_replay_lobster.html"):  # fmt: skip
        assert (site / page).stat().st_size > 2_000, page
