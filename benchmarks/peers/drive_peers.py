"""Drive the peers' L3 (market-by-order) books over one event stream and time them.

Runs hftbacktest and nautilus_trader on the SAME L3 event stream that our engine
is benchmarked on, each peer in its own child process (a native abort in one
peer, for example nautilus aborting on bad data, does not take down the other
or this parent; such a peer is reported as ``{"error": "..."}``).

    python benchmarks/peers/drive_peers.py EVENTS.npz [--repeat 5] [--json]
        [--only nautilus|hftbacktest] [--warmup-runs 1] [--timeout 3600]

It must run with the interpreter of the peers' virtualenv (``.venv-bench``);
it imports nothing from makerkit.

Input: an ``.npz`` with int64 columns of equal length N: ``type`` (1 add,
3 delete, 4 execution), ``order_id``, ``side`` (+1 buy, -1 sell), ``price``
(integer ticks, tick 0.01), ``qty``, ``remaining`` (the order's size after the
event, 0 when it is gone) and ``ts`` (ns since the epoch, non-decreasing,
positive); and the scalars ``final_bid_price``, ``final_bid_size``,
``final_ask_price``, ``final_ask_size`` (expected best bid and ask after all
events, prices in ticks).

Every event maps to exactly one peer update:

* type 1 becomes an add of a new order with size ``qty``;
* types 3 and 4 become a size change to ``remaining`` when ``remaining > 0``
  (a partial execution), or a removal of the whole order when ``remaining == 0``.

What each figure includes (all rates are N / wall seconds of one run, measured
with ``time.perf_counter``; the reported figure is the median of ``--repeat``
runs, each on a fresh book, and ``runs`` lists every timed run):

nautilus_trader (Cython ``nautilus_trader.model.book.OrderBook``, ``L3_MBO``):

* ``updates_per_sec``: only ``book.apply_deltas(batch)``, where ``batch`` is an
  ``OrderBookDeltas`` holding all N pre-built ``OrderBookDelta`` objects
  (ADD / UPDATE / DELETE, ``F_LAST`` flag set on each). Building the delta
  objects and the ``OrderBookDeltas`` container, and creating the empty book,
  happen before the clock starts.
* ``end_to_end_per_sec``: from the NumPy columns to the applied book, the way
  PEERS.md measures "end to end": mapping the columns to actions and sides,
  converting them to Python lists, creating the book, then per event in a
  Python loop ``OrderBookDelta.from_raw`` followed by ``book.apply_delta``.
* ``end_to_end_batch_per_sec``: the same start and end on the batch path: one
  ``from_raw`` per event into a list, the ``OrderBookDeltas`` container, and
  one ``apply_deltas``. It is slower than the per-event loop because all N
  delta objects are alive at once and then copied into the container.

hftbacktest (``ROIVectorMarketDepthBacktest`` with ``l3_fifo_queue_model``,
i.e. its L3 market-by-order feed replay):

* ``events_per_sec``: only the ``@njit`` loop ``while hbt.elapse(60 s) == 0``
  that replays the whole in-memory event array until the end of data. The
  events carry ``LOCAL_EVENT`` only, so one book (the local one) is
  maintained; the replay includes hftbacktest's reader and event dispatch,
  which is the only way to feed its backtest depths. Converting the columns to
  its event array and building the backtester (which allocates the depth over
  a range of interest covering every price in the stream) happen before the
  clock starts. The JIT compile is excluded: the loop is compiled on a short
  slice first (``jit_compile_s`` reports how long that took).

Before the timed runs each peer also does ``--warmup-runs`` untimed full runs
(default 1), because the first full pass over fresh memory is markedly slower.

After every timed run the peer's best bid and ask (price in ticks and the
total size resting at that price) are read back and compared with the
expected values; ``final_bbo_ok`` is true only when every run matched. Note
that nautilus's ``best_bid_size()`` on an L3 book is the size of the FIRST
order at the best price, so the level's total comes from ``bids()[0].size()``;
and hftbacktest 2.4.4's ``ROIVectorMarketDepth.best_bid_qty`` returns the
price, so its size comes from ``bid_qty_at_tick(best_bid_tick)``.

Output: a table on stderr, and with ``--json`` one line of JSON on stdout.
"""

from __future__ import annotations

import argparse
import gc
import json
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

TICK_SIZE = 0.01
"""Price of one tick: the stream's integer prices are multiples of this."""

PRICE_PRECISION = 2
"""Decimal places of a price with TICK_SIZE 0.01."""

PEERS = ("nautilus_trader", "hftbacktest")
"""The peers, in the order they run."""

ONLY_ALIASES = {
    "nautilus": "nautilus_trader",
    "nautilus_trader": "nautilus_trader",
    "hftbacktest": "hftbacktest",
}
"""Accepted values of ``--only`` and the peer each one selects."""

COLUMNS = ("type", "order_id", "side", "price", "qty", "remaining", "ts")
"""The per-event int64 columns of the input file."""

FINALS = ("final_bid_price", "final_bid_size", "final_ask_price", "final_ask_size")
"""The scalar expected-result entries of the input file."""

TYPE_ADD = 1
TYPE_DELETE = 3
TYPE_EXECUTE = 4

HBT_WARMUP_EVENTS = 5_000
"""Length of the slice the hftbacktest replay loop is JIT-compiled on."""

HBT_ELAPSE_NS = 60_000_000_000
"""Step of hftbacktest's ``elapse`` loop (60 s of data time)."""

Bbo = dict[str, int | None]
"""Best bid and ask: price in ticks (None for an empty side) and total size."""


# --------------------------------------------------------------------------- input


def load_events(path: Path) -> tuple[dict[str, np.ndarray], Bbo]:
    """Loads and checks an events file.

    Args:
        path: The ``.npz`` file described in the module docstring.

    Returns:
        The int64 columns by name, and the expected final best bid and ask.

    Raises:
        ValueError: If a column is missing, the lengths differ, the stream is
            empty, or a timestamp is not positive or goes backwards (which
            would make nautilus abort or hftbacktest misorder events).
    """
    with np.load(path) as data:
        missing = [k for k in (*COLUMNS, *FINALS) if k not in data]
        if missing:
            msg = f"{path}: missing arrays {missing}"
            raise ValueError(msg)
        cols = {k: np.ascontiguousarray(data[k], dtype=np.int64) for k in COLUMNS}
        finals = {k: int(np.asarray(data[k]).reshape(-1)[0]) for k in FINALS}
    n = len(cols["type"])
    if n == 0 or any(len(c) != n for c in cols.values()):
        msg = f"{path}: columns must be non-empty and of equal length"
        raise ValueError(msg)
    ts = cols["ts"]
    if int(ts.min()) <= 0 or bool(np.any(np.diff(ts) < 0)):
        msg = f"{path}: ts must be positive, realistic ns timestamps, non-decreasing"
        raise ValueError(msg)
    if not bool(np.all(np.isin(cols["type"], (TYPE_ADD, TYPE_DELETE, TYPE_EXECUTE)))):
        msg = f"{path}: type must be 1 (add), 3 (delete) or 4 (execution)"
        raise ValueError(msg)
    expected = normalize_bbo(
        finals["final_bid_price"],
        finals["final_bid_size"],
        finals["final_ask_price"],
        finals["final_ask_size"],
    )
    return cols, expected


def normalize_bbo(
    bid_price: int | None, bid_size: int, ask_price: int | None, ask_size: int
) -> Bbo:
    """Puts a best bid and ask in one comparable form (empty side: None and 0).

    Args:
        bid_price: Best bid in ticks, or None when there are no bids.
        bid_size: Total size at the best bid.
        ask_price: Best ask in ticks, or None when there are no asks.
        ask_size: Total size at the best ask.

    Returns:
        The normalized best bid and ask.
    """
    if bid_price is None or bid_size <= 0:
        bid_price, bid_size = None, 0
    if ask_price is None or ask_size <= 0:
        ask_price, ask_size = None, 0
    return {
        "bid_price": bid_price,
        "bid_size": bid_size,
        "ask_price": ask_price,
        "ask_size": ask_size,
    }


def new_sizes(cols: dict[str, np.ndarray]) -> np.ndarray:
    """Returns the order size each event leaves (``qty`` for adds, else ``remaining``).

    Args:
        cols: The event columns.

    Returns:
        int64 sizes, one per event.
    """
    return np.where(cols["type"] == TYPE_ADD, cols["qty"], cols["remaining"])


def summarize(rates: list[float]) -> dict[str, Any]:
    """Median, min and max of per-run rates.

    Args:
        rates: Events (or updates) per second of each timed run.

    Returns:
        ``median``, ``min``, ``max`` and the rounded ``runs``.
    """
    return {
        "median": round(statistics.median(rates), 1),
        "min": round(min(rates), 1),
        "max": round(max(rates), 1),
        "runs": [round(r, 1) for r in rates],
    }


# ----------------------------------------------------------------- nautilus_trader


def _nautilus_columns(
    cols: dict[str, np.ndarray], tick_raw: int, lot_raw: int, actions: tuple[int, int, int]
) -> tuple[list[int], ...]:
    """Turns the NumPy columns into the Python lists ``from_raw`` is fed from.

    Args:
        cols: The event columns.
        tick_raw: Raw fixed-point value of one tick.
        lot_raw: Raw fixed-point value of one lot.
        actions: The integer values of BookAction ADD, UPDATE and DELETE.

    Returns:
        Lists of action, side, raw price, raw size, order id and timestamp.
    """
    add, update, delete = actions
    action = np.where(
        cols["type"] == TYPE_ADD, add, np.where(cols["remaining"] > 0, update, delete)
    )
    side = np.where(cols["side"] > 0, 1, 2)  # nautilus OrderSide: BUY 1, SELL 2
    # The raw values exceed int64 in the 128-bit build, so they are scaled as Python ints.
    price = [p * tick_raw for p in cols["price"].tolist()]
    size = [q * lot_raw for q in new_sizes(cols).tolist()]
    return (
        action.tolist(),
        side.tolist(),
        price,
        size,
        cols["order_id"].tolist(),
        cols["ts"].tolist(),
    )


def _nautilus_bbo(book: Any, tick_raw: int) -> Bbo:
    """Reads the best bid and ask of a nautilus L3 book, with whole-level sizes.

    Args:
        book: A nautilus ``OrderBook``.
        tick_raw: Raw fixed-point value of one tick.

    Returns:
        The normalized best bid and ask.
    """
    bids, asks = book.bids(), book.asks()
    bid = (bids[0].price.raw // tick_raw, round(bids[0].size())) if bids else (None, 0)
    ask = (asks[0].price.raw // tick_raw, round(asks[0].size())) if asks else (None, 0)
    return normalize_bbo(bid[0], bid[1], ask[0], ask[1])


def run_nautilus(
    cols: dict[str, np.ndarray], expected: Bbo, repeat: int, warmup_runs: int
) -> dict[str, Any]:
    """Times nautilus_trader's L3_MBO ``OrderBook`` on the stream.

    Args:
        cols: The event columns.
        expected: The expected final best bid and ask.
        repeat: Timed runs per figure, each on a fresh book.
        warmup_runs: Untimed full runs before each figure's timed runs.

    Returns:
        The peer's entry of the JSON report.
    """
    import nautilus_trader
    from nautilus_trader.model.book import OrderBook
    from nautilus_trader.model.data import OrderBookDelta, OrderBookDeltas
    from nautilus_trader.model.enums import BookAction, BookType
    from nautilus_trader.model.identifiers import InstrumentId
    from nautilus_trader.model.objects import Price, Quantity

    n = len(cols["type"])
    instrument = InstrumentId.from_str("PEER.BENCH")
    # Scale of the fixed-point raw values in this build (1e16 in the 128-bit wheel).
    tick_raw = Price.from_int(1).raw // round(1 / TICK_SIZE)
    lot_raw = Quantity.from_int(1).raw
    actions = (int(BookAction.ADD), int(BookAction.UPDATE), int(BookAction.DELETE))
    from_raw = OrderBookDelta.from_raw
    last = 128  # RecordFlag.F_LAST: every event is a complete packet on its own
    bbos: list[Bbo] = []

    def build_deltas() -> list[Any]:
        act, side, price, size, oid, ts = _nautilus_columns(cols, tick_raw, lot_raw, actions)
        return [
            from_raw(instrument, a, s, p, PRICE_PRECISION, q, 0, o, last, i, t, t)
            for i, (a, s, p, q, o, t) in enumerate(
                zip(act, side, price, size, oid, ts, strict=True), start=1
            )
        ]

    def apply_prebuilt() -> float:
        book = OrderBook(instrument, BookType.L3_MBO)
        t0 = time.perf_counter()
        book.apply_deltas(prebuilt)
        elapsed = time.perf_counter() - t0
        bbos.append(_nautilus_bbo(book, tick_raw))
        return elapsed

    def end_to_end_batch() -> float:
        t0 = time.perf_counter()
        batch = OrderBookDeltas(instrument, build_deltas())
        book = OrderBook(instrument, BookType.L3_MBO)
        book.apply_deltas(batch)
        elapsed = time.perf_counter() - t0
        bbos.append(_nautilus_bbo(book, tick_raw))
        return elapsed

    def end_to_end_per_event() -> float:
        t0 = time.perf_counter()
        act, side, price, size, oid, ts = _nautilus_columns(cols, tick_raw, lot_raw, actions)
        book = OrderBook(instrument, BookType.L3_MBO)
        apply = book.apply_delta
        for i, (a, s, p, q, o, t) in enumerate(
            zip(act, side, price, size, oid, ts, strict=True), start=1
        ):
            apply(from_raw(instrument, a, s, p, PRICE_PRECISION, q, 0, o, last, i, t, t))
        elapsed = time.perf_counter() - t0
        bbos.append(_nautilus_bbo(book, tick_raw))
        return elapsed

    t0 = time.perf_counter()
    prebuilt = OrderBookDeltas(instrument, build_deltas())
    build_s = time.perf_counter() - t0

    timings: tuple[tuple[str, Callable[[], float]], ...] = (
        ("apply_deltas", apply_prebuilt),
        ("end_to_end", end_to_end_per_event),
        ("end_to_end_batch", end_to_end_batch),
    )
    figures: dict[str, dict[str, Any]] = {}
    for name, once in timings:
        for _ in range(warmup_runs):
            once()
        bbos.clear()
        rates = []
        for _ in range(repeat):
            gc.collect()
            rates.append(n / once())
        figures[name] = summarize(rates)
        figures[name]["bbo_ok"] = all(b == expected for b in bbos)
        figures[name]["bbo"] = bbos[-1]

    return {
        "version": nautilus_trader.__version__,
        "book": "nautilus_trader.model.book.OrderBook L3_MBO (Cython over the Rust core)",
        "updates_per_sec": figures["apply_deltas"]["median"],
        "runs": figures["apply_deltas"]["runs"],
        "min_max": [figures["apply_deltas"]["min"], figures["apply_deltas"]["max"]],
        "end_to_end_per_sec": figures["end_to_end"]["median"],
        "end_to_end_runs": figures["end_to_end"]["runs"],
        "end_to_end_batch_per_sec": figures["end_to_end_batch"]["median"],
        "end_to_end_batch_runs": figures["end_to_end_batch"]["runs"],
        "untimed_build_deltas_s": round(build_s, 3),
        "final_bbo_ok": all(f["bbo_ok"] for f in figures.values()),
        "final_bbo": figures["apply_deltas"]["bbo"],
        "expected_bbo": expected,
    }


# --------------------------------------------------------------------- hftbacktest


def _hbt_replay(hbt: Any, step: int) -> int:
    """Replays all remaining feed data (compiled with numba ``njit`` in the child).

    Args:
        hbt: An hftbacktest backtester.
        step: Data time per ``elapse`` call, in ns.

    Returns:
        The last ``elapse`` code: 1 means the end of the data was reached.
    """
    code = 0
    while code == 0:
        code = hbt.elapse(step)
    return code


def _hbt_top(hbt: Any) -> tuple[int, float, int, float, int]:
    """Reads the local book's best bid and ask (compiled with numba ``njit``).

    Args:
        hbt: An hftbacktest ROIVector backtester.

    Returns:
        Best bid tick, size there, best ask tick, size there, and 1 if the bid
        side is non-empty plus 2 if the ask side is non-empty.
    """
    depth = hbt.depth(0)
    lb = depth.roi_lb_tick
    ub = depth.roi_ub_tick
    bid = depth.best_bid_tick
    ask = depth.best_ask_tick
    present = 0
    bid_qty = 0.0
    ask_qty = 0.0
    if lb <= bid <= ub:
        bid_qty = depth.bid_qty_at_tick(bid)
        present += 1
    if lb <= ask <= ub:
        ask_qty = depth.ask_qty_at_tick(ask)
        present += 2
    return bid, bid_qty, ask, ask_qty, present


def run_hftbacktest(
    cols: dict[str, np.ndarray], expected: Bbo, repeat: int, warmup_runs: int
) -> dict[str, Any]:
    """Times hftbacktest's L3 MBO feed replay (ROIVector depth, local book only).

    Args:
        cols: The event columns.
        expected: The expected final best bid and ask.
        repeat: Timed runs, each on a fresh backtester.
        warmup_runs: Untimed full runs after the JIT warm-up.

    Returns:
        The peer's entry of the JSON report.

    Raises:
        RuntimeError: If a replay stops before the end of the data.
    """
    import hftbacktest
    from numba import njit

    n = len(cols["type"])
    kind = np.where(
        cols["type"] == TYPE_ADD,
        hftbacktest.ADD_ORDER_EVENT,
        np.where(
            cols["remaining"] > 0, hftbacktest.MODIFY_ORDER_EVENT, hftbacktest.CANCEL_ORDER_EVENT
        ),
    ).astype(np.uint64)
    side = np.where(cols["side"] > 0, hftbacktest.BUY_EVENT, hftbacktest.SELL_EVENT)
    events = np.zeros(n, dtype=hftbacktest.event_dtype)
    events["ev"] = kind | side.astype(np.uint64) | np.uint64(hftbacktest.LOCAL_EVENT)
    events["exch_ts"] = cols["ts"]
    events["local_ts"] = cols["ts"]  # no feed latency: it is a book benchmark
    events["px"] = cols["price"] * TICK_SIZE
    events["qty"] = new_sizes(cols).astype(np.float64)
    events["order_id"] = cols["order_id"]
    # Range of interest: every price of the stream, with a tick of margin each side.
    roi_lb = (int(cols["price"].min()) - 1) * TICK_SIZE
    roi_ub = (int(cols["price"].max()) + 1) * TICK_SIZE

    def build(data: np.ndarray) -> Any:
        # The asset keeps a raw pointer to `data`: the caller keeps the array alive.
        asset = (
            hftbacktest.BacktestAsset()
            .data(data)
            .linear_asset(1.0)
            .constant_order_latency(0, 0)
            .l3_fifo_queue_model()
            .no_partial_fill_exchange()
            .tick_size(TICK_SIZE)
            .lot_size(1.0)
            .roi_lb(roi_lb)
            .roi_ub(roi_ub)
        )
        return hftbacktest.ROIVectorMarketDepthBacktest([asset])

    replay = njit(_hbt_replay)
    top = njit(_hbt_top)

    def once(data: np.ndarray, bbos: list[Bbo] | None) -> float:
        hbt = build(data)
        t0 = time.perf_counter()
        code = replay(hbt, HBT_ELAPSE_NS)
        elapsed = time.perf_counter() - t0
        if code != 1:
            hbt.close()
            msg = f"elapse returned {code} instead of 1 (end of data)"
            raise RuntimeError(msg)
        if bbos is not None:
            bid, bid_qty, ask, ask_qty, present = top(hbt)
            bbos.append(
                normalize_bbo(
                    bid if present & 1 else None,
                    round(bid_qty),
                    ask if present & 2 else None,
                    round(ask_qty),
                )
            )
        hbt.close()
        return elapsed

    warm_slice = events[: min(n, HBT_WARMUP_EVENTS)].copy()
    t0 = time.perf_counter()
    once(warm_slice, [])
    jit_s = time.perf_counter() - t0

    for _ in range(warmup_runs):
        once(events, None)
    bbos: list[Bbo] = []
    rates = []
    for _ in range(repeat):
        gc.collect()
        rates.append(n / once(events, bbos))
    fig = summarize(rates)
    return {
        "version": hftbacktest.__version__,
        "book": "ROIVectorMarketDepthBacktest, L3 FIFO (MBO) feed replay, LOCAL events only",
        "events_per_sec": fig["median"],
        "runs": fig["runs"],
        "min_max": [fig["min"], fig["max"]],
        "jit_compile_s": round(jit_s, 3),
        "final_bbo_ok": all(b == expected for b in bbos),
        "final_bbo": bbos[-1],
        "expected_bbo": expected,
    }


# ------------------------------------------------------------------ child / parent

RUNNERS = {"nautilus_trader": run_nautilus, "hftbacktest": run_hftbacktest}


def child_main(peer: str, events: Path, result_file: Path, repeat: int, warmup: int) -> int:
    """Runs one peer in this (child) process and writes its report as JSON.

    Args:
        peer: Which peer to run.
        events: The events file.
        result_file: Where to write the peer's JSON entry.
        repeat: Timed runs per figure.
        warmup: Untimed full runs before timing.

    Returns:
        The process exit status.
    """
    try:
        cols, expected = load_events(events)
        result = RUNNERS[peer](cols, expected, repeat, warmup)
    except Exception as exc:  # reported to the parent as this peer's error
        traceback.print_exc()
        result_file.write_text(json.dumps({"error": f"{type(exc).__name__}: {exc}"}))
        return 1
    result_file.write_text(json.dumps(result))
    return 0


def _tail(text: str, lines: int = 4) -> str:
    """Returns the last few non-empty lines of a child's output."""
    kept = [ln for ln in text.splitlines() if ln.strip()]
    return " | ".join(kept[-lines:])


def run_peer(peer: str, args: argparse.Namespace) -> dict[str, Any]:
    """Runs one peer in a child process and collects its report.

    Args:
        peer: Which peer to run.
        args: The parsed command line.

    Returns:
        The peer's JSON entry, or ``{"error": ...}`` when the child failed.
    """
    with tempfile.TemporaryDirectory(prefix="drive_peers_") as tmp:
        result_file = Path(tmp) / f"{peer}.json"
        cmd = [
            sys.executable,
            str(Path(__file__).resolve()),
            str(args.events),
            "--child",
            peer,
            "--result-file",
            str(result_file),
            "--repeat",
            str(args.repeat),
            "--warmup-runs",
            str(args.warmup_runs),
        ]
        try:
            proc = subprocess.run(  # noqa: S603 - our own script, fixed arguments
                cmd, capture_output=True, text=True, timeout=args.timeout, check=False
            )
        except subprocess.TimeoutExpired:
            return {"error": f"timed out after {args.timeout} s"}
        # The child's own output (progress, peers' prints) goes to our stderr only.
        for stream in (proc.stdout, proc.stderr):
            if stream:
                sys.stderr.write(stream if stream.endswith("\n") else stream + "\n")
        if result_file.exists():  # a result, or the error the child caught itself
            return dict(json.loads(result_file.read_text()))
        if proc.returncode < 0:
            how = f"killed by {signal.Signals(-proc.returncode).name}"
        else:
            how = f"exit status {proc.returncode}"
        tail = _tail(proc.stderr + proc.stdout)
        return {"error": f"child process {how}" + (f": {tail}" if tail else "")}


def _fmt_rate(value: float | None) -> str:
    """Formats an events-per-second figure in millions."""
    return "-" if value is None else f"{value / 1e6:.2f} M/s"


def print_table(results: dict[str, dict[str, Any]], n: int) -> None:
    """Prints the human-readable summary on stderr.

    Args:
        results: The per-peer JSON entries.
        n: Number of events in the stream.
    """
    rows = [("peer", "version", "figure", "median", "min - max", "bbo ok")]
    for peer, res in results.items():
        if "error" in res:
            rows.append((peer, "-", "ERROR", "-", "-", "-"))
            continue
        ok = str(res["final_bbo_ok"])
        if peer == "nautilus_trader":
            lo, hi = res["min_max"]
            rows.append(
                (
                    peer,
                    res["version"],
                    "apply_deltas (pre-built)",
                    _fmt_rate(res["updates_per_sec"]),
                    f"{_fmt_rate(lo)} - {_fmt_rate(hi)}",
                    ok,
                )
            )
            for label, key in (
                ("end to end, per event", "end_to_end"),
                ("end to end, batch", "end_to_end_batch"),
            ):
                runs = res[f"{key}_runs"]
                rows.append(
                    (
                        "",
                        "",
                        label,
                        _fmt_rate(res[f"{key}_per_sec"]),
                        f"{_fmt_rate(min(runs))} - {_fmt_rate(max(runs))}",
                        ok,
                    )
                )
        else:
            lo, hi = res["min_max"]
            rows.append(
                (
                    peer,
                    res["version"],
                    "L3 replay (ROIVector)",
                    _fmt_rate(res["events_per_sec"]),
                    f"{_fmt_rate(lo)} - {_fmt_rate(hi)}",
                    ok,
                )
            )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    print(f"{n:,} L3 events per run", file=sys.stderr)
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)), file=sys.stderr)
    for peer, res in results.items():
        if "error" in res:
            print(f"{peer}: {res['error']}", file=sys.stderr)
        elif not res["final_bbo_ok"]:
            print(
                f"{peer}: final BBO {res['final_bbo']} != expected {res['expected_bbo']}",
                file=sys.stderr,
            )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Parses the command line.

    Args:
        argv: Arguments without the program name (None: ``sys.argv[1:]``).

    Returns:
        The parsed arguments.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("events", type=Path, help="the .npz event stream")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per figure")
    parser.add_argument("--json", action="store_true", help="print one JSON line on stdout")
    parser.add_argument("--only", choices=sorted(ONLY_ALIASES), help="run one peer only")
    parser.add_argument(
        "--warmup-runs", type=int, default=1, help="untimed full runs before timing"
    )
    parser.add_argument(
        "--timeout", type=float, default=3600.0, help="seconds allowed to each peer"
    )
    parser.add_argument("--child", choices=PEERS, help=argparse.SUPPRESS)
    parser.add_argument("--result-file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.repeat < 1 or args.warmup_runs < 0:
        parser.error("--repeat must be >= 1 and --warmup-runs >= 0")
    return args


def main(argv: list[str] | None = None) -> int:
    """Runs the peers and reports.

    Args:
        argv: Arguments without the program name (None: ``sys.argv[1:]``).

    Returns:
        The process exit status: 0 when every peer ran (whatever its BBO
        check), 1 when one failed.
    """
    args = parse_args(argv)
    if args.child:
        return child_main(args.child, args.events, args.result_file, args.repeat, args.warmup_runs)
    cols, _ = load_events(args.events)  # fail early, in the parent, on a bad file
    n = len(cols["type"])
    del cols
    peers = [ONLY_ALIASES[args.only]] if args.only else list(PEERS)
    results: dict[str, dict[str, Any]] = {}
    for peer in peers:
        print(f"running {peer} ...", file=sys.stderr)
        results[peer] = run_peer(peer, args)
    print_table(results, n)
    if args.json:
        print(json.dumps({**results, "events": n}))
    return 1 if any("error" in r for r in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
