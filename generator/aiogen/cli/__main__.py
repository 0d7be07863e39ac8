"""`python -m aiogen.cli`: the console script."""

from aiogen.cli.app import console

console()
