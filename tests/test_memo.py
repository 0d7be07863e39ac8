"""Remembered renders (aiogen.memo): a hit replays the output exactly, and never outlives its inputs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import EXAMPLES, REPO


@pytest.fixture
def work(tmp_path: Path) -> Path:
    shutil.copytree(EXAMPLES, tmp_path / "examples")
    return tmp_path / "examples"


def render(work: Path, cache: Path, *args: str, probe: bool = False) -> subprocess.CompletedProcess[str]:
    """`aiogen render fleet.yaml -o -` in a fresh process; with ``probe``, also report heavy imports."""
    env = {k: v for k, v in os.environ.items() if k != "AIOGEN_NO_CACHE"}
    env["AIOGEN_CACHE_DIR"] = str(cache)
    code = ("import sys; from aiogen.cli import main; rc = main(sys.argv[1:]); "
            "print('HEAVY' if 'pydantic' in sys.modules or 'jinja2' in sys.modules else 'LIGHT', file=sys.stderr); "
            "sys.exit(rc)") if probe else "import sys; from aiogen.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, "render", "fleet.yaml", "-o", "-", *args], cwd=work,
                          env=env, capture_output=True, text=True, timeout=120)


def test_a_hit_replays_the_same_bytes_without_importing_the_renderer(work: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = render(work, cache, probe=True)
    assert first.returncode == 0, first.stderr
    assert first.stderr.strip().endswith("HEAVY")
    second = render(work, cache, probe=True)
    assert second.returncode == 0
    assert second.stdout == first.stdout
    assert second.stderr.strip().endswith("LIGHT")  # pydantic, Jinja2 never imported
    fresh = subprocess.run([sys.executable, "-m", "aiogen.cli", "render", "fleet.yaml", "-o", "-"], cwd=work,
                           capture_output=True, text=True, env={**os.environ, "AIOGEN_NO_CACHE": "1"})
    assert fresh.stdout == first.stdout


def test_changing_any_input_renders_afresh(work: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    base = render(work, cache).stdout
    spec = work / "fleet.yaml"
    spec.write_text(spec.read_text().replace("duration: 720h", "duration: 480h"))
    edited = render(work, cache, probe=True)
    assert edited.stdout != base and "duration: 480h" in edited.stdout
    assert edited.stderr.strip().endswith("HEAVY")
    # a PEM the spec names: same name, new certificate
    pem = work / "pki" / "contoso-devices-2025.pem"
    before = render(work, cache).stdout
    from tests.helpers import make_ca_pem

    pem.write_text(make_ca_pem("Contoso Devices Root CA 2025")[0])
    after = render(work, cache)
    assert after.stdout != before
    assert pem.read_text().splitlines()[1] in after.stdout


def test_arguments_are_part_of_the_key(work: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    everything = render(work, cache).stdout
    lyon = render(work, cache, "--cluster", "plant-lyon").stdout
    assert lyon != everything and "plant-berlin" not in lyon


def test_the_clock_ends_a_remembered_render(work: Path, tmp_path: Path) -> None:
    """A render is good only until a time check would answer otherwise (Plan.valid_until)."""
    import json

    cache = tmp_path / "cache"
    assert render(work, cache).returncode == 0
    (entry,) = (cache / "renders").glob("*.json")
    record = json.loads(entry.read_text())
    assert record["valid_until"] is not None  # the example's certificates expire some day
    record["valid_until"] = 1.0  # as if that day had come
    record["stdout"] = "stale\n"
    entry.write_text(json.dumps(record))
    assert render(work, cache).stdout != "stale\n"


def test_no_cache_and_failures_are_never_remembered(work: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    spec = work / "fleet.yaml"
    spec.write_text(spec.read_text().replace("port: 8883", "port: 18883", 1))
    assert render(work, cache).returncode == 1
    assert not list((cache / "renders").glob("*.json"))


def test_plan_records_its_inputs_and_horizon() -> None:
    from aiogen.pipeline import load_plan

    plan = load_plan(EXAMPLES / "fleet.yaml")
    assert str((EXAMPLES / "fleet.yaml").resolve()) in plan.inputs
    assert str((EXAMPLES / "pki" / "contoso-root-2025.pem").resolve()) in plan.inputs
    assert plan.valid_until is not None
    lab = load_plan(EXAMPLES / "lab.yaml")
    assert lab.inputs == (str((EXAMPLES / "lab.yaml").resolve()),) and lab.valid_until is None
    assert REPO.exists()


def test_krm_function_remembers_its_resource_list(work: Path, tmp_path: Path) -> None:
    """The kustomize path: the same ResourceList and files give the same bytes, without the renderer."""
    config = (work / "kustomize" / "render-config" / "aiogen.yaml").read_text()
    indented = "".join(f"  {line}\n" for line in config.splitlines() if not line.startswith("#"))
    resource_list = f"apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems: []\nfunctionConfig:\n{indented}"
    env = {k: v for k, v in os.environ.items() if k != "AIOGEN_NO_CACHE"}
    env["AIOGEN_CACHE_DIR"] = str(tmp_path / "cache")
    code = ("import sys; from aiogen.cli import main; rc = main([]); "
            "print('HEAVY' if 'pydantic' in sys.modules else 'LIGHT', file=sys.stderr); sys.exit(rc)")

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-c", code], input=resource_list, cwd=work / "kustomize" / "render-config",
                              env=env, capture_output=True, text=True, timeout=120)

    first, second = run(), run()
    assert first.returncode == 0, first.stderr
    assert "kind: BrokerListener" in first.stdout
    assert second.stdout == first.stdout
    assert (first.stderr.strip().splitlines()[-1], second.stderr.strip().splitlines()[-1]) == ("HEAVY", "LIGHT")
    spec = work / "fleet.yaml"  # the spec the RenderConfig names is an input too
    spec.write_text(spec.read_text().replace("mqtt.berlin.contoso.example", "broker.berlin.contoso.example"))
    third = run()
    assert "broker.berlin.contoso.example" in third.stdout and third.stderr.strip().endswith("HEAVY")
