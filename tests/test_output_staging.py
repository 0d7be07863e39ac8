"""`render -o DIR` writes as it renders (`aiogen.output.staging`): each cluster is compared and staged
before the next is rendered, nothing is renamed until every cluster is staged, and a conflict, a
key or a failure in any cluster leaves the directory as it was. The tree is the one `write_tree`
writes from the whole tree in memory, byte for byte, `.aiogen-owned` included.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from aiogen.model.problems import AiogenError
from aiogen.output import layout
from aiogen.output import tree as tree_writer
from aiogen.pipeline import load_plan
from aiogen.render import RenderedCluster, iter_render
from tests.helpers import EXAMPLES, aiogen

FLEET = EXAMPLES / "fleet.yaml"
NOW = "2026-01-15"


def rendered() -> list[RenderedCluster]:
    from datetime import UTC, datetime

    return list(iter_render(load_plan(FLEET, now=datetime(2026, 1, 15, tzinfo=UTC))))


def snapshot(root: Path) -> dict[str, bytes | str]:
    out: dict[str, bytes | str] = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        out[rel] = f"-> {os.readlink(path)}" if path.is_symlink() else "dir" if path.is_dir() else path.read_bytes()
    return out


def temporaries(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*.aiogen-tmp"))


def test_each_cluster_is_staged_before_the_next_is_rendered(tmp_path: Path) -> None:
    clusters = rendered()
    out = tmp_path / "out"
    seen: list[list[str]] = []

    def one_at_a_time() -> Iterator[RenderedCluster]:
        for cluster in clusters:
            seen.append(temporaries(out))
            assert [p for p in out.rglob("*.yaml") if not p.name.endswith(".aiogen-tmp")] == []  # nothing renamed
            yield cluster

    result = tree_writer.write_rendered(one_at_a_time(), out)
    per_cluster = [len(layout.cluster_files(c)) for c in clusters]
    assert [len(s) for s in seen] == [0, per_cluster[0], per_cluster[0] + per_cluster[1]]  # staged, none renamed
    assert temporaries(out) == []
    assert len(result.written) == sum(per_cluster) and result.unchanged == ()

    whole = tmp_path / "whole"  # the same tree written from memory, the way it was before
    tree_writer.write_tree(layout.tree(clusters), whole, keys_checked=True)
    assert snapshot(out) == snapshot(whole)


def test_the_cli_tree_is_byte_identical_to_the_tree_written_from_memory(tmp_path: Path) -> None:
    assert aiogen("render", FLEET, "-o", tmp_path / "out", "--now", NOW).code == 0
    tree_writer.write_tree(layout.tree(rendered()), tmp_path / "whole", keys_checked=True)
    assert snapshot(tmp_path / "out") == snapshot(tmp_path / "whole")


def test_a_conflict_in_the_last_cluster_changes_nothing(tmp_path: Path) -> None:
    """The first clusters were staged when the conflict is found: their temporaries and new directories go."""
    out = tmp_path / "out"
    (out / "plant-lyon").mkdir(parents=True)
    (out / "plant-lyon/kustomization.yaml").write_text("# the user's\n")
    before = snapshot(out)
    run = aiogen("render", FLEET, "-o", out, "--now", NOW)
    assert run.code == 1
    assert run.err.startswith(f"{out} holds files aiogen did not write where it would write: "
                              "plant-lyon/kustomization.yaml")
    assert snapshot(out) == before


def test_every_conflict_is_named_even_after_staging_stopped(tmp_path: Path) -> None:
    out = tmp_path / "out"
    for cluster in ("plant-berlin", "plant-lyon"):
        (out / cluster).mkdir(parents=True)
        (out / cluster / "INSTALL.md").write_text("mine\n")
    run = aiogen("render", FLEET, "-o", out, "--now", NOW)
    assert run.code == 1
    assert "plant-berlin/INSTALL.md, plant-lyon/INSTALL.md" in run.err
    assert temporaries(out) == [] and sorted(p.name for p in out.iterdir()) == ["plant-berlin", "plant-lyon"]


@pytest.mark.parametrize("existing", [False, True])
def test_a_cluster_that_fails_to_render_leaves_the_directory_as_it_was(tmp_path: Path, existing: bool) -> None:
    clusters = rendered()
    out = tmp_path / "out"
    if existing:
        tree_writer.write_rendered(clusters[:1], out)
    before = snapshot(out) if existing else None

    def failing() -> Iterator[RenderedCluster]:
        yield from clusters[:2]
        raise AiogenError.single("the third cluster cannot be rendered")

    with pytest.raises(AiogenError, match="the third cluster cannot be rendered"):
        tree_writer.write_rendered(failing(), out)
    if existing:
        assert snapshot(out) == before
    else:
        assert not out.exists()  # nor the directory render created for it


def test_a_key_in_a_later_cluster_writes_nothing(tmp_path: Path) -> None:
    from tests.helpers import key_pem, make_ca_pem

    _, _, key = make_ca_pem("k")
    clusters = rendered()
    leaky = RenderedCluster(clusters[2].name, clusters[2].resources,
                            (*clusters[2].extra_files, ("leak.pem", key_pem(key))))
    out = tmp_path / "out"
    with pytest.raises(AiogenError, match=r"refusing to write plant-lyon/leak\.pem: it would contain a private key"):
        tree_writer.write_rendered([*clusters[:2], leaky], out)
    assert not out.exists()


def test_a_cluster_rendered_twice_is_refused(tmp_path: Path) -> None:
    clusters = rendered()
    with pytest.raises(AiogenError, match="plant-berlin is rendered twice"):
        tree_writer.write_rendered([clusters[0], clusters[1], clusters[0]], tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_large_ownership_list_is_read_back(tmp_path: Path) -> None:
    """10,000 clusters write a 25 MB `.aiogen-owned`; the next render must be able to read it (it
    was refused above 8 MiB, so a large fleet rendered once could never be rendered again)."""
    out = tmp_path / "out"
    tree_writer.write_tree({"c/a.yaml": "a\n"}, out)
    marker = out / ".aiogen-owned"
    lines = "".join(f"{index:064x}  c{index}/prerequisites/kustomization.yaml\n" for index in range(100_000))
    marker.write_text(marker.read_text() + lines)
    assert marker.stat().st_size > 9 * 1024 * 1024
    result = tree_writer.write_tree({"c/a.yaml": "a\n"}, out)
    assert result.unchanged == ("c/a.yaml",) and result.removed == ()  # the listed files are not there
    assert "c7/" not in marker.read_text()
