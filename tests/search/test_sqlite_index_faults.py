"""The sqlite index file going missing, broken or restored: reported as unavailable, never replaced
by an empty index behind the application's back, and used again once it is back."""

from __future__ import annotations

import os
import threading

import pytest

from search.backends import BackendUnavailable
from search.backends.sqlite import SqliteBackend
from search.query import Filters, SearchQuery
from tests.search.docs import doc


@pytest.fixture
def path(tmp_path):
    return tmp_path / "index.sqlite"


@pytest.fixture
def backend(path):
    engine = SqliteBackend(path, may_create=lambda: False)
    engine.create()
    engine.index([doc(1), doc(2)])
    yield engine
    engine.close()


def _remove(path) -> None:
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(f"{path}{suffix}"):
            os.remove(f"{path}{suffix}")


def _checkpoint(backend) -> None:
    """Empty the write-ahead log into the file, so the file alone is the index (as after a clean stop)."""
    backend._execute("PRAGMA wal_checkpoint(TRUNCATE)")


def test_missing_index_file_not_allowed_to_create_raises_unavailable_and_stays_missing(backend, path):
    backend.close()
    _remove(path)

    with pytest.raises(BackendUnavailable, match="missing"):
        backend.count()
    with pytest.raises(BackendUnavailable):
        backend.index([doc(3)])  # a write must not start an empty index either

    assert not path.exists()


def test_index_file_removed_under_open_connection_raises_unavailable(backend, path):
    assert backend.count() == 2
    _remove(path)

    with pytest.raises(BackendUnavailable):
        backend.search(SearchQuery(filters=Filters(kind="achievement")))

    assert not path.exists()


def test_missing_index_file_created_when_allowed(path):
    engine = SqliteBackend(path, may_create=lambda: True)

    assert engine.count() == 0 and path.exists()


def test_reindexing_creates_missing_index_file(backend, path):
    backend.close()
    _remove(path)

    with backend.reindexing() as write:
        write([doc(7)])

    assert backend.count() == 1


def test_broken_index_file_restored_backend_reopens(backend, path, tmp_path):
    assert backend.count() == 2
    _checkpoint(backend)
    # An operator moves the index aside and something else lands in its place …
    kept = tmp_path / "kept.sqlite"
    os.replace(path, kept)
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(BackendUnavailable):
        backend.count()
    # … then puts the original back: the same file the connection first opened.
    os.replace(kept, path)

    assert backend.count() == 2
    assert backend.search(SearchQuery(filters=Filters(kind="achievement"))).total == 2


def test_closed_connection_reopened_not_cannot_operate(backend):
    backend.count()
    backend._local.connection.close()  # e.g. closed by a failed reopen in an older version

    assert backend.count() == 2
    backend.index([doc(3)])
    assert backend.count() == 3


def test_restored_index_file_other_thread_reopens(backend, path, tmp_path):
    """Each thread has its own connection: every one of them must recover, not just the first."""
    results: list = []

    def count_in_thread():
        try:
            results.append(backend.count())
        except BackendUnavailable as error:
            results.append(error)

    worker = threading.Thread(target=count_in_thread)
    worker.start()
    worker.join()
    _checkpoint(backend)
    kept = tmp_path / "kept.sqlite"
    os.replace(path, kept)
    path.write_bytes(b"garbage" * 500)
    for _ in range(2):
        worker = threading.Thread(target=count_in_thread)
        worker.start()
        worker.join()
        os.replace(kept, path) if kept.exists() else None

    assert results[0] == 2 and isinstance(results[1], BackendUnavailable) and results[2] == 2
