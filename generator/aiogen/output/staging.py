"""Which files of a render change in an output directory, and their new bytes staged beside them.

`aiogen.output.tree` hands a tree over one top-level directory (a cluster) at a time, as it is
rendered. Each group's paths are checked (`owned.path_problem`, and the private-key scan unless
the layout already ran it), every file is compared with what is on disk (unchanged; to write,
when missing or written by aiogen before; a conflict otherwise), and each file to write is
staged as a temporary sibling (`fs.temporary_name`, one token per run) by `aiogen.output.writer`
(in a child process once the render is large, so the next cluster renders meanwhile). Nothing is renamed
here: `aiogen.output.tree` renames only once every group is staged and no conflict was found.

The texts are dropped once staged. What is kept per file is its path, the SHA-256 of its bytes
(for `.aiogen-owned`) and whether it changes, so the memory of a render into a directory does
not grow with the text of the tree (10,000 clusters: ~200 MB of text, ~10 MB kept). Once a
conflict is found nothing more is staged, but every group is still compared, so the message
names every conflict, as it did when the whole tree was held in memory.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from aiogen.model.problems import AiogenError
from aiogen.output import fs
from aiogen.output.keyscan import assert_no_private_key
from aiogen.output.owned import Owned, path_problem
from aiogen.output.writer import Writer

FILE_MODE = 0o644
_DIGEST = 32  # bytes of a SHA-256
# What becomes of each file: staged (a temporary holds its new bytes), to write (a conflict was
# found before it could be staged: nothing will be written), unchanged.
_STAGED, _CHANGED, _UNCHANGED = b"s", b"w", b"="
_SAME = _UNCHANGED[0]


class _Group:
    """One cluster's (one top directory's) staged files: a plain class with slots, one per cluster."""

    __slots__ = ("changes", "digests", "names", "top")

    def __init__(self, top: str, names: tuple[str, ...], digests: bytes, changes: bytes) -> None:
        self.top = top  # the first part of every path in the group
        self.names = names  # each path after "top/" ("" for a file named top)
        self.digests = digests  # SHA-256 of each file's bytes, concatenated
        self.changes = changes  # _STAGED, _CHANGED or _UNCHANGED per file

    def paths(self) -> Iterator[str]:
        top = self.top
        return (f"{top}/{name}" if name else top for name in self.names)


class StagedTree:
    """The render's files, compared with ``root`` (the locked output directory) and staged, group by group."""

    def __init__(self, root: int, out_dir: Path, owned: Owned, *, keys_checked: bool) -> None:
        self.root, self.out_dir, self.owned, self.keys_checked = root, out_dir, owned, keys_checked
        self.token = fs.temporary_token()
        self._chmod = not fs.umask_keeps(FILE_MODE, fs.DIRECTORY_MODE)  # exact modes cost a call per file otherwise
        self.created = fs.Created()
        self.conflicts: list[str] = []
        self.staged = 0  # files with a temporary
        self._groups: list[_Group] = []
        self._tops: set[str] = set()
        self._names: dict[str, str] = {}  # one string per relative name: clusters share their layout
        self._by_top: dict[str, frozenset[str]] | None = None
        self._writer = Writer(root, out_dir, self.token, FILE_MODE, chmod=self._chmod, created=self.created)

    def add(self, top: str, files: Mapping[str, str]) -> None:
        """Check, compare and stage ``files`` (path relative to the output directory → text), all under ``top``."""
        if top in self._tops:
            raise AiogenError.single(f"refusing to write into {self.out_dir}: {top} is rendered twice",
                                     hint="this is a bug in aiogen, please report it")
        self._tops.add(top)
        for path, text in files.items():
            problem = path_problem(path) or (None if path.split("/", 1)[0] == top else "it is out of its group")
            if problem:
                raise AiogenError.single(f"refusing to write {path!r} into {self.out_dir}: {problem}")
            if not self.keys_checked:
                assert_no_private_key(path, text)
        names: list[str] = []
        batch: list[tuple[str, bytes]] = []
        digests = bytearray()
        changes = bytearray()
        directories = fs.Directories(self.root)
        try:
            for path, text in files.items():
                data = text.encode("utf-8")
                change = self._compare(path, data, directories) or _UNCHANGED
                stage = change is _CHANGED and not self.conflicts
                name = path[len(top) + 1:]
                names.append(name if top in name else self._names.setdefault(name, name))
                digests += hashlib.sha256(data).digest()
                changes += _STAGED if stage else change  # before the file exists: an interruption still removes it
                if stage:
                    batch.append((path, data))
                    self.staged += 1
        finally:  # on failure too: what was staged is known, so it can be discarded
            directories.close()
            self._groups.append(_Group(top, tuple(names), bytes(digests), bytes(changes)))
        if batch:
            self._writer.put(batch)

    def finish(self) -> None:
        """Wait until every temporary is written; raises the first failure to write one."""
        self._writer.finish()

    def _compare(self, path: str, data: bytes, directories: fs.Directories) -> bytes | None:
        """_UNCHANGED, _CHANGED, or None for a conflict (recorded)."""
        folders = path.split("/")[:-1]
        if directories.missing(folders):
            return _CHANGED  # in a directory that is not there (a new cluster): nothing to compare
        blocked = directories.blocked(folders)
        if blocked is not None:
            self.conflicts.append(f"{blocked} (a symbolic link or not a directory)")
            return None
        try:
            current = fs.read_file(self.root, path, at_most=len(data), directories=directories)
        except fs.NotRegularFile:
            self.conflicts.append(f"{path} (not a regular file)")
            return None
        except OSError as error:
            raise AiogenError.single(f"cannot read {self.out_dir / path}: {error.strerror}") from None
        if current == data:
            return _UNCHANGED  # byte-identical: aiogen's (adopted if it was not listed)
        if current is None or path in self.owned:  # aiogen renders this path and wrote it before
            return _CHANGED
        self.conflicts.append(path)
        return None

    def raise_conflicts(self) -> None:
        if self.conflicts:
            unique = sorted(set(self.conflicts))
            listing = ", ".join(unique[:10]) + (f" and {len(unique) - 10} more" if len(unique) > 10 else "")
            raise AiogenError.single(
                f"{self.out_dir} holds files aiogen did not write where it would write: {listing}",
                hint="aiogen never overwrites or follows them; move them away or render into another directory",
            )

    def changed(self) -> Iterator[str]:
        """The files to write (each staged once `raise_conflicts` found none), group by group."""
        for group in self._groups:
            for path, change in zip(group.paths(), group.changes, strict=True):
                if change != _SAME:
                    yield path

    def unchanged(self) -> Iterator[str]:
        for group in self._groups:
            for path, change in zip(group.paths(), group.changes, strict=True):
                if change == _SAME:
                    yield path

    def digests(self) -> Iterator[tuple[str, str]]:
        """(path, hex SHA-256 of its new bytes) of every file rendered, sorted by path (`.aiogen-owned`'s order)."""
        if any("" in group.names for group in self._groups):  # a file at the top: sort the paths themselves
            yield from sorted(self._digests(self._groups))
            return
        # "top/" orders the groups as their paths sort: "a-b/x" < "a/x", since "-" < "/"
        yield from self._digests(sorted(self._groups, key=lambda group: f"{group.top}/"), by_name=True)

    @staticmethod
    def _digests(groups: Iterable[_Group], *, by_name: bool = False) -> Iterator[tuple[str, str]]:
        for group in groups:
            names = group.names
            order = sorted(range(len(names)), key=names.__getitem__) if by_name else range(len(names))
            for index in order:
                yield f"{group.top}/{names[index]}" if names[index] else group.top, \
                    group.digests[index * _DIGEST:(index + 1) * _DIGEST].hex()

    def renders(self, path: str) -> bool:
        """Is ``path`` one of the files rendered?"""
        if self._by_top is None:
            self._by_top = {group.top: frozenset(group.names) for group in self._groups}
        top, _, name = path.partition("/")
        return name in self._by_top.get(top, ())

    def discard(self) -> None:
        """Remove every temporary still on disk and the directories this render created (if empty),
        once the writer has stopped (an interruption while it stops is raised after the removal)."""
        try:
            self._writer.stop()
        finally:
            self._remove()

    def _remove(self) -> None:
        for group in self._groups:
            if _STAGED not in group.changes:
                continue
            directories = fs.Directories(self.root)
            try:
                for path, change in zip(group.paths(), group.changes, strict=True):
                    if change == _STAGED[0]:
                        *parts, name = path.split("/")
                        with contextlib.suppress(OSError):
                            fs.unlink(directories.get(parts), fs.temporary_name(name, self.token))
            finally:
                directories.close()
        fs.remove_created(self.root, self.created)
