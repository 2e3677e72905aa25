"""Golden replay: a seeded synthetic stream gives the same fills and book, byte for byte."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import msgspec

from makerkit.backtest import apply_stream
from makerkit.book import make_book
from makerkit.data import synthetic_stream

GOLDEN = Path(__file__).parent / "synthetic_seed7_20k.json"


def run(backend: str) -> dict[str, Any]:
    book = make_book(backend, fill_history=None)
    stats = apply_stream(book, synthetic_stream(20_000, seed=7))
    fills = book.fills()
    encoded = msgspec.json.encode(fills)
    notional = sum(f.price * f.qty for f in fills)
    return {
        "commands": stats.commands,
        "accepted": stats.accepted,
        "fills": stats.fills,
        "volume": stats.volume,
        "vwap_ticks": round(notional / stats.volume, 6),
        "buy_aggressor_volume": sum(f.qty for f in fills if f.aggressor == 1),
        "rejects": dict(sorted(stats.rejects.items())),
        "resting_orders": len(book),
        "final_seq": book.seq,
        "top5": msgspec.to_builtins(book.l2(5)),
        "fills_sha256": hashlib.sha256(encoded).hexdigest(),
    }


def test_golden_stream_matches_and_reruns_identically(backend: str, update_golden: bool) -> None:
    first = json.loads(json.dumps(run(backend)))
    assert json.loads(json.dumps(run(backend))) == first, "two runs with the same seed differ"
    if update_golden:
        GOLDEN.write_text(json.dumps(first, indent=2, sort_keys=True) + "\n")
    expected = json.loads(GOLDEN.read_text())
    assert first == expected
