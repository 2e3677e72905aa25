"""Limit order book and matching engine behind one contract.

``PyOrderBook`` (``_pure.py``) is the readable reference. A native engine,
when built, is selected by ``MAKERKIT_BOOK_BACKEND=auto|native|python``
(default ``auto``: native when available); ``BACKEND`` names the choice and
``OrderBook`` is the selected class. ``resolve_backend`` is the one place a
``backend`` name (of a book, the simulator or the replay core) is checked.
"""

from __future__ import annotations

import os
from typing import Any

from makerkit.book._protocol import Book
from makerkit.book._pure import PyOrderBook
from makerkit.core.errors import ConfigError, EngineUnavailable

__all__ = [
    "BACKEND",
    "Book",
    "NativeOrderBook",
    "OrderBook",
    "PyOrderBook",
    "available_backends",
    "make_book",
    "resolve_backend",
]

_CLASSES: dict[str, type[Any]] = {"python": PyOrderBook}
try:
    from makerkit.book._native_book import NativeOrderBook
except ImportError:  # built without a compiler: the reference engine serves alone
    NativeOrderBook = None  # type: ignore[assignment,misc]
else:
    _CLASSES["native"] = NativeOrderBook


def available_backends() -> list[str]:
    """Return the backends usable in this install, preferred first."""
    return sorted(_CLASSES, key=lambda name: name != "native")


def resolve_backend(name: str | None, *, what: str = "backend") -> str:
    """``native`` or ``python`` for ``name`` (None or ``auto``: the selected ``BACKEND``).

    A bad name is a ``ConfigError``; ``native`` without the C++ build is
    ``EngineUnavailable`` (never a silent fall back to the slow engine).
    """
    if name is None:
        return BACKEND
    name = name.strip().lower()
    if name == "auto":
        return available_backends()[0]
    if name not in ("native", "python"):
        msg = f"invalid `{what}`, must be auto, native or python, was {name!r}"
        raise ConfigError(msg)
    if name not in _CLASSES:
        msg = "the native engine is not built in this install; use backend 'python'"
        raise EngineUnavailable(msg)
    return name


BACKEND: str = available_backends()[0]
BACKEND = resolve_backend(os.environ.get("MAKERKIT_BOOK_BACKEND", "auto"),
                          what="MAKERKIT_BOOK_BACKEND")  # fmt: skip
OrderBook: type[Any] = _CLASSES[BACKEND]


def make_book(backend: str | None = None, **kwargs: Any) -> Book:
    """Create an order book with ``backend`` (default: the selected ``BACKEND``)."""
    name = resolve_backend(backend)
    if name == "native":
        native: Book = NativeOrderBook(**kwargs)
        return native
    reference: Book = PyOrderBook(**kwargs)
    return reference
