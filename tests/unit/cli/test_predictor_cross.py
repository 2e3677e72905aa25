"""``makerkit predictor cross``: the JSON line, the verdict, and bad input refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from makerkit.cli import app

pytest.importorskip("sklearn")

runner = CliRunner()
FAST = "majority,persistence,logistic"


def _cross(*args: str) -> list[str]:
    return ["predictor", "cross", "--horizon", "5", "--models", FAST, "--boot", "20", *args]


def test_cross_json_names_the_best_of_its_own_summary(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        _cross("--data", "synthetic:seed=1,events=8000", "--data", "synthetic:seed=2,events=8000",
               "--out", str(tmp_path), "--json"),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout.strip().splitlines()[-1])
    assert payload["models"] == FAST.split(",")
    assert len(payload["rows"]) == 2 * 3
    assert {r["train"] for r in payload["rows"]} == set(payload["sources"])
    means = {m: s["mean_macro_f1"] for m, s in payload["summary"].items()}
    assert payload["verdict"]["best_model"] == max(means, key=means.__getitem__)
    assert payload["verdict"]["line"].startswith("best out of sample: ")
    assert json.loads((tmp_path / "cross.json").read_text())["rows"] == payload["rows"]


def test_one_source_is_cut_into_windows(tmp_path: Path) -> None:
    result = runner.invoke(
        app, _cross("--data", "synthetic:seed=3,events=8000", "--windows", "2", "--json")
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout.strip().splitlines()[-1])
    assert [s.rsplit("[", 1)[-1] for s in payload["sources"]] == ["1/2]", "2/2]"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--data", "synthetic:seed=1"], "need at least 2 sources"),
        (["--data", "synthetic:seed=1", "--data", "synthetic:seed=2", "--models", "logistic,xgb"],
         "invalid `models` ['xgb']"),
        (["--data", "synthetic:seed=1", "--data", "synthetic:seed=2", "--levels", "3"],
         "invalid `levels`"),
        (["--data", "GOOG_2012-06-21_34200000_57600000_message_1.csv.gz",
          "--data", "GOOG_2012-06-21_34200000_57600000_message_10.csv.gz"],
         "the same day given twice is not out of sample: ['GOOG_2012-06-21']"),
    ],
)  # fmt: skip
def test_bad_input_is_refused_with_exit_2(args: list[str], message: str) -> None:
    result = runner.invoke(app, [*_cross(), *args])
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())


def test_a_message_file_without_its_book_is_refused(tmp_path: Path) -> None:
    lonely = tmp_path / "AMZN_2021-04-12_34200000_57600000_message_10.csv"
    lonely.write_text("34200.0,1,1,100,1000000,1\n")
    result = runner.invoke(
        app, [*_cross(), "--data", str(lonely), "--data", "synthetic:seed=1", "--levels", "1"]
    )
    assert result.exit_code == 2, result.output
    assert "orderbook twin" in " ".join(result.output.split())
