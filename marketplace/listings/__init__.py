"""Listings: achievements (科技成果), demands (技术需求), open challenges, attachments, import/export."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from marketplace.jobs.registry import Job, register_job
    from marketplace.listings import cli, import_runs, views

    app.register_blueprint(views.bp)
    cli.register(app)
    register_job(
        app,
        Job(
            "listing-imports",
            import_runs.run_next,
            # One run goes to its end under the lease; a long one must not be taken up twice.
            lease_seconds=3600,
            description="Run bulk imports queued from the import page",
        ),
    )
