"""The ``makerkit`` command line (Typer): the one entry point for every job."""

from __future__ import annotations

from makerkit.cli._app import app, main

__all__ = ["app", "main"]
