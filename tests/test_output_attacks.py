"""Regressions for what an independent attack on the output tree found (issue 13).

Each test is one reproducer: reads of the tree through a planted link (`render --check`, `diff`),
forged lines in `.aiogen-owned`, temporaries left by a killed render, a no-op render on a
read-only tree, directories left by a failed render, directory modes under umask 077.
"""

from __future__ import annotations

import hashlib
import os
import signal
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from aiogen.model.problems import EXIT_CHECK_FAILED, AiogenError
from aiogen.output import owned
from aiogen.output import tree as tree_writer
from tests.helpers import EXAMPLES, REPO, aiogen

FLEET = EXAMPLES / "fleet.yaml"
MARKER = ".aiogen-owned"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def cli(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The real CLI in a child process (its /proc/self is its own)."""
    return subprocess.run([sys.executable, "-m", "aiogen.cli", *map(str, args)], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, check=False, timeout=120)


@pytest.fixture
def out(tmp_path: Path) -> Path:
    directory = tmp_path / "out"
    assert aiogen("render", FLEET, "-o", directory).code == 0
    return directory


# ---------------------------------------------------------------- 1: reads never follow a link


@pytest.mark.parametrize("command", ["check", "diff"])
def test_check_and_diff_do_not_read_through_a_link_to_proc(out: Path, command: str) -> None:
    (out / "plant-berlin/p").symlink_to("/proc/self")
    with (out / MARKER).open("a") as marker:
        marker.write("plant-berlin/p/environ\n")
        marker.write(f"{sha256(b'x')}  plant-berlin/p/environ\n")
    args = ["render", FLEET, "-o", out, "--check"] if command == "check" else ["diff", FLEET, "-o", out]
    run = cli(*args, env={"CI_TOKEN": "secret-token-value"})
    assert "secret-token-value" not in run.stdout + run.stderr
    assert "Traceback" not in run.stderr
    assert run.returncode == (EXIT_CHECK_FAILED if command == "check" else 0), run.stderr


def test_check_does_not_read_etc_through_a_link_even_with_a_matching_digest(out: Path) -> None:
    """The attacker can hash /etc/passwd; the link is still never followed."""
    (out / "plant-berlin/etc").symlink_to("/etc")
    with (out / MARKER).open("a") as marker:
        marker.write(f"{sha256(Path('/etc/passwd').read_bytes())}  plant-berlin/etc/passwd\n")
        marker.write("plant-berlin/etc/shadow\n")
    run = aiogen("render", FLEET, "-o", out, "--check")
    assert run.code == EXIT_CHECK_FAILED
    assert "root:" not in run.out and "/etc/passwd\n+++" not in run.out
    # not aiogen's, so not stale: only the owned list (which render would narrow) is out of date
    assert run.err.split(" is stale: ", 1)[1].startswith(".aiogen-owned out of date;"), run.err


def test_a_linked_directory_where_aiogen_renders_is_not_read(out: Path, tmp_path: Path) -> None:
    secret = tmp_path / "elsewhere"
    secret.mkdir()
    (secret / "ca-bundle.pem").write_text("private notes\n")
    for path in (out / "plant-lyon").iterdir():
        path.unlink() if path.is_file() else None
    for path in sorted((out / "plant-lyon").rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    (out / "plant-lyon").rmdir()
    (out / "plant-lyon").symlink_to(secret)
    run = aiogen("render", FLEET, "-o", out, "--check")
    assert run.code == EXIT_CHECK_FAILED
    assert "private notes" not in run.out
    assert "diff a/plant-lyon/ca-bundle.pem b/plant-lyon/ca-bundle.pem: a parent of a/plant-lyon/ca-bundle.pem " \
        "is a symbolic link or not a directory\n" in run.out


# ---------------------------------------------------------------- 2: ownership proven by content


def test_forged_owned_lines_do_not_make_render_delete_user_files(out: Path) -> None:
    (out / "README.md").write_text("the user's readme\n")
    (out / "overlays").mkdir()
    (out / "overlays/patch.yaml").write_text("kind: Patch\n")
    with (out / MARKER).open("a") as marker:  # old format (no digest) and a wrong digest
        marker.write("README.md\noverlays/patch.yaml\n")
        marker.write(f"{sha256(b'something else')}  README.md\n")
    assert aiogen("render", FLEET, "-o", out).code == 0
    assert (out / "README.md").read_text() == "the user's readme\n"
    assert (out / "overlays/patch.yaml").read_text() == "kind: Patch\n"
    assert "README.md" not in (out / MARKER).read_text()  # the forged lines are dropped
    assert aiogen("render", FLEET, "-o", out, "--check").code == 0


def test_forged_owned_line_does_not_let_drift_print_a_user_file(out: Path) -> None:
    (out / "notes.txt").write_text("the user's private notes\n")
    with (out / MARKER).open("a") as marker:
        marker.write(f"{'0' * 64}  notes.txt\n")
    run = aiogen("diff", FLEET, "-o", out)
    assert "private notes" not in run.out
    assert run.err.split(f"{out}: ", 1)[1].startswith(".aiogen-owned out of date\n"), run.err


def test_a_hand_edited_rendered_file_is_re_rendered_but_a_hand_edited_stale_one_is_kept(out: Path) -> None:
    """A path aiogen renders and wrote before is re-rendered (what the pre-commit hook relies on);
    a file it no longer renders is deleted only while its bytes are still what aiogen wrote."""
    listener = out / "plant-berlin/broker/azure-iot-operations/brokerlistener-plant-mqtts.yaml"
    listener.write_text("# edited by hand\n")
    stale = out / "plant-berlin/prerequisites/cert-manager/configmap-retired.yaml"
    stale.write_text("kind: ConfigMap\n")
    with (out / MARKER).open("a") as marker:  # as if an older spec had rendered it
        marker.write(f"{sha256(b'kind: ConfigMap' + bytes([10]))}  plant-berlin/prerequisites/cert-manager/configmap-retired.yaml\n")
    stale.write_text("kind: ConfigMap\n# and the user's note\n")
    assert aiogen("render", FLEET, "-o", out).code == 0
    assert listener.read_text() != "# edited by hand\n"
    assert stale.read_text() == "kind: ConfigMap\n# and the user's note\n"
    assert "configmap-retired" not in (out / MARKER).read_text()


def test_owned_list_records_the_digest_of_each_file(tmp_path: Path) -> None:
    tree_writer.write_tree({"c/a.yaml": "a\n", "c/b.yaml": "b\n"}, tmp_path / "o", scope=["c"])
    assert (tmp_path / "o" / MARKER).read_text() == owned.OWNED_HEADER + (
        f"{sha256(b'a' + bytes([10]))}  c/a.yaml\n{sha256(b'b' + bytes([10]))}  c/b.yaml\n")


# ---------------------------------------------------------------- 4: a killed render's temporaries


_SLOW_RENDER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from aiogen.output import fs, tree
    real = fs.write_new
    count = [0]
    def slow(*args, **kwargs):
        real(*args, **kwargs)
        count[0] += 1
        if count[0] == 50:
            print("staging", flush=True)
            time.sleep(60)
    fs.write_new = slow
    files = {f"c{i}/ns/f{j}.yaml": f"{i}.{j}\\n" for i in range(20) for j in range(10)}
    tree.write_tree(files, Path(sys.argv[1]))
""")


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT])
def test_temporaries_of_a_killed_render_are_reported_and_removed(tmp_path: Path, sig: signal.Signals) -> None:
    out = tmp_path / "out"
    child = subprocess.Popen([sys.executable, "-c", _SLOW_RENDER, str(out)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, cwd=REPO)
    assert child.stdout is not None
    assert child.stdout.readline() == "staging\n"
    child.send_signal(sig)
    child.wait(timeout=30)
    left = [p for p in out.rglob("*") if p.name.endswith(".aiogen-tmp")]
    if sig != signal.SIGKILL:  # caught: unwound, its temporaries and new directories removed
        assert left == [] and not out.exists()  # nor the directories it had created
        return
    assert len(left) == 50
    files = {f"c{i}/ns/f{j}.yaml": f"{i}.{j}\n" for i in range(20) for j in range(10)}
    from aiogen.output.drift import compare

    drift = compare(files, out)
    assert not drift.clean and len(drift.leftovers) == 50
    assert "50 temporary file(s) left by an interrupted render (render removes them)" in drift.summary()
    result = tree_writer.write_tree(files, out)
    assert len(result.leftovers) == 50
    assert [p for p in out.rglob("*") if p.name.endswith(".aiogen-tmp")] == []
    assert compare(files, out).clean


def test_only_aiogens_own_temporary_names_are_removed(tmp_path: Path) -> None:
    out = tmp_path / "out"
    tree_writer.write_tree({"c/a.yaml": "a\n"}, out)
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    (out / "c/.a.yaml.0123abcd.aiogen-tmp").write_text("left over\n")
    (out / "c/.b.yaml.0123abcd.aiogen-tmp").symlink_to(victim)  # a link: never removed, never followed
    (out / "c/notes.aiogen-tmp").write_text("the user's\n")  # not aiogen's pattern
    (out / "c/.x.yaml.0123abcd.aiogen-tmp.bak").write_text("the user's\n")
    result = tree_writer.write_tree({"c/a.yaml": "a\n"}, out)
    assert result.leftovers == ("c/.a.yaml.0123abcd.aiogen-tmp",)
    assert sorted(p.name for p in (out / "c").iterdir()) == [
        ".b.yaml.0123abcd.aiogen-tmp", ".x.yaml.0123abcd.aiogen-tmp.bak", "a.yaml", "notes.aiogen-tmp"]
    assert victim.read_text() == "precious\n"


def test_check_reports_leftover_temporaries_through_the_cli(out: Path) -> None:
    (out / "plant-berlin/.kustomization.yaml.deadbeef.aiogen-tmp").write_text("half\n")
    run = aiogen("render", FLEET, "-o", out, "--check")
    assert run.code == EXIT_CHECK_FAILED
    assert ("is stale: 1 temporary file(s) left by an interrupted render (render removes them): "
            "plant-berlin/.kustomization.yaml.deadbeef.aiogen-tmp") in run.err
    assert aiogen("render", FLEET, "-o", out).code == 0
    assert aiogen("render", FLEET, "-o", out, "--check").code == 0


# ---------------------------------------------------------------- 10: read-only tree, failures, modes


def _as_unprivileged(args: list[str]) -> list[str] | None:
    """``args`` run as a user the kernel holds to file modes (root writes into 0555 directories):
    as root, through setpriv as nobody; None when that user cannot run aiogen from this checkout."""
    if os.geteuid() != 0:
        return args
    setpriv = "/usr/bin/setpriv"
    if not os.path.exists(setpriv):
        return None
    wrapped = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", *args]
    probe = subprocess.run([*wrapped[:-len(args)], sys.executable, "-c", "import aiogen.cli"],
                           capture_output=True, text=True, check=False)
    return wrapped if probe.returncode == 0 else None


def test_a_no_op_render_succeeds_on_a_read_only_tree(tmp_path_factory: pytest.TempPathFactory) -> None:
    import tempfile

    top = Path(tempfile.mkdtemp(prefix="aiogen-ro-"))  # outside pytest's 0700 directory: nobody can reach it
    try:
        top.chmod(0o755)
        out = top / "out"
        assert aiogen("render", FLEET, "-o", out).code == 0
        command = _as_unprivileged([sys.executable, "-m", "aiogen.cli", "render", str(FLEET), "-o", str(out)])
        if command is None:
            pytest.skip("as root, this needs setpriv and a checkout the user nobody can read")
        directories = [out, *(p for p in out.rglob("*") if p.is_dir())]
        for directory in directories:
            directory.chmod(0o555)
        try:
            run = subprocess.run(command, capture_output=True, text=True, check=False)
            assert run.returncode == 0, run.stderr
            assert ": 0 written, 50 unchanged, 0 removed" in run.stdout
        finally:
            for directory in directories:
                directory.chmod(0o755)
    finally:
        import shutil

        shutil.rmtree(top)


def test_a_no_op_render_does_not_rewrite_the_owned_list(out: Path) -> None:
    before = (out / MARKER).stat()
    assert aiogen("render", FLEET, "-o", out).code == 0
    after = (out / MARKER).stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_a_failed_render_removes_the_directories_it_created(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "new/out"
    real = os.open
    calls = [0]

    def failing(path: object, flags: int, *args: object, **kwargs: object) -> int:
        if str(path).endswith(".aiogen-tmp"):
            calls[0] += 1
            if calls[0] == 3:
                raise OSError(28, "No space left on device")
        return real(path, flags, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(tree_writer.os, "open", failing)
    with pytest.raises(AiogenError, match="No space left on device; no file in"):
        tree_writer.write_tree({"c1/ns/a.yaml": "a\n", "c2/ns/b.yaml": "b\n", "c3/ns/c.yaml": "c\n"}, out)
    assert not (tmp_path / "new").exists()


def test_a_failed_render_keeps_directories_that_were_there(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    tree_writer.write_tree({"c/a.yaml": "a\n"}, out)
    real = os.open

    def failing(path: object, flags: int, *args: object, **kwargs: object) -> int:
        if str(path).startswith(".b.yaml."):
            raise OSError(28, "No space left on device")
        return real(path, flags, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(tree_writer.os, "open", failing)
    with pytest.raises(AiogenError, match="No space left on device; no file in"):
        tree_writer.write_tree({"c/a.yaml": "a2\n", "c/n/a.yaml": "a\n", "d/x/b.yaml": "b\n"}, out)
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*")) == [MARKER, "c", "c/a.yaml"]
    assert (out / "c/a.yaml").read_text() == "a\n"


def test_directories_are_0755_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o077)
    try:
        tree_writer.write_tree({"c/ns/a.yaml": "a\n"}, tmp_path / "new/out")
    finally:
        os.umask(old)
    for directory in ("new", "new/out", "new/out/c", "new/out/c/ns"):
        assert stat.S_IMODE((tmp_path / directory).stat().st_mode) == 0o755, directory
    assert stat.S_IMODE((tmp_path / "new/out/c/ns/a.yaml").stat().st_mode) == 0o644


def test_a_no_op_render_makes_no_write_call(out: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What a read-only file system sees (the test above needs a non-root user): every call that
    would write fails with EROFS, and a render of an unchanged spec still succeeds."""
    real_open = os.open

    def open_for_reading(path: object, flags: int, *args: object, **kwargs: object) -> int:
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            raise OSError(30, "Read-only file system")
        return real_open(path, flags, *args, **kwargs)  # type: ignore[arg-type]

    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(os, "open", open_for_reading)
    for name in ("replace", "rename", "mkdir", "unlink", "rmdir", "chmod", "fchmod"):
        monkeypatch.setattr(os, name, refuse)
    run = aiogen("render", FLEET, "-o", out)
    monkeypatch.undo()
    assert run.code == 0, run.err
    assert ": 0 written, 50 unchanged, 0 removed" in run.out
