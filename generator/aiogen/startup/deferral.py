"""Modules registered without running their code: the code runs when something first uses them.

A cold `aiogen render` spends most of its time importing, and some of what it imports is imported
by a library for a call aiogen never makes: `jinja2`'s ``__init__`` (the compiler, for templates
compiled at build time: `aiogen.render.runtime`), `inspect` (for async templates), `email.utils`
(cryptography's check of an `RFC822Name` built by hand; with it `socket`, `calendar`, `locale` and
`email`'s charset modules), `hashlib` (which loads OpenSSL's libcrypto) and `hmac`, cryptography's
OpenSSL backend module with every cipher module (asked only whether deterministic ECDSA signing is
supported), `random` and `urllib.parse`: ~9 ms of a cold start, measured side by side.

`deferred` registers such a module in ``sys.modules`` (and its packages, when they are not loaded
yet) without running its code; the code runs, once, when the first missing attribute is asked of
it (PEP 562 module ``__getattr__``), or when a `StandIn` is used: ``stand_ins`` names what other
modules take with ``from module import name``, which would otherwise ask at once. From then on the
module is the ordinary one. A stand-in stays where it was taken (``jinja2.utils.choice``, pathlib's
``urlquote_from_bytes``, cryptography's ``default_backend()``): it calls, and answers attributes
and ``__doc__``, as the real object does, but its type, ``repr`` and identity are its own.

`defer_unused` is called by the console script for a one-shot command (`aiogen.cli.fast.prepare`),
which renders and exits. A program that imports aiogen as a library keeps its own modules: an
attribute probe over ``sys.modules`` there could run one and change the dict while it iterates.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

# Deferred in a one-shot process: a module, and the names other modules import from it by name.
ONE_SHOT: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("inspect", ()),  # jinja2.nodes, jinja2.async_utils: for async templates
    ("random", ("choice", "randrange")),  # jinja2.utils: for its lorem ipsum generator
    ("urllib.parse", ("quote_from_bytes",)),  # pathlib (Path.as_uri), jinja2.utils (the urlencode filter)
    ("email.utils", ("parseaddr",)),  # cryptography.x509.general_name: RFC822Name(value) built by hand
    ("hashlib", ()),  # cryptography.x509.extensions: a key identifier computed from a public key
    ("hmac", ()),  # cryptography.hazmat.primitives.constant_time: bytes_eq
    # cryptography's ECDSA(...) asks its OpenSSL backend (with every cipher module) whether deterministic
    # signing is supported, and only when asked for that; verifying an ECDSA signature makes one
    ("cryptography.hazmat.backends.openssl.backend", ("backend",)),
)


def defer_unused() -> None:
    """Defer `ONE_SHOT`'s modules (each one not loaded yet): called only by a one-shot command line process."""
    for name, stand_ins in ONE_SHOT:
        deferred(name, stand_ins=stand_ins)


class StandIn:
    # ``module.name`` before the module's code has run: calling it, or asking it for an attribute (its
    # ``__doc__`` too), runs that code, then calls the module's own ``name`` or asks it. What its class
    # defines is its own: ``type()``, ``isinstance``, ``repr`` and ``__module__``.

    __slots__ = ("_resolve",)

    def __init__(self, resolve: Callable[[], Any]) -> None:
        self._resolve = resolve

    @property
    def __doc__(self) -> str | None:  # type: ignore[override]
        doc: str | None = getattr(self._resolve(), "__doc__", None)
        return doc

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._resolve()(*args, **kwargs)

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self._resolve(), attribute)


def deferred(name: str, *, stand_ins: Sequence[str] = ()) -> ModuleType | None:
    """Module ``name`` registered without running its code; the code runs, once, when the first
    missing attribute is asked of it, or when one of ``stand_ins`` is used.

    ``import name`` and submodule imports (a package's ``__path__`` is set) do not run it; ``from name
    import x``, ``name.x``, ``hasattr`` and ``dir(name)`` do, except for the names in ``stand_ins``:
    ``from name import f`` gets a `StandIn` for ``f``. A submodule's packages that are not loaded
    yet are deferred too (their code runs when they are used), and each package has its submodule
    as an attribute, as an import gives it, unless it has one by that name. Another thread asking
    meanwhile waits for the code to have run; if it raises, the module leaves ``sys.modules`` (and
    its package) as after a failed import, and the next use runs the code again. Returns the module
    already loaded, if any; None when ``name`` is not installed.
    """
    import importlib.util

    loaded = sys.modules.get(name)
    if loaded is not None:
        return loaded
    package_name = name.rpartition(".")[0]
    if package_name and deferred(package_name) is None:
        return None
    try:
        spec = importlib.util.find_spec(name)  # a deferred package answers __path__ without running
    except (ImportError, AttributeError, ValueError):  # a package without __path__ (a module), ...
        return None
    if spec is None or spec.loader is None:
        return None
    return _Deferred(name, spec, stand_ins).module


class _Deferred:
    """One deferred module: its ``__getattr__``/``__dir__`` until its code has run, and its stand-ins."""

    def __init__(self, name: str, spec: Any, stand_ins: Sequence[str]) -> None:
        import importlib.util
        from _thread import RLock

        self.name, self.loader = name, spec.loader
        self.module = importlib.util.module_from_spec(spec)
        self.namespace = vars(self.module)
        self.lock, self.running = RLock(), False
        self.package_name, _, self.attribute_name = name.rpartition(".")
        self.is_package = spec.submodule_search_locations is not None
        self.namespace.update(__getattr__=self.complete, __dir__=self.listing)
        self.namespace.update({attribute: self.stand_in(attribute) for attribute in stand_ins})
        sys.modules[name] = self.module
        self.attach()

    def attach(self) -> None:
        """Give the package its submodule as an attribute, unless it has one by that name."""
        package = sys.modules.get(self.package_name) if self.package_name else None
        if package is not None and self.attribute_name not in vars(package):
            setattr(package, self.attribute_name, self.module)

    def run(self) -> None:
        with self.lock:  # another thread waits here until the code has run (or failed)
            if self.namespace.get("__getattr__") != self.complete or self.running:
                return  # it ran; or this thread is running it, and asks for a name not defined yet
            self.running = True
            try:
                self.loader.exec_module(self.module)
            except BaseException:
                if sys.modules.get(self.name) is self.module:
                    del sys.modules[self.name]
                package = sys.modules.get(self.package_name) if self.package_name else None
                if package is not None and vars(package).get(self.attribute_name) is self.module:
                    delattr(package, self.attribute_name)
                raise
            finally:
                self.running = False
            for key, ours in (("__getattr__", self.complete), ("__dir__", self.listing)):
                if self.namespace.get(key) == ours:  # the module's own, if it defines one, stays
                    del self.namespace[key]
            self.attach()

    def complete(self, attribute: str) -> Any:
        """The module's ``__getattr__`` until its code has run: runs it, then answers."""
        if attribute == "__path__" and not self.is_package:
            # asked by every ``from name import x``: a module that is not a package has none
            raise AttributeError(f"module {self.name!r} has no attribute '__path__'")
        self.run()
        if attribute in self.namespace:
            return self.namespace[attribute]
        own = self.namespace.get("__getattr__")
        if own is not None and own != self.complete:
            return own(attribute)
        raise AttributeError(f"module {self.name!r} has no attribute {attribute!r}")

    def listing(self) -> list[str]:
        """The module's ``__dir__`` until its code has run."""
        self.run()
        own = self.namespace.get("__dir__")
        return list(own()) if own is not None and own != self.listing else sorted(self.namespace)

    def stand_in(self, attribute: str) -> StandIn:
        def resolve() -> Any:
            self.run()
            value = self.namespace.get(attribute, placeholder)
            if value is placeholder:
                raise AttributeError(f"module {self.name!r} has no attribute {attribute!r}")
            return value

        placeholder = StandIn(resolve)
        return placeholder
