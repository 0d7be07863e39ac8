"""Command line: argument parsing, dispatch and exit codes only (`app`); shared options (`options`);
one module per subcommand (`commands`)."""

from aiogen.cli.app import console, main

__all__ = ["console", "main"]
