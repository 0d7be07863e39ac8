"""One module per subcommand (pre-commit style).

Each module defines ``NAME``, ``HELP``, ``add_arguments(parser)`` and ``run(args) -> int``. Only
the standard library may be imported at module level: `aiogen --help` imports every command module,
and the heavy libraries are loaded inside ``run`` by the command that needs them.
"""
