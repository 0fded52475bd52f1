"""Discovery: keeps the search index in step with listings (transactional outbox) and serves search.

The engine itself lives in the top-level ``search`` package; this feature turns listings into its
documents, owns the outbox, the ``flask search`` commands and the search-backed browse pages.
"""
