"""What decoding one WebSocket request costs: the pydantic models against the msgspec decoder.

    python benchmarks/bench_ws_decode.py [--number 100000] [--repeat 15] [--json]

Both validate the same rules (ASCII-digit decimals, strict bounded integers,
printable-ASCII identifiers, unknown fields refused); the msgspec decoder also
refuses repeated keys, which the pydantic one cannot see (the last wins).
Frames:

- order: the typical pipelined order, ``{"op":"order","symbol":"AAA","side":"buy",
  "qty":"1","price":"90.00","tif":"post_only","req_id":17}``, as text and as a
  binary (UTF-8) frame, and with ``json.dumps``' spacing;
- order stream: 4,096 different orders (64 price levels, sizes 1-9, a fresh
  client order id and req_id each), so no value repeats from one frame to the next;
- cancel: ``{"op":"cancel","order_id":123456,"symbol":"AAA","req_id":18}``.

Each figure is the best of ``--repeat`` runs of ``--number`` frames, in µs per
frame (a shared machine's noise only ever adds time).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Sequence
from typing import Any

from makerkit.wire._models import parse_ws_request as pydantic_parse
from makerkit.wire._ws import parse_ws_request as msgspec_parse

ORDER = '{"op":"order","symbol":"AAA","side":"buy","qty":"1","price":"90.00","tif":"post_only","req_id":17}'  # noqa: E501
CANCEL = '{"op":"cancel","order_id":123456,"symbol":"AAA","req_id":18}'


def stream(n: int = 4096) -> list[str]:
    frames = []
    for i in range(n):
        body = {
            "op": "order",
            "symbol": "AAA",
            "side": "buy" if i % 2 else "sell",
            "qty": str(1 + i % 9),
            "price": f"{90 + (i * 7) % 64 / 100:.2f}",
            "tif": "post_only",
            "client_order_id": f"mm-{i}",
            "req_id": 1000 + i,
        }
        frames.append(json.dumps(body, separators=(",", ":")))
    return frames


def best_us(
    parse: Callable[[Any], object], frames: Sequence[str | bytes], number: int, repeat: int
) -> float:
    cycle = (list(frames) * (number // len(frames) + 1))[:number]
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for raw in cycle:
            parse(raw)
        best = min(best, time.perf_counter() - start)
    return best / number * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--number", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    cases: dict[str, Sequence[str | bytes]] = {
        "order (text)": [ORDER],
        "order (binary)": [ORDER.encode()],
        "order (json.dumps spacing)": [json.dumps(json.loads(ORDER))],
        "order stream (no repeats)": stream(),
        "cancel": [CANCEL],
    }
    rows = []
    for name, frames in cases.items():
        for raw in frames[:3]:  # both accept every frame
            pydantic_parse(raw)
            msgspec_parse(raw)
        old = best_us(pydantic_parse, frames, args.number, args.repeat)
        new = best_us(msgspec_parse, frames, args.number, args.repeat)
        rows.append({"frame": name, "pydantic_us": old, "msgspec_us": new, "speedup": old / new})
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"{'frame':28} {'pydantic µs':>12} {'msgspec µs':>11} {'speedup':>8}")
    for row in rows:
        print(
            f"{row['frame']:28} {row['pydantic_us']:12.3f} {row['msgspec_us']:11.3f}"
            f" {row['speedup']:7.2f}x"
        )


if __name__ == "__main__":
    main()
