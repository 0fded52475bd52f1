"""Which file is the live index, and how a rebuilt one replaces it.

The configured path is either the index file itself (as first created) or, after a rebuild, a
symbolic link to ``<name>.<stamp>`` in the same directory. A rebuild writes a new file under a
new name and points the link at it with ``os.replace`` (atomic: every open sees the old file or
the new one). Files are never replaced under their own name because SQLite finds a database's
write-ahead log and shared-memory index by name (``<file>-wal``, ``<file>-shm``): a new database
under the old name would share them with connections still open on the old one and be corrupted.

Connections remember the identity (device, inode) of the file they opened; when the path no
longer leads there, the index was swapped and they reopen.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

Identity = tuple[int, int]


def live_file(path: Path) -> Path:
    """The file the path leads to (the path itself before any rebuild)."""
    return Path(os.path.realpath(path))


def identity(path: Path) -> Identity | None:
    try:
        status = os.stat(path)  # follows the link
    except FileNotFoundError:
        return None
    return status.st_dev, status.st_ino


def new_file(path: Path) -> Path:
    """A fresh name beside the live index for a rebuild: ``<name>.<stamp>``."""
    return path.parent / f"{path.name}.{time.strftime('%Y%m%d%H%M%S')}-{os.getpid()}-{time.monotonic_ns() % 10**9}"


def builder_alive(name: str) -> bool:
    """Whether the process building the file ``name`` (see ``new_file``) still runs. The index is
    a local file, so every process writing to it runs on this machine and can check."""
    try:
        pid = int(name.rsplit("-", 2)[-2])
        os.kill(pid, 0)
    except (ValueError, IndexError, ProcessLookupError):
        return False
    except PermissionError:  # alive, under another user
        return True
    return True


def point_to(path: Path, target: Path) -> None:
    """Make ``path`` lead to ``target`` in one atomic step (a relative link: the directory may move)."""
    link = path.parent / f".{path.name}.link-{os.getpid()}"
    link.unlink(missing_ok=True)
    os.symlink(target.name, link)
    os.replace(link, path)


def remove(file: Path, *, main: bool = True) -> None:
    """Delete an index file and its journal files (``main=False``: the journal files only, when
    the link took the file's own name). Connections still open on it keep reading their unlinked
    copy until they notice the swap."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        if suffix or main:
            Path(f"{file}{suffix}").unlink(missing_ok=True)
