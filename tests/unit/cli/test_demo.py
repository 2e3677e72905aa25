"""``makerkit demo``: the venue in its own process, every strategy a client of it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from makerkit.cli import app

pytest.importorskip("fastapi")
pytest.importorskip("stable_baselines3")

runner = CliRunner()


@pytest.mark.expensive
@pytest.mark.slow
def test_the_demo_trades_every_strategy_and_reports(tmp_path: Path) -> None:
    policy = tmp_path / "ppo"
    trained = runner.invoke(app, ["rl", "train", "--env", "lob", "--timesteps", "2048",
                                  "--out", str(policy), "--json"])  # fmt: skip
    assert trained.exit_code == 0, trained.output
    out = tmp_path / "demo"
    args = ["demo", "--duration", "8", "--port", "0", "--out", str(out),
            "--policy", str(policy / "policy.zip"), "--json"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout.strip().splitlines()[-1])
    names = [s["name"] for s in payload["strategies"]]
    assert names == ["symmetric", "inventory_skew", "adaptive_spread", "avellaneda_stoikov",
                     "glft", "rl"]  # fmt: skip
    assert all(s["orders"] > 0 for s in payload["strategies"])  # every one quoted
    assert sum(s["fills"] for s in payload["strategies"]) > 0
    assert payload["md_gaps"] == 0 and payload["errors"] == 0
    assert payload["open_orders_left"] == 0  # every runner pulled its quotes on the way out
    keys = json.loads(Path(payload["accounts_file"]).read_text())
    assert set(keys["accounts"]) == set(names) and keys["admin_key"]
    assert {s["symbol"] for s in payload["symbols"]} == {"AAA", "BBB", "CCC"}
    assert all(s["updates"] > 100 and s["bid"] and s["ask"] for s in payload["symbols"])
    assert json.loads((out / "summary.json").read_text())["strategies"] == payload["strategies"]
    assert "data:image/png" in (out / "report.html").read_text()
    # the venue shut down cleanly: no open orders left in its journal, no error in its log
    log = (out / "server.log").read_text()
    assert "Traceback" not in log


def test_the_demo_refuses_bad_input(tmp_path: Path) -> None:
    bad = runner.invoke(app, ["demo", "--source", "nasdaq", "--duration", "1", "--no-rl",
                              "--out", str(tmp_path)])  # fmt: skip
    assert bad.exit_code == 2 and "invalid --source 'nasdaq'" in bad.output
    bad = runner.invoke(app, ["demo", "--duration", "-1", "--no-rl", "--out", str(tmp_path)])
    assert bad.exit_code == 2 and "invalid --duration" in bad.output
    missing = runner.invoke(app, ["demo", "--duration", "1", "--policy", str(tmp_path / "x.zip"),
                                  "--out", str(tmp_path)])  # fmt: skip
    assert missing.exit_code == 2 and "no policy at" in missing.output


@pytest.mark.slow
@pytest.mark.parametrize(
    ("source", "recorded", "low"), [("lobster", "GOOG", 500), ("binance", "BTCUSDT", 10_000)]
)
def test_the_demo_replays_a_recorded_day_beside_simulated_symbols(
    tmp_path: Path, data_root: Path, source: str, recorded: str, low: float
) -> None:
    args = ["demo", "--source", source, "--duration", "5", "--port", "0", "--no-rl",
            "--out", str(tmp_path), "--json"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout.strip().splitlines()[-1])
    symbols = {s["symbol"]: s for s in payload["symbols"]}
    assert list(symbols) == [recorded, "AAA", "BBB"]  # the recorded symbol comes first
    assert float(symbols[recorded]["bid"]) > low  # its own recorded prices, not the simulator's
    assert 50 < float(symbols["AAA"]["bid"]) < 200
    assert payload["md_gaps"] == 0 and payload["errors"] == 0


def test_the_demo_takes_the_users_own_strategies_and_checks_their_symbols() -> None:
    from makerkit.cli._demo import DemoConfig, _strategies
    from makerkit.core import ConfigError

    examples = Path(__file__).parents[3] / "examples" / "strategies"
    ladder = f"{examples / 'glft_ladder.py'}:GLFTLadder"
    cfg = DemoConfig(rl=False, user_strategies=(ladder,), params={"symbol": "BBB"})
    lineup = dict(_strategies(cfg, None))
    assert "GLFTLadder" in lineup and lineup["GLFTLadder"].symbols == ("BBB",)
    hedger = f"{examples / 'hedged_maker.py'}:HedgedMaker"
    with pytest.raises(ConfigError, match="not listed in this demo"):
        _strategies(DemoConfig(rl=False, user_strategies=(hedger,)), None)  # SIM, HEDGE


def test_run_strategy_refuses_symbol_for_a_market_maker() -> None:
    examples = Path(__file__).parents[3] / "examples" / "strategies"
    ladder = f"{examples / 'glft_ladder.py'}:GLFTLadder"
    result = runner.invoke(
        app,
        [
            "run-strategy",
            ladder,
            "--symbol",
            "AAA",
            "--api-key",
            "k",
            "--server",
            "http://127.0.0.1:9",
        ],
    )
    assert result.exit_code == 2
    assert "--param symbol=AAA" in result.stderr and "MarketMaker" in result.stderr


def test_the_demo_and_run_strategy_take_fitted_parameters_for_their_market(
    tmp_path: Path, data_root: Path
) -> None:
    import msgspec

    from makerkit.backtest import fit_market
    from makerkit.cli._demo import DemoConfig, _strategies

    goog = fit_market("lobster:GOOG,end=10:00")
    file = tmp_path / "goog.json"
    file.write_bytes(msgspec.json.encode(goog))
    refused = runner.invoke(app, ["demo", "--duration", "1", "--no-rl", "--out", str(tmp_path),
                                  "--params", str(file)])  # fmt: skip
    assert refused.exit_code == 2 and "`instrument.symbol` is 'GOOG'" in refused.output
    live = runner.invoke(app, ["run-strategy", "glft", "--params", str(file), "--symbol", "AAA",
                               "--api-key", "k", "--server", "http://127.0.0.1:9"])  # fmt: skip
    assert live.exit_code == 2 and "`instrument.symbol` is 'GOOG'" in live.output
    # the built-ins of a demo take the fitted values
    cfg = DemoConfig(rl=False, fitted=goog.strategies)
    lineup = dict(_strategies(cfg, None))
    assert lineup["glft"].k == goog.market.k and lineup["symmetric"].half_spread == (
        goog.strategies["symmetric"]["half_spread"])  # fmt: skip
