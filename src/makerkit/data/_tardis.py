"""tardis.dev CSV files (plain or gzipped, as tardis ships them) as catalog tables.

The data type is read from the header, not the name, so renamed files work:

* ``incremental_book_L2`` (``exchange,symbol,timestamp,local_timestamp,
  is_snapshot,side,price,amount``) -> ``l2``: ``side`` bid/ask -> +1/-1, the
  level's new ``amount`` (0 removes it). tardis starts every file, and every
  reconnection, with a snapshot (``is_snapshot=true`` rows); the first row of
  each such block carries ``L2_RESET``: the book is cleared before it, as
  tardis documents (a snapshot after updates replaces the book).
* ``book_snapshot_N`` (``asks[k].price,asks[k].amount,bids[k].price,
  bids[k].amount`` for k < N) -> ``l2_snapshot``: level k+1 of each side; empty
  levels (blank cells) are left out.
* ``trades`` (``id,side,price,amount``) -> ``trades``: side buy/sell/unknown is
  the aggressor +1/-1/0; ``trade_id`` is the id where it is an integer, else 0.
* ``quotes`` (``ask_amount,ask_price,bid_price,bid_amount``) -> ``bbo``; a
  blank side is 0.

Timestamps are microseconds since the epoch: ``local_timestamp`` (when
tardis received the message) -> ``ts_ns``, ``timestamp`` (the exchange's)
-> ``exch_ns``. Prices and amounts are decimal text parsed exactly into
units of 1e-8. A file whose local timestamps go backwards is refused naming
the first line where they do (``sort=True`` sorts it stably instead, with a
warning that counts the rows out of order): never silently reordered.
"""

from __future__ import annotations

import gzip
import warnings
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import numpy as np

from makerkit.core.errors import DataError, SourceError
from makerkit.data._tables import L2_RESET, SourceTable, decimal_units, make_table

__all__ = ["is_tardis_csv", "read_tardis"]

_BASE = ("exchange", "symbol", "timestamp", "local_timestamp")
_SCALE = 8


def _header(path: Path) -> list[str]:
    opener: Any = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8", newline="") as fh:
            first: str = fh.readline()
            return first.strip().split(",")
    except (OSError, UnicodeDecodeError, EOFError) as exc:
        msg = f"cannot read: {exc}"
        raise DataError(msg, path=str(path)) from exc


def _kind(columns: list[str]) -> str | None:
    if tuple(columns[:4]) != _BASE:
        return None
    rest = set(columns[4:])
    if {"is_snapshot", "side", "price", "amount"} <= rest:
        return "incremental_book_L2"
    if "asks[0].price" in rest:
        levels = sum(1 for c in columns if c.startswith("asks[") and c.endswith("].price"))
        return f"book_snapshot_{levels}"
    if {"id", "side", "price", "amount"} <= rest:
        return "trades"
    if {"ask_amount", "ask_price", "bid_price", "bid_amount"} <= rest:
        return "quotes"
    return None


def is_tardis_csv(path: str | Path) -> bool:
    """Whether the file's header is one of the tardis CSV types read here."""
    p = Path(path)
    name = p.name.lower()
    if not (name.endswith(".csv") or name.endswith(".csv.gz")):
        return False
    return _kind(_header(p)) is not None


def _bad_line(path: Path, column: str, columns: list[str]) -> tuple[int, str]:
    """The first line whose ``column`` is not an exact decimal of 8 places (slow path)."""
    opener: Any = gzip.open if path.suffix == ".gz" else open
    at = columns.index(column)
    with opener(path, "rt", encoding="utf-8", newline="") as fh:
        next(fh)
        for line, text in enumerate(fh, start=2):
            cells = text.rstrip("\r\n").split(",")
            cell = cells[at] if at < len(cells) else ""
            if not cell:
                continue
            try:
                value = Decimal(cell)
            except InvalidOperation:
                return line, cell
            if not value.is_finite() or value != value.quantize(Decimal(1).scaleb(-_SCALE)):
                return line, cell
    return 0, ""


def _read(path: Path, columns: list[str], decimals: list[str]) -> Any:
    try:
        import pyarrow as pa
        import pyarrow.csv as pcsv
    except ImportError as exc:  # pragma: no cover - depends on the install
        why = "reading tardis CSV needs `pip install makerkit[data]` (pyarrow)"
        source = "tardis"
        raise SourceError(source, why) from exc
    types: dict[str, Any] = {c: pa.decimal128(38, _SCALE) for c in decimals}
    types |= {"exchange": pa.string(), "symbol": pa.string(), "id": pa.string()}
    types |= {"timestamp": pa.int64(), "local_timestamp": pa.int64()}
    types |= {"side": pa.string(), "is_snapshot": pa.bool_()}
    try:
        return pcsv.read_csv(
            path,
            convert_options=pcsv.ConvertOptions(
                column_types={k: v for k, v in types.items() if k in columns},
                strings_can_be_null=False,
            ),
        )
    except pa.ArrowInvalid as exc:
        text = str(exc)
        for column in decimals:
            if f"'{column}'" in text or f"#{columns.index(column)}" in text:
                line, cell = _bad_line(path, column, columns)
                if line:
                    msg = f"not a decimal with at most {_SCALE} places: {cell!r}"
                    raise DataError(msg, path=str(path), line=line, field=column) from exc
        msg = f"not a readable tardis CSV: {text}"
        raise DataError(msg, path=str(path)) from exc


def _ordered(ts: np.ndarray[Any, Any], path: Path, sort: bool) -> np.ndarray[Any, Any] | None:
    """None when ``ts`` never decreases; else the stable sorting order (``sort``) or DataError."""
    back = np.flatnonzero(np.diff(ts) < 0)
    if back.size == 0:
        return None
    line = int(back[0]) + 3  # the row after the drop, 1-based, after the header
    if not sort:
        msg = (
            f"local_timestamp goes backwards ({back.size} times, first from "
            f"{int(ts[back[0]]) // 1000} to {int(ts[back[0] + 1]) // 1000} us); pass sort=True "
            "(`data ingest --sort`) to sort the rows by it"
        )
        raise DataError(msg, path=str(path), line=line, field="local_timestamp")
    warnings.warn(
        f"{path}: local_timestamp goes backwards {back.size} times (first at line {line}); "
        "rows sorted stably by it",
        stacklevel=3,
    )
    return np.argsort(ts, kind="stable")


def _side(values: Any, path: Path, names: dict[str, int], field: str) -> np.ndarray[Any, Any]:
    arr = np.asarray(values.to_numpy(zero_copy_only=False), dtype=object)
    out = np.zeros(arr.shape[0], np.int8)
    seen = np.zeros(arr.shape[0], bool)
    for name, code in names.items():
        hit = arr == name
        out[hit] = code
        seen |= hit
    if not seen.all():
        row = int(np.argmin(seen))
        msg = f"invalid side {arr[row]!r}, must be one of {sorted(names)}"
        raise DataError(msg, path=str(path), line=row + 2, field=field)
    return out


def read_tardis(path: str | Path, *, sort: bool = False) -> list[SourceTable]:
    """The file's rows as one table per (exchange, symbol); see the module notes."""
    p = Path(path)
    columns = _header(p)
    kind = _kind(columns)
    if kind is None:
        msg = (
            "not a tardis CSV type read here (incremental_book_L2, book_snapshot_N, trades, "
            f"quotes): header {','.join(columns[:8])}"
        )
        raise DataError(msg, path=str(p), line=1)
    decimals = [
        c
        for c in columns
        if c in ("price", "amount", "ask_amount", "ask_price", "bid_price", "bid_amount")
        or c.endswith((".price", ".amount"))
    ]
    table = _read(p, columns, decimals)
    n = table.num_rows
    local = table.column("local_timestamp").to_numpy() * 1000
    order = _ordered(local, p, sort)
    if order is not None:
        table = table.take(order)
        local = local[order]
    exch = table.column("timestamp").to_numpy() * 1000
    meta = {
        "source": "tardis", "file": str(p), "data_type": kind, "price_unit": "1e-8",
        "qty_unit": "1e-8", "clock": "local",
    }  # fmt: skip
    units = {c: decimal_units(table.column(c), path=str(p), field=c) for c in decimals}
    cols: dict[str, Any]
    src_row = np.arange(n)
    if kind == "incremental_book_L2":
        side = _side(table.column("side"), p, {"bid": 1, "ask": -1}, "side")
        snap = table.column("is_snapshot").to_numpy(zero_copy_only=False).astype(bool)
        cols = {"ts_ns": local, "exch_ns": exch, "side": side, "price": units["price"],
                "qty": units["amount"], "flags": np.zeros(n, np.int8)}  # fmt: skip
        schema = "l2"
    elif kind.startswith("book_snapshot_"):
        schema = "l2_snapshot"
        depth = int(kind.rsplit("_", 1)[1])
        parts: list[tuple[Any, ...]] = []
        rows = np.arange(n)
        for k in range(depth):
            for side_name, code in (("bids", 1), ("asks", -1)):
                price_col = table.column(f"{side_name}[{k}].price")
                present = ~np.asarray(price_col.is_null().to_numpy(zero_copy_only=False), bool)
                qty = units[f"{side_name}[{k}].amount"]
                parts.append((rows[present], np.full(int(present.sum()), k + 1),
                              np.full(int(present.sum()), code),
                              units[f"{side_name}[{k}].price"][present], qty[present]))  # fmt: skip
        row, level, side_col, price, qty = (np.concatenate([q[i] for q in parts]) for i in range(5))
        by = np.lexsort((-side_col, level, row))  # per snapshot: level 1 bid, ask, level 2, ...
        row = row[by]
        src_row = row
        cols = {"ts_ns": local[row], "exch_ns": exch[row], "level": level[by],
                "side": side_col[by], "price": price[by], "qty": qty[by]}  # fmt: skip
    elif kind == "trades":
        schema = "trades"
        aggressor = _side(table.column("side"), p, {"buy": 1, "sell": -1, "unknown": 0}, "side")
        ids = np.asarray(table.column("id").to_numpy(zero_copy_only=False), dtype=object)
        trade_id = np.array([int(i) if str(i).isdigit() else 0 for i in ids], np.int64)
        cols = {"ts_ns": local, "exch_ns": exch, "price": units["price"],
                "qty": units["amount"], "aggressor": aggressor, "trade_id": trade_id}  # fmt: skip
    else:
        schema = "bbo"
        cols = {"ts_ns": local, "exch_ns": exch, "bid_price": units["bid_price"],
                "bid_qty": units["bid_amount"], "ask_price": units["ask_price"],
                "ask_qty": units["ask_amount"]}  # fmt: skip
    exchange = np.asarray(table.column("exchange").to_numpy(zero_copy_only=False), dtype=object)
    symbol = np.asarray(table.column("symbol").to_numpy(zero_copy_only=False), dtype=object)
    row_of = src_row  # the CSV row of each output row (a snapshot row fans out)
    out: list[SourceTable] = []
    for venue, sym in sorted({(str(e), str(s)) for e, s in zip(exchange, symbol, strict=True)}):
        mine = (exchange == venue) & (symbol == sym)
        pick = mine[row_of]
        part = {name: values[pick] for name, values in cols.items()}
        if schema == "l2":
            s = snap[mine]
            starts = s & ~np.r_[False, s[:-1]]  # the first row of each snapshot block
            part["flags"] = np.where(starts, L2_RESET, 0).astype(np.int8)
        out.append(make_table(venue, sym, schema, part, meta | {"symbol": sym}))
    return out
