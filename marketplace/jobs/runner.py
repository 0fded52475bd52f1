"""The worker's jobs, in the order each needs the one before: listings are indexed (with their
vectors) before they are matched, and before saved searches look for new results."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import current_app

from marketplace.alerts.services import check_saved_searches
from marketplace.core.background import on_public_site
from marketplace.discovery import outbox
from marketplace.discovery import services as discovery
from marketplace.extensions import db
from marketplace.matchmaking.services import run_scans


@dataclass
class Job:
    name: str
    run: Callable[[], object]


def _index_listings():
    return outbox.drain(discovery.backend(), encoder=discovery.encoder())


JOBS = (
    Job("search-sync", _index_listings),
    Job("match-scans", run_scans),
    Job("saved-search-alerts", check_saved_searches),
)


def run_once() -> dict[str, object]:
    """Run every job once, on the public site so the links they mail are absolute.

    One job failing (a bug, a database hiccup) is logged and does not stop the others.
    """
    reports = {}
    with on_public_site():
        for job in JOBS:
            try:
                reports[job.name] = job.run()
            except Exception:  # the worker must outlive one bad run; the log says what broke
                current_app.logger.exception("job %s failed", job.name)
                db.session.rollback()
                reports[job.name] = None
    return reports
