"""What a cold `aiogen render`, `validate` and KRM function import: only what they use (issue 12).

Each case runs the console script's code in a fresh interpreter and lists the modules it loaded;
a regression here is a slower start on every CI job and every `kustomize build`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import EXAMPLES, REPO

# Never on these paths: other commands' parsing, Jinja2's compiler (the templates are compiled at
# build time), cryptography's serialization package (PEMs are summarised from their DER).
NEVER = ("argparse", "pkgutil", "jinja2.compiler", "jinja2.environment", "jinja2.lexer", "jinja2.parser",
         "jinja2.bccache", "jinja2.filters", "pickle", "cryptography.hazmat.primitives.serialization",
         "ast", "dis", "tokenize", "dataclasses",  # `inspect` is deferred: what it imports never loads
         # deferred too (aiogen.startup.deferral): what cryptography, Jinja2 and pathlib import for calls never made
         "inspect", "email", "socket", "random", "hashlib", "_hashlib", "hmac", "urllib",
         "cryptography.hazmat.backends", "cryptography.hazmat.primitives.ciphers")
CRYPTOGRAPHY = ("cryptography", "aiogen.pki.judge")

_RUN = """\
import gc, io, json, os, sys
sys.path.insert(0, sys.argv[2])
sys.argv = ["aiogen", *json.loads(sys.argv[1])]
out = io.StringIO()
real, sys.stdout = sys.stdout, out
exit_now = os._exit

def ran(module):  # a module aiogen.startup.deferral registered is in sys.modules before its code runs
    hook = vars(module).get("__getattr__") if module is not None else None
    return getattr(getattr(hook, "__func__", None), "__qualname__", "") != "_Deferred.complete"

def report(code, how):
    sys.stdout = real
    print(json.dumps({"code": code, "out": out.getvalue(), "modules": sorted(n for n, m in sys.modules.items() if ran(m)),
                      "gc": gc.isenabled(), "how": how}))
    sys.stdout.flush()
    exit_now(0)

os._exit = lambda code: report(code, "os._exit")  # a one-shot command ends without interpreter teardown
from aiogen.cli import app
try:
    app.console()
except SystemExit as done:
    report(done.code, "SystemExit")
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """aiogen as a wheel installs it: the package with its templates compiled (the build's step)."""
    from aiogen.render import compiled

    root = tmp_path_factory.mktemp("installed")
    shutil.copytree(REPO / "generator" / "aiogen", root / "aiogen", ignore=shutil.ignore_patterns("__pycache__"))
    (root / "aiogen" / "templates" / compiled.COMPILED_NAME).unlink(missing_ok=True)
    compiled.write(root / "aiogen" / "templates")
    return root


def _cold(installed: Path, argv: list[str], cwd: Path, stdin: Path | None = None,
          env: dict[str, str] | None = None) -> tuple[int, str, set[str]]:
    with open(stdin or os.devnull, "rb") as given:
        done = subprocess.run([sys.executable, "-c", _RUN, json.dumps(argv), str(installed)], capture_output=True,
                              text=True, cwd=cwd, timeout=120, stdin=given, env={**os.environ, **(env or {})})
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.splitlines()[-1])
    assert result["gc"] is False  # one-shot: the collector never walks the parse tree, Topology and Plan
    return result["code"], result["out"], set(result["modules"])


def _loaded(modules: set[str], names: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == n or m.startswith(f"{n}.") for n in names))


@pytest.mark.parametrize("argv", [["render", "lab.yaml", "-o", "-", "--now", "2026-01-01"],
                                  ["validate", "lab.yaml", "--now", "2026-01-01"]])
def test_a_spec_without_certificates_never_imports_cryptography(installed: Path, argv: list[str]) -> None:
    code, out, modules = _cold(installed, argv, EXAMPLES)
    assert code == 0 and out
    assert _loaded(modules, CRYPTOGRAPHY) == []
    assert _loaded(modules, ("hashlib", "_hashlib")) == []  # nor OpenSSL's libcrypto, to check a key
    assert _loaded(modules, NEVER) == []
    assert "jinja2.runtime" in modules  # the templates still run through Jinja2's runtime


@pytest.mark.parametrize("argv", [["render", "fleet.yaml", "-o", "-", "--now", "2026-01-01"],
                                  ["validate", "fleet.yaml", "--now", "2026-01-01"]])
def test_a_spec_with_certificates_imports_only_what_reads_them(installed: Path, argv: list[str]) -> None:
    code, out, modules = _cold(installed, argv, EXAMPLES)
    assert code == 0 and out
    assert "cryptography.x509" in modules and "aiogen.pki.judge" in modules  # the PEMs are really read
    assert _loaded(modules, NEVER) == []


def test_the_krm_function_takes_the_same_lean_path(installed: Path, tmp_path: Path) -> None:
    """`kustomize build` runs `aiogen` with no argument and a ResourceList on stdin."""
    topology = (EXAMPLES / "kustomize" / "topology" / "topology.yaml").read_text(encoding="utf-8")
    items = "".join(f"  {line}\n" if line else "\n" for line in topology.splitlines() if not line.startswith("#"))
    stdin = tmp_path / "input.yaml"
    stdin.write_text("apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nfunctionConfig:\n" + items,
                     encoding="utf-8")
    code, out, modules = _cold(installed, [], tmp_path, stdin)
    assert code == 0 and "kind: ResourceList" in out and "kind: Certificate" in out
    assert _loaded(modules, NEVER) == []
    assert _loaded(modules, CRYPTOGRAPHY) == []  # lab-intermediate: no certificate supplied


def test_the_legacy_exec_plugin_takes_the_same_lean_path(installed: Path, tmp_path: Path) -> None:
    """kubectl kustomize runs `aiogen CONFIG` in the kustomization directory, a copy of the config as argument."""
    legacy = EXAMPLES / "kustomize" / "legacy"
    config = tmp_path / "kust-plugin-config-1"
    config.write_bytes((legacy / "aiogen.yaml").read_bytes())
    code, out, modules = _cold(installed, [str(config)], legacy, env={"KUSTOMIZE_PLUGIN_CONFIG_ROOT": str(legacy)})
    assert code == 0 and "\nkind: BrokerListener\n" in out
    assert _loaded(modules, NEVER) == []


def test_an_invalid_spec_is_still_reported_the_same_way(installed: Path, tmp_path: Path) -> None:
    spec = tmp_path / "bad.yaml"
    spec.write_text("apiVersion: aiogen.io/v1alpha1\nkind: Topology\nmetadata: {name: x}\nspec: {clusters: 3}\n",
                    encoding="utf-8")
    code, _, modules = _cold(installed, ["validate", str(spec)], tmp_path)
    assert code == 1
    assert _loaded(modules, ("argparse", "cryptography")) == []


def test_certificates_are_summarised_from_their_der_as_cryptography_encodes_them() -> None:
    """`pem.summaries` takes the DER the file holds (no serialization import): the same summary, PEM included."""
    from cryptography.hazmat.primitives.serialization import Encoding

    from aiogen.pki import pem

    files = [p for p in (*REPO.glob("examples/**/*.pem"), *REPO.glob("tests/**/*.pem"))
             if ".venv" not in p.parts and p.is_file()]
    seen = 0
    for path in files:
        try:
            certs = pem.parse_certificates(path.read_bytes(), source=path.name)
        except pem.PemError:
            continue  # hostile fixtures: refused the same way by both
        summaries = pem.summaries(path.read_bytes(), source=path.name)
        assert summaries == tuple(pem.summarize(cert) for cert in certs), path
        assert [s.pem.encode() for s in summaries] == [cert.public_bytes(Encoding.PEM) for cert in certs]
        seen += len(certs)
    assert seen >= 5
