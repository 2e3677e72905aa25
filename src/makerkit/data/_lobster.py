"""LOBSTER message and orderbook files (plain or gzip) as numpy arrays.

Format: ``<ticker>_<date>_<start>_<end>_message_<N>.csv`` has columns
time (seconds after midnight), type (1..7), order id, size, price (USD x 10000)
and direction (1 buy, -1 sell), plus an optional 7th attribution column in
newer files. ``..._orderbook_<N>.csv`` has 4N columns (ask price, ask size,
bid price, bid size) per level, row i being the book after message i.

Parsing takes a vectorised fast path; when anything looks wrong a slow,
line-by-line pass finds the first bad line and field and raises a
:class:`~makerkit.core.DataError` naming them.
"""

from __future__ import annotations

import gzip
import re
import warnings
from math import gcd
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import numpy.typing as npt

from makerkit.core.errors import DataError

__all__ = [
    "LOBSTER_DUMMY_ASK",
    "LOBSTER_DUMMY_BID",
    "LobsterDay",
    "LobsterMessages",
    "load_lobster",
    "load_lobster_messages",
    "load_lobster_orderbook",
    "lobster_tick",
]

LOBSTER_DUMMY_ASK = 9_999_999_999
LOBSTER_DUMMY_BID = -9_999_999_999
_MESSAGE_FIELDS = ("time", "type", "order_id", "size", "price", "direction")
_MPID = re.compile(r",[^,\n]*$", re.MULTILINE)

I64 = npt.NDArray[np.int64]


class LobsterMessages(msgspec.Struct, frozen=True, kw_only=True):
    """Columns of a message file; ``ts_ns`` is nanoseconds after midnight."""

    ts_ns: I64
    type: I64
    order_id: I64
    size: I64
    price: I64
    direction: I64
    path: str = ""

    def __len__(self) -> int:
        return int(self.ts_ns.shape[0])


class LobsterDay(msgspec.Struct, frozen=True, kw_only=True):
    """A message file with its row-aligned orderbook file (``book`` is rows x 4N)."""

    messages: LobsterMessages
    book: I64
    levels: int
    orderbook_path: str = ""

    def __len__(self) -> int:
        return len(self.messages)


def _read_text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        msg = f"cannot read: {exc.strerror or exc}"
        raise DataError(msg, path=str(path)) from exc
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            msg = f"not a valid gzip file: {exc}"
            raise DataError(msg, path=str(path)) from exc
    try:
        return raw.decode("ascii")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        msg = f"non-ASCII byte {raw[exc.start]:#04x}"
        raise DataError(msg, path=str(path), line=line) from exc


def _fast_numbers(text: str, dtype: type[np.generic]) -> npt.NDArray[Any] | None:
    """Parse comma/newline separated numbers in C; None when the text is not clean."""
    flat = text.strip().replace("\n", ",")
    if not flat or "\r" in flat or ",," in flat:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            return np.fromstring(flat, dtype=dtype, sep=",")
        except (ValueError, DeprecationWarning):
            return None


def _slow_check(
    text: str, path: Path, ncols: int | tuple[int, ...], names: tuple[str, ...] | None
) -> list[list[str]]:
    """Split line by line, raising on the first bad column count or non-number."""
    allowed = (ncols,) if isinstance(ncols, int) else ncols
    rows: list[list[str]] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        fields = line.strip().split(",")
        if len(fields) not in allowed:
            expected = " or ".join(str(n) for n in allowed)
            msg = f"expected {expected} comma-separated columns, found {len(fields)}"
            raise DataError(msg, path=str(path), line=lineno)
        for col, value in enumerate(fields[: min(allowed)]):
            try:
                float(value)
            except ValueError:
                name = names[col] if names else f"column {col + 1}"
                msg = f"not a number: {value!r}"
                raise DataError(msg, path=str(path), line=lineno, field=name) from None
        rows.append(fields)
    return rows


def load_lobster_messages(path: str | Path) -> LobsterMessages:
    """Load and validate a LOBSTER message file."""
    path = Path(path)
    text = _read_text(path)
    if not text.strip():
        msg = "file is empty"
        raise DataError(msg, path=str(path))
    first = text.split("\n", 1)[0]
    ncols = first.count(",") + 1
    if ncols == 7:
        text = _MPID.sub("", text)
    elif ncols != 6:
        _slow_check(text, path, (6, 7), _MESSAGE_FIELDS)
    nrows = text.strip().count("\n") + 1
    arr = _fast_numbers(text, np.float64)
    if arr is None or arr.size != nrows * 6:
        rows = _slow_check(text, path, 6, _MESSAGE_FIELDS)
        arr = np.array([r[:6] for r in rows], dtype=np.float64).ravel()
    table = np.asarray(arr, dtype=np.float64).reshape(nrows, 6)
    if not np.isfinite(table).all():
        bad = int(np.argwhere(~np.isfinite(table))[0][0])
        col = int(np.argwhere(~np.isfinite(table[bad]))[0][0])
        msg = "value is not finite"
        raise DataError(msg, path=str(path), line=bad + 1, field=_MESSAGE_FIELDS[col])
    ints = table[:, 1:]
    frac = ints != np.rint(ints)
    if frac.any():
        line, col = (int(v) for v in np.argwhere(frac)[0])
        msg = f"must be an integer, was {ints[line, col]!r}"
        raise DataError(msg, path=str(path), line=line + 1, field=_MESSAGE_FIELDS[col + 1])
    ts_ns = np.rint(table[:, 0] * 1e9).astype(np.int64)
    mtype = ints[:, 0].astype(np.int64)
    direction = ints[:, 4].astype(np.int64)
    size = ints[:, 2].astype(np.int64)
    checks = (
        ("type", (mtype < 1) | (mtype > 7), "unknown message type {v}, must be 1..7"),
        ("direction", (direction != 1) & (direction != -1), "must be 1 or -1, was {v}"),
        ("size", (size < 0) | ((size == 0) & (mtype < 5)), "must be > 0, was {v}"),
        ("time", np.r_[False, np.diff(ts_ns) < 0], "time goes backwards, was {v}"),
    )
    columns = {"type": mtype, "direction": direction, "size": size, "time": table[:, 0]}
    for name, bad_mask, template in checks:
        if bad_mask.any():
            line = int(np.argmax(bad_mask))
            value = columns[name][line]
            raise DataError(template.format(v=value), path=str(path), line=line + 1, field=name)
    return LobsterMessages(
        ts_ns=ts_ns,
        type=mtype,
        order_id=ints[:, 1].astype(np.int64),
        size=size,
        price=ints[:, 3].astype(np.int64),
        direction=direction,
        path=str(path),
    )


def load_lobster_orderbook(path: str | Path) -> I64:
    """Load and validate a LOBSTER orderbook file as an int64 array (rows x 4N)."""
    path = Path(path)
    text = _read_text(path)
    if not text.strip():
        msg = "file is empty"
        raise DataError(msg, path=str(path))
    first = text.split("\n", 1)[0]
    ncols = first.count(",") + 1
    if ncols % 4 != 0:
        msg = f"expected 4 x levels columns, found {ncols}"
        raise DataError(msg, path=str(path), line=1)
    nrows = text.strip().count("\n") + 1
    arr = _fast_numbers(text, np.int64)
    if arr is None or arr.size != nrows * ncols:
        rows = _slow_check(text, path, ncols, None)
        try:
            arr = np.array(rows, dtype=np.int64).ravel()
        except ValueError:
            for lineno, fields in enumerate(rows, start=1):
                for col, value in enumerate(fields):
                    if not value.strip().lstrip("-").isdigit():
                        msg = f"must be an integer, was {value!r}"
                        raise DataError(
                            msg, path=str(path), line=lineno, field=f"column {col + 1}"
                        ) from None
            raise
    return np.asarray(arr, dtype=np.int64).reshape(nrows, ncols)


def load_lobster(message_path: str | Path, orderbook_path: str | Path) -> LobsterDay:
    """Load a message file and its orderbook file and check that they line up."""
    messages = load_lobster_messages(message_path)
    book = load_lobster_orderbook(orderbook_path)
    if book.shape[0] != len(messages):
        msg = (
            f"row count mismatch: {len(messages)} messages in {message_path} "
            f"but {book.shape[0]} orderbook rows"
        )
        raise DataError(msg, path=str(orderbook_path))
    return LobsterDay(
        messages=messages,
        book=book,
        levels=book.shape[1] // 4,
        orderbook_path=str(orderbook_path),
    )


def lobster_tick(day: LobsterDay) -> int:
    """Return the largest price grid that holds every visible price (LOBSTER units)."""
    msgs = day.messages
    visible = msgs.price[(msgs.type >= 1) & (msgs.type <= 4)]
    book_prices = day.book[:, 0::2]
    real = book_prices[(book_prices != LOBSTER_DUMMY_ASK) & (book_prices != LOBSTER_DUMMY_BID)]
    tick = 0
    for arr in (visible, real):
        if arr.size:
            tick = gcd(tick, int(np.gcd.reduce(np.abs(arr))))
    return tick or 1
