"""Every phase of both rollover sequences renders exactly to its golden tree, and conforms to the CRDs.

Regenerate with `python -m tests.regen_golden_rollover` and read the diff before committing it.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import yaml

from tests.regen_golden_rollover import GOLDEN, SEQUENCES, rendered_tree, sequence

SPECS = [(name, spec) for name, directory in SEQUENCES.items() for spec in sequence(directory)]
IDS = [f"{name}/{spec.stem}" for name, spec in SPECS]


def test_both_sequences_have_every_phase() -> None:
    for directory in SEQUENCES.values():
        stems = [spec.stem.split("-", 1)[1] for spec in sequence(directory)]
        assert stems[1:5] == ["prepare", "distribute", "switch", "retire"]
        assert stems[0].startswith("stable-") and stems[5].startswith("stable-")


@pytest.mark.parametrize(("name", "spec"), SPECS, ids=IDS)
def test_phase_matches_golden(name: str, spec: Path) -> None:
    expected_dir = GOLDEN / name / spec.stem
    expected = {str(p.relative_to(expected_dir)): p.read_text(encoding="utf-8")
                for p in sorted(expected_dir.rglob("*")) if p.is_file()}
    actual = rendered_tree(spec)
    assert sorted(actual) == sorted(expected), \
        "file set changed; run `python -m tests.regen_golden_rollover` and read the diff"
    for path, text in actual.items():
        assert text == expected[path], f"{name}/{spec.stem}/{path} differs from its golden file"


def test_golden_covers_every_phase() -> None:
    assert sorted(f"{p.parent.name}/{p.name}" for p in GOLDEN.glob("*/*")) == sorted(IDS)


@pytest.mark.parametrize(("name", "spec"), SPECS, ids=IDS)
def test_phase_conforms_to_the_crds(name: str, spec: Path) -> None:
    from tests.conformance import validate_tree

    problems, count = validate_tree(rendered_tree(spec))
    assert problems == []
    assert count > 0


@pytest.mark.parametrize("name", sorted(SEQUENCES))
def test_finishing_a_rotation_changes_no_rendered_byte(name: str) -> None:
    specs = sequence(SEQUENCES[name])
    assert rendered_tree(specs[4]) == rendered_tree(specs[5])


def test_the_table_of_phases_in_the_golden_diffs() -> None:
    """What each step changes on plant-berlin, read from the golden trees (docs/rollover.md phase table)."""
    def files(stem: str) -> dict[str, str]:
        root = GOLDEN / "root" / stem / "plant-berlin"
        return {str(p.relative_to(root)): p.read_text() for p in root.rglob("*") if p.is_file()}

    stems = [spec.stem for spec in sequence(SEQUENCES["root"])]
    trees = [files(stem) for stem in stems]
    changed = [sorted(p for p in set(a) | set(b) if a.get(p) != b.get(p)) for a, b in itertools.pairwise(trees)]
    assert changed[0] == ["prerequisites/cert-manager/secretproviderclass-berlin-ica-2028-kv.yaml",  # prepare: new material
                          "prerequisites/cert-manager/secretsync-berlin-ica-2028.yaml", "prerequisites/kustomization.yaml"]
    assert changed[1] == ["ca-bundle.pem", "prerequisites/cert-manager/configmap-aiogen-pinned-roots.yaml",  # distribute: trust
                          "prerequisites/cluster-scoped/bundle-contoso-aio-trust.yaml", "prerequisites/cluster-scoped/bundle-contoso-mqtt-trust.yaml"]
    assert changed[2] == ["prerequisites/cluster-scoped/clusterissuer-contoso-aio-issuer.yaml"]  # switch: the issuer only
    assert changed[3] == ["ca-bundle.pem", "prerequisites/cert-manager/configmap-aiogen-pinned-roots.yaml",  # retire
                          "prerequisites/cert-manager/secretproviderclass-berlin-ica-2025-kv.yaml",
                          "prerequisites/cert-manager/secretsync-berlin-ica-2025.yaml",
                          "prerequisites/cluster-scoped/bundle-contoso-aio-trust.yaml", "prerequisites/cluster-scoped/bundle-contoso-mqtt-trust.yaml",
                          "prerequisites/kustomization.yaml"]
    assert changed[4] == []  # finish
    issuer = [yaml.safe_load(t["prerequisites/cluster-scoped/clusterissuer-contoso-aio-issuer.yaml"]) for t in trees]
    assert {i["metadata"]["name"] for i in issuer} == {"contoso-aio-issuer"}  # the name AIO's trust settings use
    assert [i["spec"]["ca"]["secretName"] for i in issuer] == ["berlin-ica-2025"] * 3 + ["berlin-ica-2028"] * 3
    settings = {t["aio-trust-settings.txt"] for t in trees}
    assert len(settings) == 1
