"""`python -m aiogen.cli`: the console script."""

from aiogen.cli.fast import console

console()
