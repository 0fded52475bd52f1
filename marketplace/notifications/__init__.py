"""Notifications: the in-app notification centre and the email channel behind one interface."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from marketplace.notifications import views

    app.register_blueprint(views.bp)
