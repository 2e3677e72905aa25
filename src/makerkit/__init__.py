"""makerkit: research, backtest and run market-making strategies.

Layers (each imports only layers below it): ``core`` value types and
protocols; ``book`` the matching engine; ``data`` loaders and streams;
``backtest`` replays and runs; ``cli`` the ``makerkit`` command.
"""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
