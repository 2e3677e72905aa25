"""The catalog: every ingested source as Parquet, partitioned venue / symbol / date / schema.

Layout (hive-style, so ``pyarrow.dataset`` reads it as is)::

    DIR/venue=binance-futures/symbol=BTCUSDT/date=2024-07-18/schema=l2/part-<id>.parquet
    DIR/_sources/<id>.json

``<id>`` is 16 hex digits of a SHA-256 over the file's bytes and its name
(LOBSTER files and Binance archives carry their day and symbol in the name):
the same file ingested twice is the same source, found in ``_sources`` and
skipped, so a second ingest changes nothing. A source is
visible only once its manifest is in ``_sources``, and the manifest is
written last (every part first goes to a temporary name and is renamed into
place), so an interrupted ingest leaves nothing half-visible; ingesting again
finishes it. The date is the UTC date of ``ts_ns`` (a table spanning
midnight is split). Each part's Arrow metadata carries the schema, the
reader's meta (source format, file, units, clocks) and the source's hash.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import msgspec
import numpy as np

from makerkit.core.errors import DataError, SourceError
from makerkit.data._readers import day_start_ns, read_source
from makerkit.data._tables import TABLE_SCHEMAS, SourceTable

__all__ = [
    "CatalogEntry",
    "CatalogPart",
    "IngestReport",
    "add_tables",
    "catalog_days",
    "catalog_dir",
    "catalog_entries",
    "catalog_parts",
    "date_range",
    "ingest",
    "read_partition",
    "remove_source",
]

_DAY_NS = 86_400 * 10**9


class CatalogEntry(msgspec.Struct, frozen=True, kw_only=True):
    """One partition: what ``data ls`` prints."""

    venue: str
    symbol: str
    date: str
    schema: str
    rows: int
    start: str  # ISO time of the first ts_ns (UTC, or the source's clock: see its meta)
    end: str
    files: int  # sources that wrote into it


class CatalogPart(msgspec.Struct, frozen=True, kw_only=True):
    """One Parquet part of one source."""

    venue: str
    symbol: str
    date: str
    schema: str
    rows: int
    start_ns: int
    end_ns: int
    path: str  # relative to the catalog
    # the grid a stream needs before it reads a row (source units; 0: none)
    price_min: int = 0
    price_max: int = 0
    price_gcd: int = 0
    qty_gcd: int = 0


class IngestReport(msgspec.Struct, kw_only=True):
    """What ``data ingest`` did: ``files`` newly ingested, ``skipped`` already there."""

    files: int = 0
    skipped: int = 0
    rows: dict[str, int] = msgspec.field(default_factory=dict)
    seconds: float = 0.0
    sources: list[dict[str, Any]] = msgspec.field(default_factory=list)


def catalog_dir(path: str | Path | None = None) -> Path:
    """The catalog folder: ``path``, else ``MAKERKIT_CATALOG``, else ``./catalog``."""
    if path is not None:
        return Path(path)
    return Path(os.environ.get("MAKERKIT_CATALOG", "catalog"))


def _arrow() -> tuple[Any, Any]:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as exc:  # pragma: no cover - depends on the install
        source = "catalog"
        why = "needs `pip install makerkit[data]` (pyarrow)"
        raise SourceError(source, why) from exc
    return pa, pq


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _iso(ns: int) -> str:
    return dt.datetime.fromtimestamp(ns / 1e9, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")


def _atomic_write(target: Path, write: Callable[[Path], None]) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        tmp.replace(target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _safe(text: str, what: str) -> str:
    if not text or "/" in text or "\\" in text or text in (".", "..") or "=" in text:
        msg = f"invalid {what} {text!r} for a catalog path"
        raise DataError(msg)
    return text


def _parts_of(table: SourceTable) -> Iterable[tuple[str, dict[str, np.ndarray[Any, Any]]]]:
    """The table split by the UTC date of ``ts_ns`` (rows keep their order)."""
    ts = table.columns["ts_ns"]
    if ts.shape[0] == 0:
        return
    days = ts // _DAY_NS
    cuts = np.flatnonzero(np.diff(days)) + 1
    if np.any(np.diff(days) < 0):  # out of date order: group, keeping order within a day
        for d in np.unique(days):
            mask = days == d
            yield _date(int(d)), {k: v[mask] for k, v in table.columns.items()}
        return
    bounds = [0, *cuts.tolist(), ts.shape[0]]
    for a, b in itertools.pairwise(bounds):
        yield _date(int(days[a])), {k: v[a:b] for k, v in table.columns.items()}


def _stats(schema: str, cols: dict[str, np.ndarray[Any, Any]], source: str = "") -> dict[str, int]:
    """Price range and grid of the rows that carry a price (and a size, where a row may not)."""
    if schema == "bbo":
        prices = np.r_[
            cols["bid_price"][cols["bid_qty"] > 0], cols["ask_price"][cols["ask_qty"] > 0]
        ]
        sizes = np.r_[cols["bid_qty"], cols["ask_qty"]]
    elif schema in ("l3", "l2", "l2_snapshot", "trades"):
        keep = (cols["price"] > 0) & ((cols["qty"] > 0) if schema == "l2_snapshot" else True)
        if schema == "l3" and source == "lobster":  # the grid of its visible orders (types 1-4):
            keep &= (cols["flags"] >= 1) & (cols["flags"] <= 4)  # hidden prints may lie between
        prices, sizes = cols["price"][keep], cols["qty"]
    else:
        return {}
    sizes = sizes[sizes > 0]
    if not prices.size:
        return {}
    return {
        "price_min": int(prices.min()), "price_max": int(prices.max()),
        "price_gcd": int(np.gcd.reduce(prices)),
        "qty_gcd": int(np.gcd.reduce(sizes)) if sizes.size else 0,
    }  # fmt: skip


def _date(day_index: int) -> str:
    return (dt.date(1970, 1, 1) + dt.timedelta(days=day_index)).isoformat()


def add_tables(
    catalog: str | Path, tables: list[SourceTable], *, source_id: str, name: str,
    file: str = "", size: int = 0, sha256: str = "",
) -> list[CatalogPart]:  # fmt: skip
    """Write tables as one source of the catalog: every part, then its manifest (atomic).

    ``ingest`` calls it for each file; a generator of data (the simulator, a
    converter) calls it with a ``source_id`` of its own (a fresh one per content).
    """
    pa, pq = _arrow()
    root = Path(catalog)
    sid = _safe(source_id, "source id")
    parts: list[CatalogPart] = []
    for table in tables:
        venue, symbol = _safe(table.venue, "venue"), _safe(table.symbol, "symbol")
        for date, cols in _parts_of(table):
            rel = Path(
                f"venue={venue}", f"symbol={symbol}", f"date={date}",
                f"schema={table.schema}", f"part-{sid}.parquet",
            )  # fmt: skip
            meta = {
                "makerkit.schema": table.schema,
                "makerkit.source_id": sid,
                "makerkit.meta": json.dumps(table.meta, sort_keys=True, default=str),
            }
            arrow = pa.table(cols).replace_schema_metadata(meta)

            def write(tmp: Path, arrow: Any = arrow) -> None:
                pq.write_table(arrow, tmp, compression="zstd")

            _atomic_write(root / rel, write)
            stats = _stats(table.schema, cols, str(table.meta.get("source", "")))
            parts.append(CatalogPart(
                venue=venue, symbol=symbol, date=date, schema=table.schema,
                rows=int(cols["ts_ns"].shape[0]), start_ns=int(cols["ts_ns"].min()),
                end_ns=int(cols["ts_ns"].max()), path=str(rel), **stats,
            ))  # fmt: skip
    record = {
        "id": sid, "file": file, "name": name, "bytes": size, "sha256": sha256,
        "formats": sorted({str(t.meta.get("source", "")) for t in tables}),
        "parts": [msgspec.to_builtins(p) for p in parts],
    }  # fmt: skip
    text = json.dumps(record, indent=1, sort_keys=True)

    def save(tmp: Path, text: str = text) -> None:
        tmp.write_text(text)

    _atomic_write(root / "_sources" / f"{sid}.json", save)
    return parts


def ingest(
    sources: Iterable[str | Path],
    catalog: str | Path,
    *,
    sort: bool = False,
    progress: Callable[[str], None] | None = None,
) -> IngestReport:
    """Read each source and write it into ``catalog``; already-ingested sources are skipped."""
    from makerkit.core.clock import monotonic_ns

    _arrow()
    root = Path(catalog)
    started = monotonic_ns()
    report = IngestReport()
    for source in sources:
        path = Path(source)
        if not path.is_file():
            msg = "no such file"
            raise DataError(msg, path=str(path))
        digest = _digest(path)
        # the name too: LOBSTER and Binance archives carry their day and symbol in it
        sid = hashlib.sha256(f"{digest}\0{path.name}".encode()).hexdigest()[:16]
        manifest = root / "_sources" / f"{sid}.json"
        if manifest.exists():
            report.skipped += 1
            if progress is not None:
                progress(f"{path.name}: already in the catalog")
            continue
        tables = read_source(path, sort=sort)
        parts = add_tables(
            root, tables, source_id=sid, name=path.name, file=str(path.resolve()),
            size=path.stat().st_size, sha256=digest,
        )  # fmt: skip
        for p in parts:
            report.rows[p.schema] = report.rows.get(p.schema, 0) + p.rows
        report.files += 1
        report.sources.append({"file": str(path), "id": sid, "parts": len(parts)})
        if progress is not None:
            progress(f"{path.name}: {sum(p.rows for p in parts):,} rows in {len(parts)} parts")
    report.seconds = round((monotonic_ns() - started) / 1e9, 3)
    return report


def _manifests(root: Path) -> list[dict[str, Any]]:
    folder = root / "_sources"
    if not folder.is_dir():
        if not root.is_dir():
            msg = f"no catalog at {root} (create one with `makerkit data ingest ... --catalog DIR`)"
            raise DataError(msg)
        return []
    out = []
    for f in sorted(folder.glob("*.json")):
        try:
            out.append(json.loads(f.read_text()))
        except (OSError, json.JSONDecodeError) as exc:
            msg = f"unreadable catalog manifest: {exc}"
            raise DataError(msg, path=str(f)) from exc
    return out


def remove_source(catalog: str | Path, source: str) -> dict[str, Any]:
    """Take one source out of the catalog (by id or file name): manifest first, then parts."""
    root = Path(catalog)
    found = [m for m in _manifests(root) if source in (m["id"], m["name"], m["file"])]
    if len(found) != 1:
        have = ", ".join(f"{m['id']} ({m['name']})" for m in _manifests(root))
        msg = f"catalog {root}: {len(found)} sources match {source!r}; sources: {have or 'none'}"
        raise DataError(msg)
    record = found[0]
    (root / "_sources" / f"{record['id']}.json").unlink()
    for part in record["parts"]:
        (root / part["path"]).unlink(missing_ok=True)
    return record


def catalog_parts(catalog: str | Path) -> list[CatalogPart]:
    """Every visible part (of a source whose manifest is written)."""
    root = Path(catalog)
    return [msgspec.convert(p, CatalogPart) for m in _manifests(root) for p in m["parts"]]


def catalog_entries(catalog: str | Path) -> list[CatalogEntry]:
    """One entry per (venue, symbol, date, schema), sorted."""
    merged: dict[tuple[str, str, str, str], list[CatalogPart]] = {}
    for p in catalog_parts(catalog):
        merged.setdefault((p.venue, p.symbol, p.date, p.schema), []).append(p)
    return [
        CatalogEntry(
            venue=k[0],
            symbol=k[1],
            date=k[2],
            schema=k[3],
            rows=sum(p.rows for p in ps),
            start=_iso(min(p.start_ns for p in ps)),
            end=_iso(max(p.end_ns for p in ps)),
            files=len(ps),
        )
        for k, ps in sorted(merged.items())
    ]


def catalog_days(catalog: str | Path, venue: str, symbol: str) -> dict[str, set[str]]:
    """Each date held for (venue, symbol), with its schemas."""
    days: dict[str, set[str]] = {}
    for p in catalog_parts(catalog):
        if p.venue == venue.lower() and p.symbol == symbol:
            days.setdefault(p.date, set()).add(p.schema)
    return days


def read_partition(
    catalog: str | Path, venue: str, symbol: str, date: str, schema: str
) -> tuple[dict[str, np.ndarray[Any, Any]], list[dict[str, Any]]]:
    """The columns of one partition (its sources' parts merged stably by ``ts_ns``) and metas."""
    _, pq = _arrow()
    root = Path(catalog)
    parts = [
        p
        for p in catalog_parts(root)
        if (p.venue, p.symbol, p.date, p.schema) == (venue.lower(), symbol, date, schema)
    ]
    if not parts:
        msg = f"catalog {root} has no {schema} for {venue} {symbol} on {date}"
        raise DataError(msg)
    spans = sorted((p.start_ns, p.end_ns, p.path) for p in parts)
    for (_, end, a), (start, _, b) in itertools.pairwise(spans):
        if start <= end:
            msg = (
                f"catalog {root}: two sources overlap in {venue} {symbol} {date} {schema} "
                f"({a} and {b}); remove one with `makerkit data rm --catalog {root} ID`"
            )
            raise DataError(msg)
    names = TABLE_SCHEMAS[schema]
    cols: dict[str, list[np.ndarray[Any, Any]]] = {k: [] for k in names}
    metas: list[dict[str, Any]] = []
    for p in sorted(parts, key=lambda q: q.path):
        try:
            table = pq.read_table(root / p.path)
        except OSError as exc:
            msg = f"unreadable catalog part: {exc}"
            raise DataError(msg, path=str(root / p.path)) from exc
        md = table.schema.metadata or {}
        metas.append(json.loads(md.get(b"makerkit.meta", b"{}")))
        for k in names:
            cols[k].append(table.column(k).to_numpy())
    out = {k: np.concatenate(v) for k, v in cols.items()}
    if len(parts) > 1:
        order = np.argsort(out["ts_ns"], kind="stable")
        out = {k: v[order] for k, v in out.items()}
    return out, metas


def date_range(first: str, last: str) -> list[str]:
    """Every date from ``first`` to ``last`` inclusive (YYYY-MM-DD)."""
    a, b = day_start_ns(first) // _DAY_NS, day_start_ns(last) // _DAY_NS
    if b < a:
        msg = f"invalid date range {first}..{last}: the end is before the start"
        raise DataError(msg)
    return [_date(d) for d in range(a, b + 1)]
