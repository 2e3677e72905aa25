"""Recorded event files behind one interface (``EventSource``): LOBSTER and Binance.

Both look for their files under a data folder (``MAKERKIT_DATA`` by default),
named as their publishers name them:

* LOBSTER: ``lobster/{SYMBOL}_{YYYY-MM-DD}_{start}_{end}_message_{N}.csv[.gz]``
  with its ``orderbook`` twin; the deepest ``N`` of a day is used.
* Binance captures: ``crypto/binance_*_{symbol}_{YYYYMMDD}_stream.gz``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from makerkit.core.errors import DataError
from makerkit.data._binance import load_binance_capture, replay_binance
from makerkit.data._lobster import load_lobster
from makerkit.data._paths import data_dir
from makerkit.data._store import binance_l2_columns, binance_meta, lobster_l3_columns

__all__ = ["BinanceFiles", "LobsterFiles"]


def _folder(root: str | Path | None, sub: str) -> Path:
    if root is not None:
        return Path(root)
    base = data_dir()
    if base is None:
        msg = f"no data folder: set MAKERKIT_DATA (it should hold `{sub}/`) or pass root="
        raise DataError(msg)
    return base / sub


_LOBSTER = re.compile(r"^(?P<sym>[A-Z.]+)_(?P<day>\d{4}-\d{2}-\d{2})_\d+_\d+_message_(?P<n>\d+)")
_BINANCE = re.compile(r"^binance_\w+?_(?P<sym>[a-z0-9]+)_(?P<day>\d{8})_stream")


class _DayFiles:
    """A folder of one file per (symbol, day); subclasses say how names map."""

    name = ""
    folder = ""
    item = "file"  # what one file is called in errors

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = _folder(root, self.folder)

    def _files(self, symbol: str) -> dict[str, Path]:
        raise NotImplementedError

    def symbols(self) -> list[str]:
        """Every symbol with at least one file here."""
        raise NotImplementedError

    def days(self, symbol: str) -> list[str]:
        """The days (YYYY-MM-DD) held for ``symbol``."""
        return sorted(self._files(symbol))

    def file(self, symbol: str, day: str | None = None) -> Path:
        """The file of ``symbol`` on ``day`` (default: its first day); DataError lists the rest."""
        if day is None:
            days = self.days(symbol)
            if not days:
                msg = (
                    f"{self.name}: no {self.item} for {symbol} under {self.root}; "
                    f"symbols: {self.symbols()}"
                )
                raise DataError(msg)
            day = days[0]
        return self._file(symbol, day)

    def _file(self, symbol: str, day: str) -> Path:
        files = self._files(symbol)
        if day not in files:
            have = sorted(files)
            msg = f"{self.name}: no {symbol} {self.item} for {day} under {self.root}; have {have}"
            raise DataError(msg)
        return files[day]


class LobsterFiles(_DayFiles):
    """LOBSTER days as l3 events (prices in ticks of each day's grid)."""

    name = "lobster"
    folder = "lobster"

    def symbols(self) -> list[str]:
        """Every symbol with a message file here."""
        found = (_LOBSTER.match(p.name) for p in self.root.glob("*_message_*.csv*"))
        return sorted({m["sym"] for m in found if m})

    def _files(self, symbol: str) -> dict[str, Path]:
        deepest: dict[str, tuple[int, Path]] = {}
        for path in sorted(self.root.glob("*_message_*.csv*")):
            m = _LOBSTER.match(path.name)
            if m and m["sym"] == symbol.upper():
                depth = int(m["n"])
                if depth > deepest.get(m["day"], (0, path))[0]:
                    deepest[m["day"]] = (depth, path)
        return {day: path for day, (_, path) in deepest.items()}

    def events(self, symbol: str, day: str) -> tuple[str, dict[str, Any], dict[str, Any]]:
        """The deepest file of that day, as l3 columns."""
        message = self._file(symbol, day)
        book = message.with_name(message.name.replace("message", "orderbook"))
        cols, meta = lobster_l3_columns(load_lobster(message, book))
        return "l3", cols, meta


class BinanceFiles(_DayFiles):
    """Binance depth captures as l2 level updates, checked on the way in."""

    name = "binance"
    folder = "crypto"
    item = "capture"

    def symbols(self) -> list[str]:
        """Every symbol with a capture here."""
        found = (_BINANCE.match(p.name) for p in self.root.glob("binance_*_stream*"))
        return sorted({m["sym"] for m in found if m})

    def _files(self, symbol: str) -> dict[str, Path]:
        found: dict[str, Path] = {}
        for path in sorted(self.root.glob("binance_*_stream*")):
            m = _BINANCE.match(path.name)
            if m and m["sym"] == symbol.lower():
                d = m["day"]
                found[f"{d[:4]}-{d[4:6]}-{d[6:]}"] = path
        return found

    def events(self, symbol: str, day: str) -> tuple[str, dict[str, Any], dict[str, Any]]:
        """That day's capture as l2 updates; the replay check's result is in the meta."""
        path = self._file(symbol, day)
        capture = load_binance_capture(path)
        check = replay_binance(capture)
        meta = binance_meta(capture, path) | {
            "gaps": check.gaps,
            "book_ticker_matches": f"{check.matches}/{check.comparable}",
        }
        return "l2", binance_l2_columns(capture), meta
