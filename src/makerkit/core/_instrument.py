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

    def __post_init__(self) -> None:
        if not self.symbol:
            msg = "invalid `symbol`, must be non-empty, was ''"
            raise ConfigError(msg)
        for name in ("tick_size", "lot_size"):
            raw = getattr(self, name)
            try:
                value = Decimal(raw)
            except InvalidOperation as exc:
                msg = f"invalid `{name}`, must be a decimal string, was {raw!r}"
                raise ConfigError(msg) from exc
            if not value.is_finite() or value <= 0:
                msg = f"invalid `{name}`, must be > 0, was {raw!r}"
                raise ConfigError(msg)

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
