"""Test helpers shared by the suite and by users' own tests: Hypothesis strategies and factories.

Needs the ``test`` extra (hypothesis).
"""

from __future__ import annotations

from makerkit.testing._differential import random_commands, run_differential
from makerkit.testing._strategies import BookCommand, book_commands

__all__ = ["BookCommand", "book_commands", "random_commands", "run_differential"]
