"""Command line: argument parsing, dispatch and exit codes only (`app`); shared options (`options`);
one module per subcommand (`commands`)."""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: this runs before the console's first step
if TYPE_CHECKING:
    from typing import Any

__all__ = ["console", "main"]


def __getattr__(name: str) -> Any:
    """`console` and `main` from `app`, imported when asked for: a command module's import stays light."""
    if name in __all__:
        from aiogen.cli import app

        return getattr(app, name)
    raise AttributeError(f"module 'aiogen.cli' has no attribute {name!r}")
