"""The command line as a user runs it: exit codes, JSON last lines, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from makerkit.cli import app
from tests.unit.backtest.test_lobster_replay import SMALL_DAY, write_day

runner = CliRunner()


def last_json(output: str) -> dict[str, object]:
    return json.loads(output.strip().splitlines()[-1])


def test_every_command_has_help() -> None:
    for args in (
        ["--help"],
        ["replay", "lobster", "--help"],
        ["demo", "--help"],
        ["stream", "--help"],
        ["sweep", "--help"],
        ["bench", "book", "--help"],
        ["bench", "sim", "--help"],
        ["data", "calibrate", "--help"],
        ["data", "simulate", "--help"],
        ["data", "convert", "--help"],
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        assert "Usage" in result.output


def test_replay_lobster_json_contract(tmp_path: Path) -> None:
    message, orderbook = write_day(tmp_path, SMALL_DAY)
    result = runner.invoke(app, ["replay", "lobster", str(message), str(orderbook), "--json"])
    assert result.exit_code == 0, result.output
    payload = last_json(result.stdout)
    for key in (
        "messages",
        "rows_checked",
        "mismatched_rows",
        "seconds",
        "msgs_per_sec",
        "seeded_levels",
    ):
        assert key in payload
    assert payload["messages"] == payload["rows_checked"] == 12
    assert payload["mismatched_rows"] == 0


def test_replay_mismatch_exits_1_and_says_where(tmp_path: Path) -> None:
    rows = list(SMALL_DAY)
    rows[1] = (rows[1][0], rows[1][1].replace("1001000,50", "1001000,49"))
    message, orderbook = write_day(tmp_path, rows)
    result = runner.invoke(app, ["replay", "lobster", str(message), str(orderbook)])
    assert result.exit_code == 1
    assert "first mismatch" in result.stdout and "orderbook row 2" in result.stdout


def test_bad_file_is_a_clear_error_without_traceback(tmp_path: Path) -> None:
    message, orderbook = write_day(tmp_path, SMALL_DAY)
    message.write_text("34200.1,1,1,100,5800000\n")
    result = runner.invoke(app, ["replay", "lobster", str(message), str(orderbook)])
    assert result.exit_code == 2
    assert "line 1" in result.stderr and "columns" in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize("flag", ["--backend", "--engine"])  # --engine: the old name
def test_unknown_backend_is_a_clear_error(tmp_path: Path, flag: str) -> None:
    message, orderbook = write_day(tmp_path, SMALL_DAY)
    result = runner.invoke(app, ["replay", "lobster", str(message), str(orderbook), flag, "fast"])
    assert result.exit_code == 2
    assert "invalid `backend`, must be auto, native or python" in result.stderr


def test_stream_json_summary_is_deterministic() -> None:
    first = runner.invoke(app, ["stream", "--events", "5000", "--seed", "3", "--json"])
    second = runner.invoke(app, ["stream", "--events", "5000", "--seed", "3", "--json"])
    assert first.exit_code == second.exit_code == 0, first.output
    a, b = last_json(first.stdout), last_json(second.stdout)
    for key in ("seconds", "commands_per_sec"):
        a.pop(key)
        b.pop(key)
    assert a == b
    assert a["commands"] == 5000 and a["fills"] > 0


def test_stream_replays_a_lobster_day(tmp_path: Path) -> None:
    message, orderbook = write_day(tmp_path, SMALL_DAY)
    result = runner.invoke(app, ["stream", str(message), str(orderbook), "--json"])
    assert result.exit_code == 0, result.output
    assert last_json(result.stdout)["mismatched_rows"] == 0


@pytest.mark.data
def test_bench_book_json_contract(data_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAKERKIT_PEERS_PYTHON", "none")  # peers are a separate, slow venv
    result = runner.invoke(
        app,
        [
            "bench",
            "book",
            "--repeat",
            "1",
            "--mix-events",
            "2000",
            "--peer-events",
            "3000",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    payload = last_json(result.stdout)
    assert payload["python_msgs_per_sec"] > 0
    assert payload["python_mix_ops_per_sec"] > 0
    assert len(payload["lobster"]) >= 3
    assert payload["peers"]["events"] == 3000
    assert payload["peers"]["python"]["per_sec"] > 0
    if "native" in payload["backends"]:
        for key in (
            "native_batch_msgs_per_sec",
            "native_percall_msgs_per_sec",
            "native_vs_python",
            "percall_add_cancel_p50_us",
            "percall_add_cancel_p99_us",
        ):
            assert payload[key] > 0, key


def test_data_commands_end_to_end(data_root: Path, tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    msg = data_root / "lobster/AMZN_2012-06-21_34200000_57600000_message_5.csv.gz"
    book = data_root / "lobster/AMZN_2012-06-21_34200000_57600000_orderbook_5.csv.gz"
    params = tmp_path / "amzn.json"
    result = runner.invoke(
        app,
        [
            "data",
            "calibrate",
            str(msg),
            str(book),
            "-o",
            str(params),
            "--events",
            "40000",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    facts = last_json(result.stdout)
    assert facts["data"]["add_share"] == pytest.approx(facts["simulation"]["add_share"], abs=0.05)
    out = tmp_path / "sim.parquet"
    result = runner.invoke(
        app,
        [
            "data",
            "simulate",
            "--params",
            str(params),
            "--events",
            "20000",
            "-o",
            str(out),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    assert last_json(result.stdout)["events"] == 20000 and out.stat().st_size > 1000
    result = runner.invoke(app, ["data", "convert", str(msg), "-o", str(tmp_path / "l3.parquet")])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["bench", "sim", "--events", "20000", "--repeat", "1", "--json"])
    assert result.exit_code == 0 and last_json(result.stdout)["sim_events_per_sec"] > 0


def test_data_commands_fail_clearly(tmp_path: Path) -> None:
    bad = tmp_path / "params.json"
    bad.write_text('{"limit_rate": [], "cancel_rate": [1.0], "market_rate": 1.0}')
    result = runner.invoke(
        app, ["data", "simulate", "--params", str(bad), "-o", str(tmp_path / "x")]
    )
    assert result.exit_code == 2 and "limit_rate" in result.output
    result = runner.invoke(
        app, ["data", "convert", str(tmp_path / "nope.gz"), "-o", str(tmp_path / "y")]
    )
    assert result.exit_code == 2 and "error" in result.output and not (tmp_path / "y").exists()


def test_data_fetch_stores_real_bars_offline(
    data_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    httpx = pytest.importorskip("httpx")
    pytest.importorskip("pyarrow")
    import makerkit.data as data
    from makerkit.data._store import load_parquet
    from tests.unit.data.test_source_yahoo import NVDA, recording

    rec = recording(data_root, NVDA)
    real = data.YahooFinance

    def offline(**kw: object) -> object:
        answer = httpx.MockTransport(lambda _: httpx.Response(rec.status, content=rec.body))
        return real(transport=answer, cache_dir=tmp_path / "cache")

    monkeypatch.setattr(data, "YahooFinance", offline)
    out = tmp_path / "nvda.parquet"
    args = ["data", "fetch", "yahoo", "NVDA", "--start", "2021-02-01", "--end", "2022-01-31"]
    result = runner.invoke(app, [*args, "-o", str(out), "--json"])
    assert result.exit_code == 0, result.output
    kind, cols, meta = load_parquet(out)
    assert kind == "bars" and meta["symbol"] == "NVDA" and len(cols["close"]) == 252
    assert runner.invoke(app, ["data", "fetch", "bloomberg", "X", "--start", "a", "--end", "b",
                               "-o", str(out)]).exit_code == 2  # fmt: skip


def test_backtest_and_compare_commands(tmp_path: Path) -> None:
    market = "synthetic:seed=3,events=20000"
    args = ["backtest", "--strategy", "glft", "--param", "gamma=0.05", "--param", "size=2",
            "--data", market, "--out", str(tmp_path / "bt"), "--json"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    payload = last_json(result.stdout)
    saved = json.loads((tmp_path / "bt" / "metrics.json").read_text())
    assert payload.pop("report").endswith("report.html")
    assert saved == payload and payload["metrics"]["fills"] > 0
    # deterministic: the same command writes the same metrics
    runner.invoke(app, [*args[:-3], "--out", str(tmp_path / "again")])
    assert json.loads((tmp_path / "again" / "metrics.json").read_text()) == saved
    assert (tmp_path / "bt" / "path.csv").read_text().startswith("ts,mid,position,equity")
    cmp = ["compare", "--strategies", "symmetric,glft", "--data", "synthetic:events=20000"]
    result = runner.invoke(app, [*cmp, "--out", str(tmp_path / "cmp"), "--json"])
    assert result.exit_code == 0 and set(last_json(result.stdout)["strategies"]) == {
        "symmetric",
        "glft",
    }


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--strategy", "martingale"], "must be one of"),
        (["--strategy", "glft", "--param", "gama=1"], "valid:"),
        (["--strategy", "glft", "--param", "gamma"], "NAME=VALUE"),
        (["--strategy", "glft", "--data", "nasdaq:x"], "lobster:SYMBOL"),
        (["--strategy", "glft", "--data", "synthetic:days=3"], "valid: seed, events"),
        (["--strategy", "glft", "--data", "lobster:GOOG,queue=fifo"], "conservative"),
        (["--strategy", "glft", "--data", "lobster:GOOG,latency=3"], "order_latency_ms"),
        (["--strategy", "glft", "--data", "lobster:MSFT"], "symbols: ['AMZN', 'GOOG']"),
        (["--strategy", "glft", "--data", "binance:btcusdt:2030-01-01"], "have ['2024-07-18'"),
    ],
)
def test_backtest_refuses_bad_input(
    tmp_path: Path, data_root: Path, args: list[str], message: str
) -> None:
    result = runner.invoke(app, ["backtest", *args, "--out", str(tmp_path)])
    assert result.exit_code == 2 and message in result.output.replace("\n", "")


def test_backtest_on_a_recorded_day(tmp_path: Path, data_root: Path) -> None:
    data = "binance:btcusdt:2024-08-08,queue=conservative,order_latency_ms=1"
    args = ["backtest", "--strategy", "glft", "--param", "sigma=3", "--data", data,
            "--out", str(tmp_path / "bt"), "--json"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    payload = last_json(result.stdout)
    assert payload["config"]["queue"] == "conservative"
    assert payload["config"]["order_latency_ms"] == 1
    assert payload["metrics"]["fills"] > 0
    assert (tmp_path / "bt" / "report.html").exists()


def test_bench_strategies_fits_validates_and_scores(tmp_path: Path) -> None:
    out = tmp_path / "s.json"
    args = ["bench", "strategies", "--seeds", "1", "--events", "30000", "--output", str(out),
            "--json"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    payload = last_json(result.stdout)
    assert payload == json.loads(out.read_text())
    rows = payload["strategies"]
    wanted = {"symmetric", "glft (fitted + alpha)", "avellaneda_stoikov (fitted + alpha)"}
    assert wanted <= set(rows)
    assert payload["predictor"]["horizon_s"] in (15.0, 30.0, 60.0, 120.0, 240.0)
    assert isinstance(payload["glft_beats_symmetric"], bool)
    assert all(isinstance(r["beats_symmetric"], bool) for r in rows.values())
    assert runner.invoke(app, ["bench", "strategies", "--seeds", "0"]).exit_code == 2


def test_bench_backtest_reports_every_mode(
    tmp_path: Path, data_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAKERKIT_PEERS_PYTHON", "none")  # the peer is timed by make bench-peers
    result = runner.invoke(app, ["bench", "backtest", "--repeat", "1", "--json"])
    assert result.exit_code == 0, result.output
    payload = last_json(result.stdout)
    assert payload["events"] > 100_000 and payload["events_per_sec"] > 0
    assert payload["hftbacktest_events_per_sec"] is None and payload["ratio_vs_hftbacktest"] is None
    modes = payload["makerkit"]
    # every mode makes the same decisions: the same fills, PnL and position path
    assert len({(m["fills"], m["pnl"], tuple(m["position_path"])) for m in modes.values()}) == 1
