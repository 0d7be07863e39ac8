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
def test_kustomization_lists_every_resource_file(spec: Path) -> None:
    import yaml

    tree = rendered_tree(spec)
    clusters = {path.split("/", 1)[0] for path in tree}
    for cluster in clusters:
        files = {p.split("/", 1)[1] for p in tree if p.startswith(cluster + "/")}
        kustomization = yaml.safe_load(tree[f"{cluster}/kustomization.yaml"])
        resources = set(kustomization["resources"])
        yaml_files = {f for f in files if f.endswith(".yaml") and f != "kustomization.yaml"}
        assert resources == yaml_files
        for f in yaml_files:  # one resource per file
            docs = [d for d in yaml.safe_load_all(tree[f"{cluster}/{f}"]) if d]
            assert len(docs) == 1
        assert {"aio-trust-settings.txt", "aio-trust-settings.json", "ca-bundle.pem"} <= files
