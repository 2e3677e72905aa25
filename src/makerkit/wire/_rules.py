r"""Input rules shared by the REST models and the WebSocket decoder; duplicate-key detection.

Every rule is ASCII-only where the value reaches the engine or the journal: a
decimal is ASCII digits (Python's ``Decimal`` and the ``\d`` of most regex
engines also take fullwidth or Arabic-Indic digits), identifiers are printable
ASCII without spaces, and free text (names, reasons) has no control or
bidirectional-override characters.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = [
    "ACCOUNT_ID_MAX",
    "BURST_MAX",
    "CLIENT_ORDER_ID_MAX",
    "DECIMAL_MAX",
    "DECIMAL_PATTERN",
    "IDENT_PATTERN",
    "LIMIT_INT_MAX",
    "MSGS_PER_SEC_MAX",
    "ORDER_ID_MAX",
    "REQ_ID_MAX",
    "REQ_ID_PATTERN",
    "SYMBOL_MAX",
    "TEXT_PATTERN",
    "find_duplicate_key",
    "printable",
    "python_pattern",
]

# Patterns as JSON Schema and pydantic (Rust regex) read them: `$` is the end of the text.
# Python's `re` also lets `$` match before a final newline ("10\n"): `python_pattern`
# gives the `\Z` form for decoders that use `re` (msgspec).
DECIMAL_PATTERN = r"^-?[0-9]+(\.[0-9]+)?$"
DECIMAL_MAX = 40
# printable ASCII without space: symbols and client order ids (lengths apart)
IDENT_PATTERN = r"^[!-~]+$"
SYMBOL_MAX = 32
CLIENT_ORDER_ID_MAX = 64
# a client's request id, echoed back: an int or short printable ASCII (space allowed)
REQ_ID_PATTERN = r"^[ -~]+$"
REQ_ID_MAX = 64
# free text: no C0/C1 controls, no bidi embeddings/overrides/isolates/marks, no line or
# paragraph separators (each would let a name or reason rewrite how logs and pages read)
TEXT_PATTERN = r"^[^\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]*$"
ORDER_ID_MAX = 2**63 - 1
ACCOUNT_ID_MAX = 2**63 - 1
LIMIT_INT_MAX = 2**62
MSGS_PER_SEC_MAX = 1e6
BURST_MAX = 1_000_000


def python_pattern(pattern: str) -> str:
    r"""``pattern`` for Python's ``re``: the final ``$`` becomes ``\Z``."""
    return pattern[:-1] + r"\Z" if pattern.endswith("$") else pattern


class _DuplicateKeyError(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKeyError(key)
            seen.add(key)
    return out


def find_duplicate_key(raw: str | bytes) -> str | None:
    r"""The first key that occurs twice in one JSON object of ``raw``, or None.

    Keys are compared after unescaping (``"q\u0074y"`` is ``"qty"``). Text
    that is not valid JSON has no duplicate here: the caller's own parser
    reports it.
    """
    try:
        json.loads(raw, object_pairs_hook=_pairs)
    except _DuplicateKeyError as dup:
        return dup.key
    except (ValueError, RecursionError):
        return None
    return None


def printable(text: str, limit: int = 64) -> str:
    r"""``text`` as ASCII for a message or a log (``\u202e`` escaped), cut to ``limit``."""
    shown = json.dumps(text, ensure_ascii=True)[1:-1]
    return shown if len(shown) <= limit else shown[:limit] + "..."
