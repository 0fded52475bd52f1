"""Discovery: keeps the search index in step with listings (transactional outbox) and serves search.

The engine itself lives in the top-level ``search`` package; this feature turns listings into its
documents, owns the outbox, the ``flask search`` commands and the search-backed browse pages.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from marketplace.discovery import cli, outbox, views
    from marketplace.discovery import services as discovery
    from marketplace.jobs.registry import Job, register_job

    app.register_blueprint(views.bp)
    cli.register(app)
    register_job(
        app,
        Job(
            "search-sync",
            lambda: outbox.drain(discovery.backend(), encoder=discovery.encoder()),
            description="Index changed listings, with their vectors",
        ),
    )
