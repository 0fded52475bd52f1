"""Matchmaking: strong demand–achievement pairs found when listings are published, the alerts
sent to the owners of strong matches, and the brokers' dashboard of pairs to follow up."""

from __future__ import annotations

from functools import partial

from flask import Flask
from flask_babel import lazy_gettext as _l


def init_app(app: Flask) -> None:
    from marketplace.jobs.registry import Job, listing_queue_failures, register_job
    from marketplace.matchmaking import cli, services, views
    from marketplace.matchmaking.models import MatchScan

    app.register_blueprint(views.bp)
    cli.register(app)
    # Registered after search-sync: a listing is matched once it is indexed with its vector.
    register_job(
        app,
        Job(
            "match-scans",
            services.run_scans,
            description=_l("为新发布的信息寻找高匹配度的对接"),
            failures=partial(listing_queue_failures, MatchScan),
        ),
    )
