"""The `gates` command: the parser (``parser``), one module per command group, and ``main``."""

from gates.cli.main import main

__all__ = ["main"]
