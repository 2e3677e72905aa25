"""The msgspec WebSocket request decoder: fields, strict input rules, duplicate keys, errors."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from makerkit.core import MakerkitError
from makerkit.wire import WsRequestError, _ws, find_duplicate_key
from makerkit.wire import _models as pydantic_models
from makerkit.wire._ws import (
    WsCancel,
    WsModify,
    WsOrder,
    WsSubscribe,
    WsUnsubscribe,
    parse_ws_request,
)

ORDER = {
    "op": "order",
    "symbol": "AAA",
    "side": "buy",
    "qty": "1",
    "price": "90.00",
    "tif": "post_only",
    "req_id": 17,
}


def frame(**fields: Any) -> str:
    return json.dumps({**ORDER, **fields})


def refused(raw: str | bytes) -> WsRequestError:
    with pytest.raises(WsRequestError) as info:
        parse_ws_request(raw)
    return info.value


# ---------------------------------------------------------------------- what parses


def test_a_typical_order_has_the_fields_of_the_pydantic_one() -> None:
    req = parse_ws_request(frame())
    assert isinstance(req, WsOrder) and req.op == "order"
    assert (req.symbol, req.side, req.qty, req.price) == ("AAA", "buy", "1", "90.00")
    assert (req.type, req.tif, req.client_order_id, req.stp, req.req_id) == (
        "limit",
        "post_only",
        None,
        "cancel_newest",
        17,
    )
    legacy = pydantic_models.parse_ws_request(frame())
    for field in ("symbol", "side", "qty", "price", "type", "tif", "client_order_id", "stp"):
        assert getattr(req, field) == getattr(legacy, field), field


def test_text_and_binary_frames_decode_alike() -> None:
    text = frame(client_order_id="c-1", req_id="r 1")
    assert parse_ws_request(text) == parse_ws_request(text.encode())
    assert parse_ws_request(text.encode()).req_id == "r 1"  # type: ignore[union-attr]


def test_cancel_modify_subscribe_and_unsubscribe() -> None:
    cancel = parse_ws_request('{"op": "cancel", "order_id": 5, "symbol": "AAA", "req_id": "x"}')
    assert isinstance(cancel, WsCancel) and cancel.op == "cancel"
    assert (cancel.order_id, cancel.symbol, cancel.client_order_id, cancel.all) == (
        5,
        "AAA",
        None,
        False,
    )
    assert parse_ws_request('{"op": "cancel", "all": true}') == WsCancel(all=True)
    modify = parse_ws_request('{"op":"modify","symbol":"AAA","order_id":3,"price":"100.20"}')
    assert isinstance(modify, WsModify) and (modify.price, modify.qty) == ("100.20", None)
    sub = parse_ws_request('{"op": "subscribe", "channel": "book", "symbol": "AAA"}')
    assert isinstance(sub, WsSubscribe) and (sub.op, sub.channel, sub.depth) == (
        "subscribe",
        "book",
        1000,
    )
    unsub = parse_ws_request('{"op":"unsubscribe","channel":"l1","symbol":"AAA","depth":5}')
    assert isinstance(unsub, WsUnsubscribe) and isinstance(unsub, WsSubscribe)
    assert (unsub.op, unsub.depth) == ("unsubscribe", 5)


@pytest.mark.parametrize("depth", [0, 5001, -1, True, 1.5, "10"])
def test_the_book_depth_is_an_integer_from_1_to_5000(depth: object) -> None:
    raw = json.dumps({"op": "subscribe", "channel": "book", "symbol": "AAA", "depth": depth})
    assert refused(raw).field == "depth"
    for ok in (1, 5000):
        raw = json.dumps({"op": "subscribe", "channel": "book", "symbol": "AAA", "depth": ok})
        assert parse_ws_request(raw).depth == ok  # type: ignore[union-attr]


def test_explicit_defaults_and_colons_in_values_are_not_mistaken_for_duplicates() -> None:
    req = parse_ws_request(
        frame(
            type="limit",
            tif="gtc",
            stp="cancel_newest",
            client_order_id="a:b:c",
            symbol="qty",
            price=None,
        )
    )
    assert (req.symbol, req.client_order_id, req.price) == ("qty", "a:b:c", None)  # type: ignore[union-attr]
    assert parse_ws_request('{"op":"cancel","symbol":null,"order_id":2,"all":false}') == (
        WsCancel(order_id=2)
    )
    spaced = '{ "op" : "order" ,\n "symbol" : "AAA", "side":"sell", "qty" :"2" }'
    assert parse_ws_request(spaced).qty == "2"  # type: ignore[union-attr]


def test_absent_fields_hold_their_default_objects() -> None:
    """The hot path's duplicate-key bound tests the defaults by identity."""
    req = parse_ws_request('{"op":"order","symbol":"AAA","side":"buy","qty":"1","price":"1"}')
    assert isinstance(req, WsOrder)
    assert req.type is _ws._LIMIT and req.tif is _ws._GTC and req.stp is _ws._CANCEL_NEWEST


# ---------------------------------------------------------------------- decimals


@pytest.mark.parametrize(
    "value",
    [
        "\uff11\uff10",  # fullwidth 10: Python's Decimal and pydantic's \d took it
        "\u0661\u0660",  # Arabic-Indic 10
        "\u0967",  # Devanagari 1
        "10\n",
        "1e5",
        "+1",
        ".5",
        "1.",
        " 1",
        "1 ",
        "0x10",
        "NaN",
        "Infinity",
        "",
        "1" * 41,
        "1,5",
    ],
)
def test_decimals_are_ascii_digits(value: str) -> None:
    err = refused(frame(qty=value))
    assert err.field == "qty" and err.req_id == 17
    assert str(err).startswith("invalid `qty`: must be a decimal string of ASCII digits")
    assert refused(frame(price=value)).field == "price"
    modify = {"op": "modify", "symbol": "AAA", "order_id": 1, "qty": value}
    assert refused(json.dumps(modify)).field == "qty"


def test_escaped_non_ascii_digits_are_refused_too() -> None:
    raw = frame().replace('"qty": "1"', '"qty": "\\uff11"')
    assert refused(raw).field == "qty"


@pytest.mark.parametrize("value", ["0", "1", "90.00", "-1", "123456789.123456789", "1" * 40])
def test_well_formed_decimals_pass(value: str) -> None:
    assert parse_ws_request(frame(qty=value, price=value)).qty == value  # type: ignore[union-attr]


def test_the_memo_of_valid_decimals_is_bounded() -> None:
    for i in range(_ws._SEEN_MAX + 100):
        parse_ws_request(frame(price=f"{i}.5"))
    assert len(_ws._DECIMALS_OK) <= _ws._SEEN_MAX


# ---------------------------------------------------------------------- integers


@pytest.mark.parametrize(
    "value", ["false", "true", "1.0", "1e400", "1e3", "0", "-1", str(2**63), "10" * 200, '"1"']
)
def test_order_ids_are_strict_bounded_integers(value: str) -> None:
    err = refused(f'{{"op": "cancel", "order_id": {value}, "req_id": 3}}')
    assert (err.field, err.req_id) == ("order_id", 3)
    assert "invalid `order_id`: must be an integer from 1 to 9223372036854775807" in str(err)


def test_the_largest_order_id_passes() -> None:
    req = parse_ws_request(f'{{"op":"cancel","order_id":{2**63 - 1}}}')
    assert isinstance(req, WsCancel) and req.order_id == 2**63 - 1


@pytest.mark.parametrize("value", ["true", "1.5", "[1]", '""', json.dumps("x" * 65), '"a\\u202eb"'])
def test_a_req_id_is_an_int_or_short_printable_ascii(value: str) -> None:
    raw = frame().replace('"req_id": 17', f'"req_id": {value}')
    err = refused(raw)
    assert err.field == "req_id" and err.req_id is None


# ---------------------------------------------------------------------- identifiers


@pytest.mark.parametrize(
    "value",
    [
        "a\u0000b",  # NUL
        "a\u202eb",  # right-to-left override
        "a\u2066b",  # left-to-right isolate
        "a\u200fb",  # right-to-left mark
        "a\tb",
        "a\nb",
        "a\u007fb",  # DEL
        "a b",
        "caf\u00e9",
        "x" * 65,
        "",
    ],
)
def test_client_order_ids_are_printable_ascii_without_spaces(value: str) -> None:
    err = refused(frame(client_order_id=value))
    assert err.field == "client_order_id" and err.req_id == 17
    # ASCII-escaped in the message: nothing invisible reaches a log
    assert str(err).isascii() and "\x00" not in str(err)
    cancel = json.dumps({"op": "cancel", "client_order_id": value, "symbol": "AAA"})
    assert refused(cancel).field == "client_order_id"


def test_raw_control_and_bidi_bytes_in_a_binary_frame_are_refused() -> None:
    raw = frame(client_order_id="PLACEHOLDER").encode()
    assert refused(raw.replace(b"PLACEHOLDER", "a\u202eb".encode())).field == "client_order_id"
    assert refused(raw.replace(b"PLACEHOLDER", b"a\x7fb")).field == "client_order_id"
    err = refused(raw.replace(b"PLACEHOLDER", b"a\x00b"))  # JSON forbids raw controls
    assert err.field == "" and err.req_id is None


def test_sixty_four_printable_characters_make_a_client_order_id() -> None:
    cid = "".join(chr(c) for c in range(0x21, 0x7F))[:64]
    assert parse_ws_request(frame(client_order_id=cid)).client_order_id == cid  # type: ignore[union-attr]


@pytest.mark.parametrize("value", ["x" * 30_000, "x" * 33, "A A", "\uff21", "a\u202e", ""])
def test_symbols_are_short_printable_ascii_everywhere(value: str) -> None:
    """A 30 KB symbol on a WS cancel went into the journal (issue 14, item 3)."""
    for raw in (
        json.dumps({"op": "cancel", "symbol": value, "order_id": 1, "req_id": 8}),
        json.dumps({"op": "modify", "symbol": value, "order_id": 1, "qty": "1", "req_id": 8}),
        json.dumps({"op": "subscribe", "channel": "book", "symbol": value}),
        frame(symbol=value, req_id=8),
    ):
        err = refused(raw)
        assert err.field == "symbol", raw[:80]
        assert len(str(err)) < 200


def test_thirty_kilobyte_client_order_ids_on_cancel_are_refused() -> None:
    err = refused(json.dumps({"op": "cancel", "symbol": "AAA", "client_order_id": "y" * 30_000}))
    assert err.field == "client_order_id" and len(str(err)) < 200


# ---------------------------------------------------------------------- duplicate keys


@pytest.mark.parametrize(
    "raw",
    [
        '{"op":"order","symbol":"AAA","side":"buy","qty":"1","qty":"100","price":"9","req_id":5}',
        '{"op":"order","symbol":"AAA","side":"buy","qty":"1","qty":"1","price":"9","req_id":5}',
        '{"op":"order","symbol":"AAA","side":"buy","qty":"1","q\\u0074y":"2","price":"9","req_id":5}',
        '{"op":"order","op":"order","symbol":"AAA","side":"buy","qty":"1","req_id":5}',
        '{"op":"order","symbol":"AAA","symbol":"BBB","side":"buy","qty":"1","req_id":5}',
        '{"op":"order","symbol":"AAA","side":"buy","qty":"1","type":"limit","type":"market",'
        '"req_id":5}',
        '{"op":"order","symbol":"AAA","side":"buy","side":"sell","qty":"1","price":"9",'
        '"client_order_id":"a:b","req_id":5}',
        '{"op":"cancel","order_id":1,"order_id":2,"req_id":5}',
        '{"op":"cancel","all":true,"all":false,"req_id":5}',
        '{"op":"modify","symbol":"AAA","order_id":1,"price":"1","price":"2","req_id":5}',
    ],
)
def test_duplicate_keys_are_refused(raw: str) -> None:
    for frame_ in (raw, raw.encode()):
        err = refused(frame_)
        assert "occurs more than once" in str(err)
        assert err.req_id == 5


def test_duplicate_keys_are_refused_once_the_values_are_known_good() -> None:
    """The hot paths remember valid values; a repeated key still gets its closer look."""
    order = '{"op":"order","symbol":"AAA","side":"buy","qty":"1","price":"9","req_id":5}'
    cancel = '{"op":"cancel","order_id":1,"symbol":"AAA","req_id":5}'
    for raw, repeat in ((order, '"side":"buy",'), (cancel, '"order_id":1,')):
        for _ in range(3):
            assert parse_ws_request(raw) == parse_ws_request(raw.encode())
        twice = raw.replace(repeat, repeat * 2)
        assert "occurs more than once" in str(refused(twice))
        assert "occurs more than once" in str(refused(twice.encode()))
        # a repeated key that only replaces a default: the colon count still sees it
        extra = raw.replace('"req_id":5', '"req_id":5,"req_id":6')
        assert refused(extra).field == "req_id"


def test_duplicate_keys_in_a_subscribe_and_of_req_id() -> None:
    err = refused('{"op":"subscribe","channel":"book","channel":"l1","symbol":"AAA"}')
    assert (err.field, err.req_id) == ("channel", None)
    err = refused('{"op":"cancel","order_id":1,"req_id":5,"req_id":6}')
    assert err.field == "req_id" and err.req_id is None  # which one would be the client's?


def test_find_duplicate_key() -> None:
    assert find_duplicate_key('{"a": 1, "b": {"c": 1, "c": 2}}') == "c"
    assert find_duplicate_key(b'{"a": 1, "\\u0061": 2}') == "a"
    assert find_duplicate_key('{"a": 1, "b": 2}') is None
    assert find_duplicate_key("{not json") is None
    assert find_duplicate_key("[" * 100_000) is None


# ---------------------------------------------------------------------- errors


def test_the_error_is_a_makerkit_error_with_the_stable_code() -> None:
    err = refused(frame(qty="\uff11\uff10"))
    assert isinstance(err, MakerkitError) and isinstance(err, ValueError)
    assert err.code == WsRequestError.code == "INVALID_REQUEST"
    assert str(err) == (
        'invalid `qty`: must be a decimal string of ASCII digits like "100.25", '
        'at most 40 characters, was "\\uff11\\uff10"'
    )


@pytest.mark.parametrize(
    ("raw", "field", "message"),
    [
        ('{"op":"order","symbol":"AAA","qty":"1","req_id":9}', "side", "required"),
        ('{"op":"order","symbol":"AAA","side":"up","qty":"1","req_id":9}', "side", "'buy'"),
        (frame(extra=1, req_id=9), "extra", "unknown field"),
        ('{"op":"nope","req_id":9}', "op", "one of 'subscribe'"),
        ('{"symbol":"AAA","req_id":9}', "op", "required"),
        ('{"op":"cancel","all":1,"req_id":9}', "all", "true or false"),
        ('{"op":"cancel","order_id":1e400,"req_id":9}', "order_id", "an integer"),
        ('{"op":"order","symbol":"AAA","side":"buy","qty":1,"req_id":9}', "qty", "decimal"),
    ],
)
def test_messages_name_the_field_and_the_rule(raw: str, field: str, message: str) -> None:
    err = refused(raw)
    assert (err.field, err.req_id) == (field, 9)
    assert str(err).startswith(f"invalid `{field}`: ") and message in str(err)


@pytest.mark.parametrize(
    ("raw", "req_id"),
    [
        ('{"op":"order","req_id":42,"qty":"\\uff11"}', 42),
        ('{"op":"order","req_id":"abc-1","side":"sideways"}', "abc-1"),
        ('{"req_id":"with space","op":"zzz"}', "with space"),
        ('{"op":"order","req_id":-5}', -5),
        ('{"op":"order","req_id":true}', None),
        ('{"op":"order","req_id":1.0}', None),
        (f'{{"op":"order","req_id":{2**63}}}', None),
        ('{"op":"order","req_id":"%s"}' % ("x" * 65), None),
        ('{"op":"order","req_id":"a\\u0000"}', None),
        ('{"op":"order","req_id":{"a":1}}', None),
        ('[{"req_id":1}]', None),
        ('{"op":"order","req_id":7', None),  # not JSON
    ],
)
def test_the_clients_req_id_is_recovered_when_well_formed(raw: str, req_id: object) -> None:
    assert refused(raw).req_id == req_id


@pytest.mark.parametrize(
    ("raw", "start"),
    [
        ("{not json", "invalid request: JSON is malformed"),
        ("", "invalid request: "),
        ("[1, 2]", "invalid request: expected a JSON object, got `array`"),
        ('"order"', "invalid request: expected a JSON object, got `str`"),
        (b"\xff\xfe{}", "invalid request: "),
        (b'{"op":"order","symbol":"\xff"}', "invalid request: "),
        ("[" * 10_000 + "]" * 10_000, "invalid request: "),
    ],
)
def test_frames_that_are_not_a_json_object(raw: str | bytes, start: str) -> None:
    err = refused(raw)
    assert str(err).startswith(start) and err.field == "" and err.req_id is None


# ---------------------------------------------------------------------- against the oracle

_FIELDS = {  # op: (required, optional)
    "order": (["symbol", "side", "qty"], ["price", "type", "tif", "client_order_id", "stp"]),
    "cancel": ([], ["symbol", "order_id", "client_order_id", "all"]),
    "modify": (["symbol"], ["order_id", "client_order_id", "price", "qty"]),
    "subscribe": (["channel", "symbol"], ["depth"]),
    "unsubscribe": (["channel", "symbol"], ["depth"]),
}
_GOOD: dict[str, list[Any]] = {
    "symbol": ["AAA", "a:b", "qty", "x" * 32, "~!"],
    "side": ["buy", "sell"],
    "qty": ["1", "90.00", "-1", "0", "1" * 40],
    "price": ["90.00", "1", None, "100.25"],
    "type": ["limit", "market"],
    "tif": ["gtc", "post_only", "ioc", "fok"],
    "client_order_id": ["c1", "c:1", None, "x" * 64, '"q"'],
    "stp": ["none", "cancel_newest", "cancel_both", "cancel_oldest"],
    "req_id": [1, "r", "r 1", None, -(2**63), 2**63 - 1, 0],
    "order_id": [1, 2**63 - 1, None],
    "all": [True, False],
    "channel": ["book", "l1", "trades"],
    "depth": [1, 5000, 1000, 20],
}
_BAD: dict[str, list[Any]] = {
    "symbol": ["A A", "\uff21", "x" * 33, None, 1, "", "a\u202e"],
    "side": ["up", None, 1],
    "qty": ["\u0661", "1e3", "", None, 1, "1.", "1\n", "\uff11"],
    "price": ["1.", False, 1.5, "\u0967"],
    "type": ["x", None],
    "tif": ["x", None],
    "client_order_id": ["c 1", "c\u202e", "x" * 65, "", "c\u0000", 5],
    "stp": ["x", None],
    "req_id": [True, 1.5, 2**63, "\u00e9", "", [1]],
    "order_id": [0, False, 2**63, 1.0, "1"],
    "all": [1, None, "true"],
    "channel": ["x", None],
    "depth": [0, 5001, None, True],
}


@st.composite
def frames(draw: st.DrawFn) -> tuple[str, bool]:
    """A frame of one kind: mostly valid values, sometimes a bad one, an unknown or repeated key."""
    op = draw(st.sampled_from(sorted(_FIELDS)))
    required, optional = _FIELDS[op]
    keys = list(required) + [k for k in optional if draw(st.booleans())]
    if op != "subscribe" and op != "unsubscribe" and draw(st.booleans()):
        keys.append("req_id")
    pairs: list[tuple[str, Any]] = [("op", op)]
    for key in keys:
        pool = _BAD[key] if draw(st.integers(0, 9)) == 0 else _GOOD[key]
        pairs.append((key, draw(st.sampled_from(pool))))
    if draw(st.integers(0, 19)) == 0:
        pairs.append(("extra", 1))
    if draw(st.integers(0, 3)) == 0:  # a repeated key, with the same or another value
        key = draw(st.sampled_from([k for k, _ in pairs]))
        value = draw(st.sampled_from([dict(pairs)[key], *_GOOD.get(key, ["order"])]))
        pairs.append((key, value))
    pairs = draw(st.permutations(pairs))
    seps = draw(st.sampled_from([(",", ":"), (", ", ": "), (" ,\n", " : ")]))
    escape = draw(st.booleans())

    def key_text(key: str) -> str:
        # now and then a key spelled with an escape: "q\u0074y" is "qty"
        if escape and len(key) > 2:
            return f'"{key[0]}\\u{ord(key[1]):04x}{key[2:]}"'
        return json.dumps(key)

    body = seps[0].join(f"{key_text(k)}{seps[1]}{json.dumps(v)}" for k, v in pairs)
    names = [k for k, _ in pairs]
    return "{" + body + "}", len(set(names)) != len(names)


@settings(max_examples=3000, deadline=None, suppress_health_check=list(HealthCheck))
@given(case=frames())
def test_the_decoder_agrees_with_the_pydantic_models_and_refuses_repeats(
    case: tuple[str, bool],
) -> None:
    """The pydantic models are the reference (they keep the last of repeated keys)."""
    raw, repeated = case
    try:
        legacy: Any = pydantic_models.parse_ws_request(raw)
    except ValueError:
        legacy = None
    results: list[Any] = []
    for frame_ in (raw, raw.encode()):
        try:
            results.append(parse_ws_request(frame_))
        except WsRequestError:
            results.append(None)
    req: Any = results[0]
    assert results[1] == req, raw
    if repeated:
        assert req is None, raw
        return
    assert (req is None) == (legacy is None), raw
    if req is not None:
        assert req.op == legacy.op
        for field in req.__struct_fields__:
            assert getattr(req, field) == getattr(legacy, field), (raw, field)
