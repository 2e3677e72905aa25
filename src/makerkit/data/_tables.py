"""What every reader produces: tables of one symbol in one of the catalog's schemas.

A reader turns a source file (tardis CSV, Databento DBN, a Binance archive,
LOBSTER, a Binance capture) into ``SourceTable``s. Every schema keeps two
clocks apart:

* ``ts_ns`` — when the data reached the recorder (tardis ``local_timestamp``,
  Databento ``ts_recv``, a capture's receive time). Replays run on it: it is
  what a strategy at the recorder would have seen, and when. Sources without a
  local clock (Binance archives, LOBSTER) put the exchange time here too, and
  say so in the meta (``"clock": "exchange"``).
* ``exch_ns`` — the exchange's own timestamp for the event.

Prices and sizes are integers in the units the meta names (``price_unit``,
``qty_unit``, e.g. ``"1e-8"``): decimals are parsed exactly, never through a
float. The replay grid (tick, lot) is derived when the data is replayed.

Schemas (column: dtype):

* ``l3`` — order-level messages: action (the ``L3_*`` codes below), order_id,
  side (+1 bid / -1 ask; 0 when the source has none), price, qty (for cancels
  and fills the quantity removed; for modifies the order's new size), flags
  (the source's own: Databento's record flags; LOBSTER's event type).
* ``l2`` — level updates: side, price, qty (the level's new size; 0 removes
  it), flags (``L2_RESET``: the book is cleared before this row is applied).
* ``l2_snapshot`` — whole books at points in time: level (1 = best), side,
  price, qty. Rows of one snapshot share ``ts_ns``.
* ``bbo`` — the best bid and ask: bid_price, bid_qty, ask_price, ask_qty
  (qty 0 where a side is empty).
* ``trades`` — price, qty, aggressor (+1 a buyer lifted the ask, -1 a seller
  hit the bid, 0 unknown), trade_id (0 where the source has none).
* ``depth_bands`` — cumulative depth within ``percentage`` % of the mid
  (negative: bids), as Binance's futures ``bookDepth`` archives have it; not a
  book, so not replayable: kept for the record and for market facts.
"""

from __future__ import annotations

from typing import Any

import msgspec
import numpy as np

from makerkit.core.errors import DataError

__all__ = [
    "L2_RESET",
    "L3_ADD",
    "L3_CANCEL",
    "L3_CLEAR",
    "L3_FILL",
    "L3_MODIFY",
    "L3_NONE",
    "L3_TRADE",
    "TABLE_SCHEMAS",
    "SourceTable",
]

# l3 actions (a superset of the order-level store's codes 0-7: same meaning where shared)
L3_ADD = 0  # an order rests: price, qty
L3_CANCEL = 1  # qty of the order is removed (partly or wholly)
L3_MODIFY = 2  # the order's new price and size (qty); priority as the source's rules say
L3_TRADE = 3  # an aggressor traded qty at price (side: the aggressor); moves no resting order
L3_FILL = 4  # a resting order was filled qty at price (the book changes only if the source says)
L3_CLEAR = 8  # the book is emptied (a venue reset, or the start of a snapshot)
L3_NONE = 9  # no book change (a status record or a flag carrier)

L2_RESET = 1  # flags bit on an l2 row: clear the book, then apply this row

_TS = {"ts_ns": "int64", "exch_ns": "int64"}
TABLE_SCHEMAS: dict[str, dict[str, str]] = {
    "l3": _TS | {
        "action": "int8", "order_id": "int64", "side": "int8", "price": "int64",
        "qty": "int64", "flags": "int16",
    },
    "l2": _TS | {"side": "int8", "price": "int64", "qty": "int64", "flags": "int8"},
    "l2_snapshot": _TS | {"level": "int16", "side": "int8", "price": "int64", "qty": "int64"},
    "bbo": _TS | {
        "bid_price": "int64", "bid_qty": "int64", "ask_price": "int64", "ask_qty": "int64",
    },
    "trades": _TS | {"price": "int64", "qty": "int64", "aggressor": "int8", "trade_id": "int64"},
    "depth_bands": _TS | {"percentage": "float64", "depth": "int64", "notional": "int64"},
}  # fmt: skip


class SourceTable(msgspec.Struct, frozen=True, kw_only=True):
    """One schema of one symbol read from a source: columns cast to the schema.

    ``meta`` holds at least ``source`` (the format), ``file``, ``price_unit`` and
    ``qty_unit``; readers add what the format knows (``clock``, the tick, ...).
    """

    venue: str  # lower case, as the source names it: "binance", "deribit", "glbx.mdp3", ...
    symbol: str  # as the venue writes it: "BTCUSDT", "BTC-PERPETUAL", "ESH4"
    schema: str  # a key of TABLE_SCHEMAS
    columns: dict[str, np.ndarray[Any, Any]]
    meta: dict[str, Any]

    def __len__(self) -> int:
        return int(self.columns["ts_ns"].shape[0])


def cast_columns(
    name: str, spec: dict[str, str], columns: dict[str, Any], *, path: str = ""
) -> dict[str, np.ndarray[Any, Any]]:
    """``columns`` checked against ``spec`` (name -> dtype): all there, none extra, one length."""
    missing = sorted(set(spec) - set(columns))
    extra = sorted(set(columns) - set(spec))
    if missing or extra:
        msg = f"invalid columns for {name}: missing {missing}, unexpected {extra}"
        raise DataError(msg, path=path)
    cols = {k: np.asarray(columns[k]).astype(dtype, copy=False) for k, dtype in spec.items()}
    lengths = {a.shape[0] for a in cols.values()}
    if len(lengths) > 1:
        msg = f"invalid columns for {name}: lengths differ {sorted(lengths)}"
        raise DataError(msg, path=path)
    return cols


def make_table(
    venue: str, symbol: str, schema: str, columns: dict[str, Any], meta: dict[str, Any]
) -> SourceTable:
    """A table with its columns checked against and cast to ``schema``."""
    if schema not in TABLE_SCHEMAS:
        msg = f"invalid schema {schema!r}, must be one of {sorted(TABLE_SCHEMAS)}"
        raise DataError(msg)
    cols = cast_columns(schema, TABLE_SCHEMAS[schema], columns, path=str(meta.get("file", "")))
    return SourceTable(venue=venue.lower(), symbol=symbol, schema=schema, columns=cols, meta=meta)


def decimal_units(column: Any, *, scale: int = 8, path: str = "", field: str = "") -> Any:
    """A pyarrow decimal128(38, ``scale``) column as int64 units of 10^-scale, exactly.

    Reads the unscaled integers from the Arrow buffer (no float, no per-row
    Python); nulls become 0. A value beyond int64 raises DataError.
    """
    arr = column.combine_chunks() if hasattr(column, "combine_chunks") else column
    n = len(arr)
    if n == 0:
        return np.zeros(0, np.int64)
    words = np.frombuffer(arr.buffers()[1], dtype="<i8").reshape(-1, 2)[arr.offset : arr.offset + n]
    low, high = words[:, 0], words[:, 1]
    valid = ~np.asarray(arr.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    if np.any(valid & (high != (low >> 63))):
        row = int(np.argmax(valid & (high != (low >> 63))))
        msg = f"a value beyond 64-bit units of 1e-{scale} (row {row + 1})"
        raise DataError(msg, path=path, field=field)
    return np.where(valid, low, 0).astype(np.int64)
