"""Instrument definition: the one place where decimals become ticks and lots."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from functools import lru_cache

import msgspec

from makerkit.core._enums import RejectReason
from makerkit.core.errors import ConfigError, InvalidPrice, InvalidQuantity

__all__ = ["MAX_UNITS", "Instrument", "format_units"]

# prices and sizes stay far inside int64 so that price x size never overflows in C++
MAX_UNITS = 2**31

DecimalLike = Decimal | str | int | float


@lru_cache(maxsize=1024)
def _grid(tick_size: str, lot_size: str) -> tuple[int, int, int, int]:
    """(tick in 10^-d units, d, lot in 10^-e units, e) for fast integer formatting."""
    tick, lot = Decimal(tick_size), Decimal(lot_size)
    d = max(0, -int(tick.normalize().as_tuple().exponent))
    e = max(0, -int(lot.normalize().as_tuple().exponent))
    return int(tick.scaleb(d)), d, int(lot.scaleb(e)), e


def format_units(units: int, decimals: int) -> str:
    """Format an integer count of 10^-decimals as a decimal string."""
    if decimals == 0:
        return str(units)
    sign = "-" if units < 0 else ""
    whole, frac = divmod(abs(units), 10**decimals)
    return f"{sign}{whole}.{frac:0{decimals}d}"


def _config_decimal(instrument: Instrument, name: str) -> Decimal:
    raw = getattr(instrument, name)
    try:
        value = Decimal(raw)
    except InvalidOperation as exc:
        msg = f"invalid `{name}`, must be a decimal string, was {raw!r}"
        raise ConfigError(msg) from exc
    if not value.is_finite():
        msg = f"invalid `{name}`, must be finite, was {raw!r}"
        raise ConfigError(msg)
    return value


def _as_decimal(value: DecimalLike, name: str) -> Decimal:
    # floats go through repr so 0.1 becomes Decimal("0.1"), not 0.1000000000000000055...
    try:
        return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    except (InvalidOperation, ValueError) as exc:
        msg = f"invalid `{name}`, must be a decimal number, was {value!r}"
        raise InvalidPrice(msg, RejectReason.INVALID_FIELD) from exc


class Instrument(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A tradable symbol with its price and size grids.

    ``tick_size`` and ``lot_size`` are decimal strings so that configs written
    by hand stay exact.
    """

    symbol: str
    tick_size: str = "0.01"
    lot_size: str = "1"
    # what one lot is of (empty: the symbol itself) and what prices are in
    base: str = ""
    quote: str = "USD"
    # the smallest order: a size (empty: one lot) and a notional in the quote asset
    min_qty: str = ""
    min_notional: str = "0"

    def __post_init__(self) -> None:
        if not self.symbol:
            msg = "invalid `symbol`, must be non-empty, was ''"
            raise ConfigError(msg)
        for name in ("tick_size", "lot_size"):
            value = _config_decimal(self, name)
            if value <= 0:
                msg = f"invalid `{name}`, must be > 0, was {getattr(self, name)!r}"
                raise ConfigError(msg)
        for name in ("base", "quote"):
            asset = getattr(self, name)
            if asset and not (asset.isascii() and asset.isalnum()):
                msg = f"invalid `{name}`, must be letters and digits, was {asset!r}"
                raise ConfigError(msg)
        if not self.quote:
            msg = "invalid `quote`, must be non-empty, was ''"
            raise ConfigError(msg)
        if self.min_qty:
            min_qty = _config_decimal(self, "min_qty")
            if min_qty <= 0 or min_qty % self.lot != 0:
                msg = (
                    f"invalid `min_qty`, must be a positive multiple of lot {self.lot_size}, "
                    f"was {self.min_qty!r}"
                )
                raise ConfigError(msg)
        if _config_decimal(self, "min_notional") < 0:
            msg = f"invalid `min_notional`, must be >= 0, was {self.min_notional!r}"
            raise ConfigError(msg)

    @property
    def base_asset(self) -> str:
        """What one lot is of: ``base``, or the symbol when none is named."""
        return self.base or self.symbol

    @property
    def quote_asset(self) -> str:
        """The asset prices, cash and fees are in."""
        return self.quote

    @property
    def exchange_symbol(self) -> str:
        """The symbol exchanges print: base then quote (``AAA`` quoted in USD is ``AAAUSD``)."""
        return self.base_asset + self.quote_asset

    @property
    def min_lots(self) -> int:
        """The smallest order size in lots (at least one)."""
        return int(Decimal(self.min_qty) / self.lot) if self.min_qty else 1

    @property
    def min_notional_value(self) -> Decimal:
        """The smallest order notional (price x size) in the quote asset."""
        return Decimal(self.min_notional)

    @property
    def min_notional_units(self) -> int:
        """The smallest notional in tick-lots (price ticks x lots), rounded up."""
        per_unit = self.tick * self.lot
        units, rest = divmod(self.min_notional_value, per_unit)
        return int(units) + (1 if rest else 0)

    @property
    def tick(self) -> Decimal:
        """Return the tick size as a Decimal."""
        return Decimal(self.tick_size)

    @property
    def lot(self) -> Decimal:
        """Return the lot size as a Decimal."""
        return Decimal(self.lot_size)

    @property
    def price_decimals(self) -> int:
        """Return how many decimals a price needs when printed."""
        return max(0, -int(self.tick.normalize().as_tuple().exponent))

    @property
    def size_decimals(self) -> int:
        """Return how many decimals a size needs when printed."""
        return max(0, -int(self.lot.normalize().as_tuple().exponent))

    def to_ticks(self, price: DecimalLike) -> int:
        """Convert a decimal price to integer ticks, rejecting off-tick and non-positive prices."""
        if isinstance(price, str):  # the wire's form: the same few prices, over and over
            return _str_ticks(self, price)
        return self._to_ticks(price)

    def to_lots(self, size: DecimalLike) -> int:
        """Convert a decimal size to integer lots, rejecting off-lot and non-positive sizes."""
        if isinstance(size, str):
            return _str_lots(self, size)
        return self._to_lots(size)

    def _to_ticks(self, price: DecimalLike) -> int:
        value = _as_decimal(price, "price")
        if not value.is_finite() or value <= 0:
            msg = f"invalid `price`, must be > 0, was {price!r}"
            raise InvalidPrice(msg, RejectReason.NON_POSITIVE_PRICE)
        if value >= self.tick * MAX_UNITS:
            msg = f"invalid `price`, must be below {MAX_UNITS} ticks, was {price!r}"
            raise InvalidPrice(msg, RejectReason.INVALID_FIELD)
        ticks, rest = divmod(value, self.tick)
        if rest != 0:
            msg = f"invalid `price`, must be a multiple of tick {self.tick_size}, was {price!r}"
            raise InvalidPrice(msg, RejectReason.OFF_TICK)
        return int(ticks)

    def _to_lots(self, size: DecimalLike) -> int:
        value = _as_decimal(size, "size")
        if not value.is_finite() or value <= 0:
            msg = f"invalid `size`, must be > 0, was {size!r}"
            raise InvalidQuantity(msg, RejectReason.NON_POSITIVE_QTY)
        if value >= self.lot * MAX_UNITS:
            msg = f"invalid `size`, must be below {MAX_UNITS} lots, was {size!r}"
            raise InvalidQuantity(msg, RejectReason.INVALID_FIELD)
        lots, rest = divmod(value, self.lot)
        if rest != 0:
            msg = f"invalid `size`, must be a multiple of lot {self.lot_size}, was {size!r}"
            raise InvalidQuantity(msg, RejectReason.OFF_LOT)
        return int(lots)

    def price_str(self, ticks: int) -> str:
        """Format integer ticks as a decimal string (fast path for the wire)."""
        return format_units(ticks * self._units[0], self._units[1])

    def size_str(self, lots: int) -> str:
        """Format integer lots as a decimal string (fast path for the wire)."""
        return format_units(lots * self._units[2], self._units[3])

    @property
    def _units(self) -> tuple[int, int, int, int]:
        return _grid(self.tick_size, self.lot_size)

    @property
    def grid(self) -> tuple[int, int, int, int]:
        """(tick, price decimals, lot, size decimals), for hot-path formatting.

        ``format_units(ticks * tick, price decimals)`` is the price as a string,
        and likewise for sizes.
        """
        return self._units

    def from_ticks(self, ticks: int) -> Decimal:
        """Convert integer ticks back to a decimal price."""
        return (self.tick * ticks).quantize(Decimal(1).scaleb(-self.price_decimals))

    def from_lots(self, lots: int) -> Decimal:
        """Convert integer lots back to a decimal size."""
        return (self.lot * lots).quantize(Decimal(1).scaleb(-self.size_decimals))


# Conversions of wire strings, remembered (a refusal raises, so it is never cached);
# keyed by the instrument, whose grid decides the answer.
@lru_cache(maxsize=65_536)
def _str_ticks(instrument: Instrument, price: str) -> int:
    return instrument._to_ticks(price)


@lru_cache(maxsize=65_536)
def _str_lots(instrument: Instrument, size: str) -> int:
    return instrument._to_lots(size)
