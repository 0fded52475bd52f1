"""Pagination of SQLAlchemy selects, with the page number taken from the request."""

from __future__ import annotations

from flask import current_app, request

from marketplace.core.params import clamped_int
from marketplace.extensions import db

# Far past any real list (ten million rows at 100 a page), and the offset it gives stays well inside
# the 64-bit integers SQLite and PostgreSQL accept: a larger ``page`` shows this (empty) page.
MAX_PAGE = 100_000


def paginate(select, per_page: int | None = None):
    """Flask-SQLAlchemy's paginator over ``select``; a bad ``page`` argument falls back to 1."""
    per_page = per_page or current_app.config["PAGE_SIZE"]
    return db.paginate(select, page=page_number(), per_page=per_page, error_out=False, max_per_page=100)


class ResultPage:
    """A page of results that did not come from a SQL query (e.g. search hits), with the same
    attributes the templates' ``pagination`` macro uses on Flask-SQLAlchemy's paginator."""

    def __init__(self, items: list, total: int, page: int, per_page: int):
        self.items, self.total, self.page, self.per_page = items, total, page, per_page

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page)) if self.total else 0

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def prev_num(self) -> int | None:
        return self.page - 1 if self.has_prev else None

    @property
    def next_num(self) -> int | None:
        return self.page + 1 if self.has_next else None

    def iter_pages(self, left_edge: int = 2, left_current: int = 2, right_current: int = 4, right_edge: int = 2):
        """Page numbers to show, with None where a run of pages is skipped."""
        last = 0
        for number in range(1, self.pages + 1):
            near_edges = number <= left_edge or number > self.pages - right_edge
            near_current = self.page - left_current <= number <= self.page + right_current
            if near_edges or near_current:
                if last and number - last > 1:
                    yield None
                yield number
                last = number

    def __iter__(self):
        return iter(self.items)


def page_number() -> int:
    """The ``page`` argument within 1..MAX_PAGE; 1 when it is not a whole number."""
    return clamped_int(request.args.get("page"), 1, MAX_PAGE, default=1)
