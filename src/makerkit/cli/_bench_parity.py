"""Peer parity: our replay backtester and hftbacktest 2.4.4, same rules, every Binance capture.

The GLFT of ``makerkit bench backtest`` (fixed coefficients, one lot a side,
at most 10 lots) runs on every Binance capture in the data folder, in
makerkit and in hftbacktest (``benchmarks/peers/drive_hbt_backtest.py`` in
the peers' virtualenv), on the same events (snapshot, then every level of
every depth diff in exchange update-id order, and every trade).

*Same rules* is hftbacktest's replay written as a ``ReplayConfig``: the
power-probabilistic queue (ours: ``probabilistic`` with the same power; the
risk-averse one is our ``conservative``), the same order latency, fees
charged on traded value, no trade clearing (hftbacktest's book changes only
with the depth stream) and no extra decision on a fill. Under these rules the
two must give the same fills, filled quantity and PnL (tick-lots, final
position marked to mid, fees included); the headline set is checked again
with the risk-averse queue, and with another power, latency and fees.
Where a capture differs, ``first_divergence`` names the first decision
whose position differs.

*Default rules* is makerkit's ``ReplayConfig()`` beside the same hftbacktest
run. Every setting where our default is not hftbacktest's rule is measured
alone (the same-rules run with only that setting at our default), and for the
trade-clearing rule the mechanism too: how often the book the strategy sees at
a decision has a spread of ``WIDE_TICKS`` ticks or more, with and without
clearing, beside the capture's own bookTicker stream.

``peer_parity`` returns None when it cannot run (no peers' virtualenv, no
driver, no Binance capture); ``peer_parity_unavailable_reason`` says why.
"""

from __future__ import annotations

import bisect
import heapq
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

from makerkit.backtest import (
    DEPTH,
    TRADE,
    MarketEvents,
    ReplayConfig,
    binance_events,
    run_replay_backtest,
)
from makerkit.cli._bench import run_peer_driver
from makerkit.cli._bench_backtest import GLFT_PARAMS, write_hbt_events
from makerkit.core.errors import DataError, MakerkitError
from makerkit.data import BinanceFiles, load_binance_capture
from makerkit.strategies import GLFT

__all__ = [
    "PARITY_CHECKS",
    "SAME_RULES",
    "WIDE_TICKS",
    "peer_parity",
    "peer_parity_unavailable_reason",
]

# hftbacktest's replay as a ReplayConfig (``makerkit bench backtest`` uses the same)
SAME_RULES: dict[str, Any] = {
    "queue": "probabilistic", "queue_power": 2.0, "order_latency_ms": 1.0,
    "feed_latency_ms": 0.0, "decision_ms": 100.0, "requote_on_fill": False,
    "clear_on_trade": False, "maker_fee": 0.0, "taker_fee": 0.0,
}  # fmt: skip
# the same rules again with the other queue model, and another power, latency and fees
PARITY_CHECKS: dict[str, dict[str, Any]] = {
    "risk-averse queue (conservative)": {**SAME_RULES, "queue": "conservative"},
    "power 3, 5 ms latency, fees 2/5 bp": {
        **SAME_RULES, "queue_power": 3.0, "order_latency_ms": 5.0, "maker_fee": 0.0002,
        "taker_fee": 0.0005,
    },
}  # fmt: skip
WIDE_TICKS = 5  # a spread this wide or wider counts as a hole in the book


class _Run(msgspec.Struct, kw_only=True):
    fills: int
    filled_qty: int
    pnl: float
    position: list[float]
    ts: list[int]
    rejected: int = 0  # our quotes refused post-only
    fill_ts: list[int] = []
    uptime: float = 0.0


def peer_parity_unavailable_reason(
    peers_python: str | None, driver: Path | None, *, root: str | Path | None = None
) -> str | None:
    """Why ``peer_parity`` cannot run with these arguments; None when it can."""
    if peers_python is None:
        return "hftbacktest is not installed (make bench-peers creates .venv-bench)"
    if driver is None or not Path(driver).is_file():
        return f"the hftbacktest driver is missing ({driver or 'benchmarks/peers'})"
    if not _captures(root):
        return "no Binance capture in the data folder (set MAKERKIT_DATA)"
    return None


def _captures(root: str | Path | None) -> list[tuple[str, str]]:
    try:
        files = BinanceFiles(root)
        return [(s, d) for s in files.symbols() for d in files.days(s)]
    except DataError:
        return []


def _ours(events: MarketEvents, rules: dict[str, Any]) -> _Run:
    result = run_replay_backtest(GLFT(**GLFT_PARAMS), events, ReplayConfig(**rules))  # type: ignore[arg-type]
    return _Run(
        fills=result.metrics.fills, filled_qty=sum(f[3] for f in result.fills),
        pnl=float(result.metrics.pnl_total), position=[float(x) for x in result.path["position"]],
        ts=[int(t) for t in result.path["ts"]], rejected=result.metrics.rejected_quotes,
        uptime=float(result.metrics.quote_uptime), fill_ts=[int(f[0]) for f in result.fills],
    )  # fmt: skip


def _theirs(
    events: MarketEvents, rules: dict[str, Any], python: str, driver: Path, repeat: int
) -> _Run:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "events.npz"
        write_hbt_events(path, events, rules)
        found, stderr = run_peer_driver(python, driver, path, repeat)
    if "fills" not in found:
        msg = f"hftbacktest failed: {found.get('error') or stderr[-800:] or 'no output'}"
        raise MakerkitError(msg)
    return _Run(
        fills=int(found["fills"]), filled_qty=int(found["filled_qty"]),
        pnl=round(float(found["pnl"]), 3), position=list(found["position_path"]), ts=[],
    )  # fmt: skip


def _first_divergence(ours: _Run, theirs: _Run) -> dict[str, Any] | None:
    """The first decision where the positions differ (None: the same path throughout).

    Our path starts with a decision at the snapshot; hftbacktest's first step
    is one ``decision_ms`` later, so our leading extra decisions are skipped.
    """
    off = max(len(ours.position) - len(theirs.position), 0)
    a, b = ours.position[off:], theirs.position
    differ = [i for i in range(min(len(a), len(b))) if a[i] != b[i]]
    if not differ:
        return None
    i = differ[0]
    # how long before each differing decision our last fill was (ms): under the order
    # latency, a fill the exchange made that the strategy's report has not reached yet
    gaps = []
    for j in differ[:20]:
        t = ours.ts[j + off]
        k = bisect.bisect_right(ours.fill_ts, t) - 1
        gaps.append(round((t - ours.fill_ts[k]) / 1e6, 3) if k >= 0 else None)
    return {
        "decision": i + off, "ts": ours.ts[i + off], "makerkit_position": a[i],
        "hftbacktest_position": b[i], "decisions_differing": len(differ),
        "last_fill_before_ms": gaps,
    }  # fmt: skip


def _detail(run: _Run) -> dict[str, Any]:
    """Our run's fills and what limited them: refused quotes, time quoting, time at the limit."""
    limit = GLFT_PARAMS["max_position"]
    at_limit = sum(abs(x) >= limit for x in run.position) / max(len(run.position), 1)
    return {
        "makerkit_fills": run.fills, "makerkit_pnl": run.pnl, "rejected_quotes": run.rejected,
        "quote_uptime": round(run.uptime, 4), "at_position_limit_share": round(at_limit, 4),
    }  # fmt: skip


def _pair(ours: _Run, theirs: _Run) -> dict[str, Any]:
    return {
        "makerkit_fills": ours.fills, "hftbacktest_fills": theirs.fills,
        "makerkit_filled_qty": ours.filled_qty, "hftbacktest_filled_qty": theirs.filled_qty,
        "makerkit_pnl": ours.pnl, "hftbacktest_pnl": theirs.pnl,
        "equal": ours.fills == theirs.fills and ours.filled_qty == theirs.filled_qty
        and abs(ours.pnl - theirs.pnl) < 0.01,
    }  # fmt: skip


def _summed(per: dict[str, dict[str, Any]]) -> dict[str, Any]:
    keys = ("makerkit_fills", "hftbacktest_fills", "makerkit_filled_qty",
            "hftbacktest_filled_qty", "makerkit_pnl", "hftbacktest_pnl")  # fmt: skip
    out: dict[str, Any] = {k: sum(p[k] for p in per.values()) for k in keys}
    out["makerkit_pnl"] = round(out["makerkit_pnl"], 3)
    out["hftbacktest_pnl"] = round(out["hftbacktest_pnl"], 3)
    out["equal"] = all(p["equal"] for p in per.values())
    return out


def touch_at_decisions(
    events: MarketEvents, *, clear_on_trade: bool, step_ns: int
) -> list[tuple[int, int, int]]:
    """``(ts, best bid, best ask)`` of the book the strategy sees every ``step_ns`` from the start.

    The book is rebuilt from the depth events as the replay applies them (feed
    latency 0); with ``clear_on_trade`` a trade also deletes the levels it
    went through, the replay's trade-clearing rule. Decisions with a one-sided
    book are left out.
    """
    ts, kind, side = events.ts.tolist(), events.kind.tolist(), events.side.tolist()
    price, qty = events.price.tolist(), events.qty.tolist()
    bids: dict[int, int] = {}
    asks: dict[int, int] = {}
    bid_heap: list[int] = []  # negated prices, stale entries skipped lazily
    ask_heap: list[int] = []
    out: list[tuple[int, int, int]] = []
    t_next, n = events.start_ns, len(ts)
    for i in range(n):
        while ts[i] > t_next:  # the decision at t_next sees every event up to it
            while bid_heap and -bid_heap[0] not in bids:
                heapq.heappop(bid_heap)
            while ask_heap and ask_heap[0] not in asks:
                heapq.heappop(ask_heap)
            if bid_heap and ask_heap:
                out.append((t_next, -bid_heap[0], ask_heap[0]))
            t_next += step_ns
        k, s, p = kind[i], side[i], price[i]
        if k == DEPTH:
            book, heap, key = (bids, bid_heap, -p) if s > 0 else (asks, ask_heap, p)
            if qty[i] > 0:
                if p not in book:
                    heapq.heappush(heap, key)
                book[p] = qty[i]
            else:
                book.pop(p, None)
        elif k == TRADE and clear_on_trade:
            gone = [b for b in bids if b > p] if s < 0 else [a for a in asks if a < p]
            book = bids if s < 0 else asks
            for level in gone:
                del book[level]
    return out


def _book_holes(capture: Any, events: MarketEvents, step_ns: int) -> dict[str, Any]:
    """How the book at decisions looks with and without clearing, beside the bookTicker."""
    tickers = sorted((t.local_ns, t.bid // events.tick, t.ask // events.tick)
                     for t in capture.tickers)  # fmt: skip
    times = [t for t, _, _ in tickers]
    out: dict[str, Any] = {}
    for label, clear in (("without_clearing", False), ("with_clearing", True)):
        seen = touch_at_decisions(events, clear_on_trade=clear, step_ns=step_ns)
        wide = sum(a - b >= WIDE_TICKS for _, b, a in seen)
        row: dict[str, Any] = {"decisions": len(seen), "wide_share": round(wide / len(seen), 4)}
        if tickers:
            agree = total = 0
            for t, b, a in seen:
                j = bisect.bisect_right(times, t) - 1
                if j >= 0:
                    total += 1
                    agree += (b, a) == tickers[j][1:]
            row["touch_equals_book_ticker_share"] = round(agree / total, 4) if total else None
        out[label] = row
    if tickers:
        wide = total = 0
        for t in range(events.start_ns, int(events.ts[-1]) + 1, step_ns):
            j = bisect.bisect_right(times, t) - 1
            if j >= 0:
                total += 1
                wide += tickers[j][2] - tickers[j][1] >= WIDE_TICKS
        out["book_ticker"] = {"decisions": total, "wide_share": round(wide / total, 4)}
    return out


def peer_parity(
    say: Callable[[str], None],
    *,
    peers_python: str | None,
    driver: Path | None,
    repeat: int = 1,
    root: str | Path | None = None,
    checks: bool = True,
) -> dict[str, Any] | None:
    """Fills and PnL of makerkit and hftbacktest under the same rules, then ours by default.

    Returns ``{"same_rules", "default_rules", "captures", "reason"}`` (see the
    module notes), or None when it cannot run: ``peer_parity_unavailable_reason``
    says why. ``root`` is the folder of Binance captures (default: ``crypto/`` under
    ``MAKERKIT_DATA``). ``checks`` also runs ``PARITY_CHECKS`` (one more hftbacktest run
    per capture and check). ``repeat`` is the driver's timed runs per call (the fills
    and PnL come from the last). A failing hftbacktest run raises ``MakerkitError``.
    """
    if peer_parity_unavailable_reason(peers_python, driver, root=root) is not None:
        return None
    if peers_python is None or driver is None:  # checked above; narrows the types
        return None
    captures = _captures(root)
    defaults = msgspec.structs.asdict(ReplayConfig())
    changed = {k: v for k, v in defaults.items() if k in SAME_RULES and SAME_RULES[k] != v}
    # trade clearing is measured whatever our default: hftbacktest has no such rule
    alone = {**changed, "clear_on_trade": True}
    same: dict[str, dict[str, Any]] = {}
    default: dict[str, dict[str, Any]] = {}
    effects: dict[str, dict[str, Any]] = {f"{k}={v}": {} for k, v in alone.items()}
    check_rows: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in PARITY_CHECKS}
    holes: dict[str, dict[str, Any]] = {}
    names = []
    step_ns = round(SAME_RULES["decision_ms"] * 1e6)
    files = BinanceFiles(root)
    for symbol, day in captures:
        name = f"binance:{symbol}:{day}"
        names.append(name)
        say(f"peer parity: {name}")
        capture = load_binance_capture(files.file(symbol, day))
        events = binance_events(capture)
        ours = _ours(events, SAME_RULES)
        theirs = _theirs(events, SAME_RULES, peers_python, driver, repeat)
        same[name] = {**_pair(ours, theirs), "first_divergence": _first_divergence(ours, theirs)}
        if checks:
            for check, rules in PARITY_CHECKS.items():
                say(f"peer parity: {name}, {check}")
                a, b = _ours(events, rules), _theirs(events, rules, peers_python, driver, repeat)
                check_rows[check][name] = {
                    **_pair(a, b),
                    "first_divergence": _first_divergence(a, b),
                }
        by_default = _ours(events, {})
        default[name] = {**_pair(by_default, theirs), "makerkit": _detail(by_default)}
        same[name]["makerkit"] = _detail(ours)
        for (key, value), label in zip(alone.items(), effects, strict=True):
            effects[label][name] = _detail(_ours(events, {**SAME_RULES, key: value}))
        holes[name] = _book_holes(capture, events, step_ns)
    same_rules: dict[str, Any] = {**_summed(same), "rules": SAME_RULES, "per_capture": same}
    if checks:
        same_rules["checks"] = {
            check: {**_summed(rows), "rules": PARITY_CHECKS[check], "per_capture": rows}
            for check, rows in check_rows.items()
        }
        same_rules["equal_all_checks"] = same_rules["equal"] and all(
            c["equal"] for c in same_rules["checks"].values()
        )
    for rows in effects.values():
        rows["total"] = {
            k: round(sum(r[k] for r in rows.values()), 3)
            for k in ("makerkit_fills", "makerkit_pnl", "rejected_quotes")
        }
    default_rules: dict[str, Any] = {
        **_summed(default), "rules": defaults, "hftbacktest_rules": SAME_RULES,
        "differs_from_hftbacktest": changed, "per_capture": default,
        "one_setting_at_a_time": effects,
        "book_at_decisions": holes,
    }  # fmt: skip
    return {
        "same_rules": same_rules, "default_rules": default_rules, "captures": names,
        "reason": _reason(same_rules, default_rules, holes),
    }  # fmt: skip


def _total(per: dict[str, dict[str, Any]], key: str) -> float:
    return float(sum(row["makerkit"][key] for row in per.values()))


def _reason(same: dict[str, Any], default: dict[str, Any], holes: dict[str, dict[str, Any]]) -> str:
    """What the measurements say, in one paragraph."""
    parts = []
    if same["equal"] and same.get("equal_all_checks", True):
        checked = ", and again in every check" if "checks" in same else ""
        parts.append(
            f"Same rules: makerkit and hftbacktest give the same fills "
            f"({same['makerkit_fills']}, {same['makerkit_filled_qty']} lots) and PnL "
            f"({same['makerkit_pnl']:,.0f} tick-lots) over the captures, and on each{checked}."
        )
        firsts = [
            (name, row["first_divergence"])
            for name, row in same["per_capture"].items()
            if row["first_divergence"] is not None
        ]
        for name, first in firsts:
            gaps = ", ".join(f"{g:g} ms" for g in first["last_fill_before_ms"] if g is not None)
            parts.append(
                f"The recorded position path differs at {first['decisions_differing']} "
                f"decision(s) of {name}, each with our fill {gaps} before it, inside the "
                f"{same['rules']['order_latency_ms']:g} ms order latency: our path records "
                "the account's position at once, hftbacktest's the position its strategy has "
                "been told (ours is told as late: both decide from the same position). "
                "The fills are the same."
            )
    else:
        runs = [("same rules", same["per_capture"])]
        runs += [(name, c["per_capture"]) for name, c in same.get("checks", {}).items()]
        bad = [
            f"{rules}, {name}: {row['makerkit_fills']} against {row['hftbacktest_fills']} "
            f"fills, first different position {row['first_divergence']}"
            for rules, rows in runs
            for name, row in rows.items()
            if not row["equal"]
        ]
        parts.append("Same rules differ: " + "; ".join(bad) + ".")
    moves = ", ".join(
        f"{label} {rows['total']['makerkit_fills']:g} fills "
        f"({rows['total']['rejected_quotes']:g} quotes refused)"
        for label, rows in default["one_setting_at_a_time"].items()
    )
    per = same["per_capture"]
    limit = max(per.values(), key=lambda r: r["makerkit"]["at_position_limit_share"])["makerkit"]
    differs = ", ".join(f"{k}={v}" for k, v in default["differs_from_hftbacktest"].items())
    parts.append(
        f"Default rules ({differs or 'none differ'}): makerkit {default['makerkit_fills']} "
        f"fills, PnL {default['makerkit_pnl']:,.0f}, against hftbacktest's "
        f"{default['hftbacktest_fills']} and {default['hftbacktest_pnl']:,.0f}. From the same "
        f"rules ({same['makerkit_fills']} fills, {_total(per, 'rejected_quotes'):g} quotes "
        f"refused post-only), one setting at a time: {moves}. Under the same rules the GLFT "
        f"sits at its position limit ({limit['at_position_limit_share']:.0%} of decisions on "
        "one capture): its inventory skew puts the exit quote across the touch and post-only "
        "refuses it, in both backtesters. requote_on_fill decides again as soon as a fill is "
        "seen instead of at the next 100 ms decision (the hftbacktest loop decides only every "
        "100 ms). Trade clearing deletes "
        "the levels a trade went through before the next depth diff, so the skewed exit "
        "quote passes the post-only check against a book emptier than the market's and is "
        "filled: fills hftbacktest's replay, which never deletes a level the depth stream "
        "still shows, does not give."
    )
    wide = "; ".join(
        f"{name}: {h['without_clearing']['wide_share']:.1%} without clearing, "
        f"{h['with_clearing']['wide_share']:.1%} with"
        + (
            f", {h['book_ticker']['wide_share']:.1%} in its bookTicker"
            if "book_ticker" in h
            else ""
        )
        for name, h in holes.items()
    )
    parts.append(
        f"The book at decisions barely changes (spread of {WIDE_TICKS} ticks or more: {wide}), "
        "so the difference is not an older touch but quotes the clearing lets through."
    )
    return " ".join(parts)
