"""``fit``: what the strategies need, measured on the market they will trade, into a file.

Plain function: ``_app.py`` registers it on the top-level app.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import msgspec
import typer
from rich.table import Table

from makerkit.backtest import DATA_HELP
from makerkit.cli._common import JsonOpt, _fail, _json_line, err, out
from makerkit.core import ConfigError, MakerkitError


def fit(
    data: Annotated[str, typer.Option(help=DATA_HELP)],
    window: Annotated[
        str | None,
        typer.Option(help="Measure only HH:MM-HH:MM of market time (the train window, say)."),
    ] = None,
    out_file: Annotated[
        Path, typer.Option("--out", help="The parameters file to write (JSON).")
    ] = Path("params.json"),
    sample_s: Annotated[
        float, typer.Option(min=0.001, help="Seconds between the samples of the mid and touch.")
    ] = 1.0,
    as_json: JsonOpt = False,
) -> None:
    """Fit sigma, A and k, the touch and the instrument's order rules; write a parameters file.

    backtest, compare, tune, run-strategy and demo read it with --params.
    """
    from makerkit.backtest import fit_market, parse_data_spec
    from makerkit.distributed import parse_window

    try:
        spec_text = data
        if window is not None:
            if not parse_data_spec(data).window.empty:
                msg = f"invalid --data {data!r}: give the window once, with --window or start=/end="
                raise ConfigError(msg)
            start, end = parse_window(window, name="window")
            spec_text = f"{data},start={start},end={end}"
        params = fit_market(spec_text, sample_s=sample_s)
    except MakerkitError as exc:
        raise _fail(exc) from exc
    payload: dict[str, Any] = msgspec.to_builtins(params)
    out_file.parent.mkdir(parents=True, exist_ok=True)
    out_file.write_bytes(msgspec.json.format(msgspec.json.encode(payload)) + b"\n")
    inst, m = params.instrument, params.market
    table = Table(title=f"fitted on {spec_text} -> {out_file}", show_header=False,
                  title_justify="left")  # fmt: skip
    rows = {
        "instrument": f"{inst.source} {inst.symbol}: tick {inst.tick}, lot {inst.lot}, "
        f"smallest order {inst.min_size} lots, step {inst.step_lots} lots",
        "order rules": inst.rules,
        "window": params.window or "the whole data",
        "sigma": f"{m.sigma:.4g} ticks/sqrt(s)",
        "fill intensity": f"A {m.A:.4g}/s per side, k {m.k:.4g} per tick "
        f"({m.market_orders:,} trades over {m.seconds:,.0f} s)",
        "spread (ticks)": ", ".join(f"{k} {v:.3g}" for k, v in m.spread.items()) or "-",
        "depth bid/ask (lots)": f"{[round(v, 1) for v in m.depth_bid]} / "
        f"{[round(v, 1) for v in m.depth_ask]}",
    }
    for key, value in rows.items():
        table.add_row(key, value)
    for name, values in params.strategies.items():
        table.add_row(name, ", ".join(f"{k}={v:.4g}" for k, v in values.items()))
    (err if as_json else out).print(table)
    if as_json:
        _json_line(payload | {"file": str(out_file)})
