"""The public JSON API for integrators (/api/v1); grows into its own issue."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from marketplace.api import views

    app.register_blueprint(views.bp)
