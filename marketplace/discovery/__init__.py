"""Discovery: keeps the search index in step with listings (transactional outbox) and serves search.

The engine itself lives in the top-level ``search`` package; this feature turns listings into its
documents, owns the outbox, the ``flask search`` commands and the search-backed browse pages.
"""

from __future__ import annotations

from functools import partial

from flask import Flask
from flask_babel import lazy_gettext as _l


def init_app(app: Flask) -> None:
    from marketplace.discovery import cli, outbox, views
    from marketplace.discovery import services as discovery
    from marketplace.discovery.models import SearchOutbox
    from marketplace.jobs.registry import Job, listing_queue_failures, register_job

    app.register_blueprint(views.bp)
    cli.register(app)
    register_job(
        app,
        Job(
            "search-sync",
            lambda: outbox.drain(discovery.backend(), encoder=discovery.encoder()),
            description=_l("把变更的信息写入搜索索引（含语义向量）"),
            failures=partial(listing_queue_failures, SearchOutbox),
        ),
    )
