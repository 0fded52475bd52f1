"""Search backends: one interface (base.SearchBackend), chosen by configuration."""

from __future__ import annotations

from search.backends.base import BackendUnavailable, SearchBackend


def create_backend(name: str, **options) -> SearchBackend:
    if name == "sqlite":
        from search.backends.sqlite import SqliteBackend

        return SqliteBackend(options["path"], may_create=options.get("may_create"))
    if name == "elasticsearch":
        # Imported here so the sqlite default never loads the Elasticsearch client.
        from search.backends.elasticsearch import ElasticsearchBackend

        return ElasticsearchBackend(**options)  # url=..., index_prefix=..., and see its __init__
    raise ValueError(f"unknown search backend {name!r} (expected 'sqlite' or 'elasticsearch')")


__all__ = ["BackendUnavailable", "SearchBackend", "create_backend"]
