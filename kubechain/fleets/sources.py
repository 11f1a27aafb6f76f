"""Where a fleet's dumps are: directories (one file per node), files (gzip-compressed or not), and
tar archives (compressed or not) of per-node files. Each becomes a NodeSource named after the
file's stem. Plain files travel to the workers as paths (the workers read them), archive members
as bytes, because an archive can only be read from its start."""

from __future__ import annotations

import gzip
import os
import tarfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

GZIP_MAGIC = b"\x1f\x8b"
#: a POSIX/GNU tar header's magic, at this offset of the first 512-byte block
TAR_MAGIC, TAR_MAGIC_AT = b"ustar", 257


@dataclass(frozen=True, slots=True)
class NodeSource:
    """One node's dump: the node's name, the file it is in, the archive `member` when that file is
    an archive, and then the member's bytes (as stored: they may be gzip-compressed too)."""

    node: str
    path: str
    member: str | None = None
    data: bytes | None = None

    @property
    def where(self) -> str:
        """`PATH`, or `ARCHIVE:MEMBER`."""
        return f"{self.path}:{self.member}" if self.member is not None else self.path

    def read(self) -> bytes:
        """The dump's bytes, decompressed when gzip-compressed."""
        data = self.data
        if data is None:
            if self.member is not None:
                data = _member(self.path, self.member)
            else:
                with open(self.path, "rb") as handle:
                    data = handle.read()
        return gzip.decompress(data) if data[:2] == GZIP_MAGIC else data


class SourceError(ValueError):
    """The inputs cannot make a fleet: a path that does not exist, or two dumps of one node."""


def node_name(file_name: str) -> str:
    """`node-4.txt` → `node-4`, `node-4.save.txt.gz` → `node-4.save`: the base name without `.gz`
    and then without its last suffix (node names may hold dots: `ip-10-0-0-7.ec2.internal.txt`)."""
    base = os.path.basename(file_name)
    if base.lower().endswith(".gz") and len(base) > 3:
        base = base[:-3]
    stem, _ = os.path.splitext(base)
    return stem or base


def plan(paths: Iterable[str | os.PathLike[str]]) -> list[NodeSource]:
    """Every node's source, in input order (a directory's files by name, an archive's members as
    stored); archive members are only listed here, their bytes are read by :func:`members` as they
    are sent out. Raises SourceError."""
    found: list[NodeSource] = []
    for path in (os.fspath(p) for p in paths):
        if os.path.isdir(path):
            for entry in sorted(os.scandir(path), key=lambda e: e.name):
                if entry.is_file() and not entry.name.startswith("."):
                    found.extend(_file(entry.path))
        elif os.path.exists(path):
            found.extend(_file(path))
        else:
            raise SourceError(f"{path}: no such file or directory")
    by_node: dict[str, NodeSource] = {}
    for source in found:
        if source.node in by_node:
            raise SourceError(f"two dumps for node {source.node}: {by_node[source.node].where} and {source.where} "
                              "(a node's name is its file's stem)")
        by_node[source.node] = source
    return found


def members(planned: list[NodeSource]) -> Iterator[NodeSource]:
    """The planned sources in order, archive members with their bytes: each archive is read once,
    from its start, as far as needed (members it holds out of node order wait in memory)."""
    readers: dict[str, Iterator[tuple[str, bytes]]] = {}
    pending: dict[str, dict[str, bytes]] = {}
    for source in planned:
        if source.member is None or source.data is not None:
            yield source
            continue
        stash = pending.setdefault(source.path, {})
        reader = readers.setdefault(source.path, _read_members(source.path))
        while source.member not in stash:
            name, data = next(reader)
            stash[name] = data
        yield NodeSource(source.node, source.path, source.member, stash.pop(source.member))


def _file(path: str) -> list[NodeSource]:
    if _is_tar(path):
        with tarfile.open(path, "r:*") as archive:
            return [NodeSource(node_name(m.name), path, m.name) for m in archive
                    if m.isfile() and not os.path.basename(m.name).startswith(".")]
    return [NodeSource(node_name(path), path)]


def _member(archive: str, name: str) -> bytes:
    with tarfile.open(archive, "r:*") as tar:
        handle = tar.extractfile(name)
        if handle is None:
            raise OSError(f"{archive}: {name} is not a file")
        return handle.read()


def _read_members(archive: str) -> Iterator[tuple[str, bytes]]:
    with tarfile.open(archive, "r:*") as tar:
        for member in tar:
            handle = tar.extractfile(member) if member.isfile() else None
            if handle is not None:
                yield member.name, handle.read()


def _is_tar(path: str) -> bool:
    """By content, not by name: a (gzip-compressed) tar archive's first header block."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(2)
            handle.seek(0)
            if head == GZIP_MAGIC:
                with gzip.open(handle) as unzipped:
                    block = unzipped.read(TAR_MAGIC_AT + len(TAR_MAGIC))
            else:
                block = handle.read(TAR_MAGIC_AT + len(TAR_MAGIC))
    except (OSError, EOFError, gzip.BadGzipFile):
        return False
    return block[TAR_MAGIC_AT:] == TAR_MAGIC
