"""Saved searches: a user keeps a search and is told when new listings match it."""

from __future__ import annotations

from flask import Flask
from flask_babel import lazy_gettext as _l


def init_app(app: Flask) -> None:
    from marketplace.alerts import services, views
    from marketplace.jobs.registry import Job, register_job

    app.register_blueprint(views.bp)
    register_job(
        app,
        Job(
            "saved-search-alerts",
            services.check_saved_searches,
            every_seconds=60,
            description=_l("订阅搜索的新结果提醒"),
            failures=services.failed_searches,
        ),
    )
