"""``replay lobster``, ``replay databento`` and ``stream``: orders through the matching engine.

Together because ``stream`` with LOBSTER files is the same replay as ``replay lobster``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import msgspec
import typer
from rich.console import Group
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from makerkit.backtest import (
    DatabentoReplayReport,
    ReplayReport,
    StreamStats,
    apply_stream,
    replay_databento,
    replay_lobster,
)
from makerkit.book import make_book
from makerkit.cli._common import BackendOpt, JsonOpt, _fail, _json_line, err, out
from makerkit.core import ConfigError, Instrument, MakerkitError
from makerkit.core.clock import monotonic_ns
from makerkit.data import SourceTable, load_lobster, read_dbn, synthetic_stream

replay_app = typer.Typer(
    help="Replay recorded market data through the matching engine.", no_args_is_help=True
)


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


def _databento_table(report: DatabentoReplayReport, title: str) -> Table:
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column("what", style="bold")
    table.add_column("value", justify="right")
    rows = [
        ("engine", report.engine),
        ("symbol", report.symbol),
        ("checked against", report.truth),
        ("records (snapshot)", f"{report.messages:,} ({report.snapshot_records:,})"),
        ("events (F_LAST)", f"{report.events:,}"),
        ("book checks", f"{report.book_checks:,}"),
        ("mismatches", f"{report.mismatches:,}"),
        ("MBP records checked / differing",
         f"{report.mbp_checks:,} / {report.mbp_mismatches:,}"),
        ("trades checked / off the touch",
         f"{report.trade_checks:,} / {report.trade_mismatches:,}"),
        ("order references checked / wrong",
         f"{report.order_checks:,} / {report.order_mismatches:,}"),
        ("adds / cancels / modifies",
         f"{report.adds:,} / {report.cancels:,} / {report.modifies:,}"),
        ("trades / fills (auction)", f"{report.trades:,} / {report.fills:,} "
         f"({report.auction_trades:,} / {report.auction_fills:,})"),
        ("events with a crossed book (pre-open)", f"{report.crossed_events:,}"),
        ("replay seconds", f"{report.seconds:.3f}"),
        ("messages / second", f"{report.msgs_per_sec:,.0f}"),
    ]  # fmt: skip
    for name, value in rows:
        table.add_row(name, value)
    return table


@replay_app.command("catalog")
def replay_catalog_cmd(
    data: Annotated[
        str,
        typer.Argument(help="catalog:VENUE:SYMBOL:FROM[..TO][,catalog=DIR,missing=skip,queue=l3]"),
    ],
    as_json: JsonOpt = False,
) -> None:
    """Rebuild the book of a catalog range, a day at a time, and check it (exit 1 if crossed).

    What a backtest on the same spec replays: every update after which the
    best bid reaches the best ask is counted, with the source's gaps and the
    updates it dropped.
    """
    from makerkit.backtest import data_quality, load_market, parse_data_spec

    try:
        spec = parse_data_spec(data)
        if spec.kind != "catalog":
            msg = f"invalid spec {data!r}: replay catalog takes catalog:VENUE:SYMBOL:FROM[..TO]"
            raise ConfigError(msg)
        started = monotonic_ns()
        market = load_market(spec, stream=True)
        assert market is not None  # noqa: S101 - a catalog spec always has events
        quality = data_quality(market)
    except MakerkitError as exc:
        raise _fail(exc) from exc
    seconds = (monotonic_ns() - started) / 1e9
    report: dict[str, Any] = {
        "data": data, **quality, "seconds": round(seconds, 3),
        "events_per_sec": quality["events"] / seconds if seconds > 0 else None,
        "tick": market.tick, "lot": market.lot, "price_unit": market.price_unit,
    }  # fmt: skip
    if as_json:
        _json_line(report)
    else:
        table = Table(title=f"catalog replay: {data}", show_header=False, title_justify="left")
        table.add_column("what", style="bold")
        table.add_column("value", justify="right")
        for key, value in report.items():
            if key != "data":
                table.add_row(key, f"{value:,.0f}" if isinstance(value, float) else str(value))
        out.print(table)
    if quality["crossed_events"]:
        raise typer.Exit(1)


@replay_app.command("databento")
def replay_databento_cmd(
    file: Annotated[Path, typer.Argument(help="Databento MBO file (.dbn or .dbn.zst).")],
    mbp: Annotated[
        Path | None,
        typer.Option(
            "--mbp",
            help="MBP-10, MBP-1 or TBBO file of the same instrument: the "
            "book is checked against its records.",
        ),
    ] = None,
    symbol: Annotated[
        str | None, typer.Option(help="The instrument, when the file holds several.")
    ] = None,
    backend: BackendOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Replay Databento MBO records and check the book (exit 1 on any mismatch)."""
    started = monotonic_ns()
    try:
        tables = read_dbn(file) + (read_dbn(mbp) if mbp is not None else [])
        load_seconds = (monotonic_ns() - started) / 1e9
        total = max((len(t) for t in tables if t.schema == "l3" and symbol in (None, t.symbol)),
                    default=0)  # fmt: skip
        if as_json:
            report = replay_databento(tables, symbol=symbol, backend=backend)
        else:
            report = _databento_with_bar(tables, symbol, backend, total)
    except MakerkitError as exc:
        raise _fail(exc) from exc
    report.load_seconds = load_seconds
    if as_json:
        _json_line(msgspec.to_builtins(report))
    else:
        out.print(_databento_table(report, f"Databento MBO replay: {file.name}"))
        for note in report.notes:
            out.print(f"[dim]note:[/] {note}", highlight=False)
        if report.first_mismatch:
            out.print(f"[bold red]first mismatch:[/] {report.first_mismatch}", highlight=False)
        else:
            out.print(f"[bold green]every check holds[/] ({report.truth})", highlight=False)
    if report.mismatches:
        raise typer.Exit(1)


def _databento_with_bar(
    tables: list[SourceTable], symbol: str | None, backend: str | None, total: int
) -> DatabentoReplayReport:
    with Progress(
        TextColumn("replaying"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    ) as bar:
        task = bar.add_task("replay", total=total)
        return replay_databento(
            tables, symbol=symbol, backend=backend,
            progress=lambda done: bar.update(task, completed=done),
        )  # fmt: skip


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
