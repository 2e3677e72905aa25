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
from makerkit.data._store import binance_l2_columns, lobster_l3_columns

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


class LobsterFiles:
    """LOBSTER days as l3 events (prices in ticks of each day's grid)."""

    name = "lobster"

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = _folder(root, "lobster")

    def _files(self, symbol: str) -> dict[str, tuple[int, Path]]:
        found: dict[str, tuple[int, Path]] = {}
        for path in sorted(self.root.glob("*_message_*.csv*")):
            m = _LOBSTER.match(path.name)
            if m and m["sym"] == symbol.upper():
                depth = int(m["n"])
                if depth > found.get(m["day"], (0, path))[0]:
                    found[m["day"]] = (depth, path)
        return found

    def days(self, symbol: str) -> list[str]:
        """Days with a message file for ``symbol``."""
        return sorted(self._files(symbol))

    def events(self, symbol: str, day: str) -> tuple[str, dict[str, Any], dict[str, Any]]:
        """The deepest file of that day, as l3 columns."""
        files = self._files(symbol)
        if day not in files:
            msg = f"lobster: no {symbol} file for {day} under {self.root}; have {sorted(files)}"
            raise DataError(msg)
        message = files[day][1]
        book = message.with_name(message.name.replace("message", "orderbook"))
        cols, meta = lobster_l3_columns(load_lobster(message, book))
        return "l3", cols, meta


class BinanceFiles:
    """Binance depth captures as l2 level updates, checked on the way in."""

    name = "binance"

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = _folder(root, "crypto")

    def _files(self, symbol: str) -> dict[str, Path]:
        found: dict[str, Path] = {}
        for path in sorted(self.root.glob("binance_*_stream*")):
            m = _BINANCE.match(path.name)
            if m and m["sym"] == symbol.lower():
                d = m["day"]
                found[f"{d[:4]}-{d[4:6]}-{d[6:]}"] = path
        return found

    def days(self, symbol: str) -> list[str]:
        """Days with a capture for ``symbol``."""
        return sorted(self._files(symbol))

    def events(self, symbol: str, day: str) -> tuple[str, dict[str, Any], dict[str, Any]]:
        """That day's capture as l2 updates; the replay check's result is in the meta."""
        files = self._files(symbol)
        if day not in files:
            msg = f"binance: no {symbol} capture for {day} under {self.root}; have {sorted(files)}"
            raise DataError(msg)
        capture = load_binance_capture(files[day])
        check = replay_binance(capture)
        meta = {
            "source": "binance", "file": str(files[day]), "symbol": capture.symbol,
            "price_unit": "1e-8", "qty_unit": "1e-8", "gaps": check.gaps,
            "book_ticker_matches": f"{check.matches}/{check.comparable}",
        }  # fmt: skip
        return "l2", binance_l2_columns(capture), meta
