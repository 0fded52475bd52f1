"""Accounts: users, organisations, roles, invitations and permissions."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from marketplace.accounts import capabilities, views

    app.register_blueprint(views.bp)
    capabilities.init_app(app)
