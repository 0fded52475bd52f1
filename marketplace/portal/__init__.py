"""The portal: home page, the signed-in user's dashboard, language switch and health check."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from marketplace.portal import views

    app.register_blueprint(views.bp)
