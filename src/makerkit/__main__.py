"""Allow ``python -m makerkit``."""

from makerkit.cli import main

main()
