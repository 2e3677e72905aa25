"""``makerkit demo``: the venue with a live market and every strategy trading it.

The venue runs in its own process (``makerkit serve --market``: the order-flow
simulator animates every symbol). Each strategy is a separate client with its
own account and API key, driven by ``LiveRunner`` through the client SDK, the
same class that runs in the backtester. The demo process also subscribes to
the public market data (sequence-checked) and samples every account once a
second for the live table and the summary report.

The rl strategy joins when its policy is ready: a cached one loads beside the
venue's start, a missing one trains in a child process (``_demo_rl``) while
everyone else trades; its row says how far the training is. Each sample is also
written to ``live.json``, which the venue's dashboard shows (its strategies view).

Stopping (time is up, or Ctrl-C): the runners cancel their orders, the venue
gets SIGINT and shuts down cleanly (the journal is flushed on the way out).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec

from makerkit.cli._demo_rl import PolicyTrainer, SubprocessTrainer
from makerkit.core import ConfigError, MakerkitError

__all__ = ["DemoConfig", "DemoState", "run_demo", "table_rows", "write_demo_report"]

STRATEGIES = ("symmetric", "inventory_skew", "adaptive_spread", "avellaneda_stoikov", "glft")
SOURCES = ("synthetic", "yahoo", "alphavantage", "lobster", "binance")
# the venue's dashboard reads the demo's live numbers from the file this names
DEMO_STATE_ENV = "MAKERKIT_DEMO_STATE"


class DemoConfig(msgspec.Struct, frozen=True, kw_only=True):
    """What the demo runs."""

    symbols: tuple[str, ...] = ("AAA", "BBB", "CCC")
    port: int = 8000  # 0: any free port
    duration: float | None = None  # seconds; None: until stopped
    out_dir: Path = Path("runs/demo")
    source: str = "synthetic"
    market_rate: float = 500.0  # simulated commands/s per symbol
    decision_ms: float = 250.0
    policy: Path | None = None  # the rl strategy's policy; trained here when missing
    train_steps: int = 20_000
    rl: bool = True
    ccxt: bool = False  # one more participant: a bot on ccxt's Binance class, via the facade
    # the user's own: path/to/file.py:ClassName, built with `params` as keyword arguments
    user_strategies: tuple[str, ...] = ()
    params: dict[str, Any] = msgspec.field(default_factory=dict)
    # the built-ins' parameters fitted on the market (`makerkit fit`), by strategy name
    fitted: dict[str, dict[str, Any]] = msgspec.field(default_factory=dict)


class StrategyRow(msgspec.Struct, kw_only=True):
    """One strategy's client, as the table shows it."""

    name: str
    symbol: str
    account_id: int = 0
    orders: int = 0
    cancelled: int = 0
    fills: int = 0
    position: float = 0.0
    pnl: float = 0.0
    spread: float | None = None
    decisions: int = 0
    stopped: str | None = None
    status: str | None = None  # not trading yet: "training 40%", "loading the policy"
    history: list[tuple[float, float, float]] = msgspec.field(default_factory=list)


class SymbolRow(msgspec.Struct, kw_only=True):
    """One symbol's market data, as the table shows it."""

    symbol: str
    bid: str | None = None
    ask: str | None = None
    last: str | None = None
    updates: int = 0
    rate: float = 0.0
    mids: list[tuple[float, float]] = msgspec.field(default_factory=list)


class DemoState(msgspec.Struct, kw_only=True):
    """Everything the live table and the report show."""

    url: str
    started: float
    strategies: list[StrategyRow]
    symbols: dict[str, SymbolRow]
    md_gaps: int = 0
    md_reconnects: int = 0
    accounts_file: str = ""  # this run's API keys, for the dashboard's account view
    open_orders_left: int | None = None  # resting after the runners stopped (should be 0)
    errors: list[str] = msgspec.field(default_factory=list)
    notes: list[str] = msgspec.field(default_factory=list)

    @property
    def elapsed(self) -> float:
        """Seconds since the strategies started."""
        return time.monotonic() - self.started


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _source_args(cfg: DemoConfig) -> list[str]:
    """The venue's market: the simulator, anchored on real tickers, or a replayed day."""
    if cfg.source in ("yahoo", "alphavantage"):
        return ["--source", cfg.source]
    if cfg.source in ("lobster", "binance"):
        from makerkit.data import BinanceFiles, LobsterFiles

        if cfg.source == "lobster":
            path = LobsterFiles().file(cfg.symbols[0])
        else:
            path = BinanceFiles().file(cfg.symbols[0].lower())
        return ["--replay", str(path), "--replay-symbol", cfg.symbols[0]]
    return []


class VenueProcess:
    """``makerkit serve --market`` in a child process, its output in ``server.log``."""

    def __init__(self, cfg: DemoConfig, admin_key: str) -> None:
        self.port = cfg.port or _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        journal = fresh_journal(cfg.out_dir)
        self._admin_key = admin_key
        self.log_path = cfg.out_dir / "server.log"
        cmd = [
            sys.executable, "-m", "makerkit", "serve", "--host", "127.0.0.1",
            "--port", str(self.port), "--journal", str(journal),
            "--symbols", ",".join(cfg.symbols), "--market",
            "--market-rate", str(cfg.market_rate), *_source_args(cfg),
        ]  # fmt: skip
        env = {**os.environ, "MAKERKIT_ADMIN_KEY": admin_key, "PYTHONUNBUFFERED": "1",
               DEMO_STATE_ENV: str(live_path(cfg.out_dir))}  # fmt: skip
        self._log = self.log_path.open("w")
        # its own session: a Ctrl-C reaches the demo alone, which pulls every quote first
        # and then stops the venue
        self.proc = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            cmd, stdout=self._log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )

    async def wait_ready(self, timeout: float = 60.0) -> None:
        """Until ``/health`` answers; a venue that died says why (its log's tail)."""
        import httpx

        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(timeout=2.0) as http:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    tail = self.log_path.read_text()[-1500:]
                    msg = f"the venue exited ({self.proc.returncode}) at start:\n{tail}"
                    raise ConfigError(msg)
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get(self.url + "/health")).status_code == 200:
                        await self._check_ours(http)
                        return
                await asyncio.sleep(0.2)
        msg = f"the venue did not answer on {self.url} within {timeout:.0f} s"
        raise ConfigError(msg)

    async def _check_ours(self, http: Any) -> None:
        """Refuse a venue that answers on the port but is not this demo's (another process's)."""
        admin = await http.get(self.url + "/admin/accounts", headers={"X-API-Key": self._admin_key})
        if admin.status_code != 200 or self.proc.poll() is not None:
            msg = (
                f"another process answers on port {self.port} (a venue left running?): "
                "stop it, or give the demo another --port (0: any free port)"
            )
            raise ConfigError(msg)

    def stop(self) -> int:
        """SIGINT (uvicorn's clean shutdown: the journal is flushed), then wait."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return int(self.proc.returncode or 0)

    def log_errors(self) -> list[str]:
        """Lines of the venue's log that report an error."""
        lines = self.log_path.read_text().splitlines() if self.log_path.exists() else []
        return [ln for ln in lines if "Traceback" in ln or " ERROR" in ln or "error:" in ln]


def fresh_journal(out_dir: Path) -> Path:
    """The demo's journal path, with whatever an earlier run left there removed.

    Each run starts a fresh venue: an earlier run's snapshots beside a journal
    that is gone would be refused at recovery (a snapshot ahead of its journal).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    journal = out_dir / "venue.db"
    for stale in (journal, journal.with_suffix(".db-wal"), journal.with_suffix(".db-shm")):
        stale.unlink(missing_ok=True)
    shutil.rmtree(out_dir / "venue.db.snapshots", ignore_errors=True)
    return journal


def live_path(out_dir: Path) -> Path:
    """The file each sample is written to, for the dashboard's strategies view."""
    return out_dir / "live.json"


def _rl_policy(cfg: DemoConfig, say: Callable[[str], None]) -> tuple[Path, bool] | None:
    """The rl strategy's policy (given, or trained last time) and whether it still needs training.

    None without the rl extra, or with ``--no-rl``.
    """
    if not cfg.rl:
        return None
    import importlib.util

    if not all(importlib.util.find_spec(m) for m in ("stable_baselines3", "gymnasium")):
        say("rl strategy skipped: pip install makerkit[rl]")
        return None
    path = cfg.policy or cfg.out_dir.parent / "demo-policy" / "policy.zip"
    if path.exists():
        return path, False
    if cfg.policy is not None:
        msg = f"no policy at {cfg.policy}"
        raise ConfigError(msg)
    return path, True


def _load_rl(policy: Path) -> Any:
    from makerkit.rl import RLStrategy

    return RLStrategy(policy)


MakeTrainer = Callable[[Path, int, Path], PolicyTrainer]  # policy, steps, log file


class _PendingRL:
    """The rl participant until it trades: its policy trains or loads, its row says so."""

    def __init__(
        self, policy: Path, train: bool, cfg: DemoConfig, make_trainer: MakeTrainer,
        load: Callable[[Path], Any],
    ) -> None:  # fmt: skip
        self.policy = policy
        self.load = load
        self.trainer: PolicyTrainer | None = None
        self.loading: asyncio.Task[Any] | None = None
        self.status = "loading the policy"
        self.error: str | None = None
        if train:
            self.trainer = make_trainer(policy, cfg.train_steps, cfg.out_dir / "rl-training.log")
            self.trainer.start()
            self.status = "training"
        else:
            self.loading = asyncio.create_task(asyncio.to_thread(load, policy))

    def advance(self) -> Any | None:
        """The strategy once its policy is loaded; meanwhile ``status`` (or ``error``) moves."""
        if self.trainer is not None:
            st = self.trainer.poll()
            if st.error is not None:
                self.error, self.status, self.trainer = st.error, "training failed", None
                return None
            if st.policy is None:
                self.status = (
                    f"training {st.fraction:.0%}" if st.fraction is not None else "training"
                )
                return None
            self.trainer, self.policy, self.status = None, st.policy, "loading the policy"
            self.loading = asyncio.create_task(asyncio.to_thread(self.load, st.policy))
        if self.loading is None or not self.loading.done():
            return None
        task, self.loading = self.loading, None
        exc = task.exception()
        if exc is not None:
            self.error, self.status = f"{type(exc).__name__}: {exc}", "policy failed to load"
            return None
        return task.result()

    async def stop(self) -> None:
        """The demo is over: an unfinished training is abandoned, a load awaited."""
        if self.trainer is not None:
            await asyncio.to_thread(self.trainer.stop)
        if self.loading is not None:
            await asyncio.gather(self.loading, return_exceptions=True)


def _traded(strategy: Any) -> tuple[str, ...]:
    """The symbols a MarketMaker names (a one-level strategy names none)."""
    if callable(getattr(strategy, "decide", None)):
        return tuple(getattr(strategy, "symbols", ()))
    return ()


def _strategies(cfg: DemoConfig, policy: Path | None) -> list[tuple[str, Any]]:
    from makerkit.strategies import make_strategy

    out: list[tuple[str, Any]] = [(name, make_strategy(name, **cfg.fitted.get(name, {})))
                                  for name in STRATEGIES]  # fmt: skip
    for spec in cfg.user_strategies:  # a one-level strategy or a MarketMaker, from a file
        strategy = make_strategy(spec, **cfg.params)
        name = getattr(strategy, "name", "") or type(strategy).__name__
        missing = [s for s in _traded(strategy) if s not in cfg.symbols]
        if missing:
            msg = (
                f"{spec} trades {missing}, not listed in this demo {list(cfg.symbols)} "
                "(--symbols, or --param to name its symbols)"
            )
            raise ConfigError(msg)
        out.append((name, strategy))
    if policy is not None:
        from makerkit.rl import RLStrategy

        out.append(("rl", RLStrategy(policy)))
    return out


async def _sample(
    state: DemoState, clients: list[Any], runners: list[Any], *, final: bool = False
) -> None:
    """Every account's position, PnL and quotes, once (``final``: quotes already pulled)."""
    import httpx

    t = state.elapsed
    for row, client, runner in zip(state.strategies, clients, runners, strict=True):
        try:
            positions = await client.positions()
            orders = await client.open_orders(row.symbol)
        except (MakerkitError, OSError, httpx.HTTPError) as exc:  # a busy venue: a timeout
            state.errors.append(f"{row.name}: {type(exc).__name__}: {exc}")
            continue
        pos = next((p for p in positions if p.symbol == row.symbol), None)
        if pos is not None:
            row.position = float(pos.qty)
            row.pnl = float(
                Decimal(pos.realized_pnl) + Decimal(pos.unrealized_pnl) - Decimal(pos.fees)
            )
        bids = [Decimal(o.price) for o in orders if o.side == "buy" and o.price]
        asks = [Decimal(o.price) for o in orders if o.side == "sell" and o.price]
        if not final:
            row.spread = float(min(asks) - max(bids)) if bids and asks else None
        if runner is None:  # not trading yet
            row.history.append((t, row.pnl, row.position))
            continue
        s = runner.summary
        row.orders, row.cancelled, row.fills = s.placed, s.cancelled, s.fills
        row.decisions, row.stopped = s.decisions, s.stopped
        row.history.append((t, row.pnl, row.position))


async def _market_data(state: DemoState, url: str) -> None:
    """The public feed: top of book, last trade, update rates, sequence gaps."""
    from makerkit.client import MarketDataStream

    stream = MarketDataStream(url.replace("http", "ws", 1), list(state.symbols),
                              channels=("book", "trades"))  # fmt: skip
    window = time.monotonic()
    counts = dict.fromkeys(state.symbols, 0)
    try:
        async for frame in stream:
            row = state.symbols.get(frame.get("symbol", ""))
            if row is None:
                continue
            row.updates += 1
            counts[row.symbol] += 1
            if frame.get("type") == "trade":
                row.last = frame.get("price")
            now = time.monotonic()
            if now - window >= 0.5:  # the top of book is read off the mirrors twice a second
                for sym, n in counts.items():
                    r = state.symbols[sym]
                    r.rate, counts[sym] = n / (now - window), 0
                    bids, asks = stream.books[sym].levels(1)
                    r.bid = str(bids[0][0]) if bids else None
                    r.ask = str(asks[0][0]) if asks else None
                    if bids and asks:
                        r.mids.append((state.elapsed, float(bids[0][0] + asks[0][0]) / 2))
                window = now
            state.md_gaps, state.md_reconnects = stream.gaps, stream.reconnects
    finally:
        state.md_gaps, state.md_reconnects = stream.gaps, stream.reconnects


async def run_demo(
    cfg: DemoConfig, *, on_tick: Callable[[DemoState], None] | None = None,
    say: Callable[[str], None] = print, make_trainer: MakeTrainer = SubprocessTrainer,
    load_policy: Callable[[Path], Any] = _load_rl,
) -> DemoState:  # fmt: skip
    """Start the venue, run every strategy until ``cfg.duration`` or cancellation; the state.

    ``make_trainer`` and ``load_policy``: how the rl strategy's policy is trained and
    loaded (tests inject fakes).
    """
    import httpx

    from makerkit.client import LiveRunner, VenueClient

    if cfg.source not in SOURCES:
        msg = f"invalid --source {cfg.source!r}, must be one of {list(SOURCES)}"
        raise ConfigError(msg)
    if cfg.duration is not None and cfg.duration <= 0:
        msg = f"invalid --duration, must be > 0, was {cfg.duration}"
        raise ConfigError(msg)
    rl = _rl_policy(cfg, say)
    strategies: list[tuple[str, Any]] = _strategies(cfg, None)
    if cfg.ccxt:
        from makerkit.cli._demo_ccxt import CcxtMaker, binance_exchange, require_ccxt

        require_ccxt()  # missing: refused before anything starts
        strategies.append(("ccxt", CcxtMaker))  # built once its account has a key and secret
    if rl is not None:
        strategies.append(("rl", None))  # it joins when its policy is ready
    admin_key = secrets.token_urlsafe(24)
    venue = VenueProcess(cfg, admin_key)
    pending: _PendingRL | None = None
    clients: list[Any] = []
    signing: dict[int, tuple[str, str]] = {}  # the ccxt participant's key and secret
    state = DemoState(url=venue.url, started=time.monotonic(), strategies=[],
                      symbols={s: SymbolRow(symbol=s) for s in cfg.symbols})  # fmt: skip
    if cfg.rl and rl is None:
        state.notes.append("rl strategy skipped: pip install makerkit[rl]")
    try:
        if rl is not None:  # trains or loads while the venue starts and the others trade
            pending = _PendingRL(rl[0], rl[1], cfg, make_trainer, load_policy)
            if rl[1]:
                say(f"the rl strategy joins once its policy is trained ({cfg.train_steps:,} "
                    "PPO steps in the background); the others trade meanwhile")  # fmt: skip
        await venue.wait_ready()
        keys: dict[str, Any] = {"url": venue.url, "admin_key": admin_key, "accounts": {}}
        async with VenueClient(venue.url, admin_key) as admin:
            for i, (name, strategy) in enumerate(strategies):
                account = await admin.create_account(f"mm-{name}")
                traded = _traded(strategy)  # a MarketMaker's own; the others take turns
                symbol = traded[0] if traded else cfg.symbols[i % len(cfg.symbols)]
                state.strategies.append(
                    StrategyRow(
                        name=name,
                        symbol=symbol,
                        account_id=account.account_id,
                        status=pending.status if strategy is None and pending else None,
                    )
                )
                clients.append(VenueClient(venue.url, account.api_key))
                keys["accounts"][name] = {"account_id": account.account_id,
                                          "symbol": symbol, "api_key": account.api_key}  # fmt: skip
                secret = getattr(account, "api_secret", None)
                if secret is not None:  # it signs the Binance-style API's requests
                    keys["accounts"][name]["api_secret"] = secret
                if name == "ccxt":
                    if not (secret and account.api_key):
                        msg = "the venue gave the ccxt participant's account no api_secret"
                        raise ConfigError(msg)
                    signing[i] = (account.api_key, secret)
        # this run's keys, to paste into the dashboard (a local demo's throwaway accounts)
        accounts = cfg.out_dir / "accounts.json"
        accounts.write_text(json.dumps(keys, indent=2))
        accounts.chmod(0o600)
        state.accounts_file = str(accounts)

        def runner(i: int, strategy: Any) -> Any:
            row = state.strategies[i]
            if i in signing:  # ccxt's Binance class, its urls on the venue
                return CcxtMaker(binance_exchange(venue.url, *signing[i]), row.symbol,
                                 decision_ms=cfg.decision_ms)  # fmt: skip
            return LiveRunner(strategy, clients[i], row.symbol, decision_ms=cfg.decision_ms)

        runners: list[Any] = [runner(i, st) if st is not None else None
                              for i, (_, st) in enumerate(strategies)]  # fmt: skip
        state.started = time.monotonic()
        md = asyncio.create_task(_market_data(state, venue.url))
        trading = [asyncio.create_task(r.run(seconds=cfg.duration)) for r in runners if r]
        try:
            _write_live(state, cfg.out_dir)
            while not all(t.done() for t in trading):
                await asyncio.sleep(1.0)
                if pending is not None and _join(pending, len(strategies) - 1, state, runners,
                                                 trading, runner, cfg):  # fmt: skip
                    pending = None
                await _sample(state, clients, runners)
                _write_live(state, cfg.out_dir)
                if on_tick is not None:
                    on_tick(state)
        finally:
            for t in trading:  # on Ctrl-C: each runner cancels its orders on the way out
                t.cancel()
            await asyncio.gather(*trading, return_exceptions=True)
            await _sample(state, clients, runners, final=True)
            with contextlib.suppress(MakerkitError, OSError, httpx.HTTPError):  # left resting
                pairs = zip(clients, state.strategies, strict=True)
                state.open_orders_left = sum([len(await c.open_orders(r.symbol)) for c, r in pairs])
            _write_live(state, cfg.out_dir)
            md.cancel()
            await asyncio.gather(md, return_exceptions=True)
        for row in state.strategies:
            if row.stopped:
                state.errors.append(f"{row.name} stopped: {row.stopped}")
            elif row.status is not None:
                state.notes.append(f"{row.name} did not trade: {row.status} when the demo ended")
    finally:
        if pending is not None:
            await pending.stop()
        for client in clients:
            await client.close()
        code = venue.stop()
        state.errors.extend(f"venue log: {line}" for line in venue.log_errors())
        if code not in (0, -signal.SIGINT):
            state.errors.append(f"the venue exited with code {code}")
    return state


def _join(
    pending: _PendingRL, i: int, state: DemoState, runners: list[Any], trading: list[Any],
    make_runner: Callable[[int, Any], Any], cfg: DemoConfig,
) -> bool:  # fmt: skip
    """Move the rl participant on; once its strategy is loaded, its runner starts.

    True when the participant is settled (trading, failed, or too late to join).
    """
    row = state.strategies[i]  # the last one
    strategy = pending.advance()
    row.status = pending.status
    if pending.error is not None:
        state.errors.append(f"rl: {pending.error}")
        return True
    if strategy is None:
        return False
    seconds = None if cfg.duration is None else cfg.duration - state.elapsed
    if seconds is not None and seconds < 2 * cfg.decision_ms / 1000:
        row.status = "ready too late to trade"
        return True
    runners[i] = make_runner(i, strategy)
    trading.append(asyncio.create_task(runners[i].run(seconds=seconds)))
    row.status = None
    return True


def table_rows(state: DemoState) -> list[dict[str, Any]]:
    """The live table's cells, one dict per participant: the terminal and the dashboard."""
    rows = []
    for r in state.strategies:
        status = r.status or ("stopped" if r.stopped else "trading")
        rows.append({
            "strategy": r.name, "symbol": r.symbol, "position": f"{r.position:g}",
            "pnl": f"{r.pnl:,.2f}", "fills": str(r.fills), "orders": str(r.orders),
            "spread": f"{r.spread:.2f}" if r.spread is not None else "-", "status": status,
            "pnl_value": r.pnl, "account_id": r.account_id,
        })  # fmt: skip
    return rows


def _write_live(state: DemoState, out_dir: Path) -> None:
    """This sample for the dashboard, replaced atomically (the venue reads it any time)."""
    body = {"running": True, "elapsed": round(state.elapsed, 1), "strategies": table_rows(state),
            "md_gaps": state.md_gaps, "errors": len(state.errors)}  # fmt: skip
    path = live_path(out_dir)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(msgspec.json.encode(body))
    tmp.replace(path)


def summary(state: DemoState) -> dict[str, Any]:
    """The report's numbers (the ``--json`` line)."""
    return {
        "url": state.url,
        "seconds": round(state.elapsed, 1),
        "strategies": [
            {
                "name": r.name,
                "symbol": r.symbol,
                "orders": r.orders,
                "cancelled": r.cancelled,
                "fills": r.fills,
                "position": r.position,
                "pnl": round(r.pnl, 4),
                "decisions": r.decisions,
                "quoting": r.orders > 0,
                "status": r.status or ("stopped" if r.stopped else "trading"),
            }
            for r in state.strategies
        ],
        "symbols": [
            {"symbol": s.symbol, "bid": s.bid, "ask": s.ask, "last": s.last, "updates": s.updates}
            for s in state.symbols.values()
        ],
        "md_gaps": state.md_gaps,
        "md_reconnects": state.md_reconnects,
        "accounts_file": state.accounts_file,
        "open_orders_left": state.open_orders_left,
        "errors": len(state.errors),
        "error_messages": state.errors[:20],
        "notes": state.notes,
    }


def write_demo_report(state: DemoState, out_dir: Path) -> tuple[Path, Path]:
    """``summary.json`` and ``report.html`` (PnL and position per strategy, mid per symbol)."""
    import html

    out_dir.mkdir(parents=True, exist_ok=True)
    numbers = summary(state)
    json_path = out_dir / "summary.json"
    json_path.write_text(json.dumps(numbers, indent=2))
    parts = ["<html><head><meta charset='utf-8'><title>makerkit demo</title>"]
    try:
        from makerkit.metrics import REPORT_STYLE as _STYLE
        from makerkit.metrics import png as _png
        from makerkit.metrics import pyplot as _pyplot

        plt = _pyplot()
        parts.append(_STYLE + "</head><body><h1>makerkit demo</h1>")
        fig, axes = plt.subplots(1, 3, figsize=(15, 3.8))
        for r in state.strategies:
            if r.history:
                t, pnl, pos = zip(*r.history, strict=True)
                axes[0].plot(t, pnl, label=r.name)
                axes[1].step(t, pos, where="post", label=r.name)
        for s in state.symbols.values():
            if s.mids:
                t, mid = zip(*s.mids, strict=True)
                axes[2].plot(t, mid, label=s.symbol)
        for ax, title in zip(axes, ("PnL (quote currency)", "position (lots)", "mid"),
                             strict=True):  # fmt: skip
            ax.set(title=title, xlabel="seconds")
            ax.legend(fontsize=7)
        parts.append(f"<img src='data:image/png;base64,{_png(fig)}'>")
        plt.close(fig)
    except MakerkitError as exc:  # no matplotlib: the tables still say it all
        parts.append(f"</head><body><h1>makerkit demo</h1><p>(no plots: {html.escape(str(exc))})")
    keys = ("name", "symbol", "orders", "fills", "position", "pnl", "decisions")
    head = "".join(f"<th>{k}</th>" for k in keys)
    rows = "".join("<tr>" + "".join(f"<td>{html.escape(str(s[k]))}</td>" for k in keys) + "</tr>"
                   for s in numbers["strategies"])  # fmt: skip
    parts.append(f"<h2>Strategies</h2><table><tr>{head}</tr>{rows}</table>")
    parts.append("<h2>Market data</h2><p>" + html.escape(
        f"gaps {state.md_gaps}, reconnects {state.md_reconnects}, errors {len(state.errors)}"
    ) + "</p>")  # fmt: skip
    for message in state.errors[:20]:
        parts.append(f"<p class='warn'>{html.escape(message)}</p>")
    parts.append("</body></html>")
    html_path = out_dir / "report.html"
    html_path.write_text("\n".join(parts))
    return json_path, html_path


# ---------------------------------------------------------------------- the command


def _tables(state: DemoState) -> Any:
    from rich.console import Group
    from rich.table import Table

    strategies = Table(title=f"market makers ({state.elapsed:,.0f} s)", title_justify="left")
    for col in ("strategy", "symbol", "position", "PnL", "fills", "orders", "spread quoted"):
        strategies.add_column(col, justify="left" if col in ("strategy", "symbol") else "right")
    for r in table_rows(state):
        name = r["strategy"] if r["status"] == "trading" else f"{r['strategy']} ({r['status']})"
        strategies.add_row(name, r["symbol"], r["position"], r["pnl"], r["fills"], r["orders"],
                           r["spread"])  # fmt: skip
    market = Table(title="market data", title_justify="left")
    for col in ("symbol", "best bid", "best ask", "last trade", "updates/s"):
        market.add_column(col, justify="left" if col == "symbol" else "right")
    for s in state.symbols.values():
        market.add_row(s.symbol, s.bid or "-", s.ask or "-", s.last or "-", f"{s.rate:,.0f}")
    foot = (f"dashboard: {state.url}/   (API keys for its account view: {state.accounts_file})\n"
            f"md gaps: {state.md_gaps}   errors: {len(state.errors)}"
            "   (Ctrl-C stops: orders cancelled, journal flushed)")  # fmt: skip
    return Group(strategies, market, foot)


_DEFAULT_FIRST = {"lobster": "GOOG", "binance": "BTCUSDT"}  # a recorded symbol we have


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """A SIGTERM stops the demo as a Ctrl-C does: quotes pulled, then the venue stopped.

    The venue runs in its own session, so without this a terminated demo left it running.
    """
    if threading.current_thread() is not threading.main_thread():
        yield  # signals are the main thread's
        return
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)


def demo_command(
    duration: float | None, out_dir: Path, port: int, symbols: str | None, source: str,
    market_rate: float, policy: Path | None, no_rl: bool, as_json: bool,
    user_strategies: tuple[str, ...] = (), params: dict[str, Any] | None = None,
    fitted: Any = None, fitted_path: Path | None = None, ccxt: bool = False,
) -> int:  # fmt: skip
    """Run the demo from the CLI; the exit code. ``fitted``: a parameters file, loaded."""
    from rich.console import Console
    from rich.live import Live
    from rich.markup import escape
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    out = Console()
    err = Console(stderr=True, soft_wrap=True)
    if symbols is None:
        first = _DEFAULT_FIRST.get(source)
        symbols = f"{first},AAA,BBB" if first else "AAA,BBB,CCC"
    names = tuple(s.strip().upper() for s in symbols.split(",") if s.strip())
    if fitted is not None:
        from makerkit.backtest import check_live

        try:
            check_live(fitted, names, fitted_path or "")
        except ConfigError as exc:
            err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
            return 2
    cfg = DemoConfig(symbols=names, port=port, duration=duration, out_dir=out_dir,
                     source=source, market_rate=market_rate, policy=policy,
                     rl=not no_rl, ccxt=ccxt, user_strategies=user_strategies,
                     params=params or {},
                     fitted=dict(fitted.strategies) if fitted is not None else {})  # fmt: skip
    say = err.print
    seen: list[DemoState] = []  # the state so far, for the report after a Ctrl-C

    def keep(s: DemoState) -> None:
        if not seen:
            seen.append(s)

    async def go() -> DemoState:
        if duration is None:  # interactive: the live table until Ctrl-C
            with Live(console=out, refresh_per_second=4, transient=False) as live:

                def show(s: DemoState) -> None:
                    keep(s)
                    live.update(_tables(s))

                return await run_demo(cfg, on_tick=show, say=say)
        columns = (TextColumn("{task.description}"), BarColumn(), TimeRemainingColumn())
        with Progress(*columns, console=err, transient=True) as bar:
            task = bar.add_task("demo running", total=duration)

            def tick(s: DemoState) -> None:
                keep(s)
                fills = sum(r.fills for r in s.strategies)
                text = f"demo on {s.url}: {fills} fills"
                bar.update(task, completed=min(s.elapsed, duration), description=text)

            return await run_demo(cfg, on_tick=tick, say=say)

    try:
        if not names:
            msg = "invalid --symbols, give at least one"
            raise ConfigError(msg)
        err.print(f"starting the venue (dashboard at http://127.0.0.1:{port or 'PORT'}/)")
        with _sigterm_as_interrupt():
            state = asyncio.run(go())
    except KeyboardInterrupt:  # the runners and the venue were stopped on the way out
        err.print("stopped: orders cancelled, venue shut down")
        if not seen:
            return 130
        state = seen[0]
    except MakerkitError as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
        return 2
    json_path, html_path = write_demo_report(state, out_dir)
    if duration is not None:
        (err if as_json else out).print(_tables(state))
    (err if as_json else out).print(f"report: {html_path}\nsummary: {json_path}")
    if as_json:
        sys.stdout.write(json.dumps(summary(state)) + "\n")
    return 1 if state.errors else 0
