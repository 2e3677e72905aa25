"""The ``data`` commands: calibrate and run the simulator, convert and fetch market data."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any

import msgspec
import typer
from rich.table import Table

from makerkit.cli._cmd_catalog import data_ingest, data_ls, data_rm
from makerkit.cli._common import BackendOpt, JsonOpt, _fail, _json_line, err, out
from makerkit.core import ConfigError, DataError, MakerkitError
from makerkit.data import load_lobster

FACTS_SEEDS = 27  # simulated days `data facts` compares by default (about 1 s each for a day)

data_app = typer.Typer(
    help="Market data: the catalog of your own data, the simulator and its calibration.",
    no_args_is_help=True,
)
data_app.command("ingest")(data_ingest)
data_app.command("ls")(data_ls)
data_app.command("rm")(data_rm)


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


_FACT_ROWS = (
    ("kurtosis_1s", "1 s return excess kurtosis", "{:.1f}"),
    ("kurtosis_10s", "10 s return excess kurtosis", "{:.1f}"),
    ("spread_p10", "spread p10 (ticks)", "{:.0f}"),
    ("spread_p50", "spread p50 (ticks)", "{:.0f}"),
    ("spread_p90", "spread p90 (ticks)", "{:.0f}"),
    ("spread_p99", "spread p99 (ticks)", "{:.0f}"),
    ("spread_one_tick_share", "time at a 1-tick spread", "{:.2%}"),
    ("mo_interarrival_under_10ms", "market orders < 10 ms apart", "{:.1%}"),
    ("abs_ret_acf_10s_lag2", "|10 s return| ACF, lag 2", "{:.3f}"),
    ("depth_l1", "depth, level 1 (lots)", "{:.0f}"),
    ("depth_l2", "depth, level 2 (lots)", "{:.0f}"),
    ("depth_l3", "depth, level 3 (lots)", "{:.0f}"),
)


def _cell(fmt: str, value: float) -> str:
    return fmt.format(value) if value == value else "-"  # NaN: not measured


def _real_vs_sim_tables(title: str, report: Any, targets: tuple[str, ...]) -> list[Table]:
    facts = Table(title=title, title_justify="left")
    several = getattr(report, "seeds", 1) > 1
    for name, justify in (("fact", "left"), ("real", "right"), ("sim", "right"),
                          ("sim / real", "right"), ("within 1.5x", "center")):  # fmt: skip
        facts.add_column(name, justify=justify)  # type: ignore[arg-type]
    for key, label, fmt in _FACT_ROWS:
        if key not in report.facts:
            continue
        f = report.facts[key]
        target = key in targets
        mark = ("yes" if f.within_1_5x else "[bold red]no[/]") if target else "[dim]-[/]"
        if several:  # and how many of the simulated days alone are within
            mark += f" {f.seeds_within}/{len(f.sim_seeds)}"
        facts.add_row(
            label if target else f"[dim]{label}[/]", _cell(fmt, f.real), _cell(fmt, f.sim),
            _cell("{:.2f}", f.ratio), mark,
        )  # fmt: skip
    facts.caption = (
        f"{report.within_1_5x} of {report.targets} targets within 1.5x"
        + (
            f"; sim is the median of {report.seeds} simulated days, n/{report.seeds}: how many "
            "of them alone are within (every value in --json)"
            if several
            else ""
        )
        + ". Before dividing, a value under its floor (two standard errors; 1 point for a "
        "share) is raised to it."
    )
    acf = Table(title="autocorrelation of returns r and |r| by lag", title_justify="left")
    acf.add_column("lag", justify="right")
    series = (("ret_acf_1s", "r 1s"), ("ret_acf_10s", "r 10s"),
              ("abs_ret_acf_1s", "|r| 1s"), ("abs_ret_acf_10s", "|r| 10s"))  # fmt: skip
    for _, label in series:
        for side in ("real", "sim"):
            acf.add_column(f"{label}\n{side}", justify="right")
    columns = [report.acf[key][side] for key, _ in series for side in ("real", "sim")]
    for lag in range(10):
        acf.add_row(str(lag + 1), *(f"{col[lag]:.3f}" for col in columns))
    return [facts, acf]


@data_app.command("facts")
def data_facts(
    message: Annotated[
        Path,
        typer.Argument(help="LOBSTER message file; its orderbook file must lie beside it."),
    ],
    sim: Annotated[
        Path | None,
        typer.Option(help="Simulator parameters (JSON) instead of calibrating on the day."),
    ] = None,
    seconds: Annotated[
        float | None,
        typer.Option(help="Simulated seconds (default: as long as the day's file)."),
    ] = None,
    seed: Annotated[
        int, typer.Option(help="First simulation seed (same seeds, same markets).")
    ] = 1,
    seeds: Annotated[
        int,
        typer.Option(
            min=1,
            help="Simulated days compared, seeds --seed, --seed + 1, ...: each fact is judged "
            "on its median over them (one day's kurtosis moves by 3x from seed to seed).",
        ),
    ] = FACTS_SEEDS,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the parameters used (JSON) here.")
    ] = None,
    backend: BackendOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Real vs simulated stylised facts of a LOBSTER day (calibrating the simulator on it).

    Return kurtosis (1 s, 10 s), return and |return| autocorrelation (lags
    1-10), spread quantiles and time at one tick, market orders under 10 ms
    apart, depth at levels 1-3; each with sim / real and whether it is within
    a factor of 1.5. Over several seeds the simulated value is their median,
    and each seed's value and how many were within 1.5x alone are shown too.
    The calibration's own simulations use fixed seeds.
    """
    from rich.progress import Progress

    from makerkit.data import (
        FACT_TARGETS,
        SimParams,
        calibrate_shape,
        compare_market_facts,
        load_lobster_beside,
        lobster_market_facts,
        simulated_market_facts,
    )

    try:
        if seconds is not None and not (math.isfinite(seconds) and seconds > 0):
            msg = f"invalid `--seconds`, must be > 0, was {seconds}"
            raise ConfigError(msg)
        day = load_lobster_beside(message)
        real = lobster_market_facts(day)
        if sim is not None:
            try:
                params = msgspec.json.decode(sim.read_bytes(), type=SimParams)
            except OSError as exc:
                msg = f"cannot read: {exc.strerror or exc}"
                raise DataError(msg, path=str(sim)) from exc
            except (msgspec.ValidationError, msgspec.DecodeError) as exc:
                msg = f"not simulator parameters: {exc}"
                raise DataError(msg, path=str(sim)) from exc
            source = str(sim)
        else:
            # two price scales fitted, each judged on 27 simulated days: 20-30 s for a day
            with err.status("calibrating the simulator on the day"):
                params = calibrate_shape(day)
            source = "calibrated"
        length = real.seconds if seconds is None else seconds
        simulated = []
        with Progress(console=err, transient=True) as bar:
            task = bar.add_task(f"simulating {seeds} day(s) of {length:,.0f} s", total=seeds)
            for k in range(seeds):
                simulated.append(
                    simulated_market_facts(params, seconds=length, seed=seed + k, backend=backend)
                )
                bar.advance(task)
        report = compare_market_facts(real, simulated)
    except MakerkitError as exc:
        raise _fail(exc) from exc
    if output is not None:
        output.write_bytes(msgspec.json.format(msgspec.json.encode(params)))
        err.print(f"parameters written to {output}")
    which = f"seed {seed}" if seeds == 1 else f"median of seeds {seed}-{seed + seeds - 1}"
    title = f"{message.name}: real vs simulated ({length:,.0f} s, {which}, params {source})"
    for table in _real_vs_sim_tables(title, report, FACT_TARGETS):
        (err if as_json else out).print(table)
    if as_json:
        _json_line(
            {
                **report.to_builtins(),
                "message": str(message),
                "params": source,
                "seed": seed,
                "seeds": seeds,
                "seconds": length,
            }
        )


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
