"""`aiogen rollout advance`: one phase forward, the user's file kept as it was, and refusals."""

from __future__ import annotations

import difflib
import io
import shutil
from pathlib import Path

import pytest

from tests.helpers import EXAMPLES, aiogen
from tests.rollout_fleets import Fleet, State, spec_for
from tests.test_rollout_check import GAPS, PLANT, errors, write

ROLLOVER = EXAMPLES / "rollover"


@pytest.fixture
def work(tmp_path: Path) -> Path:
    target = tmp_path / "rollover"
    shutil.copytree(ROLLOVER, target, ignore=shutil.ignore_patterns("client-root"))
    return target


def changed_lines(before: str, after: str) -> list[str]:
    return [line for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
            if line[:1] in "+-" and not line.startswith(("+++", "---"))]


def test_only_the_rotation_lines_change(work: Path) -> None:
    spec = work / "02-distribute.yaml"
    before = spec.read_text()
    run = aiogen("rollout", "advance", spec, "root-2028", "--now", "2026-12-15")
    assert run.code == 0, run.err
    assert changed_lines(before, spec.read_text()) == [
        "-      phase: distribute",
        "+      phase: switch",
        '+        switch: "2026-12-15"',  # the examples quote their dates; so does the new one
    ]
    assert errors(run.err)[0] == f"{spec}: rotation root-2028 moved from distribute to switch (started.switch: 2026-12-15)"
    assert errors(run.err)[-1].startswith("next: retire     2027-03-16  in 91 days   (the switch day 2026-12-15 + ")


def _relayout(text: str, indent: tuple[int, int, int]) -> str:
    from ruamel.yaml import YAML

    yaml = YAML(typ="rt")
    yaml.width = 1 << 20
    yaml.preserve_quotes = True
    yaml.indent(mapping=indent[0], sequence=indent[1], offset=indent[2])
    out = io.StringIO()
    yaml.dump(yaml.load(text), out)
    return out.getvalue()


@pytest.mark.parametrize("indent", [(2, 2, 0), (4, 4, 2), (4, 6, 4)], ids=str)
def test_other_layouts_are_kept(work: Path, indent: tuple[int, int, int]) -> None:
    spec = work / "02-distribute.yaml"
    text = _relayout(spec.read_text(), indent)
    text = text.replace("minDwell: 7d", "minDwell: '7d'").replace("phase: distribute", 'phase: "distribute"')
    spec.write_text(text)
    run = aiogen("rollout", "advance", spec, "root-2028", "--now", "2026-12-15")
    assert run.code == 0, run.err
    pad = " " * (indent[0] * 2)  # started's entries, two mapping levels below the rotation's keys
    lines = changed_lines(text, spec.read_text())
    assert [line[0] + line[1:].strip() for line in lines] == ['-phase: "distribute"', '+phase: "switch"',
                                                              '+switch: "2026-12-15"']
    assert lines[2].endswith(pad + 'switch: "2026-12-15"')
    assert "note:" not in run.err


def test_flow_style_started_stays_flow(tmp_path: Path) -> None:
    spec = write(tmp_path, spec_for(Fleet("pinned-intermediate", "serverRoot", (PLANT,), 365, GAPS),
                                    State("prepare", "before")), "spec.yaml")
    text = spec.read_text().replace("started:\n      prepare: '2026-12-01'", "started: {prepare: 2026-12-01}  # day one")
    assert "started: {prepare: 2026-12-01}  # day one" in text
    spec.write_text(text)
    run = aiogen("rollout", "advance", spec, "server", "--now", "2026-12-08")
    assert run.code == 0, run.err
    # the comment stays; ruamel keeps its column unless the line grew past it
    assert changed_lines(text, spec.read_text()) == [
        "-    phase: prepare", "-    started: {prepare: 2026-12-01}  # day one",
        "+    phase: distribute", "+    started: {prepare: 2026-12-01, distribute: 2026-12-08} # day one",
    ]


def test_refuses_before_min_dwell_and_leaves_the_file_alone(work: Path) -> None:
    spec = work / "02-distribute.yaml"
    before = spec.read_bytes()
    run = aiogen("rollout", "advance", spec, "root-2028", "--now", "2026-12-14")
    assert run.code == 3
    assert run.err == ("rotation root-2028 may not move from distribute to switch before 2026-12-15 (now: 2026-12-14): "
                       "distribute began 2026-12-08, plus minDwell 168h (7d) (wait, or pass --now if the clock is "
                       "wrong)\n")
    assert spec.read_bytes() == before


def test_refuses_retire_before_the_old_leaves_expire(work: Path) -> None:
    spec = work / "03-switch.yaml"
    run = aiogen("rollout", "advance", spec, "root-2028", "--now", "2027-03-15")
    assert run.code == 3
    assert run.err.startswith("rotation root-2028 may not move from switch to retire before 2027-03-16 "
                              "(now: 2027-03-15): the switch day 2026-12-15 + 2160h (90d), the longest leaf lifetime "
                              "under contoso-root-2025 (AIO's default listener aio-broker:18883 on plant-berlin)")


def test_refuses_when_the_check_fails(tmp_path: Path) -> None:
    """A spec recorded in retire too early (leaves under the old root still valid): finishing is refused."""
    fleet = Fleet("pinned-intermediate", "serverRoot", (PLANT,), 365, (7, 7, 1))
    spec = write(tmp_path, spec_for(fleet, State("retire", "before")), "spec.yaml")
    before = spec.read_bytes()
    run = aiogen("rollout", "advance", spec, "server", "--now", "2026-12-17")
    assert run.code == 3
    lines = errors(run.err)
    assert lines[0].startswith("plant-a: clients in the AIO namespace 'azure-iot-operations' (Bundle aio-trust-bundle) "
                               "would not trust AIO's default listener aio-broker:18883 and listener plant-mqtts:8883 "
                               "even now: root contoso-root-2025 is missing from their bundle in the deployed spec")
    assert lines[-1] == f"refusing to move rotation server to finish: the step is not safe; {spec} is unchanged"
    assert spec.read_bytes() == before


def test_unknown_rotation(work: Path) -> None:
    run = aiogen("rollout", "advance", work / "02-distribute.yaml", "root-2029", "--now", "2026-12-15")
    assert (run.code, run.err) == (1, f"{work / '02-distribute.yaml'}: no rotation named 'root-2029' "
                                      "(rotations: root-2028)\n")
    stable = aiogen("rollout", "advance", work / "00-stable-root-2025.yaml", "root-2028")
    assert (stable.code, stable.err) == (1, f"{work / '00-stable-root-2025.yaml'}: no rotation named 'root-2028' "
                                            "(the spec has no rotations)\n")
    missing = aiogen("rollout", "advance", work / "nope.yaml", "root-2028")
    assert (missing.code, missing.err) == (1, f"{work / 'nope.yaml'}: no such file\n")


def test_dry_run_prints_and_changes_nothing(work: Path) -> None:
    spec = work / "02-distribute.yaml"
    before = spec.read_text()
    run = aiogen("rollout", "advance", spec, "root-2028", "--now", "2026-12-15", "--dry-run")
    assert run.code == 0, run.err
    assert spec.read_text() == before
    assert changed_lines(before, run.out) == ["-      phase: distribute", "+      phase: switch",
                                              '+        switch: "2026-12-15"']
    assert f"{spec}: rotation root-2028 would move from distribute to switch (started.switch: 2026-12-15)" in run.err


def test_finish_removes_the_rotation_and_the_unused_root(work: Path) -> None:
    spec = work / "04-retire.yaml"
    run = aiogen("rollout", "advance", spec, "root-2028", "--now", "2027-03-20")
    assert run.code == 0, run.err
    assert ("aiogen: note: removed spec.roots.contoso-root-2025: nothing names it any more (pki/contoso-root-2025.pem is no "
            "longer read; keep it or delete it)") in run.err.splitlines()
    assert f"{spec}: rotation root-2028 is finished (it was in retire)" in run.err.splitlines()
    text = spec.read_text()
    assert "rotations" not in text and "next:" not in text and "contoso-root-2025" not in text.split("\n", 8)[-1]
    again = aiogen("rollout", "advance", spec, "root-2028", "--now", "2027-03-20")
    assert again.code == 1
