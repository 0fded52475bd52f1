"""Deals (撮合): brokers' profiles, the pipeline from a lead to a closed contract, and broker rewards."""

from __future__ import annotations

from flask import Flask
from flask_babel import lazy_gettext as _l


def init_app(app: Flask) -> None:
    from marketplace.deals import broker_views, jobs, pipeline_views, views  # noqa: F401  (routes on bp)
    from marketplace.deals.blueprint import bp
    from marketplace.jobs.registry import Job, register_job

    app.register_blueprint(bp)
    register_job(
        app,
        Job(
            "deal-reminders", jobs.send_reminders, every_seconds=3600, description=_l("提醒经纪人处理到期的撮合下一步")
        ),
    )
