"""The ``bench`` commands: each runs one benchmark, prints its table and writes its JSON.

The measuring lives in the ``_bench*.py`` modules (imported when the command runs); here are
the options and the tables.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Group
from rich.table import Table

from makerkit.cli._common import JsonOpt, _emit_bench, _fail, err
from makerkit.core import ConfigError, MakerkitError
from makerkit.core.clock import monotonic_ns

bench_app = typer.Typer(help="Benchmarks that print a table and write JSON.", no_args_is_help=True)


@bench_app.command("book")
def bench_book(
    repeat: Annotated[int, typer.Option(help="Runs per measurement (median reported).")] = 5,
    mix_events: Annotated[int, typer.Option(help="Commands in the synthetic mix.")] = 300_000,
    peer_events: Annotated[int, typer.Option(help="Events in the L3 feed shared with peers.")] = (
        1_000_000
    ),
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Also write the JSON here.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Measure replay and command throughput of every available engine, side by side."""
    from makerkit.cli._bench import run_book_bench

    result = run_book_bench(
        repeat=repeat,
        mix_events=mix_events,
        peer_events=peer_events,
        progress=lambda m: err.print(f"[dim]{m}[/]"),
    )
    table = Table(title=f"order book benchmark (median of {repeat})", title_justify="left")
    table.add_column("workload")
    modes = result["modes"]
    for name in modes:
        table.add_column(f"{name} msgs/s", justify="right")
    if "native_batch" in modes:
        table.add_column("native batch / python", justify="right")
    for row in result["lobster"]:
        ratio = [f"{row['native_vs_python']:.1f}x"] if "native_vs_python" in row else []
        table.add_row(
            f"{row['file'].split('_')[0]} L{row['levels']} ({row['messages']:,})",
            *(f"{row[f'{name}_msgs_per_sec']:,.0f}" for name in modes),
            *ratio,
        )
    mix = result["mix"]
    table.add_row(
        f"mix ({mix_events:,})",
        *(f"{mix[name]['ops_per_sec']:,.0f}" if name in mix else "-" for name in modes),
        *(
            [f"{mix['native_batch']['ops_per_sec'] / mix['python']['ops_per_sec']:.1f}x"]
            if "native_batch" in mix
            else []
        ),
    )
    table.caption = (
        "LOBSTER days (messages): every row checked against the orderbook file except *_nocheck; "
        "mix: synthetic add/cancel/modify/market commands"
    )
    latency = Table(title="add+cancel round trip from Python (us)", title_justify="left")
    for col in ("engine", "p50", "p99", "p99.9"):
        latency.add_column(col, justify="right")
    for backend, lat in result["latency"].items():
        latency.add_row(
            backend, f"{lat['p50_us']:.2f}", f"{lat['p99_us']:.2f}", f"{lat['p999_us']:.2f}"
        )
    feed = result["peers"]
    peers = Table(
        title=f"one L3 feed of {feed['events']:,} events (45% adds, 40% deletes, 15% executions)",
        title_justify="left",
    )
    for col in ("engine", "events/s", "native batch is"):
        peers.add_column(col, justify="right")
    ours = feed.get("native_batch", {}).get("per_sec")
    for name in ("python", "native_batch", "hftbacktest", "nautilus_trader"):
        rate = feed.get(name, {}).get("per_sec")
        note = feed.get(name, {}).get("note") or feed.get(name, {}).get("error")
        peers.add_row(
            name,
            f"{rate:,.0f}" if rate else (note or "-")[:60],
            f"{ours / rate:.1f}x faster" if rate and ours and name != "native_batch" else "",
        )
    table = Group(table, latency, peers)  # type: ignore[assignment]
    _emit_bench(table, result, output, as_json)


@bench_app.command("server")
def bench_server(
    seconds: Annotated[float, typer.Option(help="Length of each load phase.")] = 5.0,
    ws_clients: Annotated[int, typer.Option(help="Concurrent WebSocket order-entry clients.")] = 4,
    rest_clients: Annotated[int, typer.Option(help="Concurrent REST order-entry clients.")] = 4,
    md_subscribers: Annotated[int, typer.Option(help="Market-data subscribers.")] = 50,
    paced_rate: Annotated[float, typer.Option(help="Orders/s in the paced phase.")] = 5000.0,
    baseline: Annotated[
        str | None,
        typer.Option(
            help="A git revision of this repository: its venue's WS order entry is measured "
            "side by side with this one's, alternating (the editable checkout's engine)."
        ),
    ] = None,
    rounds: Annotated[int, typer.Option(min=1, help="Rounds of the side-by-side run.")] = 3,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Also write the JSON here.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Load a venue process over loopback: WS/REST order entry and market-data fan-out."""
    from makerkit.cli._bench_server import run_server_bench

    result = run_server_bench(
        seconds=seconds,
        ws_clients=ws_clients,
        rest_clients=rest_clients,
        md_subscribers=md_subscribers,
        paced_rate=paced_rate,
        baseline=baseline,
        rounds=rounds,
        progress=lambda m: err.print(f"[dim]{m}[/]"),
    )
    table = Table(title="venue load over loopback", show_header=False, title_justify="left")
    for key, value in result.items():
        if isinstance(value, list):
            value = ", ".join(f"{v:,.0f}" for v in value)
        table.add_row(key, f"{value:,.2f}" if isinstance(value, float) else str(value))
    _emit_bench(table, result, output, as_json)


@bench_app.command("abuse")
def bench_abuse(
    seconds: Annotated[
        float, typer.Option(min=1.0, help="Length of each attack phase (slow readers: 4x).")
    ] = 5.0,
    cycles: Annotated[int, typer.Option(min=1, help="kill -9 cycles.")] = 5,
    slow_readers: Annotated[
        int, typer.Option(min=0, help="Market-data sockets that subscribe and never read.")
    ] = 100,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Also write the JSON here.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Attack a venue process: flood, slow readers, kill -9, damaged snapshots; what holds."""
    from makerkit.cli._bench_abuse import abuse_table, run_abuse_bench

    result = run_abuse_bench(
        seconds=seconds,
        cycles=cycles,
        slow_readers=slow_readers,
        progress=lambda m: err.print(f"[dim]{m}[/]"),
    )
    _emit_bench(abuse_table(result), result, output, as_json)


@bench_app.command("catalog")
def bench_catalog(
    days: Annotated[str, typer.Option(help="Range lengths in days, comma-separated.")] = "1,5,30",
    events_per_day: Annotated[int, typer.Option(help="Simulated events per day.")] = 200_000,
    decision_ms: Annotated[
        float, typer.Option(help="The strategy's decision interval (each is a path row).")
    ] = 60_000,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Also write the JSON here.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Backtests over catalog ranges: streamed a day at a time vs loaded (peak RSS, events/s)."""
    from makerkit.cli._bench_catalog import run_catalog_bench

    try:
        lengths = sorted({int(d) for d in days.split(",") if d.strip()})
    except ValueError:
        raise _fail(ConfigError(f"invalid --days {days!r}, must be integers")) from None
    if not lengths or min(lengths) < 1 or events_per_day < 1000:
        raise _fail(ConfigError("invalid --days or --events-per-day (>= 1 day, >= 1000 events)"))
    result = run_catalog_bench(
        lengths, events_per_day, lambda m: err.print(f"[dim]{m}[/]"), decision_ms=decision_ms
    )
    table = Table(title=f"GLFT (queue=l3, a decision every {decision_ms:g} ms) over simulated "
                        f"catalog days, {events_per_day:,} events a day",
                  title_justify="left")  # fmt: skip
    for col in ("days", "events", "memory: peak MB", "stream: peak MB", "memory ev/s",
                "stream ev/s", "stream / memory", "same fills and PnL"):  # fmt: skip
        table.add_column(col, justify="right")
    for r in result["runs"]:
        m, s = r["memory"], r["stream"]
        table.add_row(
            str(r["days"]), f"{r['events']:,}", f"{m.get('peak_rss_mb', 0):,.0f}",
            f"{s.get('peak_rss_mb', 0):,.0f}", f"{m.get('events_per_sec', 0):,.0f}",
            f"{s.get('events_per_sec', 0):,.0f}", f"{r.get('speed_ratio', 0):.2f}x",
            str(r.get("same_result", m.get("error") or s.get("error"))),
        )  # fmt: skip
    _emit_bench(table, result, output, as_json)


@bench_app.command("sim")
def bench_sim(
    events: Annotated[int, typer.Option(help="Simulated commands per run.")] = 2_000_000,
    repeat: Annotated[int, typer.Option(help="Runs (median reported).")] = 3,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Also write the JSON here.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Simulator speed: commands generated and matched per second, per engine."""
    from makerkit.book import available_backends
    from makerkit.data import MarketSimulator, SimParams

    result: dict[str, Any] = {"events": events, "repeat": repeat}
    for engine in available_backends():
        n = events if engine == "native" else max(events // 20, 1)
        rates = []
        for run in range(repeat):
            sim = MarketSimulator(SimParams.default(), seed=run, backend=engine)
            started = monotonic_ns()
            sim.run(n, record=False)
            rates.append(n / ((monotonic_ns() - started) / 1e9))
        result[f"{engine}_events_per_sec"] = sorted(rates)[len(rates) // 2]
        result[f"{engine}_runs"] = rates
    best = "native" if "native_events_per_sec" in result else "python"
    result["sim_events_per_sec"] = result[f"{best}_events_per_sec"]
    table = Table(title="order-flow simulator (generate + match)", title_justify="left")
    table.add_column("engine")
    table.add_column("events/s", justify="right")
    for engine in available_backends():
        table.add_row(engine, f"{result[f'{engine}_events_per_sec']:,.0f}")
    _emit_bench(table, result, output, as_json)


@bench_app.command("backtest")
def bench_backtest(
    repeat: Annotated[int, typer.Option(help="Runs (median reported).")] = 5,
    queue: Annotated[str, typer.Option(help="conservative or probabilistic.")] = "probabilistic",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Also write the JSON here.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """GLFT on a Binance capture: our replay backtester beside hftbacktest (events/s, PnL)."""
    from makerkit.cli._bench import _peers_python
    from makerkit.cli._bench_backtest import run_backtest_bench

    if queue not in ("conservative", "probabilistic"):
        raise _fail(
            ConfigError(f"invalid --queue {queue!r}, must be conservative or probabilistic")
        )
    python, driver = _peers_python()
    hbt_driver = driver.parent / "drive_hbt_backtest.py" if driver is not None else None
    try:
        result = run_backtest_bench(
            repeat, lambda m: err.print(f"[dim]{m}[/]"), queue=queue, peers_python=python,
            driver=hbt_driver,
        )  # fmt: skip
    except MakerkitError as exc:
        raise _fail(exc) from exc
    table = Table(title=f"GLFT backtest on {result['data']} ({result['events']:,} events)",
                  title_justify="left")  # fmt: skip
    for col in ("backtester", "events/s", "fills", "pnl (tick-lots)", "final position"):
        table.add_column(col, justify="right" if col != "backtester" else "left")
    labels = {"native": "makerkit, GLFT in the core", "python": "makerkit, pure Python",
              "native_python_strategy": "makerkit, GLFT as a user class",
              "native_compiled_strategy": "makerkit, GLFT as a user kernel (numba)",
              "native_session": "makerkit, user class via the session"}  # fmt: skip
    for mode, r in result["makerkit"].items():
        table.add_row(labels[mode], f"{r['events_per_sec']:,.0f}", str(r["fills"]),
                      f"{r['pnl']:,.1f}", str(r["final_position"]))  # fmt: skip
    peer = result["hftbacktest"]
    if "events_per_sec" in peer:
        table.add_row("hftbacktest", f"{peer['events_per_sec']:,.0f}", str(peer["fills"]),
                      f"{peer['pnl']:,.1f}", f"{peer['final_position']:g}")  # fmt: skip
    else:
        table.add_row("hftbacktest", peer.get("note") or peer.get("error", "?")[:60], "", "", "")
    if result["ratio_vs_hftbacktest"]:
        table.caption = f"makerkit / hftbacktest: {result['ratio_vs_hftbacktest']:.2f}x"
    _emit_bench(table, result, output, as_json)


@bench_app.command("parity")
def bench_parity(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Also write the JSON here.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """GLFT on every Binance capture: makerkit and hftbacktest, same rules, then our defaults."""
    from makerkit.cli._bench import _peers_python
    from makerkit.cli._bench_parity import peer_parity, peer_parity_unavailable_reason

    python, driver = _peers_python()
    hbt_driver = driver.parent / "drive_hbt_backtest.py" if driver is not None else None
    try:
        result = peer_parity(
            lambda m: err.print(f"[dim]{m}[/]"), peers_python=python, driver=hbt_driver
        )
    except MakerkitError as exc:
        raise _fail(exc) from exc
    if result is None:
        reason = peer_parity_unavailable_reason(python, hbt_driver)
        empty = Table(
            "peer parity", title="GLFT, makerkit beside hftbacktest", title_justify="left"
        )
        empty.add_row(f"not run: {reason}")
        _emit_bench(empty, {"peer_parity": None, "reason": reason}, output, as_json)
        return
    table = Table(title="GLFT, makerkit beside hftbacktest 2.4.4", title_justify="left")
    for col in ("rules", "capture", "fills (ours / theirs)", "pnl (ours / theirs)", "equal"):
        table.add_column(col, justify="left" if col in ("rules", "capture") else "right")
    for label in ("same_rules", "default_rules"):
        rows = {**result[label]["per_capture"], "total": result[label]}
        for name, r in rows.items():
            table.add_row(label.replace("_", " "), name,
                          f"{r['makerkit_fills']} / {r['hftbacktest_fills']}",
                          f"{r['makerkit_pnl']:,.0f} / {r['hftbacktest_pnl']:,.0f}",
                          "yes" if r["equal"] else "no")  # fmt: skip
    table.caption = result["reason"]
    _emit_bench(table, {"peer_parity": result}, output, as_json)


@bench_app.command("fidelity")
def bench_fidelity(
    repeat: Annotated[int, typer.Option(help="Runs of the L3 speed check (median).")] = 3,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Also write the JSON here.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Crossed books in every recorded day, each L2 queue model against L3 truth, peer parity."""
    from makerkit.cli._bench_fidelity import fidelity_table, peers_or_reason, run_fidelity_bench

    try:
        result = run_fidelity_bench(
            lambda m: err.print(f"[dim]{m}[/]"), repeat=repeat, peers=peers_or_reason
        )
    except MakerkitError as exc:
        raise _fail(exc) from exc
    _emit_bench(fidelity_table(result), result, output, as_json)


@bench_app.command("strategies")
def bench_strategies(
    seeds: Annotated[int, typer.Option(help="Scored seeds (1..N).")] = 5,
    events: Annotated[int, typer.Option(help="Simulated commands per run.")] = 1_000_000,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Also write the JSON here.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Every strategy on the simulated market with informed flow: Sharpe over several seeds."""
    from makerkit.cli._bench_strategies import run_strategy_bench

    if seeds < 1 or events < 10_000:
        raise _fail(ConfigError("invalid --seeds/--events, must be >= 1 and >= 10000"))
    result = run_strategy_bench(seeds, events, lambda m: err.print(f"[dim]{m}[/]"))
    table = Table(title=f"strategies on the simulated market, seeds 1..{seeds}, {events:,} "
                  "commands each", title_justify="left")  # fmt: skip
    cols = ("strategy", "PnL mean", "PnL sd", "max DD", "Sharpe", "fills", "|inv|", "1s m/o",
            "beats sym.")  # fmt: skip
    for col in cols:
        table.add_column(col, justify="left" if col == "strategy" else "right")
    for label, r in result["strategies"].items():
        table.add_row(label, f"{r['pnl_mean']:,.0f}", f"{r['pnl_std']:,.0f}",
                      f"{r['max_drawdown_mean']:,.0f}", f"{r['sharpe_mean']:.1f}",
                      f"{r['fills_mean']:,.0f}", f"{r['avg_abs_inventory']:.1f}",
                      f"{r['markout_1s_mean']:.2f}",
                      "yes" if r["beats_symmetric"] else "")  # fmt: skip
    _emit_bench(table, result, output, as_json)


@bench_app.command("env")
def bench_env(
    envs: Annotated[int, typer.Option(help="Model markets stepped together.")] = 4096,
    steps: Annotated[int, typer.Option(help="Steps per run.")] = 2000,
    repeat: Annotated[int, typer.Option(help="Runs (median reported).")] = 5,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Also write the JSON here.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """RL environment speed: aggregate steps/s of the vectorised model market."""
    import numpy as np

    from makerkit.rl import ModelParams, ModelVecEnv, avellaneda_stoikov_policy

    params = ModelParams()
    policy = avellaneda_stoikov_policy(params, 0.1)
    rates, gym_rates = [], []
    for run in range(repeat):
        env = ModelVecEnv(envs, params, seed=run)
        obs = env.reset()
        started = monotonic_ns()
        for _ in range(steps):
            obs, *_ = env.step(policy(obs))
        rates.append(envs * steps / ((monotonic_ns() - started) / 1e9))
    lob_rate = None
    has_gym = importlib.util.find_spec("gymnasium") is not None  # else: pip install makerkit[rl]
    if has_gym:  # the same markets behind Gymnasium's VectorEnv API (float32 obs, [-1, 1] actions)
        from makerkit.rl import ModelVectorEnv

        rng = np.random.default_rng(0)
        actions = rng.uniform(-1, 1, (16, envs, 2)).astype(np.float32)
        for run in range(repeat):
            venv = ModelVectorEnv(envs, params)
            venv.reset(seed=run)
            started = monotonic_ns()
            for i in range(steps):
                venv.step(actions[i % 16])
            gym_rates.append(envs * steps / ((monotonic_ns() - started) / 1e9))
    if has_gym:
        from makerkit.rl import LOBEnvConfig, MarketMakingEnv

        lob = MarketMakingEnv(LOBEnvConfig())
        lob.reset(seed=0)
        action = np.zeros(3, dtype=np.float32)
        started = monotonic_ns()
        for _ in range(steps):
            if lob.step(action)[2]:
                lob.reset()
        lob_rate = steps / ((monotonic_ns() - started) / 1e9)
    result = {
        "envs": envs, "steps": steps, "runs": rates,
        "numpy_model_steps_per_sec": float(np.median(rates)),
        "vec_model_steps_per_sec": float(np.median(gym_rates or rates)),
        "vec_model_api": "gymnasium.vector.VectorEnv" if gym_rates else "numpy (no gymnasium)",
        "lob_env_steps_per_sec": lob_rate,
        "note": "numpy model steps include the AS policy's actions (numpy, one call per step); "
                "VectorEnv steps take ready-made random actions; "
                "LOB steps are one decision (1 s of simulated market) each, engine included",
    }  # fmt: skip
    table = Table(title="RL environments", show_header=False, title_justify="left")
    table.add_row(f"model market, {envs} together, numpy with the AS policy",
                  f"{result['numpy_model_steps_per_sec']:,.0f} steps/s")  # fmt: skip
    if gym_rates:
        table.add_row(f"model market, {envs} together, Gymnasium VectorEnv",
                      f"{result['vec_model_steps_per_sec']:,.0f} steps/s")  # fmt: skip
    if lob_rate is not None:
        table.add_row("limit-order-book market, one env", f"{lob_rate:,.0f} steps/s")
    _emit_bench(table, result, output, as_json)


@bench_app.command("sweep")
def bench_sweep(
    tasks: Annotated[int, typer.Option(help="Backtests in the grid (4 strategies x seeds).")] = 32,
    events: Annotated[int, typer.Option(help="Simulated commands per backtest.")] = 300_000,
    ray: Annotated[bool, typer.Option("--ray/--no-ray", help="Time Ray too.")] = True,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Also write the JSON here.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """A grid of backtests on 1 worker, then on 2: the sweep's scaling (local processes, Ray)."""
    from makerkit.distributed import plan_sweep, run_sweep

    if tasks < 4 or tasks % 4 or events < 10_000:
        raise _fail(ConfigError("invalid --tasks/--events: a multiple of 4, and >= 10000"))
    strategies = ["symmetric", "inventory_skew", "avellaneda_stoikov", "glft"]
    config = {"backtest": {"strategies": strategies, "data": [f"synthetic:events={events}"],
                           "seeds": list(range(1, tasks // 4 + 1))}}  # fmt: skip
    plan = plan_sweep(config, Path(), name="bench")
    runners = ["local"] + (["ray"] if ray and importlib.util.find_spec("ray") else [])
    seconds: dict[str, dict[int, float]] = {}
    for runner in runners:
        for workers in (1, 2):
            err.print(f"[dim]{tasks} backtests on {runner}, {workers} worker(s)[/]")
            run = run_sweep(plan, workers=workers, runner=runner)
            if run.failed:
                raise _fail(ConfigError(f"a task failed: {run.failed[0]['error']}"))
            seconds.setdefault(runner, {})[workers] = run.seconds
            if "startup_seconds" in run.info:  # Ray's own start, timed apart
                key = "ray, after start-up"
                seconds.setdefault(key, {})[workers] = run.seconds - run.info["startup_seconds"]
    speedup = {r: s[1] / s[2] for r, s in seconds.items()}
    result = {
        "tasks": tasks, "events": events, "seconds": seconds, "speedup": speedup,
        "local_speedup_2_workers": speedup["local"], "target": 1.8,
        "note": "wall time of the whole sweep, worker start-up included (Ray's local "
                "instance also shown without its start); 2-core machine",
    }  # fmt: skip
    table = Table(title=f"sweep of {tasks} backtests ({events:,} commands each)",
                  title_justify="left")  # fmt: skip
    for col in ("runner", "1 worker (s)", "2 workers (s)", "speed-up"):
        table.add_column(col, justify="left" if col == "runner" else "right")
    for runner, s in seconds.items():
        table.add_row(runner, f"{s[1]:.1f}", f"{s[2]:.1f}", f"{speedup[runner]:.2f}x")
    _emit_bench(table, result, output, as_json)
