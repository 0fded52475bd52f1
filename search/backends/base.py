"""The contract every backend fulfils (tests/search/test_backend_contract.py runs it on each)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import Any

from search.query import SearchQuery, SearchResult


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
    def count(self) -> int: ...

    @abstractmethod
    def clear(self) -> None:
        """Remove every document (a full reindex starts here)."""

    @abstractmethod
    def health(self) -> dict[str, Any]:
        """{"status": "ok"|"error", ...}; never raises."""
