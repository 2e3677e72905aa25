"""`makerkit data facts`: the JSON contract, determinism and clear errors, on a real window."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec
import pytest
from typer.testing import CliRunner

from makerkit.cli import app
from makerkit.data import FACT_TARGETS, SimParams
from tests.unit.data.test_calibrate_shape import AMZN, lobster_window

runner = CliRunner()


def last_json(output: str) -> dict[str, Any]:
    return json.loads(output.strip().splitlines()[-1])  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def window(data_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 20 minutes of the AMZN day (about 8,000 messages)."""
    return lobster_window(data_root, AMZN, 20, tmp_path_factory.mktemp("amzn"))


def test_facts_json_contract_and_determinism(window: Path, tmp_path: Path) -> None:
    params = tmp_path / "params.json"
    args = ["data", "facts", str(window), "--seconds", "600", "--seed", "3", "--seeds", "1",
            "--json"]  # fmt: skip
    first = runner.invoke(app, [*args, "-o", str(params)])
    assert first.exit_code == 0, first.output
    payload = last_json(first.stdout)
    assert set(FACT_TARGETS) <= set(payload["facts"])
    for name in FACT_TARGETS:
        fact = payload["facts"][name]
        assert set(fact) == {"real", "sim", "ratio", "within_1_5x", "floor"}, name
        assert isinstance(fact["within_1_5x"], bool)
        assert isinstance(fact["real"], float) and isinstance(fact["sim"], float)
    assert {"depth_l1", "depth_l2", "depth_l3"} <= set(payload["facts"])
    summary = payload["summary"]
    assert summary["targets"] == len(FACT_TARGETS) == 9
    assert summary["within_1_5x"] == sum(payload["facts"][n]["within_1_5x"] for n in FACT_TARGETS)
    assert summary["sim_seconds"] == 600 and summary["real_seconds"] == pytest.approx(1200, abs=1)
    assert set(payload["acf"]) == {"ret_acf_1s", "ret_acf_10s", "abs_ret_acf_1s", "abs_ret_acf_10s"}
    assert all(len(payload["acf"][k]["sim"]) == 10 for k in payload["acf"])
    assert payload["seed"] == 3 and payload["params"] == "calibrated"
    # the parameters written back give the same run; the same seed gives the same facts
    again = runner.invoke(app, [*args, "--sim", str(params)])
    assert again.exit_code == 0, again.output
    assert last_json(again.stdout)["facts"] == payload["facts"]
    other = runner.invoke(app, ["data", "facts", str(window), "--seconds", "600", "--seed", "4",
                                "--seeds", "1", "--sim", str(params), "--json"])  # fmt: skip
    assert last_json(other.stdout)["facts"] != payload["facts"]


def test_several_seeds_are_judged_on_their_median(window: Path, tmp_path: Path) -> None:
    params = tmp_path / "params.json"
    base = ["data", "facts", str(window), "--seconds", "300", "--json"]
    alone = []
    for seed in (5, 6, 7):
        run = runner.invoke(app, [*base, "--seed", str(seed), "--seeds", "1", "-o", str(params)])
        assert run.exit_code == 0, run.output
        alone.append(last_json(run.stdout))
    run = runner.invoke(app, [*base, "--seed", "5", "--seeds", "3", "--sim", str(params)])
    assert run.exit_code == 0, run.output
    payload = last_json(run.stdout)
    assert payload["seeds"] == 3 and payload["summary"]["seeds"] == 3
    for name in (*FACT_TARGETS, "depth_l1"):
        fact = payload["facts"][name]
        each = [a["facts"][name]["sim"] for a in alone]
        assert fact["sim_seeds"] == each, name  # seeds 5, 6, 7, in order
        assert fact["sim"] == sorted(each)[1], name  # their median
        assert fact["seeds_within"] == sum(a["facts"][name]["within_1_5x"] for a in alone)
    median_acf = [sorted(lag)[1] for lag in zip(*(a["acf"]["abs_ret_acf_10s"]["sim"]
                                                  for a in alone), strict=True)]  # fmt: skip
    assert payload["acf"]["abs_ret_acf_10s"]["sim"] == median_acf
    bad = runner.invoke(app, [*base, "--seeds", "0"])
    assert bad.exit_code != 0 and "--seeds" in bad.output


def test_facts_prints_a_table_without_json(window: Path, tmp_path: Path) -> None:
    params = tmp_path / "default.json"
    params.write_bytes(msgspec.json.encode(SimParams.default(start_price=22_000)))
    result = runner.invoke(app, ["data", "facts", str(window), "--seconds", "300", "--sim",
                                 str(params)])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "1 s return excess kurtosis" in result.stdout
    assert "targets within 1.5x" in result.stdout
    assert "|r| 10s" in result.stdout


@pytest.mark.parametrize(
    ("files", "args", "message"),
    [
        ([], [], "no such message file"),
        (["AMZN_x_0_1_message_5.csv"], [], "no orderbook file beside it"),
        (["quotes.csv"], [], "not a LOBSTER message file name"),
    ],
)
def test_facts_refuses_missing_or_invalid_files(
    tmp_path: Path, files: list[str], args: list[str], message: str
) -> None:
    for name in files:
        (tmp_path / name).write_text("34200.1,1,1,100,2200000,1\n")
    target = tmp_path / (files[0] if files else "AMZN_missing_0_1_message_5.csv")
    result = runner.invoke(app, ["data", "facts", str(target), *args, "--json"])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_facts_refuses_a_bad_parameters_file(window: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"limit_rate": [0.1], "cancel_rate": [0.1], "market_rate": -1}')
    result = runner.invoke(app, ["data", "facts", str(window), "--sim", str(bad)])
    assert result.exit_code == 2 and "market_rate" in result.output
    result = runner.invoke(app, ["data", "facts", str(window), "--sim", str(tmp_path / "no.json")])
    assert result.exit_code == 2 and "cannot read" in result.output
    result = runner.invoke(app, ["data", "facts", str(window), "--seconds", "-5"])
    assert result.exit_code == 2 and "seconds" in result.output
