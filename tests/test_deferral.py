"""aiogen.startup.deferral: a module registered without running its code runs it once, on first use,
and from then on is the module an import would have given (what a one-shot `aiogen render` relies on)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from aiogen.startup.deferral import StandIn, deferred
from tests.helpers import EXAMPLES


@pytest.fixture
def probe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A directory on sys.path with `deferred_probe_log` (`runs`: which module's code ran, in order)."""
    (tmp_path / "deferred_probe_log.py").write_text("runs = []\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in [n for n in sys.modules if n.startswith("deferred_probe")]:
        monkeypatch.delitem(sys.modules, name)
    yield tmp_path
    for name in [n for n in sys.modules if n.startswith("deferred_probe")]:
        del sys.modules[name]  # what this test loaded (or registered) goes with its directory


def _module(probe: Path, name: str, body: str) -> None:
    """``name`` (dotted: a file in a package directory) whose code logs that it ran, then runs ``body``."""
    path = probe.joinpath(*name.split(".")).with_suffix(".py")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"import deferred_probe_log\ndeferred_probe_log.runs.append({name!r})\n{body}")


def _package(probe: Path, body: str = "") -> None:
    """``deferred_probe_pkg``: a package whose ``__init__`` logs that it ran, and its submodule ``sub``."""
    (probe / "deferred_probe_pkg").mkdir()
    (probe / "deferred_probe_pkg" / "__init__.py").write_text(
        f"import deferred_probe_log\ndeferred_probe_log.runs.append('deferred_probe_pkg')\n{body}")
    _module(probe, "deferred_probe_pkg.sub", "def f(x):\n    return x * 21\n")


def _runs() -> list[str]:
    log = sys.modules.get("deferred_probe_log")
    return list(log.runs) if log is not None else []


def test_a_deferred_module_runs_once_on_first_use_even_with_threads_asking_at_once(probe: Path) -> None:
    import threading

    _module(probe, "deferred_probe_slow", "import time\ntime.sleep(0.05)\nVALUE = 42\n")
    module = deferred("deferred_probe_slow")
    assert module is sys.modules["deferred_probe_slow"] and "deferred_probe_log" not in sys.modules  # not run
    import deferred_probe_slow  # type: ignore[import-not-found]  # an import does not run it

    assert deferred_probe_slow is module and "VALUE" not in vars(module)
    start, seen, errors = threading.Barrier(8), [], []

    def ask() -> None:
        start.wait()
        try:
            seen.append(module.VALUE)
        except Exception as error:
            errors.append(repr(error))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert (errors, seen) == ([], [42] * 8)
    assert sys.modules["deferred_probe_log"].runs == ["deferred_probe_slow"]
    assert "__getattr__" not in vars(module) and "VALUE" in dir(module)


def test_a_deferred_module_that_raises_fails_as_an_import_does_and_runs_again_when_asked(probe: Path) -> None:
    _module(probe, "deferred_probe_bad", "FIRST = 1\nraise RuntimeError('broken')\n")
    module = deferred("deferred_probe_bad")
    assert module is not None
    for attempt in (1, 2):
        with pytest.raises(RuntimeError, match="broken"):
            _ = module.SECOND
        assert "deferred_probe_bad" not in sys.modules  # as after a failed import
        assert sys.modules["deferred_probe_log"].runs == ["deferred_probe_bad"] * attempt


def test_a_deferred_module_asking_itself_for_a_name_not_defined_yet_gets_attribute_error(probe: Path) -> None:
    _module(probe, "deferred_probe_self", "import sys\ntry:\n    sys.modules[__name__].LATER\nexcept AttributeError:\n"
            "    SAW = True\nLATER = 1\n\ndef __getattr__(name):\n    return f'own {name}'\n")
    module = deferred("deferred_probe_self")
    assert module is not None and module.SAW is True and module.LATER == 1
    assert module.anything == "own anything"  # the module's own __getattr__ stays once it has run
    assert deferred("deferred_probe_self.sub") is None  # not a package: it has no submodules
    assert deferred("deferred_probe_missing_module") is None


# ---------------------------------------------------------------- submodules, packages, stand-ins


def test_a_deferred_submodule_runs_neither_itself_nor_its_package_until_a_stand_in_is_called(probe: Path) -> None:
    _package(probe)
    module = deferred("deferred_probe_pkg.sub", stand_ins=("f",))
    assert module is sys.modules["deferred_probe_pkg.sub"]
    package = sys.modules["deferred_probe_pkg"]  # deferred too: registered, its code not run
    assert _runs() == [] and package.sub is module
    from deferred_probe_pkg.sub import f  # type: ignore[import-not-found]  # as jinja2 and pathlib import

    assert isinstance(f, StandIn) and _runs() == []
    assert f(2) == 42 and f(3) == 63  # the real function, its module's code run once
    assert _runs() == ["deferred_probe_pkg.sub"]
    assert vars(module)["f"] is not f and vars(module)["f"](1) == 21  # the module now holds its own
    assert "__getattr__" not in vars(module)  # an ordinary module from now on


def test_a_deferred_submodule_of_a_loaded_package_is_its_attribute_as_after_an_import(probe: Path) -> None:
    _package(probe, "sub = 'its own'\n")
    _module(probe, "deferred_probe_pkg.other", "VALUE = 7\n")
    import deferred_probe_pkg  # type: ignore[import-not-found]

    other = deferred("deferred_probe_pkg.other")
    assert deferred_probe_pkg.other is other and _runs() == ["deferred_probe_pkg"]  # attached, not run
    assert deferred_probe_pkg.other.VALUE == 7 and _runs() == ["deferred_probe_pkg", "deferred_probe_pkg.other"]
    deferred("deferred_probe_pkg.sub")
    assert deferred_probe_pkg.sub == "its own"  # a package's own attribute of that name stays


def test_a_package_imported_after_its_submodule_was_deferred_has_it_as_an_attribute(probe: Path) -> None:
    _package(probe, "LATER = 1\n")
    module = deferred("deferred_probe_pkg.sub", stand_ins=("f",))
    from deferred_probe_pkg.sub import f

    assert f(2) == 42
    import deferred_probe_pkg.sub  # the package, deferred with it, has its submodule as an import gives it

    assert deferred_probe_pkg.sub is module and _runs() == ["deferred_probe_pkg.sub"]
    assert deferred_probe_pkg.LATER == 1 and _runs() == ["deferred_probe_pkg.sub", "deferred_probe_pkg"]
    assert deferred_probe_pkg.sub is module  # its own code ran, and kept the submodule


def test_a_deferred_submodule_two_packages_deep_imports_with_as(probe: Path) -> None:
    _package(probe)
    (probe / "deferred_probe_pkg" / "inner").mkdir()
    (probe / "deferred_probe_pkg" / "inner" / "__init__.py").write_text("")
    _module(probe, "deferred_probe_pkg.inner.leaf", "VALUE = 5\n")
    deferred("deferred_probe_pkg.inner.leaf")
    import deferred_probe_pkg.inner.leaf as leaf  # type: ignore[import-not-found]  # as without deferral

    assert leaf.VALUE == 5


def test_a_deferred_module_is_not_a_package_without_running_and_a_deferred_package_keeps_its_path(
        probe: Path) -> None:
    _package(probe)
    _module(probe, "deferred_probe_plain", "VALUE = 1\n")
    plain = deferred("deferred_probe_plain")
    assert plain is not None and not hasattr(plain, "__path__") and _runs() == []  # asked by every `from m import x`
    package = deferred("deferred_probe_pkg")
    assert package is not None and package.__path__ == [str(probe / "deferred_probe_pkg")] and _runs() == []
    import deferred_probe_pkg.sub  # noqa: F401  # through the deferred package

    assert _runs() == ["deferred_probe_pkg.sub"]  # a submodule imports through the path, the package not run
    assert package.sub is sys.modules["deferred_probe_pkg.sub"] and package.sub.f(1) == 21
    assert _runs() == ["deferred_probe_pkg.sub"]
    assert plain.VALUE == 1 and _runs() == ["deferred_probe_pkg.sub", "deferred_probe_plain"]


def test_a_stand_in_for_a_name_the_module_never_defines_fails_naming_module_and_name(probe: Path) -> None:
    _module(probe, "deferred_probe_names", "def real():\n    return 'real'\n")
    deferred("deferred_probe_names", stand_ins=("real", "missing"))
    from deferred_probe_names import missing, real  # type: ignore[import-not-found]

    assert _runs() == []
    message = "module 'deferred_probe_names' has no attribute 'missing'"
    with pytest.raises(AttributeError) as called:
        missing()
    assert str(called.value) == message and _runs() == ["deferred_probe_names"]
    with pytest.raises(AttributeError) as asked:
        _ = missing.anything
    assert str(asked.value) == message
    assert real() == "real" and _runs() == ["deferred_probe_names"]


def test_asking_a_stand_in_for_an_attribute_runs_the_module_and_asks_the_real_object(probe: Path) -> None:
    _module(probe, "deferred_probe_backend", "class Backend:\n    name = 'openssl'\n"
            "    def supported(self):\n        return True\nbackend = Backend()\n")
    deferred("deferred_probe_backend", stand_ins=("backend",))
    from deferred_probe_backend import backend  # type: ignore[import-not-found]

    assert isinstance(backend, StandIn) and _runs() == []
    assert backend.name == "openssl" and _runs() == ["deferred_probe_backend"]  # an attribute, not a call
    assert backend.supported() is True and _runs() == ["deferred_probe_backend"]


def test_a_stand_in_answers_the_real_functions_name_and_doc_but_is_its_own_class(probe: Path) -> None:
    _module(probe, "deferred_probe_doc", "def f():\n    'What f does.'\n")
    deferred("deferred_probe_doc", stand_ins=("f",))
    from deferred_probe_doc import f  # type: ignore[import-not-found]

    assert (f.__name__, f.__doc__) == ("f", "What f does.")
    # documented (StandIn's comment): what its class defines stays its own
    assert type(f) is StandIn and f.__module__ == "aiogen.startup.deferral"


def test_a_failing_deferred_submodule_leaves_its_package_and_runs_again_when_used(probe: Path) -> None:
    _package(probe)
    _module(probe, "deferred_probe_pkg.bad", "def g():\n    return 1\nraise RuntimeError('broken sub')\n")
    import deferred_probe_pkg

    module = deferred("deferred_probe_pkg.bad", stand_ins=("g",))
    assert deferred_probe_pkg.bad is module
    from deferred_probe_pkg.bad import g  # type: ignore[import-not-found]

    for attempt in (1, 2):
        with pytest.raises(RuntimeError, match="broken sub"):
            g()
        assert "deferred_probe_pkg.bad" not in sys.modules and "bad" not in vars(deferred_probe_pkg)
        assert _runs() == ["deferred_probe_pkg"] + ["deferred_probe_pkg.bad"] * attempt
    with pytest.raises(RuntimeError, match="broken sub"):
        import deferred_probe_pkg.bad  # an import now fails as an ordinary one does
    assert _runs() == ["deferred_probe_pkg"] + ["deferred_probe_pkg.bad"] * 3


# ---------------------------------------------------------------- ONE_SHOT in a fresh interpreter

# What a one-shot command does with cryptography, pathlib and the OpenSSL backend, and what it loaded;
# argv[1] "defer" calls defer_unused first (as aiogen.cli.fast.prepare), "plain" does not.
_ONE_SHOT = """\
import json, sys
if sys.argv[1] == "defer":
    from aiogen.startup import deferral
    deferral.defer_unused()
from cryptography import x509
root = x509.load_pem_x509_certificate(open(sys.argv[2], "rb").read())
root.verify_directly_issued_by(root)
facts = {"subject": root.subject.rfc4514_string(),
         "loaded": sorted(n for n in sys.argv[3].split(",") if n in sys.modules)}
try:
    x509.RFC822Name("Name <a@b.example>")
except ValueError as error:
    facts["rfc822_with_name"] = repr(error)
facts["rfc822"] = x509.RFC822Name("a@b.example").value
facts["key_identifier"] = x509.SubjectKeyIdentifier.from_public_key(root.public_key()).digest.hex()
from cryptography.hazmat.primitives import constant_time
facts["bytes_eq"] = [constant_time.bytes_eq(b"a", b"a"), constant_time.bytes_eq(b"a", b"b")]
import pathlib
facts["uri"] = [pathlib.Path("/x").as_uri(), pathlib.Path("/a b/\\u00e9").as_uri()]
from cryptography.hazmat.backends import default_backend
supported = default_backend().ecdsa_deterministic_supported()
facts["deterministic"] = supported
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
key = ec.derive_private_key(0x1234567, ec.SECP256R1())
signature = key.sign(b"aiogen", ec.ECDSA(hashes.SHA256(), deterministic_signing=supported))
key.public_key().verify(signature, b"aiogen", ec.ECDSA(hashes.SHA256()))
facts["signature"] = signature.hex() if supported else "verified"
print(json.dumps(facts))
"""
# Imported only by the deferred modules' code: not loaded while no call needs them.
NOT_LOADED = ("socket", "_hashlib", "email.charset", "cryptography.hazmat.primitives.ciphers")


def _one_shot(mode: str) -> dict[str, object]:
    root = EXAMPLES / "pki" / "contoso-root-2025.pem"  # self-signed, EC P-256
    done = subprocess.run([sys.executable, "-c", _ONE_SHOT, mode, str(root), ",".join(NOT_LOADED)],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    facts: dict[str, object] = json.loads(done.stdout)
    return facts


def test_one_shot_deferral_loads_nothing_unused_and_cryptography_pathlib_behave_as_without_it() -> None:
    deferring, plain = _one_shot("defer"), _one_shot("plain")
    assert deferring.pop("loaded") == []
    assert plain.pop("loaded") == sorted(NOT_LOADED), "a plain interpreter no longer loads these: revisit ONE_SHOT"
    assert deferring == plain
    assert deferring["rfc822_with_name"] == "ValueError('Invalid rfc822name value')"
    assert deferring["rfc822"] == "a@b.example" and deferring["bytes_eq"] == [True, False]
    assert deferring["uri"] == ["file:///x", "file:///a%20b/%C3%A9"]
    with (EXAMPLES / "pki" / "contoso-root-2025.pem").open("rb") as pem:  # the identifier the CA itself carries
        from cryptography import x509

        root = x509.load_pem_x509_certificate(pem.read())
    carried = root.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest.hex()
    assert deferring["key_identifier"] == carried
    # deterministic where the OpenSSL backend supports it: the same signature as without deferral (compared above)
    assert (deferring["signature"] == "verified") == (deferring["deterministic"] is False)


def test_after_one_shot_deferral_email_utils_quotes_as_without_it() -> None:
    code = ("from aiogen.startup import deferral\ndeferral.defer_unused()\nfrom cryptography import x509\n"
            "x509.RFC822Name('a@b.example')\nimport email.utils\nprint(email.utils.encode_rfc2231('a b', 'utf-8'))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert (done.returncode, done.stdout) == (0, "utf-8''a%20b\n"), done.stderr
