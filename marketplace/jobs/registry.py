"""Background jobs, registered by the feature that owns them.

A feature's ``init_app`` calls ``register_job(app, Job(...))``; the worker (``flask jobs work``) runs
the registered jobs in registration order, so a feature registered after another may rely on its
work (listings are indexed before they are matched). Each job holds a lease row while it runs, so two
workers on two hosts never run the same job at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from flask import Flask, current_app

EXTENSION_KEY = "marketplace_jobs"


@dataclass(frozen=True)
class FailedItem:
    """One item a job could not handle (a listing to index, a scan, a saved search): kept, retried
    with back-off, and shown to admins with its reason."""

    what: str
    error: str
    attempts: int = 1
    next_attempt_at: datetime | None = None
    link: str | None = None


@dataclass(frozen=True)
class Job:
    name: str
    # Does one batch of work and returns a report (anything with a readable str(), or None).
    # It flushes; the runner commits once when it returns and rolls back if it raises.
    run: Callable[[], object]
    every_seconds: float = 0  # rest between runs; 0 = on every pass of the worker
    lease_seconds: float = 600  # a run taking longer than this may be started by another worker
    description: str = ""
    # The items this job failed on and will retry (for the admins' job page); most recent first.
    failures: Callable[[int], list[FailedItem]] | None = None


def register_job(app: Flask, job: Job) -> None:
    jobs = app.extensions.setdefault(EXTENSION_KEY, {})
    if job.name in jobs:
        raise ValueError(f"job {job.name!r} is registered twice")
    jobs[job.name] = job


def registered_jobs(app: Flask | None = None) -> list[Job]:
    return list((app or current_app).extensions.get(EXTENSION_KEY, {}).values())


def listing_queue_failures(model, limit: int = 50) -> list[FailedItem]:
    """The failed rows of a retry queue about listings (the search outbox, match scans): each row
    has ``listing_id``, ``attempts``, ``next_attempt_at`` and ``last_error``; most recent first."""
    from sqlalchemy import select

    from marketplace.core.links import path_for
    from marketplace.extensions import db

    rows = db.session.scalars(select(model).where(model.last_error.is_not(None)).order_by(model.id.desc()).limit(limit))
    return [
        FailedItem(
            what=f"listing #{row.listing_id}",
            error=row.last_error,
            attempts=row.attempts,
            next_attempt_at=row.next_attempt_at,
            link=path_for("admin.review", listing_id=row.listing_id),
        )
        for row in rows
    ]
