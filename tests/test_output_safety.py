"""Output safety: aiogen writes only inside ``-o DIR``, only its own files, never a private key.

Named regressions for each rule of `aiogen.output.tree.write_tree` (docs/hardening.md): hostile names
cannot leave the directory, user files are never replaced or deleted, symbolic links are never
followed for writing or deletion, the ownership list cannot be abused, an interrupted render
leaves every file either old or new, concurrent renders serialise, and a private key anywhere
in the output stops the render before a byte is written.
"""

from __future__ import annotations

import errno
import os
import stat
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from aiogen.model.problems import AiogenError
from aiogen.output import owned
from aiogen.output import tree as tree_writer
from tests.helpers import EXAMPLES, aiogen

LAB = (EXAMPLES / "lab.yaml").read_text(encoding="utf-8")
LISTENER = "lab-1/broker/azure-iot-operations/brokerlistener-lab-mqtts.yaml"


def snapshot(root: Path) -> dict[str, bytes | str]:
    """Every entry under ``root``: file bytes, or the target of a symbolic link, or 'dir'."""
    out: dict[str, bytes | str] = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if path.is_symlink():
            out[rel] = f"-> {os.readlink(path)}"
        elif path.is_dir():
            out[rel] = "dir"
        else:
            out[rel] = path.read_bytes()
    return out


def lab_spec(tmp_path: Path, text: str = LAB) -> Path:
    spec = tmp_path / "lab.yaml"
    spec.write_text(text, encoding="utf-8")
    return spec


def render(spec: Path, out: Path) -> Any:
    return aiogen("render", spec, "-o", out)


# ---------------------------------------------------------------- names cannot leave -o DIR


@pytest.mark.parametrize("name", ["../escape", "../../escape", "/tmp/escape", "a/b", ".", "..", "lab\x00-1",
                                  "x" * 300, "lab-1/../../escape"])
def test_cluster_name_cannot_create_paths_outside_the_output(tmp_path: Path, name: str) -> None:
    work = tmp_path / "work"
    work.mkdir()
    quoted = name.replace("\\", "\\\\").replace('"', '\\"').replace("\x00", "\\0")
    spec = lab_spec(work, LAB.replace("name: lab-1\n", f'name: "{quoted}"\n'))
    before = snapshot(tmp_path)
    run = render(spec, work / "out")
    assert run.code == 1, run
    assert "Traceback" not in run.err and "internal error" not in run.err
    assert run.err.startswith(f"{spec}:10:"), run.err  # located at clusters[0].name
    assert "spec.clusters[0].name" in run.err
    assert snapshot(tmp_path) == before  # not even -o DIR was created


@pytest.mark.parametrize(
    ("field", "old", "new"),
    [
        ("aio namespace", "spec:\n", "spec:\n  defaults:\n    namespaces: {aio: ../../escape}\n"),
        ("issuer name", "spec:\n", "spec:\n  defaults:\n    issuer: {name: ../../escape}\n"),
        ("trust bundle", "spec:\n", "spec:\n  defaults:\n    trust: {aio: {name: ../escape, key: ca.crt}}\n"),
        ("listener name", "name: lab-mqtts", "name: ../../lab-mqtts"),
        ("service name", "name: lab-mqtts", "name: lab-mqtts\n            serviceName: ../x"),
        ("root name", "commonName: lab-1 root CA", "commonName: lab-1 root CA\n          name: ../../../r"),
    ],
)
def test_resource_names_cannot_create_paths_outside_the_output(
    tmp_path: Path, field: str, old: str, new: str
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    assert old in LAB
    spec = lab_spec(work, LAB.replace(old, new, 1))
    before = snapshot(tmp_path)
    run = render(spec, work / "out")
    assert run.code == 1, (field, run)
    assert "Traceback" not in run.err and "internal error" not in run.err
    assert all(line.startswith(f"{spec}:") for line in run.err.splitlines()), run.err
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize(
    "path",
    ["../x.yaml", "/etc/passwd", "a/../../x.yaml", "a//b.yaml", "./a.yaml", "a/./b.yaml", "a\\..\\b.yaml",
     "a/b\nc.yaml", "a/b\x00.yaml", "", "a/", ".aiogen-owned", "a/.x.yaml.1234.aiogen-tmp", "a/" + "x" * 256],
)
def test_write_tree_refuses_every_path_that_could_leave_the_directory(tmp_path: Path, path: str) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("user's\n")
    before = snapshot(tmp_path)
    with pytest.raises(AiogenError, match="refusing to write"):
        tree_writer.write_tree({"a/fine.yaml": "ok\n", path: "bad\n"}, out, scope=["a"])
    assert snapshot(tmp_path) == before


# ---------------------------------------------------------------- files aiogen did not write


def test_directory_with_user_files(tmp_path: Path) -> None:
    """User files beside, inside and in the way of the tree: never replaced, never deleted."""
    spec = lab_spec(tmp_path)
    out = tmp_path / "out"
    (out / "lab-1/azure-iot-operations").mkdir(parents=True)
    (out / "README.md").write_text("mine\n")
    (out / "lab-1/notes.txt").write_text("mine too\n")
    (out / "lab-1/azure-iot-operations/extra-configmap.yaml").write_text("kind: ConfigMap\n")
    (out / "lab-1/kustomization.yaml").write_text("# my own kustomization\n")
    user = {k: v for k, v in snapshot(out).items() if v != "dir"}

    run = render(spec, out)  # the tree wants lab-1/kustomization.yaml: refuse, change nothing
    assert run.code == 1
    assert run.err.startswith(f"{out} holds files aiogen did not write where it would write: lab-1/kustomization.yaml")
    assert {k: v for k, v in snapshot(out).items() if v != "dir"} == user

    (out / "lab-1/kustomization.yaml").unlink()
    del user["lab-1/kustomization.yaml"]
    assert render(spec, out).code == 0
    assert all(snapshot(out)[k] == v for k, v in user.items())

    # The listener goes away: its file is stale and aiogen's, so it is removed; the user's file
    # in the same directory stays, and so does the directory.
    no_listener = LAB.replace("                  san: {dns: [mqtt.lab-1.example], inClusterNames: true}\n", "")
    no_listener = no_listener[: no_listener.index("      broker:")]
    assert render(lab_spec(tmp_path, no_listener), out).code == 0
    assert not (out / LISTENER).exists()
    assert all(snapshot(out)[k] == v for k, v in user.items())
    assert LISTENER not in (out / ".aiogen-owned").read_text()


def test_without_its_ownership_list_aiogen_owns_only_what_is_byte_identical(tmp_path: Path) -> None:
    spec = lab_spec(tmp_path)
    out = tmp_path / "out"
    assert render(spec, out).code == 0
    (out / ".aiogen-owned").unlink()  # aiogen forgets what it wrote
    (out / LISTENER).write_text("# edited by hand\n")
    run = render(spec, out)
    assert run.code == 1 and run.err.startswith(f"{out} holds files aiogen did not write where it would write: {LISTENER}")
    assert (out / LISTENER).read_text() == "# edited by hand\n"
    (out / LISTENER).unlink()
    assert render(spec, out).code == 0  # the other files are exactly what it renders: they are its own again
    assert LISTENER in (out / ".aiogen-owned").read_text()


def test_marker_listing_paths_outside_the_tree_is_ignored(tmp_path: Path) -> None:
    spec = lab_spec(tmp_path)
    out = tmp_path / "deep/out"
    assert render(spec, out).code == 0
    victims = [tmp_path / "victim.txt", tmp_path / "deep/victim.txt", tmp_path / "etc-passwd"]
    for victim in victims:
        victim.write_text("precious\n")
    marker = out / ".aiogen-owned"
    marker.write_text(marker.read_text() + "".join(
        f"{line}\n" for line in [
            "../victim.txt", "../../victim.txt", "lab-1/../../victim.txt", "lab-1/../../../victim.txt",
            str(tmp_path / "etc-passwd"), "../../etc/passwd", "/etc/passwd", "lab-1/./../../victim.txt",
            "lab-1\\..\\..\\victim.txt",
        ]
    ))
    no_listener = LAB[: LAB.index("      broker:")]
    assert render(lab_spec(tmp_path, no_listener), out).code == 0
    for victim in victims:
        assert victim.read_text() == "precious\n"
    assert "victim" not in marker.read_text() and "passwd" not in marker.read_text()
    assert Path("/etc/passwd").exists()


def test_marker_that_is_a_symlink_is_refused(tmp_path: Path) -> None:
    spec = lab_spec(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("lab-1/kustomization.yaml\n")
    (out / ".aiogen-owned").symlink_to(elsewhere)
    run = render(spec, out)
    assert run.code == 1
    assert "is not a regular file (a symbolic link?); aiogen will not follow it" in run.err
    assert elsewhere.read_text() == "lab-1/kustomization.yaml\n"
    assert sorted(p.name for p in out.iterdir()) == [".aiogen-owned"]


# ---------------------------------------------------------------- symbolic links inside the output


def test_symlinked_cluster_directory_is_not_followed(tmp_path: Path) -> None:
    spec = lab_spec(tmp_path)
    out, outside = tmp_path / "out", tmp_path / "outside"
    out.mkdir()
    outside.mkdir()
    (out / "lab-1").symlink_to(outside)
    run = render(spec, out)
    assert run.code == 1
    assert "lab-1 (a symbolic link or not a directory)" in run.err
    assert list(outside.iterdir()) == []


def test_symlinked_namespace_directory_is_not_followed(tmp_path: Path) -> None:
    spec = lab_spec(tmp_path)
    out, outside = tmp_path / "out", tmp_path / "outside"
    assert render(spec, out).code == 0
    outside.mkdir()
    (out / "lab-1/broker/azure-iot-operations" / Path(LISTENER).name).unlink()
    (out / "lab-1/broker/azure-iot-operations").rmdir()
    (out / "lab-1/broker/azure-iot-operations").symlink_to(outside)
    assert render(spec, out).code == 1
    assert list(outside.iterdir()) == []


def test_symlinked_file_is_not_followed(tmp_path: Path) -> None:
    spec = lab_spec(tmp_path)
    out, victim = tmp_path / "out", tmp_path / "victim.yaml"
    assert render(spec, out).code == 0
    victim.write_text("precious\n")
    (out / LISTENER).unlink()
    (out / LISTENER).symlink_to(victim)
    run = render(spec, out)
    assert run.code == 1 and f"{LISTENER} (not a regular file)" in run.err
    assert victim.read_text() == "precious\n"
    assert (out / LISTENER).is_symlink()


def test_stale_removal_does_not_follow_a_symlinked_directory(tmp_path: Path) -> None:
    out, outside = tmp_path / "out", tmp_path / "outside"
    tree_writer.write_tree({"c/ns/old.yaml": "old\n", "c/k.yaml": "k\n"}, out, scope=["c"])
    outside.mkdir()
    (outside / "old.yaml").write_text("someone else's\n")
    (out / "c/ns/old.yaml").unlink()
    (out / "c/ns").rmdir()
    (out / "c/ns").symlink_to(outside)
    result = tree_writer.write_tree({"c/k.yaml": "k2\n"}, out, scope=["c"])
    assert result.removed == ()
    assert (outside / "old.yaml").read_text() == "someone else's\n"
    assert (out / "c/ns").is_symlink()
    assert set(owned.read_owned(out)) == {"c/k.yaml"}


def test_stale_removal_does_not_delete_through_a_symlinked_file(tmp_path: Path) -> None:
    out, victim = tmp_path / "out", tmp_path / "victim.txt"
    tree_writer.write_tree({"c/old.yaml": "old\n", "c/k.yaml": "k\n"}, out, scope=["c"])
    victim.write_text("precious\n")
    (out / "c/old.yaml").unlink()
    (out / "c/old.yaml").symlink_to(victim)
    result = tree_writer.write_tree({"c/k.yaml": "k\n"}, out, scope=["c"])
    assert result.removed == ()
    assert victim.read_text() == "precious\n" and (out / "c/old.yaml").is_symlink()


def test_output_directory_itself_may_be_a_symlink(tmp_path: Path) -> None:
    """-o names the directory; a link there is the user's own choice and is followed."""
    spec = lab_spec(tmp_path)
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "link").symlink_to(real)
    assert render(spec, tmp_path / "link").code == 0
    assert (real / "lab-1/kustomization.yaml").is_file()


# ---------------------------------------------------------------- interrupted and failed renders


V1 = {f"c/{name}.yaml": f"{name} v1\n" for name in "abcd"}
V2 = {**{f"c/{name}.yaml": f"{name} v2\n" for name in "abcd"}, "c/e.yaml": "e v2\n", "c/sub/f.yaml": "f v2\n"}


def fail_on(monkeypatch: pytest.MonkeyPatch, name: str, target: str, error: BaseException | None = None) -> None:
    """Make ``os.<name>`` raise ``error`` (default: disk full) when a path argument is ``target``."""
    real: Callable[..., Any] = getattr(os, name)
    error = error or OSError(errno.ENOSPC, "No space left on device")

    def failing(*args: Any, **kwargs: Any) -> Any:
        if target in (str(a) for a in args):
            raise error
        return real(*args, **kwargs)

    monkeypatch.setattr(tree_writer.os, name, failing)


def assert_each_file_old_or_new(out: Path) -> None:
    for path in {**V1, **V2}:
        if (out / path).exists():
            assert (out / path).read_text() in (V1.get(path), V2.get(path)), path
    assert not [p for p in out.rglob("*") if p.name.endswith(".aiogen-tmp")], "temporary files left behind"


def test_interrupted_rename_leaves_each_file_old_or_new(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    tree_writer.write_tree(V1, out, scope=["c"])
    fail_on(monkeypatch, "replace", "c.yaml")
    with pytest.raises(AiogenError) as caught:
        tree_writer.write_tree(V2, out, scope=["c"])
    assert "No space left on device; 2 of 6 changed files were replaced, the others keep their previous content" in str(
        caught.value
    )
    assert_each_file_old_or_new(out)
    assert (out / "c/a.yaml").read_text() == "a v2\n" and (out / "c/d.yaml").read_text() == "d v1\n"
    monkeypatch.undo()
    tree_writer.write_tree(V2, out, scope=["c"])  # the next render finishes the job
    assert {p: (out / p).read_text() for p in V2} == V2
    assert set(owned.read_owned(out)) == set(V2)


def test_failure_while_staging_changes_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    tree_writer.write_tree(V1, out, scope=["c"])
    before = snapshot(out)
    real_open = os.open
    calls = [0]

    def failing_open(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if str(path).endswith(".aiogen-tmp") and not str(path).startswith(".aiogen-owned"):
            calls[0] += 1
            if calls[0] == 3:
                raise OSError(errno.EROFS, "Read-only file system")
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(tree_writer.os, "open", failing_open)
    with pytest.raises(AiogenError, match=r"Read-only file system; no file in .* was changed"):
        tree_writer.write_tree(V2, out, scope=["c"])
    after = snapshot(out)
    assert {k: v for k, v in after.items() if v != "dir"} == {k: v for k, v in before.items() if v != "dir"}


def test_keyboard_interrupt_mid_render(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    tree_writer.write_tree(V1, out, scope=["c"])
    fail_on(monkeypatch, "replace", "b.yaml", KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        tree_writer.write_tree(V2, out, scope=["c"])
    assert_each_file_old_or_new(out)
    # The widened ownership list already names the new files, so nothing looks foreign next time.
    assert set(owned.read_owned(out)) >= set(V1) | {"c/a.yaml"}
    monkeypatch.undo()
    tree_writer.write_tree(V2, out, scope=["c"])
    assert {p: (out / p).read_text() for p in V2} == V2


def test_failed_render_through_the_cli_is_a_clean_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = lab_spec(tmp_path)
    out = tmp_path / "out"
    assert render(spec, out).code == 0
    before = snapshot(out)
    fail_on(monkeypatch, "replace", Path(LISTENER).name)
    changed = LAB.replace("mqtt.lab-1.example", "mqtt2.lab-1.example")
    run = render(lab_spec(tmp_path, changed), out)
    assert run.code == 1
    assert "Traceback" not in run.err and "internal error" not in run.err
    assert "0 of 1 changed files were replaced, the others keep their previous content" in run.err
    assert not [p for p in out.rglob("*") if p.name.endswith(".aiogen-tmp")]
    for path, content in before.items():
        if content != "dir" and path != ".aiogen-owned":
            now = (out / path).read_bytes()
            assert now == content or b"mqtt2.lab-1.example" in now, path


# ---------------------------------------------------------------- concurrent renders


def test_concurrent_renders_into_one_directory_serialise(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Four writers, four clusters, one directory: afterwards every file is there and owned."""
    out = tmp_path / "out"
    real_replace = os.replace

    def slow_replace(*args: Any, **kwargs: Any) -> None:
        time.sleep(0.002)  # widen the window in which unserialised writers would lose an update
        real_replace(*args, **kwargs)

    monkeypatch.setattr(tree_writer.os, "replace", slow_replace)
    trees = {f"c{i}": {f"c{i}/ns/f{j}.yaml": f"{i}.{j}\n" for j in range(8)} for i in range(4)}
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(trees))

    def writer(cluster: str) -> None:
        try:
            barrier.wait()
            tree_writer.write_tree(trees[cluster], out, scope=[cluster])
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(c,)) for c in trees]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    everything = {p: t for tree in trees.values() for p, t in tree.items()}
    assert set(owned.read_owned(out)) == set(everything)
    assert {p: (out / p).read_text() for p in everything} == everything


def test_a_render_waits_for_the_lock_and_then_gives_up_clearly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fcntl = pytest.importorskip("fcntl")
    out = tmp_path / "out"
    out.mkdir()
    monkeypatch.setattr(tree_writer, "LOCK_TIMEOUT", 0.2)
    holder = os.open(out, os.O_RDONLY)
    try:
        fcntl.flock(holder, fcntl.LOCK_EX)
        with pytest.raises(AiogenError, match="another aiogen process has been writing into"):
            tree_writer.write_tree({"c/a.yaml": "a\n"}, out, scope=["c"])
    finally:
        os.close(holder)
    tree_writer.write_tree({"c/a.yaml": "a\n"}, out, scope=["c"])
    assert sorted(p.name for p in out.iterdir()) == [".aiogen-owned", "c"]  # no lock file left behind


# ---------------------------------------------------------------- modes and idempotence


def test_rendered_files_are_readable_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o077)
    try:
        tree_writer.write_tree({"c/a.yaml": "a\n"}, tmp_path / "out", scope=["c"])
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "out/c/a.yaml").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "out/.aiogen-owned").stat().st_mode) == 0o644


def test_rendering_twice_writes_nothing_the_second_time(tmp_path: Path) -> None:
    spec, out = lab_spec(tmp_path), tmp_path / "out"
    assert render(spec, out).code == 0
    inodes = {p: p.stat().st_ino for p in out.rglob("*.yaml")}
    run = render(spec, out)
    assert run.code == 0 and ": 0 written, 13 unchanged, 0 removed" in run.out
    assert {p: p.stat().st_ino for p in out.rglob("*.yaml")} == inodes


# ---------------------------------------------------------------- no private key is ever written


def test_write_tree_refuses_a_private_key_before_writing_anything(tmp_path: Path) -> None:
    from tests.helpers import key_pem, make_ca_pem

    _, _, key = make_ca_pem("k")
    out = tmp_path / "out"
    with pytest.raises(AiogenError, match=r"refusing to write c/b.yaml: it would contain a private key"):
        tree_writer.write_tree({"c/a.yaml": "fine\n", "c/b.yaml": "data:\n  x: |\n" + key_pem(key)}, out, scope=["c"])
    assert not (out / "c").exists()


def test_render_stops_when_a_rendered_file_would_hold_a_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A bug that put a key into the output (here: ca-bundle.pem) stops render and -o - alike."""
    import base64

    from aiogen import render as render_module
    from tests.helpers import key_pem, make_ca_pem

    _, _, key = make_ca_pem("k")
    leaked = base64.b64encode(key_pem(key).encode()).decode()
    real = render_module.extra_files

    def leaky(plan: Any, cluster: Any) -> tuple[tuple[str, str], ...]:
        return (*real(plan, cluster), ("leak.json", f'{{"tls.key": "{leaked}"}}\n'))

    monkeypatch.setattr(render_module, "extra_files", leaky)
    spec, out = lab_spec(tmp_path), tmp_path / "out"
    run = render(spec, out)
    assert run.code == 1
    assert run.err.startswith("refusing to write lab-1/leak.json: it would contain a base64-encoded private key")
    assert not out.exists()
    assert leaked[:40] not in run.err


# ---------------------------------------------------------------- aiogen ca: keys 0600, never overwritten silently


def ca_root(out: Path, *extra: str) -> Any:
    return aiogen("ca", "root", "--out", out, "--name", "root", "--common-name", "Test Root", *extra)


def test_ca_key_is_0600_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        assert ca_root(tmp_path / "pki").code == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "pki/root.key").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "pki").stat().st_mode) == 0o700


def test_ca_key_is_never_overwritten_silently(tmp_path: Path) -> None:
    assert ca_root(tmp_path / "pki").code == 0
    key = (tmp_path / "pki/root.key").read_bytes()
    run = ca_root(tmp_path / "pki")
    assert run.code == 1 and "already exists" in run.err and "--force" in run.err
    assert (tmp_path / "pki/root.key").read_bytes() == key


def test_ca_key_path_that_is_a_symlink_is_never_written_through(tmp_path: Path) -> None:
    pki, victim = tmp_path / "pki", tmp_path / "victim"
    pki.mkdir(mode=0o700)
    victim.write_text("precious\n")
    (pki / "root.key").symlink_to(victim)
    assert ca_root(pki).code == 1  # exists: refused
    assert ca_root(pki, "--force").code == 0  # replaced: the link, not what it points to
    assert victim.read_text() == "precious\n"
    assert not (pki / "root.key").is_symlink()
    assert stat.S_IMODE((pki / "root.key").stat().st_mode) == 0o600


def test_ca_certificate_outputs_are_scanned_for_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from aiogen.pki.authority import CertificateAuthority

    real = CertificateAuthority.cert_pem

    def leaky(self: CertificateAuthority) -> bytes:
        return bytes(real.fget(self)) + self.private_key_pem()  # type: ignore[attr-defined]

    monkeypatch.setattr(CertificateAuthority, "cert_pem", property(leaky))
    run = ca_root(tmp_path / "pki")
    pem = tmp_path / "pki/root.pem"
    assert run.code != 0
    assert not pem.exists() or b"PRIVATE KEY" not in pem.read_bytes()


def test_a_cluster_removed_from_the_spec_is_removed_from_the_tree(tmp_path: Path) -> None:
    """Rendering the whole spec removes the files aiogen wrote for a cluster the spec no longer has."""
    import shutil

    from tests.helpers import EXAMPLES, aiogen

    work = tmp_path / "work"
    shutil.copytree(EXAMPLES, work)
    out = tmp_path / "out"
    assert aiogen("render", work / "fleet.yaml", "-o", out).code == 0
    (out / "plant-lyon" / "notes.md").write_text("mine\n")  # a user's file: never touched
    text = (work / "fleet.yaml").read_text()
    (work / "fleet.yaml").write_text(text[: text.index("    - name: plant-lyon")])
    check = aiogen("render", work / "fleet.yaml", "-o", out, "--check")
    assert check.code == 3 and "plant-lyon/kustomization.yaml" in check.out
    partial = aiogen("render", work / "fleet.yaml", "-o", out, "--cluster", "plant-berlin")
    assert partial.code == 0 and (out / "plant-lyon" / "kustomization.yaml").exists()
    run = aiogen("render", work / "fleet.yaml", "-o", out)
    assert run.code == 0, run.err
    assert sorted(p.name for p in (out / "plant-lyon").rglob("*")) == ["notes.md"]
    assert aiogen("render", work / "fleet.yaml", "-o", out, "--check").code == 0
