"""The ``data`` commands: calibrate and run the simulator, convert and fetch market data."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import msgspec
import typer
from rich.table import Table

from makerkit.cli._common import BackendOpt, JsonOpt, _fail, _json_line, err, out
from makerkit.core import MakerkitError
from makerkit.data import load_lobster

data_app = typer.Typer(help="Market data: calibrate and run the simulator.", no_args_is_help=True)


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
