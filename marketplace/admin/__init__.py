"""Platform administration: the review queue, organisation verification, user roles, audit log."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from marketplace.admin import views

    app.register_blueprint(views.bp)
