"""Windows in market time on every data spec: the strategy trades only inside them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from makerkit.backtest import load_market, parse_data_spec, run_on_spec
from makerkit.backtest._window import parse_time_of_day
from makerkit.core import ConfigError
from makerkit.strategies import make_strategy

H = 3_600_000_000_000
DAY = 24 * H


def _run(spec: str) -> tuple[list[int], list[int]]:
    parsed = parse_data_spec(spec)
    result = run_on_spec(make_strategy("glft"), parsed, load_market(parsed))
    return [int(t) % DAY for t in result.path["ts"]], [f[0] % DAY for f in result.fills]


def test_times_of_day_parse_and_bad_ones_are_refused() -> None:
    assert parse_time_of_day("09:30") == 9.5 * H
    assert parse_time_of_day("16:00:00.25") == 16 * H + 250_000_000
    for bad in ("25:00", "9h30", "10:61", "10"):
        with pytest.raises(ConfigError, match="invalid `start`"):
            parse_time_of_day(bad)
    with pytest.raises(ConfigError, match="must be after"):
        parse_data_spec("lobster:GOOG,start=11:00,end=10:00")
    with pytest.raises(ConfigError, match="start, end"):  # the valid options name them
        parse_data_spec("lobster:GOOG,begin=10:00")


def test_a_recorded_day_is_traded_only_inside_its_window(data_root: Path) -> None:
    path, fills = _run("lobster:GOOG,start=10:00,end=11:00")
    assert 10 * H <= path[0] < 10 * H + 200_000_000  # the first decision at the start
    assert path[-1] < 11 * H and len(path) > 30_000  # a decision every 100 ms
    assert fills and all(10 * H <= t < 11 * H for t in fills)
    whole, _ = _run("lobster:GOOG")
    assert whole[0] < 10 * H and len(whole) > 6 * len(path)


def test_windows_on_order_level_data_and_the_simulator(data_root: Path) -> None:
    path, _ = _run("lobster:AMZN,queue=l3,start=15:00")
    assert path[0] == 15 * H and path[-1] < 16 * H
    path, fills = _run("synthetic:events=200000,start=09:35,end=09:40")
    start, end = 9 * H + 35 * 60 * 10**9, 9 * H + 40 * 60 * 10**9
    assert start <= path[0] < start + 10**9 and path[-1] < end
    assert all(start <= t < end for t in fills)


def test_a_window_outside_the_data_says_where_the_data_is(data_root: Path) -> None:
    with pytest.raises(ConfigError, match="runs from 23:57"):
        load_market(parse_data_spec("binance:BTCUSDT,start=12:00,end=12:05"))


def test_the_backtest_cli_takes_a_window(tmp_path: Path, data_root: Path) -> None:
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "makerkit", "backtest", "--strategy", "symmetric",
           "--data", "lobster:GOOG,start=12:00,end=12:30", "--out", str(out), "--json"]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=300)
    assert proc.returncode == 0, proc.stderr
    rows = (out / "path.csv").read_text().splitlines()[1:]
    first, last = int(rows[0].split(",")[0]) % DAY, int(rows[-1].split(",")[0]) % DAY
    assert first >= 12 * H and last < 12.5 * H
    assert json.loads((out / "metrics.json").read_text())["data"].endswith("end=12:30")
