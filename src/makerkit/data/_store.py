"""The Parquet store: one file per dataset, schemas fixed and documented here.

Every file carries its kind, schema version and provenance in the Arrow
schema metadata (``makerkit.kind``, ``makerkit.version``, ``makerkit.meta`` as
JSON). Integer columns have no nulls, so loading them is zero-copy.

Schemas (``ts_ns``: UTC or exchange-local nanoseconds as the source gives):

* ``l3`` — order-level events: ts_ns int64, action int8 (0 add, 1 cancel of
  ``qty``, 2 modify, 3 market order, 4 execution of a resting order, 5 hidden
  execution, 6 cross trade, 7 halt), order_id int64, side int8 (+1 buy,
  -1 sell), price int64 (ticks), qty int64 (lots). Meta: the tick in source units.
* ``l2`` — level updates: ts_ns int64, side int8, price int64, qty int64
  (the level's new quantity, 0 removes it). Binance: units of 1e-8.
* ``l2_snapshot`` — books at points in time, long format: ts_ns int64,
  level int16 (1 = best), side int8, price int64, qty int64 (LOBSTER
  orderbook rows; a Binance REST snapshot).
* ``trades`` — ts_ns int64, price int64, qty int64, aggressor int8.
* ``bars`` — ts_ns int64 (bar start), open/high/low/close/volume float64,
  adj_close float64 (NaN where the source has none).

Writes are atomic (a temporary file renamed over the target), so a failed or
interrupted write never leaves a corrupt file where a good one was.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from makerkit.core.errors import DataError, SourceError
from makerkit.data._binance import BinanceCapture
from makerkit.data._lobster import LobsterDay, lobster_tick
from makerkit.data._synthetic import OrderStream
from makerkit.data._tables import cast_columns
from makerkit.data._types import Bars

__all__ = [
    "SCHEMAS",
    "binance_l2_columns",
    "binance_meta",
    "binance_snapshot_columns",
    "binance_trade_columns",
    "load_parquet",
    "lobster_book_columns",
    "lobster_l3_columns",
    "save_bars",
    "save_table",
    "stream_l3_columns",
]

_SOURCE = "parquet"
SCHEMA_VERSION = 1
SCHEMAS: dict[str, dict[str, str]] = {
    "l3": {
        "ts_ns": "int64", "action": "int8", "order_id": "int64", "side": "int8",
        "price": "int64", "qty": "int64",
    },
    "l2": {"ts_ns": "int64", "side": "int8", "price": "int64", "qty": "int64"},
    "l2_snapshot": {
        "ts_ns": "int64", "level": "int16", "side": "int8", "price": "int64", "qty": "int64",
    },
    "trades": {"ts_ns": "int64", "price": "int64", "qty": "int64", "aggressor": "int8"},
    "bars": {
        "ts_ns": "int64", "open": "float64", "high": "float64", "low": "float64",
        "close": "float64", "volume": "float64", "adj_close": "float64",
    },
}  # fmt: skip


def _arrow() -> Any:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as exc:  # pragma: no cover - depends on the install
        why = "needs `pip install makerkit[data]` (pyarrow)"
        raise SourceError(_SOURCE, why) from exc
    return pa, pq


def save_table(
    path: str | Path,
    kind: str,
    columns: dict[str, Any],
    meta: dict[str, Any] | None = None,
) -> Path:
    """Write one dataset of ``kind`` (a key of SCHEMAS); columns are cast to the schema."""
    pa, pq = _arrow()
    if kind not in SCHEMAS:
        msg = f"invalid `kind`, must be one of {sorted(SCHEMAS)}, was {kind!r}"
        raise DataError(msg)
    arrays = cast_columns(kind, SCHEMAS[kind], columns)
    table = pa.table(arrays).replace_schema_metadata(
        {
            "makerkit.kind": kind,
            "makerkit.version": str(SCHEMA_VERSION),
            "makerkit.meta": json.dumps(meta or {}, sort_keys=True),
        }
    )
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        pq.write_table(table, tmp, compression="zstd")
        tmp.replace(target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target


def save_bars(path: str | Path, bars: Bars) -> Path:
    """Write bars with their symbol, interval, source and currency as metadata."""
    adj = bars.adj_close if bars.adj_close is not None else np.full(len(bars), np.nan)
    cols = {
        "ts_ns": bars.ts_ns, "open": bars.open, "high": bars.high, "low": bars.low,
        "close": bars.close, "volume": bars.volume, "adj_close": adj,
    }  # fmt: skip
    meta = {
        "symbol": bars.symbol, "interval": bars.interval, "source": bars.source,
        "currency": bars.currency,
    }  # fmt: skip
    return save_table(path, "bars", cols, meta)


def load_parquet(path: str | Path) -> tuple[str, dict[str, np.ndarray[Any, Any]], dict[str, Any]]:
    """Return (kind, columns as numpy arrays, meta); integer columns without a copy."""
    pa, pq = _arrow()
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowException) as exc:
        msg = f"not a readable Parquet file: {exc}"
        raise DataError(msg, path=str(path)) from exc
    md = table.schema.metadata or {}
    kind = md.get(b"makerkit.kind", b"").decode()
    if kind not in SCHEMAS:
        msg = "not a makerkit dataset (no makerkit.kind in its metadata)"
        raise DataError(msg, path=str(path))
    meta = json.loads(md.get(b"makerkit.meta", b"{}"))
    columns: dict[str, np.ndarray[Any, Any]] = {}
    for name in SCHEMAS[kind]:
        chunked = table.column(name)
        arr = chunked.combine_chunks() if chunked.num_chunks != 1 else chunked.chunk(0)
        columns[name] = arr.to_numpy(zero_copy_only=arr.null_count == 0)
    return kind, columns, meta


# LOBSTER event type -> l3 action
_LOBSTER_ACTION = np.array([-1, 0, 1, 1, 4, 5, 6, 7], dtype=np.int8)


def lobster_l3_columns(day: LobsterDay) -> tuple[dict[str, Any], dict[str, Any]]:
    """A LOBSTER day as l3 columns (prices in ticks of the day's grid) and its meta."""
    m = day.messages
    # hidden executions may print between ticks: keep a grid that holds them too
    trades = m.price[(m.type == 5) | (m.type == 6)]
    tick = int(np.gcd.reduce(np.r_[trades, lobster_tick(day)]))
    cols = {
        "ts_ns": m.ts_ns, "action": _LOBSTER_ACTION[m.type], "order_id": m.order_id,
        "side": m.direction, "price": np.where(m.type == 7, m.price, m.price // tick),
        "qty": m.size,
    }  # fmt: skip
    return cols, {"source": "lobster", "file": m.path, "tick": tick, "price_unit": "1e-4 USD"}


def stream_l3_columns(stream: OrderStream) -> dict[str, Any]:
    """An order stream (simulator, synthetic) as l3 columns."""
    return {
        "ts_ns": stream.ts, "action": stream.action, "order_id": stream.order_id,
        "side": stream.side, "price": stream.price, "qty": stream.qty,
    }  # fmt: skip


def binance_meta(capture: BinanceCapture, path: str | Path) -> dict[str, Any]:
    """Provenance and units of a converted capture."""
    return {
        "source": "binance", "file": str(path), "symbol": capture.symbol,
        "price_unit": "1e-8", "qty_unit": "1e-8",
    }  # fmt: skip


def binance_l2_columns(capture: BinanceCapture) -> dict[str, Any]:
    """Every level update of every depth diff, in order (local receive time)."""
    ts: list[int] = []
    side: list[int] = []
    price: list[int] = []
    qty: list[int] = []
    for diff in capture.diffs:
        for s, levels in ((1, diff.bids), (-1, diff.asks)):
            for p, q in levels:
                ts.append(diff.local_ns)
                side.append(s)
                price.append(p)
                qty.append(q)
    return {"ts_ns": ts, "side": side, "price": price, "qty": qty}


def binance_trade_columns(capture: BinanceCapture) -> dict[str, Any]:
    """Trades; the aggressor sold when the buyer was the maker."""
    aggressor = np.where(capture.trade_buyer_maker, -1, 1)
    return {
        "ts_ns": capture.trade_ns, "price": capture.trade_price, "qty": capture.trade_qty,
        "aggressor": aggressor,
    }  # fmt: skip


def lobster_book_columns(day: LobsterDay) -> dict[str, Any]:
    """The orderbook file as l2 snapshots (one per message, empty levels left out)."""
    b, n, tick = day.book, day.levels, lobster_tick(day)
    rows = b.shape[0]
    ts = np.repeat(day.messages.ts_ns, 2 * n)
    level = np.tile(np.repeat(np.arange(1, n + 1, dtype=np.int16), 2), rows)
    side = np.tile(np.array([-1, 1], dtype=np.int8), rows * n)
    price = b[:, 0::2].reshape(-1)  # ask1, bid1, ask2, bid2, ...
    qty = b[:, 1::2].reshape(-1)
    real = (qty > 0) & (np.abs(price) < 9_999_999_999)
    return {
        "ts_ns": ts[real], "level": level[real], "side": side[real],
        "price": price[real] // tick, "qty": qty[real],
    }  # fmt: skip


def binance_snapshot_columns(capture: BinanceCapture) -> dict[str, Any]:
    """The capture's REST depth snapshot (stamped when it was received)."""
    ts = capture.snapshot_ns
    cols: dict[str, list[int]] = {"ts_ns": [], "level": [], "side": [], "price": [], "qty": []}
    for side, levels in ((1, capture.snapshot_bids), (-1, capture.snapshot_asks)):
        for k, (price, qty) in enumerate(levels, start=1):
            for name, value in zip(cols, (ts, k, side, price, qty), strict=True):
                cols[name].append(value)
    return cols
