"""Templates compiled at install time (aiogen.render.compiled): used only while current, never written at run time."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from types import CodeType

import jinja2
import pytest

from aiogen.render import compiled, templates
from tests.helpers import EXAMPLES, REPO


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    """aiogen's templates, copied, with their compiled file built the way the wheel build does."""
    target = tmp_path / "templates"
    target.mkdir()
    for source in templates.TEMPLATES.glob("*.j2"):
        shutil.copy(source, target / source.name)
    compiled.write(target)
    return target


def test_compiled_code_is_what_jinja2_compiles(copy: Path) -> None:
    env = templates._environment()
    codes = compiled.load(env, copy)
    assert codes is not None and sorted(codes) == sorted(p.name for p in copy.glob("*.j2")) != []
    for name, code in codes.items():
        assert isinstance(code, CodeType)
        assert code == env.compile((copy / name).read_text(encoding="utf-8"), name, f"templates/{name}")


def test_a_changed_template_makes_the_file_stale(copy: Path) -> None:
    env = templates._environment()
    path = copy / "issuer.yaml.j2"
    path.write_bytes(path.read_bytes() + b"# edited\n")
    assert compiled.load(env, copy) is None
    (copy / "new.yaml.j2").write_text("kind: X\n", encoding="utf-8")
    compiled.write(copy)
    assert compiled.load(env, copy) is not None
    (copy / "new.yaml.j2").unlink()  # a template removed: stale too
    assert compiled.load(env, copy) is None


def test_another_python_jinja2_or_environment_makes_it_stale(copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = templates._environment()
    assert compiled.load(env, copy) is not None
    with monkeypatch.context() as patch:
        patch.setattr(compiled, "_magic", lambda: b"\x00\x00\r\n")
        assert compiled.load(env, copy) is None
    with monkeypatch.context() as patch:
        patch.setattr(jinja2, "__version__", "0.0.0")
        assert compiled.load(env, copy) is None
    other = jinja2.Environment(keep_trailing_newline=False)  # other syntax options: other code
    other.filters["q"] = templates._quote
    assert compiled.load(other, copy) is None
    assert compiled.environment_signature(jinja2.Environment(trim_blocks=True)) != compiled.environment_signature(env)


@pytest.mark.parametrize("damage", [b"", b"garbage", b"0" * 64 + b"\n", b"\n\x00\x01", None])
def test_a_damaged_file_is_ignored(copy: Path, damage: bytes | None) -> None:
    target = copy / compiled.COMPILED_NAME
    data = target.read_bytes()
    target.write_bytes(data[: len(data) // 2] if damage is None else damage)  # None: truncated
    assert compiled.load(templates._environment(), copy) is None


def test_the_loader_renders_as_jinja2_and_writes_nothing(copy: Path) -> None:
    env = templates._environment()
    before = sorted(p.name for p in copy.iterdir())
    fast = jinja2.Environment(loader=compiled.loader(copy), undefined=jinja2.StrictUndefined,
                              autoescape=False, keep_trailing_newline=True, auto_reload=False)
    fast.filters["q"] = templates._quote
    plain = jinja2.Environment(loader=jinja2.FileSystemLoader(str(copy)), undefined=jinja2.StrictUndefined,
                               autoescape=False, keep_trailing_newline=True, auto_reload=False)
    plain.filters["q"] = templates._quote
    context = {"name": "a\u2028b", "namespace": "ns"}
    assert fast.get_template("serviceaccount.yaml.j2").render(**context) == \
        plain.get_template("serviceaccount.yaml.j2").render(**context)
    assert fast.loader is not None and getattr(fast.loader, "_codes", None)  # the compiled code was used
    with pytest.raises(jinja2.UndefinedError):  # still StrictUndefined: a missing value fails loudly
        fast.get_template("serviceaccount.yaml.j2").render(namespace="x")
    assert sorted(p.name for p in copy.iterdir()) == before
    assert env is templates._environment()


def test_without_the_file_templates_compile_from_source(tmp_path: Path) -> None:
    """A development checkout without the compiled file renders the same bytes (slower)."""
    package = tmp_path / "aiogen"
    shutil.copytree(REPO / "generator" / "aiogen", package, ignore=shutil.ignore_patterns("__pycache__"))
    (package / "templates" / compiled.COMPILED_NAME).unlink(missing_ok=True)
    spec = EXAMPLES / "fleet.yaml"

    def render(path: Path) -> str:
        code = ("import sys; sys.path.insert(0, sys.argv[1]); from aiogen.cli.app import main; "
                "sys.exit(main(['render', sys.argv[2], '-o', '-', '--now', '2026-01-01']))")
        run = subprocess.run([sys.executable, "-c", code, str(path), spec.name], capture_output=True, text=True,
                             cwd=EXAMPLES, timeout=120)
        assert run.returncode == 0, run.stderr
        return run.stdout

    source_rendered = render(tmp_path)
    assert not (package / "templates" / compiled.COMPILED_NAME).exists()  # nothing written at run time
    compiled.write(package / "templates")
    assert render(tmp_path) == source_rendered
