"""Pagination of SQLAlchemy selects, with the page number taken from the request."""

from __future__ import annotations

from flask import current_app, request

from marketplace.extensions import db


def paginate(select, per_page: int | None = None):
    """Flask-SQLAlchemy's paginator over ``select``; a bad ``page`` argument falls back to 1."""
    per_page = per_page or current_app.config["PAGE_SIZE"]
    return db.paginate(select, page=request.args.get("page", 1, type=int), per_page=per_page,
                       error_out=False, max_per_page=100)
