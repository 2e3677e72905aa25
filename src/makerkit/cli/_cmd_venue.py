"""The venue's commands: ``demo``, ``serve``, ``version`` and ``run-strategy`` (live trading).

Plain functions: ``_app.py`` registers them on the top-level app, in ``--help`` order.
"""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Annotated, Any

import msgspec
import typer

from makerkit.book import BACKEND
from makerkit.cli._common import (
    BackendOpt,
    JsonOpt,
    ParamsOpt,
    PolicyOpt,
    _fail,
    _fitted,
    _json_line,
    _make_strategy,
    _parse_params,
    _with_fitted,
    err,
    out,
)
from makerkit.core import ConfigError, MakerkitError


def demo(
    duration: Annotated[
        float | None,
        typer.Option(
            help="Run this many seconds headless, then write the report (default: "
            "a live table until Ctrl-C)."
        ),
    ] = None,
    out_dir: Annotated[
        Path, typer.Option("--out", help="Folder for summary.json, report.html, the journal.")
    ] = Path("runs/demo"),
    port: Annotated[int, typer.Option(help="The venue's port (0: any free one).")] = 8000,
    symbols: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated symbols (default AAA,BBB,CCC; with lobster or binance the "
            "recorded symbol first: GOOG or BTCUSDT)."
        ),
    ] = None,
    source: Annotated[
        str,
        typer.Option(
            help="synthetic, or anchor on real data: yahoo, alphavantage (live "
            "quotes), lobster, binance (the first symbol replays a recorded day)."
        ),
    ] = "synthetic",
    market_rate: Annotated[
        float, typer.Option(help="Simulated commands per second per symbol.")
    ] = 500.0,
    policy: Annotated[
        Path | None, typer.Option(help="The rl strategy's policy.zip (default: train one).")
    ] = None,
    no_rl: Annotated[bool, typer.Option("--no-rl", help="Leave the rl strategy out.")] = False,
    ccxt: Annotated[
        bool,
        typer.Option(
            "--ccxt",
            help="Add a market maker written against ccxt's Binance class, trading through "
            "the venue's Binance API (needs ccxt: the test extra).",
        ),
    ] = False,
    strategy: Annotated[
        list[str] | None,
        typer.Option(
            help="Also run your own strategy, path/to/file.py:ClassName (repeatable); a "
            "MarketMaker trades its own symbols."
        ),
    ] = None,
    param: Annotated[
        list[str] | None, typer.Option(help="NAME=VALUE for your strategies (repeatable).")
    ] = None,
    params_file: ParamsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The main job: the venue with a live market, every strategy trading it, the dashboard."""
    from makerkit.cli._demo import demo_command

    try:
        params = _parse_params(param or [])
        fitted = _fitted(params_file, None)
    except MakerkitError as exc:
        raise _fail(exc) from exc
    code = demo_command(duration, out_dir, port, symbols, source, market_rate, policy,
                        no_rl, as_json, tuple(strategy or ()), params, fitted,
                        params_file, ccxt=ccxt)  # fmt: skip
    raise typer.Exit(code)


def serve(
    host: Annotated[
        str, typer.Option(help="Interface to bind (loopback by default).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    journal: Annotated[
        str, typer.Option(help="SQLite journal; the venue recovers from it on start.")
    ] = "makerkit-venue.db",
    symbols: Annotated[str, typer.Option(help="Comma-separated symbols to list.")] = "AAA,BBB,CCC",
    admin_key: Annotated[
        str | None,
        typer.Option(
            envvar="MAKERKIT_ADMIN_KEY", help="Key of the admin account created on first start."
        ),
    ] = None,
    backend: BackendOpt = None,
    snapshot_every: Annotated[
        int,
        typer.Option(
            min=0,
            help="Snapshot the venue every N commands; recovery replays at most N (0: never).",
        ),
    ] = 100_000,
    no_snapshot: Annotated[
        bool,
        typer.Option(
            "--no-snapshot",
            help="Recover by replaying the whole journal, with the snapshot files moved aside "
            "into <journal>.snapshots/rejected/ (the safe path when recovery refuses one).",
        ),
    ] = False,
    market: Annotated[
        bool, typer.Option(help="Animate every symbol with the order-flow simulator.")
    ] = False,
    market_rate: Annotated[
        float, typer.Option(min=1.0, help="Simulated commands per second per symbol.")
    ] = 1000.0,
    replay: Annotated[
        Path | None,
        typer.Option(help="Replay a LOBSTER message file or a Binance capture into a symbol."),
    ] = None,
    replay_symbol: Annotated[
        str | None, typer.Option(help="Symbol the replay feeds (default: the first).")
    ] = None,
    speed: Annotated[float, typer.Option(min=0.001, help="Replay speed (x real time).")] = 1.0,
    source: Annotated[
        str | None,
        typer.Option(
            help="With --market: anchor each symbol on the real ticker of the same name "
            "(yahoo or alphavantage), polled every --poll seconds."
        ),
    ] = None,
    poll: Annotated[float, typer.Option(min=0.2, help="Seconds between anchor quotes.")] = 1.0,
) -> None:
    """Run the venue: REST + WebSocket API with journal and recovery (needs the server extra)."""
    try:
        import uvicorn

        from makerkit.server import Settings, VenueWSProtocol, create_app
    except ImportError as exc:  # pragma: no cover - depends on the install
        err.print(f"[bold red]error:[/] the server needs `pip install makerkit[server]` ({exc})")
        raise typer.Exit(2) from exc
    settings = Settings(
        host=host,
        port=port,
        journal=journal,
        symbols=symbols,
        admin_key=admin_key,
        backend=backend,
        snapshot_every=snapshot_every,
        use_snapshots=not no_snapshot,
        market=market,
        market_rate=market_rate,
        replay=str(replay) if replay else None,
        replay_symbol=replay_symbol,
        replay_speed=speed,
        market_source=source,
        market_poll_s=poll,
    )
    # The venue holds many long-lived objects and makes little cyclic garbage:
    # rarer collections keep full-heap GC pauses out of the order path.
    gc.set_threshold(100_000, 50, 100)
    # recovered here, not in the app's startup, so a refusal is a message and an exit code
    from rich.markup import escape

    from makerkit.core import RecoveryRefused
    from makerkit.server import VenueService

    try:
        service = VenueService.from_settings(settings)
    except RecoveryRefused as exc:
        err.print(f"[bold red]error:[/] recovery refused: {escape(str(exc))}", highlight=False)
        raise typer.Exit(3) from exc
    except MakerkitError as exc:
        raise _fail(exc) from exc
    # said once the journal was recovered: a start that fails never reads as a running venue
    err.print(f"makerkit venue on http://{host}:{port} (docs at /docs), journal {journal}")
    uvicorn.run(
        create_app(settings, service=service),
        host=host,
        port=port,
        log_level="warning",
        ws=VenueWSProtocol,  # websockets-sansio, frames written straight to the socket
        ws_per_message_deflate=False,  # compressing small JSON frames costs more than it saves
        # frames past max_message_bytes get an error; past 1 MiB the connection is closed
        # (1009) before the venue buffers them
        ws_max_size=1 << 20,
    )


def version() -> None:
    """Print the version and the selected book backend."""
    from importlib.metadata import version as pkg_version

    out.print(f"makerkit {pkg_version('makerkit')} (book backend: {BACKEND})")


def run_strategy(
    name: Annotated[str, typer.Argument(help="Strategy name (see makerkit.strategies).")],
    server: Annotated[str, typer.Option(help="Venue base URL.")] = "http://127.0.0.1:8000",
    api_key: Annotated[
        str | None, typer.Option(envvar="MAKERKIT_API_KEY", help="Your account's API key.")
    ] = None,
    symbol: Annotated[
        str | None,
        typer.Option(
            help="Symbol a one-level strategy makes a market in (default AAA); a "
            "MarketMaker trades its own symbols."
        ),
    ] = None,
    param: Annotated[
        list[str] | None, typer.Option(help="Strategy parameter NAME=VALUE (repeatable).")
    ] = None,
    seconds: Annotated[
        float | None, typer.Option(help="Stop after this long (default: until Ctrl-C).")
    ] = None,
    decision_ms: Annotated[float, typer.Option(help="Milliseconds between decisions.")] = 100.0,
    policy: PolicyOpt = None,
    params_file: ParamsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Run a strategy live against a venue; its orders are cancelled when it stops."""
    import asyncio

    from makerkit.client import LiveRunner, VenueClient

    if not api_key:
        err.print("[bold red]error:[/] an API key is needed: --api-key or MAKERKIT_API_KEY")
        raise typer.Exit(2)
    try:
        fitted = _fitted(params_file, None)
        if fitted is not None:
            from makerkit.backtest import check_live

            check_live(fitted, (symbol or "AAA",), params_file or "")
        params = _with_fitted(fitted, name, _parse_params(param or []))
        strategy = _make_strategy(name, params, policy)
        if symbol is not None and callable(getattr(strategy, "decide", None)):
            msg = (
                f"--symbol is for one-level strategies; {name} is a MarketMaker and trades "
                f"its own symbols {tuple(getattr(strategy, 'symbols', ()))}: set them with "
                "its --param (e.g. --param symbol=AAA)"
            )
            raise ConfigError(msg)
    except MakerkitError as exc:
        raise _fail(exc) from exc

    async def go() -> Any:
        async with VenueClient(server, api_key) as client:
            runner = LiveRunner(strategy, client, symbol or "AAA", decision_ms=decision_ms)
            return await runner.run(seconds=seconds)

    try:
        summary = asyncio.run(go())
    except (MakerkitError, OSError, ValueError) as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(2) from exc
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    body = msgspec.to_builtins(summary)
    (err if as_json else out).print(body)
    if as_json:
        _json_line(body)
