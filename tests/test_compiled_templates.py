"""Templates compiled at install time (aiogen.render.compiled): used only while current, never written at run
time; run by jinja2.runtime alone (aiogen.render.runtime) when their code needs nothing else."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from types import CodeType

import jinja2
import pytest

from aiogen.render import compiled, templates
from aiogen.render.runtime import LeanEnvironment, LeanTemplate
from tests.helpers import EXAMPLES, REPO

ENV = templates.ENVIRONMENT


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    """aiogen's templates, copied, with their compiled file built the way the wheel build does."""
    target = tmp_path / "templates"
    target.mkdir()
    for source in templates.TEMPLATES.glob("*.j2"):
        shutil.copy(source, target / source.name)
    compiled.write(target)
    return target


def test_compiled_code_is_what_jinja2_compiles_and_every_template_is_lean(copy: Path) -> None:
    env = templates.new_environment(None)
    found = compiled.load(copy, ENV)
    assert found is not None and sorted(found.codes) == sorted(p.name for p in copy.glob("*.j2")) != []
    for name, code in found.codes.items():
        assert isinstance(code, CodeType)
        assert code == env.compile((copy / name).read_text(encoding="utf-8"), name, f"templates/{name}")
    assert found.lean == set(found.codes)  # aiogen's templates need nothing from Jinja2 but jinja2.runtime


def test_a_changed_template_makes_the_file_stale(copy: Path) -> None:
    path = copy / "issuer.yaml.j2"
    path.write_bytes(path.read_bytes() + b"# edited\n")
    assert compiled.load(copy, ENV) is None
    (copy / "new.yaml.j2").write_text("kind: X\n", encoding="utf-8")
    compiled.write(copy)
    assert compiled.load(copy, ENV) is not None
    (copy / "new.yaml.j2").unlink()  # a template removed: stale too
    assert compiled.load(copy, ENV) is None


def test_another_python_jinja2_or_environment_makes_it_stale(copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert compiled.load(copy, ENV) is not None
    with monkeypatch.context() as patch:
        patch.setattr(compiled, "bytecode_magic", lambda: b"\x00\x00\r\n")
        assert compiled.load(copy, ENV) is None
    with monkeypatch.context() as patch:
        patch.setattr(jinja2, "__version__", "0.0.0")
        assert compiled.load(copy, ENV) is None
    assert compiled.load(copy, ENV.replace("'keep_trailing_newline', True", "'keep_trailing_newline', False")) is None


def test_the_jinja2_version_is_read_from_its_package_file_without_importing_it() -> None:
    code = ("import sys\nfrom aiogen.render import compiled\nprint(compiled.jinja2_version())\n"
            "print('jinja2' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines() == [jinja2.__version__, "False"]


@pytest.mark.parametrize("damage", [b"", b"garbage", b"0" * 64 + b"\n", b"\n\x00\x01", None])
def test_a_damaged_file_is_ignored(copy: Path, damage: bytes | None) -> None:
    target = copy / compiled.COMPILED_NAME
    data = target.read_bytes()
    target.write_bytes(data[: len(data) // 2] if damage is None else damage)  # None: truncated
    assert compiled.load(copy, ENV) is None


def test_the_lean_runtime_renders_as_jinja2_and_writes_nothing(copy: Path) -> None:
    before = sorted(p.name for p in copy.iterdir())
    found = compiled.load(copy, ENV)
    assert found is not None
    lean = LeanTemplate(LeanEnvironment(templates.FILTERS), found.codes["brokerlistener.yaml.j2"])
    plain = templates.new_environment(jinja2.FileSystemLoader(str(copy))).get_template("brokerlistener.yaml.j2")
    auto = {"issuer_ref": {"name": "i", "kind": "Issuer", "group": "g"}, "duration": "1h", "renew_before": "1m",
            "secret_name": "s\u2028", "key_algorithm": "Ec256", "rotation_policy": "Always",
            "san_dns": ["a", "b"], "san_ip": []}
    context = {"name": "a\u2028b", "namespace": "ns", "broker_ref": "default", "service_name": "svc",
               "service_type": "LoadBalancer",
               "ports": [{"port": 8883, "node_port": None, "protocol": "Mqtt", "authentication_ref": "x",
                          "manual": None, "auto": auto}, {"port": 1, "node_port": 30001, "protocol": "Mqtt", "authentication_ref": None, "manual": "m", "auto": None}]}
    assert lean.render(**context) == plain.render(**context)
    with pytest.raises(jinja2.UndefinedError):  # still StrictUndefined: a missing value fails loudly
        lean.render(namespace="x")
    assert sorted(p.name for p in copy.iterdir()) == before


def test_a_template_that_needs_more_of_jinja2_is_not_lean(copy: Path) -> None:
    """A filter aiogen does not define, a test, a global or another template: a full Jinja2 environment runs it."""
    for name, text in (("filter.yaml.j2", "a: {{ x | upper }}\n"), ("test.yaml.j2", "a: {{ x is defined }}\n"),
                       ("global.yaml.j2", "{% for i in range(2) %}- {{ i }}\n{% endfor %}"),
                       ("loop.yaml.j2", "{% for i in x %}- {{ loop.index }}\n{% endfor %}"),
                       ("include.yaml.j2", "{% include 'namespace.yaml.j2' %}"),
                       ("plain.yaml.j2", "a: {{ x | q }}\n")):
        (copy / name).write_text(text, encoding="utf-8")
    compiled.write(copy)
    found = compiled.load(copy, ENV)
    assert found is not None
    assert {"filter.yaml.j2", "test.yaml.j2", "include.yaml.j2"}.isdisjoint(found.lean)
    assert {"plain.yaml.j2", "global.yaml.j2", "loop.yaml.j2"} <= found.lean  # Jinja2's globals are there
    env = LeanEnvironment(templates.FILTERS)
    full = templates.new_environment(jinja2.FileSystemLoader(str(copy)))
    for name in ("global.yaml.j2", "loop.yaml.j2", "plain.yaml.j2"):
        context = {"x": ["a", "b\u2028"]}
        assert LeanTemplate(env, found.codes[name]).render(**context) == full.get_template(name).render(**context)


def _package_copy(tmp_path: Path) -> Path:
    package = tmp_path / "aiogen"
    shutil.copytree(REPO / "generator" / "aiogen", package, ignore=shutil.ignore_patterns("__pycache__"),
                    symlinks=False)
    (package / "templates" / compiled.COMPILED_NAME).unlink(missing_ok=True)
    return package


def _render(path: Path, spec: str = "fleet.yaml", *, console: bool = False) -> str:
    run_it = "app.console()" if console else "sys.exit(app.main())"
    code = ("import sys; sys.path.insert(0, sys.argv[1]); from aiogen.cli import app; "
            f"sys.argv = ['aiogen', 'render', sys.argv[2], '-o', '-', '--now', '2026-01-01']; {run_it}")
    run = subprocess.run([sys.executable, "-c", code, str(path), spec], capture_output=True, text=True,
                         cwd=EXAMPLES, timeout=120)
    assert run.returncode == 0, run.stderr
    return run.stdout


def test_without_the_file_templates_compile_from_source(tmp_path: Path) -> None:
    """A development checkout without the compiled file renders the same bytes (slower)."""
    package = _package_copy(tmp_path)
    source_rendered = _render(tmp_path)
    assert not (package / "templates" / compiled.COMPILED_NAME).exists()  # nothing written at run time
    compiled.write(package / "templates")
    assert _render(tmp_path, console=True) == source_rendered


def test_a_stale_compiled_file_is_ignored_and_the_output_is_the_same(tmp_path: Path) -> None:
    """The compiled file holds the code of an edited template, then the edit is undone: its code is never run."""
    package = _package_copy(tmp_path)
    expected = _render(tmp_path)
    template = package / "templates" / "issuer.yaml.j2"
    original = template.read_bytes()
    template.write_bytes(original.replace(b"kind: ", b"kind: Stale", 1))
    compiled.write(package / "templates")
    assert "\nkind: Stale" in _render(tmp_path, console=True)  # the edit shows while the file is current
    template.write_bytes(original)
    assert _render(tmp_path, console=True) == expected
    assert _render(tmp_path) == expected

