"""Where real market data lives: ``MAKERKIT_DATA`` or ``../shared/data`` beside the checkout."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["data_dir", "lobster_pairs"]


def data_dir() -> Path | None:
    """Return the data folder, or None when there is none."""
    env = os.environ.get("MAKERKIT_DATA")
    if env:
        return Path(env)
    here = Path.cwd().resolve()
    for base in (here, *here.parents):
        candidate = base.parent / "shared" / "data"
        if (base / "pyproject.toml").is_file() and candidate.is_dir():
            return candidate
    return None


def lobster_pairs(root: Path | None = None) -> list[tuple[Path, Path]]:
    """Return every (message, orderbook) pair under ``root/lobster``, sorted by name."""
    root = root if root is not None else data_dir()
    if root is None or not (root / "lobster").is_dir():
        return []
    pairs = []
    for message in sorted((root / "lobster").glob("*_message_*.csv*")):
        orderbook = message.with_name(message.name.replace("_message_", "_orderbook_"))
        if orderbook.is_file():
            pairs.append((message, orderbook))
    return pairs
