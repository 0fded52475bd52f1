"""Listings: achievements (科技成果), demands (技术需求), open challenges, attachments, import/export."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from marketplace.listings import cli, views

    app.register_blueprint(views.bp)
    cli.register(app)
