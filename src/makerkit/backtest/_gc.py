"""Pause the cyclic garbage collector around hot replay loops.

The loops allocate many short-lived lists and structs but create no reference
cycles, so reference counting frees everything; the cyclic collector would
only rescan the growing book (about 15% of replay time). It is re-enabled
(if it was on) when the block ends, even on error.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["gc_paused"]


@contextmanager
def gc_paused() -> Iterator[None]:
    """Disable the cyclic collector for the duration of the block."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
