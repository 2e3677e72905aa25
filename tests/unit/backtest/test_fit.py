"""makerkit fit: what the strategies need, measured on the window asked for; the parameters
file it writes, read back by backtest and tune, and refused for another instrument."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import msgspec
import numpy as np
import pytest

from makerkit.backtest import (
    EXCHANGE_FILTERS,
    check_live,
    fit_market,
    load_market,
    load_params,
    params_for,
    parse_data_spec,
)
from makerkit.core import ConfigError
from makerkit.distributed import tune
from makerkit.strategies import make_strategy

SPOT = "binance:BTCUSDT:2024-08-08"
USDM = "binance:BTCUSDT:2024-07-18"


def _median_trade_ticks(spec: str) -> float:
    events = load_market(parse_data_spec(spec))
    assert events is not None
    inside = (events.ts >= events.start_ns) & (events.kind == 2)
    return float(np.median(events.price[inside]))


@pytest.mark.usefixtures("data_root")
def test_the_smallest_order_follows_the_exchange_filters() -> None:
    spot = fit_market(SPOT).instrument
    assert (spot.source, spot.symbol, spot.tick, spot.lot) == ("binance-spot", "BTCUSDT", "0.01",
                                                                "0.000001")  # fmt: skip
    # 5 USDT at the median trade price, in lots of 1e-6 BTC, up to a step of 0.00001 BTC
    price_usd = _median_trade_ticks(SPOT) * 0.01
    lots = math.ceil(5 / (price_usd * 1e-6))
    assert spot.step_lots == 10 and spot.min_size == -(-lots // 10) * 10
    assert spot.min_size * 1e-6 * price_usd >= 5 > (spot.min_size - 10) * 1e-6 * price_usd
    usdm = fit_market(USDM).instrument
    assert (usdm.source, usdm.tick, usdm.lot, usdm.step_lots) == ("binance-usdm", "0.1", "0.001", 1)
    price_usd = _median_trade_ticks(USDM) * 0.1
    assert usdm.min_size == max(1, math.ceil(100 / (price_usd * 0.001)))
    goog = fit_market("lobster:GOOG,end=10:00").instrument
    assert (goog.source, goog.tick, goog.lot, goog.min_size) == ("lobster", "0.01", "1", 1)


@pytest.mark.usefixtures("data_root")
def test_an_instrument_without_known_filters_says_its_grid_is_inferred(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("makerkit.backtest._fit.EXCHANGE_FILTERS", {})
    facts = fit_market(SPOT).instrument
    assert facts.min_size == 1 and "inferred from the data" in facts.rules
    assert ("binance-spot", "BTCUSDT") in EXCHANGE_FILTERS  # the real table is untouched


@pytest.mark.usefixtures("data_root")
def test_only_the_window_is_measured_and_the_strategies_get_the_fit() -> None:
    early = fit_market("lobster:GOOG,start=10:00,end=10:30")
    late = fit_market("lobster:GOOG,start=14:00,end=14:30")
    for p in (early, late):
        assert p.market.seconds == pytest.approx(1800, abs=5)
        assert p.market.A > 0 and p.market.k > 0 and p.market.sigma > 0
        assert p.market.spread["p10"] <= p.market.spread["p50"] <= p.market.spread["p90"]
        assert len(p.market.depth_bid) == 3 and all(v > 0 for v in p.market.depth_bid)
    assert early.market != late.market  # two windows, two measurements
    glft = early.strategies["glft"]
    assert glft == {"A": early.market.A, "k": early.market.k, "sigma": early.market.sigma,
                    "size": 1}  # fmt: skip
    assert early.strategies["symmetric"]["half_spread"] == early.market.spread["p50"] / 2
    for name, params in early.strategies.items():
        make_strategy(name, **params)  # every entry is valid for its strategy


def test_a_parameters_file_round_trips_and_is_refused_for_another_instrument(
    tmp_path: Path, data_root: Path
) -> None:
    fitted = fit_market("synthetic:events=60000,seed=2")
    file = tmp_path / "sim.json"
    file.write_bytes(msgspec.json.encode(fitted))
    assert load_params(file, "synthetic:seed=9") == fitted
    with pytest.raises(ConfigError, match=r"`instrument.source` is 'synthetic'.*lobster"):
        load_params(file, "lobster:GOOG")
    spot = tmp_path / "spot.json"
    spot.write_bytes(msgspec.json.encode(fit_market(f"{SPOT},end=23:58")))
    with pytest.raises(ConfigError, match=r"`instrument.source` is 'binance-spot'.*binance-usdm"):
        load_params(spot, USDM)  # the same symbol on another market
    goog = tmp_path / "goog.json"
    goog.write_bytes(msgspec.json.encode(fit_market("lobster:GOOG,end=10:00")))
    with pytest.raises(ConfigError, match=r"`instrument.symbol` is 'GOOG'.*'AMZN'"):
        load_params(goog, "lobster:AMZN")
    with pytest.raises(ConfigError, match=r"`instrument.symbol` is 'GOOG'"):
        check_live(load_params(goog), ("AAA", "BBB"), goog)
    check_live(fitted, ("AAA",), file)  # a simulator fit describes the demo's market
    with pytest.raises(ConfigError, match="no such file"):
        load_params(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text('{"version": 1}')
    with pytest.raises(ConfigError, match="not a parameters file"):
        load_params(tmp_path / "bad.json")
    old = json.loads(file.read_text()) | {"version": 0}
    (tmp_path / "old.json").write_text(json.dumps(old))
    with pytest.raises(ConfigError, match="`version` is 0"):
        load_params(tmp_path / "old.json")
    assert params_for(fitted, "glft")["k"] == fitted.market.k and params_for(fitted, "x.py:C") == {}


def test_the_cli_fits_and_backtest_reads_the_file(tmp_path: Path, data_root: Path) -> None:
    file = tmp_path / "p.json"
    run = [sys.executable, "-m", "makerkit"]
    proc = subprocess.run([*run, "fit", "--data", "lobster:GOOG", "--window", "10:00-10:20",
                           "--out", str(file), "--json"], capture_output=True, text=True,
                          check=False, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    line = json.loads(proc.stdout.strip().splitlines()[-1])
    assert line["file"] == str(file) and json.loads(file.read_text())["strategies"] == line[
        "strategies"]  # fmt: skip
    glft = line["strategies"]["glft"]

    def backtest(*extra: str) -> dict[str, object]:
        out = tmp_path / str(len(extra))
        proc = subprocess.run([*run, "backtest", "--strategy", "glft", "--data",
                               "lobster:GOOG,start=10:20,end=10:40", "--out", str(out), "--json",
                               *extra], capture_output=True, text=True, check=False,
                              timeout=300)  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        metrics: dict[str, object] = json.loads(proc.stdout.strip().splitlines()[-1])["metrics"]
        return metrics

    by_file = backtest("--params", str(file))
    by_hand = backtest(*(x for k, v in glft.items() for x in ("--param", f"{k}={v!r}")))
    assert by_file == by_hand
    assert backtest("--params", str(file), "--param", "k=5") != by_file  # --param wins
    refused = subprocess.run([*run, "backtest", "--strategy", "glft", "--data", "lobster:AMZN",
                              "--out", str(tmp_path / "x"), "--params", str(file)],
                             capture_output=True, text=True, check=False, timeout=300)  # fmt: skip
    assert refused.returncode != 0 and "`instrument.symbol` is 'GOOG'" in refused.stderr


def test_tune_keeps_the_fitted_market_and_searches_gamma_on_its_scale() -> None:
    fitted = fit_market("synthetic:events=60000,seed=2")
    params = params_for(fitted, "glft")
    result = tune("glft", "synthetic:events=60000,seed=5", ("09:30", "09:40"),
                  ("09:40", "09:50"), trials=4, seed=1, fitted=params)  # fmt: skip
    for name in ("A", "k", "sigma"):
        assert result.best_params[name] == params[name]
    assert all(set(t["params"]) == {"gamma"} for t in result.trials)
    k = params["k"]
    assert all(k * 1e-6 <= t["params"]["gamma"] <= k for t in result.trials)


@pytest.mark.usefixtures("data_root")
def test_an_order_level_spec_is_measured_on_its_book_levels() -> None:
    l2 = fit_market("lobster:GOOG,end=10:00")
    l3 = fit_market("lobster:GOOG,queue=l3,end=10:00")
    assert l3.market == l2.market and l3.instrument == l2.instrument
    sim = fit_market("synthetic:events=60000,seed=2,queue=l3")
    assert sim.instrument.source == "synthetic" and sim.market == fit_market(
        "synthetic:events=60000,seed=2").market  # fmt: skip
