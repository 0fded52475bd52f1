"""Turnover statistics against the plans' targets: the dashboard, exports and the stats CLI."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from marketplace.stats import api, cli, views

    app.register_blueprint(views.bp)
    app.register_blueprint(api.bp)
    cli.register(app)
