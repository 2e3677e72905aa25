"""Databento DBN files (``.dbn``, ``.dbn.zst``; DBN versions 1-3) as ``SourceTable``s.

Decoding is ``databento_dbn``'s (its ``DBNDecoder``; each record's own bytes are
viewed through the record class's ``_dtypes``, so every field arrives as one
numpy column). Schemas:

* ``mbo`` -> ``l3``: A add, C cancel, M modify, R clear, T trade (side: the
  aggressor), F fill (side: the resting order), N none; ``flags`` is the
  record's own (F_LAST 128, F_TOB 64, F_SNAPSHOT 32, F_MBP 16,
  F_BAD_TS_RECV 8, F_MAYBE_BAD_BOOK 4), side B +1, A -1, N 0; an undefined
  price (an R record's) is 0.
* ``mbp-1`` and ``tbbo`` -> ``bbo`` (one row per record; tbbo's is the book
  just before its trade), plus ``trades`` from the records whose action is T.
* ``mbp-10`` -> ``l2_snapshot``: the 10 levels after each record (levels with
  an undefined price left out), plus ``trades`` from its T records.
* ``trades`` -> ``trades``.

Anything else (definition, ohlcv, statistics, ...) is a ``DataError`` naming
the file and the schema. One table per (symbol, schema); the symbol is the
raw symbol the metadata maps the instrument_id to (``str(instrument_id)``
without a mapping), the venue the dataset in lower case ("glbx.mdp3").
Prices stay int64 in units of 1e-9 (``price_unit`` "1e-9"), sizes in
contracts/shares (``qty_unit`` "1").

Clocks: ``ts_ns`` is ``ts_recv`` (Databento's capture time: ``clock`` "local"),
``exch_ns`` is ``ts_event``. A record flagged F_BAD_TS_RECV has an untrusted
``ts_recv`` (Databento's docs: clock issues or packet reordering; snapshot
records carry the snapshot's generation time and this flag). Files are in
``ts_recv`` order, so such a record takes the ``ts_ns`` of the record before it
in the file; records flagged before any good one (a snapshot opening the
file) keep their own, which is the snapshot time. A running maximum then
makes ``ts_ns`` non-decreasing; ``meta["ts_adjusted"]`` counts the records whose
``ts_ns`` differs from their ``ts_recv``.

Sequence numbers (CME's are per channel, so one instrument's skip the
messages of the others). Measured on the full ES day
(``nautilus_esh4-glbx-mdp3-20231225``, 60,067 records after its 8,725-record
snapshot, one instrument, channel 0): consecutive differences were 0 on
13,124 records (the records of one event share a number), 1 on 43,276, and
larger on 3,666 (up to 37; 7,686 numbers skipped in all); none went back, and
the first record after the snapshot (4,957) is newer than every snapshot
record (531-787). The 2-second ESM4 capture: 13 x 0, 176 x 1, 5 x 2, none
back, 11,051,054 after a snapshot up to 11,051,052. So a forward jump is not
a gap one can see in per-instrument data (it is counted in the meta:
``sequence_jumps``, ``sequence_skipped``, ``sequence_max_jump``); a sequence
that goes back within one instrument outside a snapshot, or a record older
than the snapshot before it, is: ``read_dbn`` raises a ``DataError`` naming the
file and the record's index in the file (``check_sequence=False`` keeps the
rows and counts them in ``meta["sequence_back"]``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from makerkit.core.errors import DataError, SourceError
from makerkit.data._tables import (
    L3_ADD,
    L3_CANCEL,
    L3_CLEAR,
    L3_FILL,
    L3_MODIFY,
    L3_NONE,
    L3_TRADE,
    SourceTable,
    make_table,
)

__all__ = [
    "DBN_ACTIONS",
    "DBN_F_BAD_TS_RECV",
    "DBN_F_LAST",
    "DBN_F_SNAPSHOT",
    "DBN_SCHEMAS",
    "DBN_UNDEF_PRICE",
    "read_dbn",
]

DBN_F_LAST = 128  # the last record of an event: the book may be read after it
DBN_F_SNAPSHOT = 32  # the record comes from a snapshot (a replay of the book)
DBN_F_BAD_TS_RECV = 8  # ts_recv is not to be trusted
DBN_UNDEF_PRICE = (1 << 63) - 1  # DBN's "no price" (i64::MAX)
DBN_SCHEMAS = ("mbo", "mbp-1", "mbp-10", "tbbo", "trades")  # the schemas read here
# MBO action letter -> the l3 table's action code
DBN_ACTIONS = {"A": L3_ADD, "C": L3_CANCEL, "M": L3_MODIFY, "R": L3_CLEAR, "T": L3_TRADE,
               "F": L3_FILL, "N": L3_NONE}  # fmt: skip

_CHUNK = 1 << 22
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_RECORD_CLASS = {"mbo": "MBOMsg", "mbp-1": "MBP1Msg", "tbbo": "MBP1Msg", "mbp-10": "MBP10Msg",
                 "trades": "TradeMsg"}  # fmt: skip
_SOURCE = "databento"


def _lib() -> Any:
    try:
        import databento_dbn
    except ImportError as exc:  # pragma: no cover - depends on the install
        why = "reading DBN needs `pip install makerkit[data]` (databento-dbn)"
        raise SourceError(_SOURCE, why) from exc
    return databento_dbn


def _chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as fh:
        while block := fh.read(_CHUNK):
            yield block


def _decode(path: Path) -> tuple[Any, str, npt.NDArray[Any], int]:
    """(metadata, schema, records as one structured array, records of other types skipped)."""
    dbn = _lib()
    with path.open("rb") as fh:
        head = fh.read(4)
    if head[:4] == _ZSTD_MAGIC:
        compression = dbn.Compression.ZSTD
    elif head[:3] == b"DBN":
        compression = dbn.Compression.NONE
    else:
        msg = "not a DBN file (no DBN or zstd header)"
        raise DataError(msg, path=str(path))
    decoder = dbn.DBNDecoder(upgrade_policy=dbn.VersionUpgradePolicy.AS_IS, compression=compression)
    metadata: Any = None
    schema = ""
    record_class: Any = None
    dtype: np.dtype[Any] | None = None
    parts: list[npt.NDArray[Any]] = []
    skipped = 0
    try:
        for block in _chunks(path):
            items = decoder.write_and_decode(block)
            if metadata is None and items:
                metadata = items[0]
                items = items[1:]
                schema = _schema_of(metadata, path)
                record_class = getattr(dbn, _RECORD_CLASS[schema])
            raw = []
            for item in items:
                if isinstance(item, record_class):
                    raw.append(bytes(item))
                else:  # system / symbol-mapping / error records of live data
                    skipped += 1
            if raw:
                if dtype is None:
                    dtype = _dtype_of(record_class, len(raw[0]), path)
                parts.append(np.frombuffer(b"".join(raw), dtype=dtype))
    except dbn.DBNError as exc:
        msg = f"cannot decode DBN: {exc}"
        raise DataError(msg, path=str(path)) from exc
    if metadata is None:
        msg = "no DBN metadata (empty or truncated file)"
        raise DataError(msg, path=str(path))
    if dtype is None:
        dtype = np.dtype(record_class._dtypes)
    records = np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)
    return metadata, schema, records, skipped


def _schema_of(metadata: Any, path: Path) -> str:
    raw = metadata.schema
    name = "" if raw is None else str(getattr(raw, "value", raw))
    if name not in _RECORD_CLASS:
        shown = name or "none (a mixed-schema stream)"
        msg = f"unsupported Databento schema {shown!r}: read here are {', '.join(DBN_SCHEMAS)}"
        raise DataError(msg, path=str(path), field="schema")
    return name


def _dtype_of(record_class: Any, size: int, path: Path) -> np.dtype[Any]:
    fields = list(record_class._dtypes)
    base = np.dtype(fields)
    if size == base.itemsize + 8:  # live data: the gateway's send time appended
        fields.append(("ts_out", "u8"))
    elif size != base.itemsize:
        msg = f"{record_class.__name__} records of {size} bytes, expected {base.itemsize}"
        raise DataError(msg, path=str(path))
    return np.dtype(fields)


def _symbols(metadata: Any) -> dict[int, list[tuple[dt.date, dt.date, str]]]:
    """instrument_id -> [(start, end, raw symbol)] from the metadata's mappings."""
    out: dict[int, list[tuple[dt.date, dt.date, str]]] = {}
    for key, intervals in (metadata.mappings or {}).items():
        for iv in intervals:
            value = str(iv["symbol"])
            if value.isdigit() and not str(key).isdigit():
                iid, sym = int(value), str(key)
            elif str(key).isdigit() and not value.isdigit():
                iid, sym = int(key), value
            else:
                continue
            out.setdefault(iid, []).append((iv["start_date"], iv["end_date"], sym))
    return out


def _symbol_per_record(
    iids: npt.NDArray[Any], ts: npt.NDArray[Any], mapping: dict[int, list[Any]]
) -> npt.NDArray[Any]:
    """The symbol of every record: its instrument's mapping on the record's (UTC) date."""
    names = np.empty(iids.shape[0], dtype=object)
    for iid in np.unique(iids).tolist():
        rows = iids == iid
        spans = mapping.get(int(iid), [])
        distinct = {s for _, _, s in spans}
        if len(distinct) <= 1:
            names[rows] = distinct.pop() if distinct else str(iid)
            continue
        days = (ts[rows] // (86_400 * 10**9)).astype(np.int64)
        epoch = dt.date(1970, 1, 1)
        picked = np.full(days.shape[0], str(iid), dtype=object)
        for start, end, sym in spans:
            lo, hi = (start - epoch).days, (end - epoch).days
            picked[(days >= lo) & (days < hi)] = sym
        names[rows] = picked
    return names


def _local_clock(ts_recv: npt.NDArray[Any], flags: npt.NDArray[Any]) -> npt.NDArray[np.int64]:
    """``ts_ns``: ts_recv, a flagged record taking its predecessor's, non-decreasing (notes)."""
    n = ts_recv.shape[0]
    ts = ts_recv.astype(np.int64)
    if n == 0:
        return ts
    good = (flags & DBN_F_BAD_TS_RECV) == 0
    keep = good | (np.cumsum(good) == 0)
    idx = np.maximum.accumulate(np.where(keep, np.arange(n), 0))
    return np.maximum.accumulate(ts[idx])


def _sequence_check(
    seq: npt.NDArray[Any], flags: npt.NDArray[Any], where: npt.NDArray[np.int64], path: Path,
    *, strict: bool,
) -> dict[str, int]:  # fmt: skip
    """The module notes' rule on one instrument's records (``where``: index in the file)."""
    s = seq.astype(np.int64)
    snap = (flags & DBN_F_SNAPSHOT) != 0
    stats = {"sequence_jumps": 0, "sequence_skipped": 0, "sequence_max_jump": 0,
             "sequence_back": 0}  # fmt: skip
    inc = np.flatnonzero(~snap)
    inc = inc[inc > 0]  # the first record has nothing before it
    if inc.size == 0:
        return stats
    # an incremental record is compared with the record before it or, right after a
    # snapshot, with the newest sequence of that snapshot
    starts = np.flatnonzero(snap & ~np.r_[False, snap[:-1]])
    after_snap = snap[inc - 1]
    before = s[inc - 1]
    if starts.size and after_snap.any():
        run_max = np.maximum.reduceat(np.where(snap, s, -1), starts)
        run = np.searchsorted(starts, inc[after_snap] - 1, side="right") - 1
        before[after_snap] = run_max[run]
    diff = s[inc] - before
    back = diff < 0
    jumps = (diff > 1) & ~after_snap
    stats["sequence_jumps"] = int(jumps.sum())
    stats["sequence_skipped"] = int((diff[jumps] - 1).sum())
    stats["sequence_max_jump"] = int(diff[jumps].max()) if jumps.any() else 0
    stats["sequence_back"] = int(back.sum())
    if back.any() and strict:
        k = int(np.flatnonzero(back)[0])
        at = int(where[inc[k]])
        what = "the snapshot before it" if after_snap[k] else "the record before it"
        msg = (
            f"record {at}: sequence {int(s[inc[k]])} goes back from {int(before[k])} "
            f"({what}); records were lost or reordered (check_sequence=False reads on)"
        )
        raise DataError(msg, path=str(path), field="sequence")
    return stats


def _side(raw: npt.NDArray[Any]) -> npt.NDArray[np.int8]:
    return np.where(raw == b"B", 1, np.where(raw == b"A", -1, 0)).astype(np.int8)


def _trades_columns(r: npt.NDArray[Any], ts: npt.NDArray[np.int64]) -> dict[str, Any]:
    return {
        "ts_ns": ts, "exch_ns": r["ts_event"].astype(np.int64), "price": r["price"],
        "qty": r["size"].astype(np.int64), "aggressor": _side(r["side"]),
        "trade_id": np.zeros(r.shape[0], np.int64),
    }  # fmt: skip


def _l3_columns(r: npt.NDArray[Any], ts: npt.NDArray[np.int64], path: Path) -> dict[str, Any]:
    action = np.full(r.shape[0], -1, np.int8)
    for letter, value in DBN_ACTIONS.items():
        action[r["action"] == letter.encode()] = value
    if (action < 0).any():
        k = int(np.flatnonzero(action < 0)[0])
        msg = f"record {k}: unknown MBO action {r['action'][k]!r}"
        raise DataError(msg, path=str(path), field="action")
    return {
        "ts_ns": ts, "exch_ns": r["ts_event"].astype(np.int64), "action": action,
        "order_id": r["order_id"].astype(np.uint64).view(np.int64), "side": _side(r["side"]),
        "price": np.where(r["price"] == DBN_UNDEF_PRICE, 0, r["price"]),
        "qty": r["size"].astype(np.int64), "flags": r["flags"].astype(np.int16),
    }  # fmt: skip


def _bbo_columns(r: npt.NDArray[Any], ts: npt.NDArray[np.int64]) -> dict[str, Any]:
    bid, ask = r["bid_px_00"], r["ask_px_00"]
    has_bid, has_ask = bid != DBN_UNDEF_PRICE, ask != DBN_UNDEF_PRICE
    return {
        "ts_ns": ts, "exch_ns": r["ts_event"].astype(np.int64),
        "bid_price": np.where(has_bid, bid, 0), "bid_qty": np.where(has_bid, r["bid_sz_00"], 0),
        "ask_price": np.where(has_ask, ask, 0), "ask_qty": np.where(has_ask, r["ask_sz_00"], 0),
    }  # fmt: skip


def _snapshot_columns(r: npt.NDArray[Any], ts: npt.NDArray[np.int64]) -> dict[str, Any]:
    """Ten levels per record, level-major, bid before ask; undefined prices left out."""
    n = r.shape[0]
    px = np.stack(
        [r[f"{s}_px_{k:02d}"] for k in range(10) for s in ("bid", "ask")], axis=1
    )  # (n, 20)
    sz = np.stack([r[f"{s}_sz_{k:02d}"] for k in range(10) for s in ("bid", "ask")], axis=1)
    level = np.tile(np.repeat(np.arange(1, 11, dtype=np.int16), 2), (n, 1))
    side = np.tile(np.array([1, -1], np.int8), (n, 10))
    keep = px != DBN_UNDEF_PRICE
    rows = np.repeat(np.arange(n), keep.sum(axis=1))
    return {
        "ts_ns": ts[rows], "exch_ns": r["ts_event"].astype(np.int64)[rows],
        "level": level[keep], "side": side[keep], "price": px[keep],
        "qty": sz[keep].astype(np.int64),
    }  # fmt: skip


def read_dbn(path: str | Path, *, check_sequence: bool = True) -> list[SourceTable]:
    """Every (symbol, schema) table of one DBN file (see the module notes)."""
    p = Path(path)
    if not p.is_file():
        msg = "no such file"
        raise DataError(msg, path=str(p))
    metadata, schema, rec, skipped = _decode(p)
    ts = _local_clock(rec["ts_recv"], rec["flags"])
    symbols = _symbol_per_record(rec["instrument_id"], rec["ts_recv"], _symbols(metadata))
    dataset = str(metadata.dataset)
    stype_in = metadata.stype_in
    base_meta: dict[str, Any] = {
        "source": _SOURCE, "file": str(p), "dataset": dataset, "schema": schema,
        "price_unit": "1e-9", "qty_unit": "1", "dbn_version": int(metadata.version),
        "clock": "local", "stype_in": None if stype_in is None else str(stype_in.value),
        "start_ns": int(metadata.start), "skipped_records": skipped,
    }  # fmt: skip
    tables: list[SourceTable] = []
    order = sorted(set(symbols.tolist())) if rec.shape[0] else []
    for symbol in order:
        where = np.flatnonzero(symbols == symbol)
        r, t = rec[where], ts[where]
        meta = base_meta | {
            "symbol": symbol, "instrument_id": sorted(set(r["instrument_id"].tolist())),
            "records": int(r.shape[0]),
            "bad_ts_recv": int(((r["flags"] & DBN_F_BAD_TS_RECV) != 0).sum()),
            "ts_adjusted": int((t != r["ts_recv"].astype(np.int64)).sum()),
        }  # fmt: skip
        for iid in meta["instrument_id"]:
            mine = r["instrument_id"] == iid
            stats = _sequence_check(r["sequence"][mine], r["flags"][mine], where[mine], p,
                                    strict=check_sequence)  # fmt: skip
            for key, value in stats.items():
                meta[key] = max(meta.get(key, 0), value) if key.endswith("max_jump") \
                    else meta.get(key, 0) + value  # fmt: skip
        meta["snapshot_records"] = int(((r["flags"] & DBN_F_SNAPSHOT) != 0).sum())
        venue = dataset.lower()
        is_trade = r["action"] == b"T"
        if schema == "mbo":
            tables.append(make_table(venue, symbol, "l3", _l3_columns(r, t, p), meta))
        elif schema in ("mbp-1", "tbbo"):
            tables.append(make_table(venue, symbol, "bbo", _bbo_columns(r, t), meta))
            if is_trade.any():
                cols = _trades_columns(r[is_trade], t[is_trade])
                tables.append(make_table(venue, symbol, "trades", cols, meta))
        elif schema == "mbp-10":
            tables.append(make_table(venue, symbol, "l2_snapshot", _snapshot_columns(r, t), meta))
            if is_trade.any():
                cols = _trades_columns(r[is_trade], t[is_trade])
                tables.append(make_table(venue, symbol, "trades", cols, meta))
        else:
            tables.append(make_table(venue, symbol, "trades", _trades_columns(r, t), meta))
    return tables
