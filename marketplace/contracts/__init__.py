"""Technology contracts (技术合同): registration records, their life cycle and bulk import."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from marketplace.contracts import cli, import_runs, views
    from marketplace.jobs.registry import Job, register_job

    app.register_blueprint(views.bp)
    cli.register(app)
    register_job(
        app,
        Job(
            "contract-imports",
            import_runs.run_next,
            lease_seconds=3600,  # one run goes to its end under the lease
            description="Run technology-contract imports uploaded by admins",
        ),
    )
