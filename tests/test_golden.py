"""Every example renders exactly to its golden tree (regenerate: `python -m tests.regen_golden`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import EXAMPLE_SPECS
from tests.regen_golden import GOLDEN, rendered_tree


@pytest.mark.parametrize("spec", EXAMPLE_SPECS, ids=lambda p: p.stem)
def test_example_matches_golden(spec: Path) -> None:
    expected_dir = GOLDEN / spec.stem
    expected = {str(p.relative_to(expected_dir)): p.read_text(encoding="utf-8")
                for p in sorted(expected_dir.rglob("*")) if p.is_file()}
    actual = rendered_tree(spec)
    assert sorted(actual) == sorted(expected), "file set changed; run `python -m tests.regen_golden` and read the diff"
    for path, text in actual.items():
        assert text == expected[path], f"{spec.stem}/{path} differs from its golden file"


def test_golden_covers_every_example() -> None:
    assert sorted(p.name for p in GOLDEN.iterdir()) == sorted(p.stem for p in EXAMPLE_SPECS)


@pytest.mark.parametrize("spec", EXAMPLE_SPECS, ids=lambda p: p.stem)
def test_each_stage_kustomization_lists_every_resource_file(spec: Path) -> None:
    """`<cluster>/<stage>/kustomization.yaml` lists exactly its stage's files; the cluster's includes the stages."""
    import yaml

    tree = rendered_tree(spec)
    clusters = {path.split("/", 1)[0] for path in tree}
    for cluster in clusters:
        files = {p.split("/", 1)[1] for p in tree if p.startswith(cluster + "/")}
        top = yaml.safe_load(tree[f"{cluster}/kustomization.yaml"])["resources"]
        azure = "broker/azuredeploy.json" in files
        assert top == ["prerequisites", "broker"]
        for stage in top:
            listed = set(yaml.safe_load(tree[f"{cluster}/{stage}/kustomization.yaml"])["resources"])
            in_stage = {f.split("/", 1)[1] for f in files
                        if f.startswith(stage + "/") and f.endswith(".yaml") and f != f"{stage}/kustomization.yaml"}
            assert listed == in_stage
            for f in in_stage:  # one resource per file
                docs = [d for d in yaml.safe_load_all(tree[f"{cluster}/{stage}/{f}"]) if d]
                assert len(docs) == 1
        loose = {f for f in files if f.endswith(".yaml") and "/" not in f}
        assert loose == {"kustomization.yaml"}, "every resource lives in a stage"
        if azure:
            assert sorted(f for f in files if f.startswith("broker/")) == [
                "broker/azuredeploy.json", "broker/kustomization.yaml"]
            assert yaml.safe_load(tree[f"{cluster}/broker/kustomization.yaml"])["resources"] == [], "never both forms"
        assert {"INSTALL.md", "aio-trust-settings.txt", "aio-trust-settings.json", "ca-bundle.pem"} <= files
