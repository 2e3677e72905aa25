"""Server settings: what ``makerkit serve`` reads from ``MAKERKIT_*`` variables.

Kept apart from the app so the service can name its settings type without
importing FastAPI's routing.
"""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict

from makerkit.core import Instrument

__all__ = ["Settings"]


class Settings(BaseSettings):
    """Server settings; every field can come from a ``MAKERKIT_<NAME>`` variable."""

    model_config = SettingsConfigDict(env_prefix="MAKERKIT_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8000
    journal: str = "makerkit-venue.db"
    # comma-separated: a bare name (AAA, quoted in `quote_asset`) or BASE/QUOTE (BTC/USDT,
    # listed as BTCUSDT)
    symbols: str = "AAA,BBB,CCC"
    tick_size: str = "0.01"
    lot_size: str = "1"
    quote_asset: str = "USD"
    # the smallest order: a size in the base asset (empty: one lot), a notional in the quote
    min_qty: str = ""
    min_notional: str = "0"
    # True: balances may go negative (sell what you do not hold, buy on credit); False: every
    # order must be covered by the account's free balance. A venue setting, journaled
    allow_short: bool = True
    admin_key: str | None = None
    backend: str | None = None
    maker_fee_ppm: int = 0
    taker_fee_ppm: int = 0
    # how long the journal's flusher waits for more commands before sealing a batch (0: it
    # seals what the loop applied as soon as it runs; batches grow with the load anyway,
    # since one commits while the next one fills)
    flush_interval_ms: float = 0.0
    # a venue snapshot every N journaled commands bounds recovery to N replays (0: never)
    snapshot_every: int = 100_000
    # False: recover by replaying the whole journal, snapshot files moved aside (the safe
    # path when recovery refuses a snapshot it cannot prove consistent)
    use_snapshots: bool = True
    # "full": every commit is fsync'd before its acks (no acknowledged order is lost to a
    # power cut); "normal": survives a killed process only
    journal_sync: str = "full"
    # finished orders and fills per account kept in memory; older ones live in the journal
    history_limit: int = 100_000
    # market data is sent to subscribers in ticks of this many ms (0: with every commit)
    md_interval_ms: float = 5.0
    # simulated order flow on every symbol (the market driver); commands/s per symbol
    market: bool = False
    market_rate: float = 1000.0
    market_seed: int = 7
    # anchor each market symbol on the same-named real ticker: yahoo or alphavantage
    market_source: str | None = None
    market_poll_s: float = 1.0
    # replay a recorded market into one symbol: a LOBSTER message file (its orderbook
    # file beside it) or a Binance depth capture, at `replay_speed` x real time
    replay: str | None = None
    replay_symbol: str | None = None
    replay_speed: float = 1.0
    # open orders per account (orders that could rest; 0: no cap); a venue setting, journaled
    max_open_orders: int = 10_000
    # a WebSocket frame or REST body larger than this is refused
    max_message_bytes: int = 64 * 1024
    # unauthenticated market-data requests: per connection, and per client address
    md_msgs_per_sec: float = 20.0
    md_burst: int = 50
    address_msgs_per_sec: float = 100.0
    address_burst: int = 200
    connections_per_address: int = 200  # open WebSocket connections
    # a subscriber whose unsent bytes pass this, or stay unsent this long, is cut off
    slow_consumer_bytes: int = 1 << 20
    slow_consumer_s: float = 5.0

    def instruments(self) -> list[Instrument]:
        """The listed instruments."""
        out = []
        for name in (s.strip() for s in self.symbols.split(",")):
            if not name:
                continue
            base, _, quote = name.partition("/")
            out.append(
                Instrument(
                    symbol=base + quote if quote else base,
                    base=base if quote else "",
                    quote=quote or self.quote_asset,
                    tick_size=self.tick_size,
                    lot_size=self.lot_size,
                    min_qty=self.min_qty,
                    min_notional=self.min_notional,
                )
            )
        return out
