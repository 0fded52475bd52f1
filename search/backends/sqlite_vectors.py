"""Nearest neighbours over the vectors of an SQLite index file: one float32 matrix per kind.

A process keeps, per kind, the unit vectors of published documents as rows of one contiguous
float32 matrix and their rowids in an int64 array — nothing else, so 80,000 vectors of 384
dimensions cost 120 MB, not the gigabyte parsed documents would. Documents are read from the
file only for the k rows returned. After writes the matrix catches up from the rows stamped
with a newer generation and the tombstones of deletions, instead of reloading (a reload of
100,000 vectors takes seconds; the outbox writes after every request).
"""

from __future__ import annotations

import ctypes
import sqlite3
import threading

import numpy as np

from search.backends.sqlite_schema import read_state

# Catching up row by row is slower than a reload once a large share of the index changed.
FULL_RELOAD_SHARE = 0.25
_GROWTH = 1.25
_CHUNK = 4096
# Reading in small batches keeps temporaries small (glibc keeps freed multi-megabyte blocks)
_READ_ROWS = 256


def _return_freed_memory() -> None:
    """Hand the reload's freed temporaries back to the OS. glibc keeps freed heap blocks for reuse,
    and a reload leaves about as much freed as the matrix itself (measured for 80,000 vectors: RSS
    280 MB instead of 180 MB, peak 290 MB instead of 205 MB); each web worker would carry that."""
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to do
        pass


class KindVectors:
    """Unit vectors of one kind's published documents, in step with one index file."""

    def __init__(self, kind: str):
        self.kind = kind
        self.index_id: str | None = None
        self.seen = -1  # generation the rows reflect
        self.rowids = np.zeros(0, dtype=np.int64)
        self.matrix = np.zeros((0, 0), dtype=np.float32)
        self.count = 0
        self.position: dict[int, int] = {}

    # ---- keeping up --------------------------------------------------------------------------

    def refresh(self, connection: sqlite3.Connection) -> None:
        index_id, generation, floor = read_state(connection)
        if index_id == self.index_id and generation == self.seen:
            return
        if (
            index_id != self.index_id
            or self.seen < floor
            or self._changes(connection) > FULL_RELOAD_SHARE * max(self.count, 1000)
        ):
            self._reload(connection, generation)
        else:
            self._catch_up(connection, generation)
        self.index_id = index_id

    def _changes(self, connection: sqlite3.Connection) -> int:
        changed = connection.execute("SELECT count(*) FROM docs WHERE seq > ?", (self.seen,)).fetchone()[0]
        removed = connection.execute("SELECT count(*) FROM tombstones WHERE seq > ?", (self.seen,)).fetchone()[0]
        return changed + removed

    def _reload(self, connection: sqlite3.Connection, generation: int) -> None:
        source = "FROM docs d JOIN vectors v ON v.rowid = d.rowid WHERE d.kind = :kind AND d.status = 'published'"
        found = connection.execute(f"SELECT count(*), max(length(v.vector)) {source}", {"kind": self.kind}).fetchone()
        # Sized once, with room for some new documents: growing a 100 MB matrix copies it.
        dim = (found[1] or 0) // 4
        capacity = found[0] + max(_CHUNK, found[0] // 20) if found[0] else 0
        self.matrix = np.zeros((capacity, dim), dtype=np.float32)
        self.rowids = np.zeros(capacity, dtype=np.int64)
        self.count, self.position = 0, {}
        rows = connection.execute(f"SELECT v.rowid, v.vector {source} ORDER BY v.rowid", {"kind": self.kind})
        batches = 0
        while batch := rows.fetchmany(_READ_ROWS):
            batches += 1
            if batches % 64 == 0:  # freed blocks pile up over a reload; without this the peak is 2x the matrix
                _return_freed_memory()
            batch = [(rowid, blob) for rowid, blob in batch if len(blob) == 4 * dim]  # one encoder's vectors
            block = np.frombuffer(b"".join(blob for _, blob in batch), dtype=np.float32).reshape(len(batch), dim)
            end = self.count + len(batch)
            np.divide(
                block,
                np.maximum(np.linalg.norm(block, axis=1, keepdims=True), 1e-12),
                out=self.matrix[self.count : end],
            )
            self.rowids[self.count : end] = [rowid for rowid, _ in batch]
            self.count = end
        self.position = dict(zip(self.rowids[: self.count].tolist(), range(self.count), strict=True))
        self.seen = generation
        _return_freed_memory()

    def _catch_up(self, connection: sqlite3.Connection, generation: int) -> None:
        # Deletions first: a rowid freed by a delete may be taken by a document written later.
        for (rowid,) in connection.execute("SELECT rowid FROM tombstones WHERE seq > ?", (self.seen,)).fetchall():
            self._remove(rowid)
        changed = connection.execute(
            "SELECT d.rowid, d.kind, d.status, v.vector FROM docs d LEFT JOIN vectors v ON v.rowid = d.rowid "
            "WHERE d.seq > ?",
            (self.seen,),
        ).fetchall()
        for rowid, kind, status, blob in changed:
            if kind == self.kind and status == "published" and blob is not None:
                self._put(rowid, blob)
            else:
                self._remove(rowid)
        self.seen = generation

    def _put(self, rowid: int, blob: bytes) -> None:
        vector = np.frombuffer(blob, dtype=np.float32)
        if self.matrix.shape[1] == 0:
            self.matrix = np.zeros((0, vector.size), dtype=np.float32)
        if vector.size != self.matrix.shape[1]:
            return  # another encoder's vector: not comparable
        norm = float(np.linalg.norm(vector))
        at = self.position.get(rowid)
        if at is None:
            if self.count == self.matrix.shape[0]:
                self._grow()
            at = self.count
            self.count += 1
            self.position[rowid] = at
            self.rowids[at] = rowid
        self.matrix[at] = vector / max(norm, 1e-12)

    def _remove(self, rowid: int) -> None:
        at = self.position.pop(rowid, None)
        if at is None:
            return
        last = self.count - 1
        if at != last:  # the last row fills the hole: rows stay contiguous
            moved = int(self.rowids[last])
            self.matrix[at] = self.matrix[last]
            self.rowids[at] = moved
            self.position[moved] = at
        self.count = last

    def _grow(self) -> None:
        capacity = max(_CHUNK, int(self.matrix.shape[0] * _GROWTH))
        matrix = np.zeros((capacity, self.matrix.shape[1]), dtype=np.float32)
        matrix[: self.count] = self.matrix[: self.count]
        rowids = np.zeros(capacity, dtype=np.int64)
        rowids[: self.count] = self.rowids[: self.count]
        self.matrix, self.rowids = matrix, rowids

    # ---- asking ------------------------------------------------------------------------------

    def nearest(self, vector, k: int) -> list[tuple[int, float]]:
        """(rowid, cosine) of the k nearest rows, best first."""
        if self.count == 0:
            return []
        query = np.asarray(vector, dtype=np.float32)
        if query.size != self.matrix.shape[1]:
            return []
        query = query / (float(np.linalg.norm(query)) or 1.0)
        # einsum runs on this thread; BLAS (matmul) would spread one request over every core, which
        # on a small server busy with other workers is slower (measured at 80,000 x 384 on 2 busy
        # cores: 9 ms against 24 ms) and takes the cores from the other requests.
        scores = np.einsum("ij,j->i", self.matrix[: self.count], query)
        k = min(k, self.count)
        top = np.argpartition(-scores, k - 1)[:k]
        # Ties broken by rowid so the order never depends on where a row sits in the matrix.
        top = top[np.lexsort((self.rowids[top], -scores[top]))]
        return [(int(self.rowids[i]), float(scores[i])) for i in top]


class VectorCache:
    """Per-process: one KindVectors per kind, shared by the threads of the process."""

    def __init__(self) -> None:
        self._kinds: dict[str, KindVectors] = {}
        self._lock = threading.Lock()

    def nearest(self, connection: sqlite3.Connection, kind: str, vector, k: int) -> list[tuple[int, float]]:
        # One lock: a refresh rewrites rows in place, so no search may read the matrix meanwhile.
        with self._lock:
            vectors = self._kinds.setdefault(kind, KindVectors(kind))
            connection.execute("BEGIN")  # one snapshot: the generation read matches the rows read
            try:
                vectors.refresh(connection)
            finally:
                connection.execute("COMMIT")
            return vectors.nearest(vector, k)

    def clear(self) -> None:
        with self._lock:
            self._kinds.clear()
