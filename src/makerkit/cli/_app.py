"""The ``makerkit`` command line: one entry point for every job."""

from __future__ import annotations

import gc
import importlib.util
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import msgspec
import typer
from rich.console import Console, Group
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from makerkit.backtest import (
    DATA_HELP,
    DataSpec,
    ReplayReport,
    StreamStats,
    apply_stream,
    load_market,
    parse_data_spec,
    replay_lobster,
    run_on_spec,
)
from makerkit.book import BACKEND, make_book
from makerkit.cli._predictor import predictor_app
from makerkit.cli._rl import rl_app
from makerkit.cli._sweep import sweep
from makerkit.core import ConfigError, Instrument, MakerkitError
from makerkit.core.clock import monotonic_ns
from makerkit.data import load_lobster, synthetic_stream

__all__ = ["app", "main"]

app = typer.Typer(
    name="makerkit",
    help="Research, backtest and run market-making strategies.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
replay_app = typer.Typer(
    help="Replay recorded market data through the matching engine.", no_args_is_help=True
)
bench_app = typer.Typer(help="Benchmarks that print a table and write JSON.", no_args_is_help=True)
data_app = typer.Typer(help="Market data: calibrate and run the simulator.", no_args_is_help=True)
app.add_typer(replay_app, name="replay")
app.add_typer(bench_app, name="bench")
app.add_typer(data_app, name="data")
app.add_typer(predictor_app, name="predictor")
app.add_typer(rl_app, name="rl")
app.command("sweep")(sweep)

out = Console()
err = Console(stderr=True, soft_wrap=True)

BackendOpt = Annotated[
    str | None,
    typer.Option(
        "--backend", "--engine",
        help="Engine backend: python or native (default: the selected one); --engine is its "
        "old name.",
    ),
]  # fmt: skip
JsonOpt = Annotated[bool, typer.Option("--json", help="End with one line of JSON.")]


def _fail(exc: MakerkitError) -> typer.Exit:
    err.print(f"[bold red]error:[/] {exc}", highlight=False)
    return typer.Exit(2)


def _json_line(payload: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(payload, default=str) + "\n")
    sys.stdout.flush()


def _emit_bench(table: Table, result: dict[str, Any], output: Path | None, as_json: bool) -> None:
    """A benchmark's table (to stderr under --json), its JSON file, its last JSON line."""
    (err if as_json else out).print(table)
    if output is not None:
        output.write_text(json.dumps(result, indent=2))
    if as_json:
        _json_line(result)


def _replay_table(report: ReplayReport, title: str) -> Table:
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column("what", style="bold")
    table.add_column("value", justify="right")
    rows = [
        ("engine", report.engine),
        ("messages", f"{report.messages:,}"),
        ("levels checked", str(report.levels)),
        ("rows checked", f"{report.rows_checked:,}"),
        ("mismatched rows", f"{report.mismatched_rows:,}"),
        ("seeded levels (entered the window from beyond)", f"{report.seeded_levels:,}"),
        ("initial levels (first row)", f"{report.initial_levels:,}"),
        ("orders unknown to the file (placeholder refs)", f"{report.placeholder_refs:,}"),
        ("visible trades / volume", f"{report.visible_trades:,} / {report.visible_volume:,}"),
        ("hidden trades / volume", f"{report.hidden_trades:,} / {report.hidden_volume:,}"),
        ("cross trades", f"{report.cross_trades:,}"),
        ("halts", f"{report.halts:,}"),
        ("replay seconds", f"{report.seconds:.3f}"),
        ("messages / second", f"{report.msgs_per_sec:,.0f}"),
    ]
    for name, value in rows:
        table.add_row(name, value)
    return table


def _replay(
    message: Path, orderbook: Path, backend: str | None, as_json: bool, show_progress: bool
) -> ReplayReport:
    started = monotonic_ns()
    try:
        day = load_lobster(message, orderbook)
        load_seconds = (monotonic_ns() - started) / 1e9
        if show_progress and not as_json:
            with Progress(
                TextColumn("replaying"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                console=err,
                transient=True,
            ) as bar:
                task = bar.add_task("replay", total=len(day))
                report, _ = replay_lobster(
                    day, backend=backend, progress=lambda done: bar.update(task, completed=done)
                )
        else:
            report, _ = replay_lobster(day, backend=backend)
    except MakerkitError as exc:
        raise _fail(exc) from exc
    report.load_seconds = load_seconds
    return report


@replay_app.command("lobster")
def replay_lobster_cmd(
    message: Annotated[Path, typer.Argument(help="LOBSTER message file (.csv or .csv.gz).")],
    orderbook: Annotated[Path, typer.Argument(help="The matching LOBSTER orderbook file.")],
    backend: BackendOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Replay a LOBSTER day as L3 events and check every orderbook row (exit 1 on any mismatch)."""
    report = _replay(message, orderbook, backend, as_json, show_progress=True)
    if as_json:
        _json_line(msgspec.to_builtins(report))
    else:
        out.print(_replay_table(report, f"LOBSTER replay: {message.name}"))
        if report.first_mismatch:
            out.print(f"[bold red]first mismatch:[/] {report.first_mismatch}", highlight=False)
        else:
            out.print("[bold green]every row matches the orderbook file[/]")
    if report.mismatched_rows:
        raise typer.Exit(1)


_DEMO = Instrument(symbol="DEMO", tick_size="0.01")


def _quote(level: tuple[int, int] | None) -> str | None:
    return f"{_DEMO.from_ticks(level[0])} x {level[1]}" if level else None


def _book_table(book: Any, stats: StreamStats, rate: float, title: str, depth: int = 8) -> Table:
    snap = book.l2(depth)
    px = _DEMO.from_ticks
    table = Table(title=title, title_justify="left")
    for name, style in (
        ("bid orders", "green"),
        ("bid size", "green"),
        ("bid", "bold green"),
        ("ask", "bold red"),
        ("ask size", "red"),
        ("ask orders", "red"),
    ):
        table.add_column(name, justify="right", style=style)
    for k in range(depth):
        bid = snap.bids[k] if k < len(snap.bids) else None
        ask = snap.asks[k] if k < len(snap.asks) else None
        table.add_row(
            str(bid.count) if bid else "",
            f"{bid.size:,}" if bid else "",
            str(px(bid.price)) if bid else "",
            str(px(ask.price)) if ask else "",
            f"{ask.size:,}" if ask else "",
            str(ask.count) if ask else "",
        )
    table.caption = (
        f"commands {stats.commands:,} | fills {stats.fills:,} | volume {stats.volume:,} | "
        f"last {px(stats.last_price) if stats.last_price else '-'} | "
        f"resting {len(book):,} | {rate:,.0f} cmd/s"
    )
    return table


@app.command()
def demo(
    duration: Annotated[
        float | None,
        typer.Option(
            help="Run this many seconds headless, then write the report (default: "
            "a live table until Ctrl-C)."
        ),
    ] = None,
    out_dir: Annotated[
        Path, typer.Option("--out", help="Folder for summary.json, report.html, the journal.")
    ] = Path("runs/demo"),
    port: Annotated[int, typer.Option(help="The venue's port (0: any free one).")] = 8000,
    symbols: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated symbols (default AAA,BBB,CCC; with lobster or binance the "
            "recorded symbol first: GOOG or BTCUSDT)."
        ),
    ] = None,
    source: Annotated[
        str,
        typer.Option(
            help="synthetic, or anchor on real data: yahoo, alphavantage (live "
            "quotes), lobster, binance (the first symbol replays a recorded day)."
        ),
    ] = "synthetic",
    market_rate: Annotated[
        float, typer.Option(help="Simulated commands per second per symbol.")
    ] = 500.0,
    policy: Annotated[
        Path | None, typer.Option(help="The rl strategy's policy.zip (default: train one).")
    ] = None,
    no_rl: Annotated[bool, typer.Option("--no-rl", help="Leave the rl strategy out.")] = False,
    strategy: Annotated[
        list[str] | None,
        typer.Option(
            help="Also run your own strategy, path/to/file.py:ClassName (repeatable); a "
            "MarketMaker trades its own symbols."
        ),
    ] = None,
    param: Annotated[
        list[str] | None, typer.Option(help="NAME=VALUE for your strategies (repeatable).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """The main job: the venue with a live market, every strategy trading it, the dashboard."""
    from makerkit.cli._demo import demo_command

    try:
        params = _parse_params(param or [])
    except MakerkitError as exc:
        raise _fail(exc) from exc
    code = demo_command(duration, out_dir, port, symbols, source, market_rate, policy,
                        no_rl, as_json, tuple(strategy or ()), params)  # fmt: skip
    raise typer.Exit(code)


@app.command("stream")
def stream(
    message: Annotated[
        Path | None, typer.Argument(help="Optional LOBSTER message file to replay instead.")
    ] = None,
    orderbook: Annotated[Path | None, typer.Argument(help="Its LOBSTER orderbook file.")] = None,
    events: Annotated[int, typer.Option(help="Synthetic commands to generate.")] = 1_000_000,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic stream.")] = 7,
    backend: BackendOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Stream synthetic (or LOBSTER) orders through the engine with a live top-of-book table."""
    if message is not None:
        if orderbook is None:
            err.print("[bold red]error:[/] give both the LOBSTER message and orderbook files")
            raise typer.Exit(2)
        report = _replay(message, orderbook, backend, as_json, show_progress=True)
        if as_json:
            _json_line(msgspec.to_builtins(report))
        else:
            out.print(_replay_table(report, f"LOBSTER replay: {message.name}"))
        raise typer.Exit(1 if report.mismatched_rows else 0)
    try:
        stream = synthetic_stream(events, seed=seed)
        book = make_book(backend)
    except MakerkitError as exc:
        raise _fail(exc) from exc
    stats = StreamStats()
    batch = max(1, min(5_000, events // 50))
    started = monotonic_ns()
    title = f"makerkit stream: synthetic order stream (seed {seed}, {book.backend} engine)"
    with Live(console=err if as_json else out, refresh_per_second=8, transient=as_json) as live:
        for start in range(0, events, batch):
            apply_stream(book, stream, start, min(start + batch, events), stats)
            elapsed = (monotonic_ns() - started) / 1e9
            live.update(_book_table(book, stats, stats.commands / max(elapsed, 1e-9), title))
    seconds = (monotonic_ns() - started) / 1e9
    summary = {
        "engine": book.backend,
        "seed": seed,
        "commands": stats.commands,
        "accepted": stats.accepted,
        "fills": stats.fills,
        "volume": stats.volume,
        "rejects": stats.rejects,
        "resting_orders": len(book),
        "best_bid": _quote(book.best_bid()),
        "best_ask": _quote(book.best_ask()),
        "seconds": seconds,
        "commands_per_sec": stats.commands / seconds if seconds else 0.0,
    }
    if as_json:
        _json_line(summary)
        return
    out.print()
    table = Table(title="summary", show_header=False, title_justify="left")
    for key, value in summary.items():
        shown = f"{value:,.0f}" if isinstance(value, float) and key != "seconds" else value
        table.add_row(key, f"{shown:,}" if isinstance(shown, int) else str(shown))
    out.print(Group(table))


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


@app.command()
def serve(
    host: Annotated[
        str, typer.Option(help="Interface to bind (loopback by default).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    journal: Annotated[
        str, typer.Option(help="SQLite journal; the venue recovers from it on start.")
    ] = "makerkit-venue.db",
    symbols: Annotated[str, typer.Option(help="Comma-separated symbols to list.")] = "AAA,BBB,CCC",
    admin_key: Annotated[
        str | None,
        typer.Option(
            envvar="MAKERKIT_ADMIN_KEY", help="Key of the admin account created on first start."
        ),
    ] = None,
    backend: BackendOpt = None,
    snapshot_every: Annotated[
        int,
        typer.Option(
            min=0,
            help="Snapshot the venue every N commands; recovery replays at most N (0: never).",
        ),
    ] = 100_000,
    no_snapshot: Annotated[
        bool,
        typer.Option(
            "--no-snapshot",
            help="Recover by replaying the whole journal, with the snapshot files moved aside "
            "into <journal>.snapshots/rejected/ (the safe path when recovery refuses one).",
        ),
    ] = False,
    market: Annotated[
        bool, typer.Option(help="Animate every symbol with the order-flow simulator.")
    ] = False,
    market_rate: Annotated[
        float, typer.Option(min=1.0, help="Simulated commands per second per symbol.")
    ] = 1000.0,
    replay: Annotated[
        Path | None,
        typer.Option(help="Replay a LOBSTER message file or a Binance capture into a symbol."),
    ] = None,
    replay_symbol: Annotated[
        str | None, typer.Option(help="Symbol the replay feeds (default: the first).")
    ] = None,
    speed: Annotated[float, typer.Option(min=0.001, help="Replay speed (x real time).")] = 1.0,
    source: Annotated[
        str | None,
        typer.Option(
            help="With --market: anchor each symbol on the real ticker of the same name "
            "(yahoo or alphavantage), polled every --poll seconds."
        ),
    ] = None,
    poll: Annotated[float, typer.Option(min=0.2, help="Seconds between anchor quotes.")] = 1.0,
) -> None:
    """Run the venue: REST + WebSocket API with journal and recovery (needs the server extra)."""
    try:
        import uvicorn

        from makerkit.server import Settings, VenueWSProtocol, create_app
    except ImportError as exc:  # pragma: no cover - depends on the install
        err.print(f"[bold red]error:[/] the server needs `pip install makerkit[server]` ({exc})")
        raise typer.Exit(2) from exc
    settings = Settings(
        host=host,
        port=port,
        journal=journal,
        symbols=symbols,
        admin_key=admin_key,
        backend=backend,
        snapshot_every=snapshot_every,
        use_snapshots=not no_snapshot,
        market=market,
        market_rate=market_rate,
        replay=str(replay) if replay else None,
        replay_symbol=replay_symbol,
        replay_speed=speed,
        market_source=source,
        market_poll_s=poll,
    )
    err.print(f"makerkit venue on http://{host}:{port} (docs at /docs), journal {journal}")
    # The venue holds many long-lived objects and makes little cyclic garbage:
    # rarer collections keep full-heap GC pauses out of the order path.
    gc.set_threshold(100_000, 50, 100)
    # recovered here, not in the app's startup, so a refusal is a message and an exit code
    from rich.markup import escape

    from makerkit.core import RecoveryRefused
    from makerkit.server import VenueService

    try:
        service = VenueService.from_settings(settings)
    except RecoveryRefused as exc:
        err.print(f"[bold red]error:[/] recovery refused: {escape(str(exc))}", highlight=False)
        raise typer.Exit(3) from exc
    except MakerkitError as exc:
        raise _fail(exc) from exc
    uvicorn.run(
        create_app(settings, service=service),
        host=host,
        port=port,
        log_level="warning",
        ws=VenueWSProtocol,  # websockets-sansio, frames written straight to the socket
        ws_per_message_deflate=False,  # compressing small JSON frames costs more than it saves
        # frames past max_message_bytes get an error; past 1 MiB the connection is closed
        # (1009) before the venue buffers them
        ws_max_size=1 << 20,
    )


@app.command()
def version() -> None:
    """Print the version and the selected book backend."""
    from importlib.metadata import version as pkg_version

    out.print(f"makerkit {pkg_version('makerkit')} (book backend: {BACKEND})")


def main() -> None:
    """Run the CLI (console-script entry point)."""
    app()


# ---------------------------------------------------------------------- data


def _facts_table(title: str, columns: dict[str, Any]) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("fact", style="bold")
    for name in columns:
        table.add_column(name, justify="right")
    rows = [
        ("mean spread (ticks)", "mean_spread_ticks", "{:.2f}"),
        ("level-1 depth (lots)", "depth", "{:.1f}"),
        ("level-2 depth (lots)", "depth2", "{:.1f}"),
        ("level-3 depth (lots)", "depth3", "{:.1f}"),
        ("adds", "add_share", "{:.1%}"),
        ("cancels", "cancel_share", "{:.1%}"),
        ("market orders", "market_share", "{:.1%}"),
        ("mean market order (lots)", "mean_trade_size", "{:.1f}"),
        ("median market order (lots)", "median_trade_size", "{:.1f}"),
    ]
    for label, field, fmt in rows:
        cells = []
        for facts in columns.values():
            if field.startswith("depth"):
                k = int(field[5:] or 1) - 1
                cells.append(fmt.format(facts.depth[k]) if k < len(facts.depth) else "-")
            else:
                cells.append(fmt.format(getattr(facts, field)))
        table.add_row(label, *cells)
    return table


@data_app.command("calibrate")
def data_calibrate(
    message: Annotated[Path, typer.Argument(help="LOBSTER message file (.csv or .csv.gz).")],
    orderbook: Annotated[Path, typer.Argument(help="The matching orderbook file.")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the parameters (JSON) here.")
    ] = None,
    events: Annotated[int, typer.Option(help="Simulated commands to compare with.")] = 200_000,
    seed: Annotated[int, typer.Option(help="Simulation seed.")] = 1,
    as_json: JsonOpt = False,
) -> None:
    """Fit the order-flow simulator to a LOBSTER day and compare their stylised facts."""
    from makerkit.data import calibrate_lobster, lobster_facts, simulate_facts

    try:
        day = load_lobster(message, orderbook)
        params = calibrate_lobster(day)
        warmup = min(events // 4, 50_000)  # forget the seeded book
        sim = simulate_facts(params, events, seed=seed, warmup=warmup, levels=min(day.levels, 5))
        facts = {"data": lobster_facts(day), "simulation": sim}
    except MakerkitError as exc:
        raise _fail(exc) from exc
    if output is not None:
        output.write_bytes(msgspec.json.format(msgspec.json.encode(params)))
        err.print(f"parameters written to {output}")
    (err if as_json else out).print(_facts_table(f"{message.name} vs its simulation", facts))
    if as_json:
        _json_line({"params": msgspec.to_builtins(params), **msgspec.to_builtins(facts)})


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
              "native_python_strategy": "makerkit, GLFT from Python"}  # fmt: skip
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


@data_app.command("simulate")
def data_simulate(
    output: Annotated[Path, typer.Option("--output", "-o", help="Parquet file (l3 schema).")],
    events: Annotated[int, typer.Option(help="Commands to simulate.")] = 1_000_000,
    params: Annotated[
        Path | None, typer.Option(help="Parameters (JSON, e.g. from `data calibrate -o`).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same market).")] = 7,
    backend: BackendOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Simulate a market and store its order stream as Parquet."""
    from makerkit.data import MarketSimulator, SimParams, save_table, stream_l3_columns

    try:
        p = (
            msgspec.json.decode(params.read_bytes(), type=SimParams)
            if params is not None
            else SimParams.default()
        )
        run = MarketSimulator(p, seed=seed, backend=backend).run(events)
        meta = {"source": "simulator", "seed": seed, "params": msgspec.to_builtins(p)}
        save_table(output, "l3", stream_l3_columns(run.stream), meta)
    except (MakerkitError, OSError, msgspec.ValidationError, msgspec.DecodeError) as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(2) from exc
    summary = {
        "output": str(output), "events": len(run), "fills": run.fills, "volume": run.volume,
        "seconds_simulated": run.seconds,
    }  # fmt: skip
    (err if as_json else out).print(
        f"{len(run):,} commands ({run.fills:,} fills, {run.seconds:,.0f} s of market) -> {output}"
    )
    if as_json:
        _json_line(summary)


@data_app.command("convert")
def data_convert(
    source: Annotated[Path, typer.Argument(help="LOBSTER message file or Binance capture.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Parquet file to write.")],
    orderbook: Annotated[
        Path | None, typer.Option(help="LOBSTER orderbook file (default: next to the messages).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Convert recorded market data to the Parquet store (atomic writes).

    LOBSTER -> l3 events, and its orderbook as l2 snapshots (`_book` appended
    to OUTPUT's name); a Binance capture -> l2 updates, its REST snapshot
    (`_snapshot`) and trades (`_trades`).
    """
    from makerkit.data import (
        binance_l2_columns,
        binance_meta,
        binance_snapshot_columns,
        binance_trade_columns,
        load_binance_capture,
        lobster_book_columns,
        lobster_l3_columns,
        save_table,
    )

    written: list[str] = []
    try:
        if "message" in source.name:
            book = orderbook or source.with_name(source.name.replace("message", "orderbook"))
            day = load_lobster(source, book)
            cols, meta = lobster_l3_columns(day)
            written.append(str(save_table(output, "l3", cols, meta)))
            snapshots = output.with_name(output.stem + "_book" + output.suffix)
            written.append(
                str(save_table(snapshots, "l2_snapshot", lobster_book_columns(day), meta))
            )
        else:
            capture = load_binance_capture(source)
            meta = binance_meta(capture, source)
            written.append(str(save_table(output, "l2", binance_l2_columns(capture), meta)))
            snap = output.with_name(output.stem + "_snapshot" + output.suffix)
            written.append(
                str(save_table(snap, "l2_snapshot", binance_snapshot_columns(capture), meta))
            )
            trades = output.with_name(output.stem + "_trades" + output.suffix)
            written.append(str(save_table(trades, "trades", binance_trade_columns(capture), meta)))
    except (MakerkitError, OSError) as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(2) from exc
    (err if as_json else out).print("written: " + ", ".join(written))
    if as_json:
        _json_line({"written": written})


@data_app.command("fetch")
def data_fetch(
    source: Annotated[str, typer.Argument(help="yahoo or alphavantage.")],
    symbol: Annotated[str, typer.Argument(help="Ticker, e.g. AAPL.")],
    start: Annotated[str, typer.Option(help="First day (ISO date or datetime, UTC).")],
    end: Annotated[str, typer.Option(help="End, exclusive (ISO date or datetime, UTC).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Parquet file (bars schema).")],
    interval: Annotated[str, typer.Option(help="Bar length: 1m, 5m, 1h, 1d ...")] = "1d",
    as_json: JsonOpt = False,
) -> None:
    """Download bars from a real source into the Parquet store (cached, retried)."""
    from makerkit.data import AlphaVantage, YahooFinance, save_bars

    sources: dict[str, Any] = {"yahoo": YahooFinance, "alphavantage": AlphaVantage}
    if source not in sources:
        err.print(f"[bold red]error:[/] invalid source {source!r}, must be yahoo or alphavantage")
        raise typer.Exit(2)
    try:
        with sources[source]() as src:
            bars = src.bars(symbol, start=start, end=end, interval=interval)
        save_bars(output, bars)
    except (MakerkitError, OSError) as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(2) from exc
    (err if as_json else out).print(f"{len(bars):,} {interval} bars of {symbol} -> {output}")
    if as_json:
        _json_line({"output": str(output), "bars": len(bars), "symbol": symbol, "source": source})


# ---------------------------------------------------------------------- backtest


def _parse_params(items: list[str]) -> dict[str, Any]:
    """``NAME=VALUE`` pairs: an int, a float, true/false, else the text (a symbol, say)."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            msg = f"invalid --param {item!r}, must be NAME=VALUE"
            raise ConfigError(msg)
        for kind in (int, float):
            try:
                out[key] = kind(value)
                break
            except ValueError:
                continue
        else:
            flags = {"true": True, "false": False}
            out[key] = flags.get(value.lower(), value)
    return out


PolicyOpt = Annotated[
    Path | None, typer.Option(help="For --strategy rl: a policy.zip from `rl train --env lob`.")
]


def _make_strategy(name: str, params: dict[str, Any], policy: Path | None) -> Any:
    """A strategy by name; ``rl`` loads a trained policy (makerkit[rl])."""
    if name != "rl":
        from makerkit.strategies import make_strategy

        return make_strategy(name, **params)
    if policy is None or params:
        msg = "the rl strategy takes --policy PATH (a policy.zip) and no --param"
        raise ConfigError(msg)
    try:
        from makerkit.rl import RLStrategy
    except ImportError as exc:
        msg = f"the rl strategy needs makerkit[rl]: {exc}"
        raise ConfigError(msg) from exc
    return RLStrategy(policy)


def _run_backtest(
    name: str, params: dict[str, float | int], spec: DataSpec, market: Any = None,
    policy: Path | None = None,
) -> Any:  # fmt: skip
    from rich.progress import Progress

    strategy = _make_strategy(name, params, policy)
    where = f" on {spec.symbol}" if spec.symbol else ""
    with Progress(console=err, transient=True) as bar:
        task = bar.add_task(f"backtest {name}{where}", total=None)
        return run_on_spec(
            strategy, spec, market,
            progress=lambda n: bar.advance(task, n), total=lambda n: bar.update(task, total=n),
        )  # fmt: skip


def _data_quality(market: Any, result: Any) -> dict[str, int]:
    """``{events, crossed_events, gaps, dropped}`` of the events the backtest replayed."""
    if market is None:  # the simulator: its book is matched, never crossed
        events = int(getattr(result.config, "events", 0))
        return {"events": events, "crossed_events": 0, "gaps": 0, "dropped": 0}
    from makerkit.backtest import data_quality

    return data_quality(market)


def _warn_data_quality(quality: dict[str, int], market: Any) -> None:
    """Warn on stderr when the replayed book was crossed, had gaps or lost updates."""
    bad = {k: v for k, v in quality.items() if k != "events" and v}
    if not bad:
        return
    counts = ", ".join(f"{k} {v:,}" for k, v in bad.items())
    err.print(f"[bold yellow]warning: data quality:[/] {counts} (of {quality['events']:,} events)")
    for note in getattr(market, "notes", ()):
        err.print(f"  {note}", style="yellow", markup=False, highlight=False)


@app.command()
def backtest(
    strategy: Annotated[str, typer.Option(help="Strategy name (see makerkit.strategies).")],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for metrics.json and the path.")],
    param: Annotated[
        list[str] | None, typer.Option(help="Strategy parameter NAME=VALUE (repeatable).")
    ] = None,
    data: Annotated[str, typer.Option(help=DATA_HELP)] = "synthetic",
    policy: PolicyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Backtest a strategy; writes metrics.json, path.csv, fills.csv and report.html to --out."""
    try:
        spec = parse_data_spec(data)
        market = load_market(spec)
        result = _run_backtest(strategy, _parse_params(param or []), spec, market, policy=policy)
    except MakerkitError as exc:
        raise _fail(exc) from exc
    out_dir.mkdir(parents=True, exist_ok=True)
    metrics = msgspec.to_builtins(result.metrics)
    payload = {"strategy": result.strategy, "data": data,
               "config": msgspec.to_builtins(result.config), "metrics": metrics,
               # how the strategy used the venue, also at the top (they are in metrics too)
               "orders_sent": metrics["orders_sent"],
               "max_live_orders": metrics["max_live_orders"]}  # fmt: skip
    if len(result.positions) > 1:  # several instruments: the path and metrics are the first's
        payload["positions"] = result.positions
    # --- data quality of the replayed stream (crossed books, gaps, dropped updates) ---
    payload["data_quality"] = _data_quality(market, result)
    if result.fifo_exceptions is not None:  # queue=l3: where the record broke FIFO for us
        payload["data_quality"]["fifo_exceptions"] = result.fifo_exceptions
    _warn_data_quality(payload["data_quality"], market)
    # --- end data quality ---
    (out_dir / "metrics.json").write_bytes(msgspec.json.format(msgspec.json.encode(payload)))
    cols = list(result.path)
    rows = zip(*(result.path[c] for c in cols), strict=True)
    (out_dir / "path.csv").write_text(
        ",".join(cols) + "\n" + "".join(",".join(str(v) for v in r) + "\n" for r in rows)
    )
    (out_dir / "fills.csv").write_text(
        "ts_ns,side,price,qty\n" + "".join(f"{t},{s},{p},{q}\n" for t, s, p, q in result.fills)
    )
    try:
        from makerkit.backtest import write_report

        report = str(write_report(result, out_dir))
    except MakerkitError as exc:  # no matplotlib: the numbers are still written
        report = f"not written ({exc})"
    payload["report"] = report
    if result.stopped:
        err.print(f"[bold yellow]stopped early:[/] {result.stopped}")
    table = Table(title=f"{result.strategy} on {data}", show_header=False, title_justify="left")
    for key in ("pnl_total", "pnl_spread", "pnl_adverse", "pnl_inventory", "pnl_fees",
                "liquidation_cost", "sharpe", "pnl_per_bucket_ci95", "max_drawdown", "fills",
                "rejected_quotes", "quote_uptime", "avg_abs_inventory", "markouts"):  # fmt: skip
        shown = metrics[key]
        if key == "sharpe" and shown is None:
            shown = f"None ({metrics['sharpe_reason']})"
        table.add_row(key, str(shown))
    (err if as_json else out).print(table)
    if as_json:
        _json_line(payload)


@app.command()
def compare(
    strategies: Annotated[str, typer.Option(help="Comma-separated strategy names.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for comparison.json.")],
    data: Annotated[str, typer.Option(help=DATA_HELP)] = "synthetic",
    objective: Annotated[
        str,
        typer.Option(
            help="Rank by: edge (spread + adverse selection + fees, no inventory drift), pnl, "
            "pnl_after_liquidation, pnl_ci_low or sharpe. A run without fills never ranks "
            "above one with fills."
        ),
    ] = "edge",
    as_json: JsonOpt = False,
) -> None:
    """Run several strategies (default parameters) on one market, ranked: comparison.json/.html."""
    from makerkit.metrics import OBJECTIVES, objective_value, rank_runs

    names = [n.strip() for n in strategies.split(",") if n.strip()]
    rows, results = {}, {}
    try:
        if objective not in OBJECTIVES:
            msg = f"invalid --objective {objective!r}, must be one of {sorted(OBJECTIVES)}"
            raise ConfigError(msg)
        spec = parse_data_spec(data)
        market = load_market(spec)  # loaded once for every strategy
        for name in names:
            results[name] = _run_backtest(name, {}, spec, market)
            rows[name] = msgspec.to_builtins(results[name].metrics)
    except MakerkitError as exc:
        raise _fail(exc) from exc
    ranking = rank_runs(rows, objective)
    rows = {name: {"rank": i + 1, "objective": objective_value(rows[name], objective),
                   **rows[name]} for i, name in enumerate(ranking)}  # fmt: skip
    results = {name: results[name] for name in ranking}
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "comparison.json").write_bytes(msgspec.json.format(msgspec.json.encode(rows)))
    try:
        from makerkit.backtest import write_comparison

        write_comparison(results, out_dir)
    except MakerkitError as exc:
        err.print(f"comparison.html not written ({exc})")
    table = Table(title=f"strategies on {data}, ranked by {objective}", title_justify="left")
    keys = ("objective", "pnl_total", "pnl_inventory", "pnl_per_bucket_ci95", "sharpe",
            "max_drawdown", "fills", "rejected_quotes", "avg_abs_inventory")  # fmt: skip
    table.add_column("rank")
    table.add_column("strategy")
    for key in keys:
        table.add_column(key, justify="right")
    for name, m in rows.items():
        table.add_row(str(m["rank"]), name, *(_compare_cell(m[k]) for k in keys))
    (err if as_json else out).print(table)
    if as_json:
        _json_line({"data": data, "objective": objective, "ranking": ranking, "strategies": rows})


def _compare_cell(value: Any) -> str:
    """A number with separators, an interval as [lo, hi], None as a dash."""
    if value is None:
        return "-"
    if isinstance(value, list):
        return "[" + ", ".join(f"{v:,.1f}" for v in value) + "]"
    return f"{value:,.2f}" if isinstance(value, float) else str(value)


@app.command("run-strategy")
def run_strategy(
    name: Annotated[str, typer.Argument(help="Strategy name (see makerkit.strategies).")],
    server: Annotated[str, typer.Option(help="Venue base URL.")] = "http://127.0.0.1:8000",
    api_key: Annotated[
        str | None, typer.Option(envvar="MAKERKIT_API_KEY", help="Your account's API key.")
    ] = None,
    symbol: Annotated[str, typer.Option(help="Symbol to make a market in.")] = "AAA",
    param: Annotated[
        list[str] | None, typer.Option(help="Strategy parameter NAME=VALUE (repeatable).")
    ] = None,
    seconds: Annotated[
        float | None, typer.Option(help="Stop after this long (default: until Ctrl-C).")
    ] = None,
    decision_ms: Annotated[float, typer.Option(help="Milliseconds between decisions.")] = 100.0,
    policy: PolicyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Run a strategy live against a venue; its orders are cancelled when it stops."""
    import asyncio

    from makerkit.client import LiveRunner, VenueClient

    if not api_key:
        err.print("[bold red]error:[/] an API key is needed: --api-key or MAKERKIT_API_KEY")
        raise typer.Exit(2)
    try:
        strategy = _make_strategy(name, _parse_params(param or []), policy)
    except MakerkitError as exc:
        raise _fail(exc) from exc

    async def go() -> Any:
        async with VenueClient(server, api_key) as client:
            runner = LiveRunner(strategy, client, symbol, decision_ms=decision_ms)
            return await runner.run(seconds=seconds)

    try:
        summary = asyncio.run(go())
    except (MakerkitError, OSError, ValueError) as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(2) from exc
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    body = msgspec.to_builtins(summary)
    (err if as_json else out).print(body)
    if as_json:
        _json_line(body)
