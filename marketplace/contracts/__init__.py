"""Technology contracts (技术合同): registration records, their life cycle and bulk import."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from marketplace.contracts import cli, views

    app.register_blueprint(views.bp)
    cli.register(app)
