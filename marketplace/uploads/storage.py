"""Where uploaded bytes live, and how they follow the database transaction.

Files live outside the database, so they follow the transaction by hand: a stored file is removed if
the transaction (or the savepoint it was stored in) rolls back, and a file whose row is deleted is
removed only once that delete commits.

A file is named by its key, ``<area>/<random hex><extension>`` (``listings/3f…9a.pdf``), which the
owning row keeps. Keys from before areas existed (``3f…9a.pdf``, at the top) stay valid. The bytes
sit behind a small ``Storage`` interface; ``LocalDiskStorage`` keeps them under UPLOAD_DIR, and an
object store could take its place in ``app.extensions["uploads"]``.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import BinaryIO, Protocol

from flask import current_app
from sqlalchemy.orm import Session

from marketplace.core.transaction import on_commit, on_rollback
from marketplace.extensions import db

log = logging.getLogger(__name__)

_AREA = re.compile(r"[a-z][a-z0-9_-]{0,31}")
_EXTENSION = re.compile(r"(\.[a-z0-9]{1,8})?")
# One optional area folder, then one file name of safe characters: no "..", no absolute paths.
_KEY = re.compile(r"(?:[a-z][a-z0-9_-]{0,31}/)?[A-Za-z0-9_-]{1,64}(?:\.[A-Za-z0-9]{1,8})?")


class InvalidKey(LookupError):
    """A key that is not one of ours; treated as a missing file."""


@dataclass(frozen=True)
class StoredFile:
    key: str
    size: int
    modified_at: datetime


class Storage(Protocol):
    def put(self, key: str, data: bytes) -> None: ...  # fails if the key exists
    def open(self, key: str) -> BinaryIO: ...  # FileNotFoundError if it does not
    def delete(self, key: str) -> None: ...  # no error if it does not exist
    def iter_files(self) -> Iterator[StoredFile]: ...


class LocalDiskStorage:
    def __init__(self, root: str | Path):
        self.root = Path(root)

    def path(self, key: str) -> Path:
        if not _KEY.fullmatch(key):
            raise InvalidKey(key)
        return self.root / key

    def put(self, key: str, data: bytes) -> None:
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "xb") as out:
            out.write(data)

    def open(self, key: str) -> BinaryIO:
        return open(self.path(key), "rb")

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def iter_files(self) -> Iterator[StoredFile]:
        if not self.root.is_dir():
            return
        for path in sorted(self.root.rglob("*")):
            key = path.relative_to(self.root).as_posix()
            # Only files that could be ours: a sweep never touches anything else someone put there.
            if _KEY.fullmatch(key) and path.is_file():
                stat = path.stat()
                yield StoredFile(key, stat.st_size, datetime.fromtimestamp(stat.st_mtime, UTC))


def storage() -> Storage:
    return current_app.extensions["uploads"]


def store(area: str, data: bytes, extension: str) -> str:
    """Save ``data`` under a new random key in ``area``; the file goes again if the transaction rolls back."""
    if not _AREA.fullmatch(area) or not _EXTENSION.fullmatch(extension):
        raise ValueError(f"bad upload area or extension: {area!r} {extension!r}")
    key = f"{area}/{secrets.token_hex(16)}{extension}"
    backend = storage()
    # Registered before writing: a write that fails half-way leaves nothing behind either.
    on_rollback(partial(_remove, backend, key), _transaction_begun(db.session()))
    backend.put(key, data)
    return key


def delete_after_commit(key: str, session: Session | None = None) -> None:
    """Remove the file once the transaction that deleted its row commits; keep it if that rolls back."""
    on_commit(partial(_remove, storage(), key), _transaction_begun(session or db.session()))


def _transaction_begun(session: Session) -> Session:
    # A commit or rollback with no transaction begun fires no event: the callback would wait for the
    # next transaction (and a file stored before any query would survive its rollback).
    if not session.in_transaction():
        session.begin()
    return session


def open_stored(key: str) -> BinaryIO:
    """The stored file for reading; FileNotFoundError if it is gone (or the key is not one of ours)."""
    try:
        return storage().open(key)
    except InvalidKey as error:
        raise FileNotFoundError(key) from error


def _remove(backend: Storage, key: str) -> None:
    try:
        backend.delete(key)
    except (OSError, InvalidKey):
        log.exception("could not remove uploaded file %s", key)
