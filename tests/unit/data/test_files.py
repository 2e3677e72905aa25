"""Recorded event files behind one interface: LOBSTER days and Binance captures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from makerkit.core import DataError
from makerkit.data import BinanceFiles, EventSource, LobsterFiles, load_binance_capture


def test_both_sources_serve_days_of_events(data_root: Path) -> None:
    sources: list[EventSource] = [
        LobsterFiles(data_root / "lobster"),
        BinanceFiles(data_root / "crypto"),
    ]
    lobster, binance = sources
    assert lobster.days("GOOG") == ["2012-06-21"]
    kind, cols, meta = lobster.events("GOOG", "2012-06-21")
    assert kind == "l3" and len(cols["price"]) == 147_916  # the deepest (level-10) file
    assert meta["file"].endswith("message_10.csv.gz")
    assert binance.days("BTCUSDT") == ["2024-07-18", "2024-08-08"]
    kind, cols, meta = binance.events("BTCUSDT", "2024-08-08")
    capture = load_binance_capture(data_root / "crypto/binance_spot_btcusdt_20240808_stream.gz")
    assert kind == "l2" and meta["gaps"] == 0 and meta["book_ticker_matches"] == "564/564"
    assert np.array_equal(np.asarray(cols["price"][:3]), [p for p, _ in capture.diffs[0].bids[:3]])


def test_missing_days_and_folders_say_what_there_is(data_root: Path, tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"no GOOG file for 2020-01-01.*2012-06-21"):
        LobsterFiles(data_root / "lobster").events("GOOG", "2020-01-01")
    assert BinanceFiles(tmp_path).days("BTCUSDT") == []
    with pytest.raises(DataError, match="no btcusdt capture"):
        BinanceFiles(tmp_path).events("btcusdt", "2024-08-08")
