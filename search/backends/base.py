"""The contract every backend fulfils (tests/search/test_backend_contract.py runs it on each)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from search.query import Filters, SearchQuery, SearchResult

Scored = tuple[str, float, dict[str, Any]]  # (document id, score, stored document)


class BackendUnavailable(RuntimeError):
    """The backend cannot be reached or used right now; callers keep their work and retry later."""


class SearchBackend(ABC):
    name: str

    @abstractmethod
    def index(self, documents: Iterable[dict[str, Any]]) -> int:
        """Add or replace documents (by id); returns how many were written."""

    @abstractmethod
    def delete(self, ids: Iterable[str]) -> None:
        """Remove documents; unknown ids are ignored."""

    @abstractmethod
    def search(self, query: SearchQuery) -> SearchResult: ...

    @abstractmethod
    def suggest(self, prefix: str, kind: str | None = None, limit: int = 8) -> list[str]:
        """Published titles and keywords starting with (or containing) ``prefix``, for type-ahead."""

    @abstractmethod
    def knn(self, vector: Sequence[float], kind: str, k: int = 100) -> list[Scored]:
        """Published documents of ``kind`` nearest to ``vector`` by cosine, best first."""

    def lexical(self, text: str, kind: str, k: int = 100) -> list[Scored]:
        """Published documents of ``kind`` ranked by BM25 against any word of ``text``.

        ``text`` may be a whole listing; a backend may leave out words that cost much and weigh
        little (sqlite: the most common ones, see sqlite_terms)."""
        query = SearchQuery(text=text, filters=Filters(kind=kind), per_page=k, facets=False, match_any=True)
        return [(hit.id, hit.score, hit.document) for hit in self.search(query).hits]

    @abstractmethod
    def count(self) -> int: ...

    @contextmanager
    def reindexing(self) -> Iterator[Callable[[Iterable[dict[str, Any]]], int]]:
        """``with backend.reindexing() as write: write(batch)…`` rebuilds the whole index.

        This default empties the index first; a backend that can build beside the live index and
        swap overrides it so searches never see it empty (sqlite: a new file, Elasticsearch: a new
        index behind the alias). Such a backend must also let ``index``/``delete`` calls made during
        the rebuild, from any process, reach the new index.
        """
        self.clear()
        yield self.index

    def create(self) -> None:
        """Create the (empty) index if there is none: first-time setup. A backend that makes its
        index on first write (Elasticsearch) has nothing to do."""
        return None

    @abstractmethod
    def clear(self) -> None:
        """Remove every document (a full reindex starts here)."""

    @abstractmethod
    def health(self) -> dict[str, Any]:
        """{"status": "ok"|"error", ...}; never raises."""
