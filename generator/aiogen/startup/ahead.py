"""What the files an install makes ahead of time have in common (the compiled templates, the spec
validator, the compiled regular expressions): the interpreter's bytecode version they are keyed on,
a digest that does not import `hashlib`, and how one is written into the package."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path  # not imported at run time: `aiogen.startup.regexes` runs before pathlib is


def bytecode_magic() -> bytes:
    """The interpreter's bytecode version (what a ``.pyc`` starts with)."""
    import _frozen_importlib_external  # already loaded: the interpreter's own import machinery

    magic: bytes = _frozen_importlib_external.MAGIC_NUMBER
    return magic


def blake2b(digest_size: int) -> Any:
    """BLAKE2b from its own small module: `hashlib` would load OpenSSL's libcrypto (~3 ms) on every
    cold start only to check a key."""
    try:
        from _blake2 import blake2b as made
    except ImportError:  # an interpreter built without it
        from hashlib import blake2b as made
    return made(digest_size=digest_size)


def write_file(target: Path, data: bytes) -> Path:
    """Write ``data`` to ``target`` atomically: a new file beside it, then renamed over it. Readable by
    all, as an installed package's files are (whatever the umask of the process that installs)."""
    partial = target.with_name(f".{target.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    try:
        with open(partial, "xb") as handle:
            handle.write(data)
            os.fchmod(handle.fileno(), 0o644)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target
