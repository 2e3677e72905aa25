from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest

from makerkit.core import (
    ConfigError,
    DataError,
    Instrument,
    InvalidPrice,
    InvalidQuantity,
    MakerkitError,
    OrderRejected,
    RejectReason,
    Side,
    UnknownOrder,
    rejection,
)


@pytest.fixture
def inst() -> Instrument:
    return Instrument(symbol="AAPL", tick_size="0.01", lot_size="1")


@pytest.mark.parametrize(
    ("price", "ticks"), [("100.25", 10025), (Decimal("0.01"), 1), (3, 300), (100.1, 10010)]
)
def test_to_ticks_round_trips(inst: Instrument, price: object, ticks: int) -> None:
    assert inst.to_ticks(price) == ticks  # type: ignore[arg-type]
    assert inst.from_ticks(ticks) == Decimal(str(price)).quantize(Decimal("0.01"))


@pytest.mark.parametrize(
    ("price", "reason"),
    [
        ("100.005", RejectReason.OFF_TICK),
        ("0", RejectReason.NON_POSITIVE_PRICE),
        (-1, RejectReason.NON_POSITIVE_PRICE),
        ("abc", RejectReason.INVALID_FIELD),
        ("nan", RejectReason.NON_POSITIVE_PRICE),
    ],
)
def test_bad_prices_are_rejected_with_reason(
    inst: Instrument, price: object, reason: RejectReason
) -> None:
    with pytest.raises(InvalidPrice) as info:
        inst.to_ticks(price)  # type: ignore[arg-type]
    assert info.value.reason is reason
    assert "`price`" in str(info.value)


def test_sizes_and_lots() -> None:
    btc = Instrument(symbol="BTCUSDT", tick_size="0.1", lot_size="0.001")
    assert btc.to_lots("0.25") == 250
    assert btc.from_lots(250) == Decimal("0.250")
    assert btc.price_decimals == 1 and btc.size_decimals == 3
    with pytest.raises(InvalidQuantity) as info:
        btc.to_lots("0.0005")
    assert info.value.reason is RejectReason.OFF_LOT and info.value.code == "OFF_LOT"
    with pytest.raises(InvalidQuantity) as info:
        btc.to_lots(0)
    assert info.value.reason is RejectReason.NON_POSITIVE_QTY


def test_instrument_config_is_validated_and_strict() -> None:
    with pytest.raises(ConfigError, match="tick_size"):
        Instrument(symbol="X", tick_size="0")
    with pytest.raises(ConfigError, match="symbol"):
        Instrument(symbol="")
    with pytest.raises(msgspec.ValidationError, match="unknown field"):
        msgspec.json.decode(b'{"symbol": "X", "tick": "0.1"}', type=Instrument)
    loaded = msgspec.json.decode(b'{"symbol": "X", "tick_size": "0.5"}', type=Instrument)
    assert loaded.to_ticks("2.5") == 5


def test_error_tree_and_reason_mapping() -> None:
    assert issubclass(OrderRejected, MakerkitError) and issubclass(DataError, MakerkitError)
    err = rejection(RejectReason.UNKNOWN_ORDER)
    assert isinstance(err, UnknownOrder) and err.code == "UNKNOWN_ORDER"
    assert type(rejection(RejectReason.POST_ONLY_WOULD_CROSS)) is OrderRejected
    data = DataError("bad", path="f.csv", line=3, field="size")
    assert str(data) == "file f.csv, line 3, field `size`: bad"


def test_side_helpers() -> None:
    assert Side.BUY.sign == 1 and Side.SELL.sign == -1
    assert Side.BUY.opposite is Side.SELL and Side.SELL.opposite is Side.BUY


def test_reason_codes_are_stable() -> None:
    # published numbers: the wire format and the C++ engine rely on them
    assert [(r.name, r.value) for r in RejectReason][:11] == [
        ("NONE", 0), ("OFF_TICK", 1), ("OFF_LOT", 2), ("NON_POSITIVE_QTY", 3),
        ("NON_POSITIVE_PRICE", 4), ("UNKNOWN_ORDER", 5), ("DUPLICATE_ORDER_ID", 6),
        ("POST_ONLY_WOULD_CROSS", 7), ("NO_LIQUIDITY", 8), ("FOK_NOT_FILLABLE", 9),
        ("SELF_TRADE", 10),
    ]  # fmt: skip


def test_prices_and_sizes_stay_inside_the_integer_range(inst: Instrument) -> None:
    with pytest.raises(InvalidPrice) as info:
        inst.to_ticks("1e30")
    assert info.value.reason is RejectReason.INVALID_FIELD
    with pytest.raises(InvalidQuantity) as qinfo:
        inst.to_lots(10**12)
    assert qinfo.value.reason is RejectReason.INVALID_FIELD
