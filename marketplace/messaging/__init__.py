"""Inquiries (咨询): message threads between a visitor and a listing's owner."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from marketplace.messaging import views

    app.register_blueprint(views.bp)
