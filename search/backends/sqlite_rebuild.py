"""A full rebuild of the SQLite index beside the live file, swapped in without downtime.

1. ``Rebuild(backend)`` creates ``<name>.<stamp>`` beside the live file and sets the ``rebuild``
   marker in the live file's meta table. From then on every write to the live file, from any
   process, is also logged in its ``rebuild_log`` (same transaction, so none slips past).
2. ``write(batch)`` fills the new file; searches keep reading the live one.
3. ``finish()`` takes the live file's write lock, replays the log into the new file in order (a
   change made during the rebuild may be newer than the copy the rebuild read), points the path
   at the new file, clears the marker and releases the lock. Writers waiting on that lock then
   find the path leading elsewhere and write to the new file (``SqliteBackend._write``); readers
   reopen at their next call (``SqliteBackend._connection``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from search.backends import sqlite_files
from search.backends.base import BackendUnavailable


class Rebuild:
    def __init__(self, backend) -> None:
        from search.backends.sqlite import SqliteBackend

        self.live = backend
        self.old_file = sqlite_files.live_file(backend.path)
        self.file = sqlite_files.new_file(backend.path)
        # A backend on the new file itself (no link), with connections of its own.
        self.builder = SqliteBackend(self.file)
        self.builder._connection()
        with backend._write() as (connection, _generation):
            connection.execute("DELETE FROM rebuild_log")  # left by a rebuild that died
            connection.execute(
                "INSERT INTO meta VALUES ('rebuild', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (self.file.name,),
            )

    def write(self, documents: Iterable[dict[str, Any]]) -> int:
        return self.builder.index(documents)

    def finish(self) -> None:
        connection = self.live._connection()
        connection.execute("BEGIN IMMEDIATE")
        try:
            if sqlite_files.identity(self.live.path) != self.live._local.identity:
                raise BackendUnavailable(f"sqlite search index {self.live.path} was swapped by another rebuild")
            marker = connection.execute("SELECT value FROM meta WHERE key = 'rebuild'").fetchone()
            if marker is None or marker[0] != self.file.name:
                raise BackendUnavailable(f"sqlite search index {self.live.path}: another rebuild started meanwhile")
            self._replay(connection.execute("SELECT op, doc_id, doc FROM rebuild_log ORDER BY seq").fetchall())
            self.builder.close()  # the last connection: SQLite checkpoints and removes the new file's WAL
            sqlite_files.point_to(self.live.path, self.file)
            connection.execute("DELETE FROM rebuild_log")
            connection.execute("DELETE FROM meta WHERE key = 'rebuild'")
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            self.abort()
            raise
        self.live.close()
        # The old file's name is gone from the path (a link now leads to the new one), or it was the path itself.
        sqlite_files.remove(self.old_file, main=self.old_file != self.live.path)

    def _replay(self, log: list[tuple[str, str, str | None]]) -> None:
        """Apply the logged changes in order, consecutive writes of one kind in one batch."""
        batch: list[dict[str, Any]] = []
        deletions: list[str] = []
        for op, doc_id, doc in log:
            if op == "index":
                if deletions:
                    self.builder.delete(deletions)
                    deletions = []
                batch.append(json.loads(doc))
            else:
                if batch:
                    self.builder.index(batch)
                    batch = []
                deletions.append(doc_id)
        if batch:
            self.builder.index(batch)
        if deletions:
            self.builder.delete(deletions)

    def abort(self) -> None:
        """Drop the new file and the marker; the live index is as it was."""
        self.builder.close()
        sqlite_files.remove(self.file)
        try:
            with self.live._write() as (connection, _generation):
                marker = connection.execute("SELECT value FROM meta WHERE key = 'rebuild'").fetchone()
                if marker is not None and marker[0] == self.file.name:
                    connection.execute("DELETE FROM meta WHERE key = 'rebuild'")
                    connection.execute("DELETE FROM rebuild_log")
        except BackendUnavailable:
            pass  # the marker stays; the next rebuild resets it
