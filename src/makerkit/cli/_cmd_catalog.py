"""``data ingest``, ``data ls`` and ``data rm``: the catalog of the user's own data."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import msgspec
import typer
from rich.progress import Progress, SpinnerColumn, TextColumn
from rich.table import Table

from makerkit.cli._common import JsonOpt, _fail, _json_line, err, out
from makerkit.core import MakerkitError

CatalogOpt = Annotated[Path, typer.Option("--catalog", help="Catalog folder (created by ingest).")]


def data_ingest(
    sources: Annotated[
        list[Path],
        typer.Argument(
            help="Files: tardis CSV(.gz), Databento .dbn[.zst], Binance archives (.zip/.csv), "
            "LOBSTER message files, Binance captures."
        ),
    ],
    catalog: CatalogOpt,
    sort: Annotated[
        bool, typer.Option("--sort", help="Sort tardis rows whose local time goes backwards.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Write sources into the catalog as Parquet (idempotent, atomic per file)."""
    from makerkit.data import ingest

    try:
        with Progress(
            SpinnerColumn(), TextColumn("{task.description}"), console=err, transient=True
        ) as bar:
            task = bar.add_task("ingesting", total=None)

            def told(text: str) -> None:
                bar.update(task, description=text)
                err.print(text, highlight=False)

            report = ingest(sources, catalog, sort=sort, progress=told)
    except MakerkitError as exc:
        raise _fail(exc) from exc
    if as_json:
        _json_line(msgspec.to_builtins(report))
        return
    table = Table(title=f"ingested into {catalog}", title_justify="left")
    for col in ("schema", "rows"):
        table.add_column(col, justify="right" if col == "rows" else "left")
    for schema, rows in sorted(report.rows.items()):
        table.add_row(schema, f"{rows:,}")
    out.print(table)
    out.print(
        f"{report.files} file(s) ingested, {report.skipped} already there, {report.seconds:.2f} s"
    )


def data_ls(catalog: CatalogOpt, as_json: JsonOpt = False) -> None:
    """What the catalog holds: one row per venue, symbol, date and schema."""
    from makerkit.data import catalog_entries

    try:
        entries = catalog_entries(catalog)
    except MakerkitError as exc:
        raise _fail(exc) from exc
    if as_json:
        sys.stdout.write(json.dumps(msgspec.to_builtins(entries)) + "\n")
        return
    table = Table(title=f"catalog {catalog}", title_justify="left")
    for col in ("venue", "symbol", "date", "schema", "rows", "start (UTC)", "end (UTC)", "files"):
        table.add_column(col, justify="right" if col in ("rows", "files") else "left")
    for e in entries:
        table.add_row(e.venue, e.symbol, e.date, e.schema, f"{e.rows:,}", e.start[11:23],
                      e.end[11:23], str(e.files))  # fmt: skip
    out.print(table)
    if not entries:
        out.print("the catalog is empty")


def data_rm(
    source: Annotated[str, typer.Argument(help="A source's id (see _sources/) or file name.")],
    catalog: CatalogOpt,
    as_json: JsonOpt = False,
) -> None:
    """Take one ingested source out of the catalog."""
    from makerkit.data import remove_source

    try:
        record = remove_source(catalog, source)
    except MakerkitError as exc:
        raise _fail(exc) from exc
    if as_json:
        _json_line({"removed": record["id"], "file": record["file"], "parts": len(record["parts"])})
    else:
        out.print(f"removed {record['name']} ({record['id']}): {len(record['parts'])} parts")
