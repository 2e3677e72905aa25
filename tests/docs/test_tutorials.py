"""The tutorials run start to finish: each jupytext file under docs/tutorials, as a notebook.

A tutorial is executed the way the docs site executes it (a fresh kernel, every cell in
order); any cell that raises fails the test with that cell's error. The kernel runs in a
temporary folder, so nothing a tutorial writes is left in the checkout.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

jupytext = pytest.importorskip("jupytext")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

TUTORIALS = sorted((Path(__file__).parents[2] / "docs" / "tutorials").glob("t[0-9][0-9]_*.py"))
CELL_TIMEOUT_S = 240  # one cell; all tutorials together take about two minutes on two cores


def test_every_tutorial_is_collected() -> None:
    assert len(TUTORIALS) >= 5, [p.name for p in TUTORIALS]


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # jupyter_client's own, not ours
@pytest.mark.parametrize(
    "path",
    # PPO trains for at least one full rollout (16k steps on 8 markets): the long one
    [pytest.param(p, marks=pytest.mark.expensive) if "ppo" in p.stem else p for p in TUTORIALS],
    ids=[p.stem for p in TUTORIALS],
)
def test_tutorial_runs(
    path: Path, data_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAKERKIT_DATA", str(data_root.resolve()))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")
    notebook = jupytext.read(path)
    client = nbclient.NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT_S,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    started = time.monotonic()
    client.execute()
    outputs = [o for cell in notebook.cells for o in cell.get("outputs", [])]
    errors = [o for o in outputs if o.get("output_type") == "error"]
    assert not errors, errors
    assert outputs, f"{path.name} printed nothing"
    print(f"{path.name}: {time.monotonic() - started:.1f} s")  # noqa: T201 - seen with -s / -rA
    assert not list(Path.cwd().glob("makerkit-venue.db*")), "a tutorial left a journal behind"
