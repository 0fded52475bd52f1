"""Search backends: one interface (base.SearchBackend), chosen by configuration."""

from __future__ import annotations

from search.backends.base import BackendUnavailable, SearchBackend


def create_backend(name: str, **options) -> SearchBackend:
    if name == "sqlite":
        from search.backends.sqlite import SqliteBackend

        return SqliteBackend(options["path"])
    raise ValueError(f"unknown search backend {name!r} (expected 'sqlite')")


__all__ = ["BackendUnavailable", "SearchBackend", "create_backend"]
