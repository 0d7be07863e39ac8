"""`aiogen render --check` and `aiogen diff` on a fresh, a stale and a hand-edited tree.

--check is what a CI job or pre-commit hook runs on a GitOps repository: it must write nothing,
exit 3 exactly when DIR is not what the spec renders to, and print a diff that, applied with
`patch -p1` inside DIR, makes the tree what a render would.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from aiogen.model.problems import EXIT_CHECK_FAILED
from aiogen.output.drift import compare
from aiogen.output.owned import OWNED_HEADER, owned_list_text
from tests.helpers import EXAMPLES, aiogen

FLEET = EXAMPLES / "fleet.yaml"
LISTENER = "plant-berlin/broker/azure-iot-operations/brokerlistener-plant-mqtts.yaml"


def snapshot(directory: Path) -> dict[str, tuple[str, int]]:
    """Every file's digest and mtime: proof that nothing was written."""
    return {str(p.relative_to(directory)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
            for p in sorted(directory.rglob("*")) if p.is_file()}


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    out = tmp_path / "clusters"
    result = aiogen("render", FLEET, "-o", out)
    assert result.code == 0, result.err
    return out


def check(out: Path, *extra: str) -> tuple[int, str, str]:
    before = snapshot(out) if out.exists() else None
    result = aiogen("render", FLEET, "-o", out, "--check", *extra)
    assert (snapshot(out) if out.exists() else None) == before, "--check wrote something"
    return result.code, result.out, result.err


def test_fresh_tree_passes(tree: Path) -> None:
    (tree / "README.md").write_text("files aiogen does not own are ignored\n")
    (tree / "plant-berlin" / "overlay.yaml").write_text("kind: Kustomization\n")
    code, out, err = check(tree)
    assert (code, out) == (0, "")
    assert f"aiogen: {tree} is up to date with {FLEET}" in err


def test_missing_directory_is_stale_and_not_created(tmp_path: Path) -> None:
    code, out, err = check(tmp_path / "nothing-here")
    assert code == EXIT_CHECK_FAILED
    assert not (tmp_path / "nothing-here").exists()
    assert "--- /dev/null\n+++ b/plant-berlin/kustomization.yaml\n" in out
    assert "50 missing, .aiogen-owned out of date" in err


def test_hand_edited_tree_fails_with_the_exact_diff(tree: Path) -> None:
    path = tree / LISTENER
    path.write_text(path.read_text().replace("serviceType: LoadBalancer", "serviceType: NodePort"))
    code, out, err = check(tree)
    assert code == EXIT_CHECK_FAILED
    assert out == (
        f"--- a/{LISTENER}\n"
        f"+++ b/{LISTENER}\n"
        "@@ -9,7 +9,7 @@\n"
        " spec:\n"
        "   brokerRef: default\n"
        "   serviceName: plant-mqtts\n"
        "-  serviceType: NodePort\n"
        "+  serviceType: LoadBalancer\n"
        "   ports:\n"
        "   - port: 8883\n"
        "     protocol: Mqtt\n"
    )
    assert f"aiogen: {tree} is stale: 1 changed; run `aiogen render {FLEET} -o {tree}` and commit the result" in err


def test_stale_tree_from_an_older_spec(tree: Path, tmp_path: Path) -> None:
    """The spec dropped a listener: its file is stale (render would delete it), the kustomization changed."""
    spec_dir = tmp_path / "spec"
    shutil.copytree(EXAMPLES / "pki", spec_dir / "pki")
    text = FLEET.read_text()
    start = text.index("\n          - name: plant-nodeport")
    end = text.index("\n        authentication:", start)
    (spec_dir / "fleet.yaml").write_text(text[:start] + text[end:])
    result = aiogen("render", spec_dir / "fleet.yaml", "-o", tree, "--check")
    assert result.code == EXIT_CHECK_FAILED
    gone = "plant-munich/broker/azure-iot-operations/brokerlistener-plant-nodeport.yaml"
    assert f"--- a/{gone}\n+++ /dev/null\n" in result.out
    assert "--- a/plant-munich/broker/kustomization.yaml\n" in result.out
    owned_diff = result.out.split("--- a/.aiogen-owned\n")[1]
    assert re.search(rf"^-[0-9a-f]{{64}}  {re.escape(gone)}$", owned_diff, re.M), owned_diff
    assert "1 changed, 1 stale, .aiogen-owned out of date" in result.err


def test_the_diff_applied_with_patch_makes_the_tree_current(tree: Path) -> None:
    patch = shutil.which("patch")
    if patch is None:
        pytest.skip("patch is not installed")
    (tree / LISTENER).write_text("hand edited, no newline at the end")
    (tree / "plant-lyon" / "ca-bundle.pem").unlink()
    stale = tree / "plant-berlin" / "prerequisites" / "cert-manager" / "configmap-retired.yaml"
    stale.write_text("kind: ConfigMap\n")
    with (tree / ".aiogen-owned").open("a") as marker:  # as if an older spec had rendered it
        marker.write(hashlib.sha256(b"kind: ConfigMap\n").hexdigest() + "  " + str(stale.relative_to(tree)) + "\n")
    result = aiogen("diff", FLEET, "-o", tree)
    assert result.code == 0  # diff reports, it does not fail
    assert "\\ No newline at end of file\n" in result.out
    assert "1 changed, 1 missing, 1 stale, .aiogen-owned out of date" in result.err
    applied = subprocess.run([patch, "-p1", "--batch", "--silent"], cwd=tree, input=result.out, text=True,
                             capture_output=True, check=False)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert not stale.exists()
    assert check(tree)[0] == 0


def test_foreign_file_where_aiogen_renders_one(tree: Path) -> None:
    """A file aiogen did not write sits where it renders one: drift, and render would refuse it."""
    marker = tree / ".aiogen-owned"
    marker.write_text("".join(line + "\n" for line in marker.read_text().splitlines()
                              if not line.endswith(f"  {LISTENER}")))
    (tree / LISTENER).write_text("mine\n")
    code, _, err = check(tree)
    assert code == EXIT_CHECK_FAILED
    assert f"not written by aiogen (render will refuse to replace): {LISTENER}" in err


def test_check_scopes_to_the_clusters_rendered(tree: Path) -> None:
    (tree / "plant-lyon" / "ca-bundle.pem").write_text("edited\n")
    assert check(tree, "--cluster", "plant-berlin")[0] == 0
    assert check(tree, "--cluster", "plant-lyon")[0] == EXIT_CHECK_FAILED


def test_check_needs_a_directory() -> None:
    result = aiogen("render", FLEET, "-o", "-", "--check")
    assert result.code == 2
    assert "--check compares with a directory" in result.err


def test_bad_spec_is_an_error_not_a_stale_tree(tree: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: aiogen.io/v1alpha1\nkind: Topology\n")
    assert aiogen("render", bad, "-o", tree, "--check").code == 1
    assert aiogen("diff", bad, "-o", tree).code == 1


def test_owned_list_is_what_render_writes(tree: Path) -> None:
    """The ownership list is exactly its one definition's text of the entries render wrote."""
    text = (tree / ".aiogen-owned").read_text()
    assert text.startswith(OWNED_HEADER)
    entries = [line.split("  ", 1) for line in text.splitlines() if not line.startswith("#")]
    assert len(entries) == 50
    assert owned_list_text({path: [digest] for digest, path in entries}) == text
    for digest, path in entries:
        assert hashlib.sha256((tree / path).read_bytes()).hexdigest() == digest


def test_compare_reports_non_files(tree: Path) -> None:
    from aiogen.output import layout
    from aiogen.pipeline import render_spec

    _, rendered = render_spec(FLEET)
    files = layout.tree(rendered)
    (tree / LISTENER).unlink()
    (tree / LISTENER).mkdir()
    drift = compare(files, tree)
    assert drift.changed == (LISTENER,) and drift.foreign == (LISTENER,)
    assert f"a/{LISTENER} is not a regular file" in drift.diff
