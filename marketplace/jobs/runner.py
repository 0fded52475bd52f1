"""Run the registered jobs: each run under a lease, in one transaction, ended busy or idle.

A run takes the job's lease row with one conditional UPDATE (checked by row count), in a
transaction of its own: two workers on two hosts never run the same job at once, and the lease of
a worker that died lapses at ``leased_until``. The job's own work is one unit: committed when it
returns, rolled back if it raises. Whatever happened, the session's transaction is ended before the
next job, so a long-lived worker never keeps reading an old SQLite snapshot.
"""

from __future__ import annotations

import os
import socket
import uuid
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import or_, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import OperationalError

from marketplace.core.models import utcnow
from marketplace.core.transaction import separate_session
from marketplace.extensions import db
from marketplace.jobs.models import JobLease
from marketplace.jobs.registry import Job, registered_jobs

HOLDER = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass
class JobOutcome:
    ran: bool
    report: object = None
    error: str | None = None

    def __str__(self) -> str:
        if not self.ran:
            return "not due, or leased by another worker"
        return f"failed: {self.error}" if self.error else str(self.report)


def acquire(job: Job, holder: str = HOLDER) -> bool:
    """Take the job's lease if it is due and no live worker holds it."""
    now = utcnow()
    try:
        with separate_session() as session:
            # Write first, read never: on SQLite a transaction that began by reading could not take
            # the write lock once another worker had committed (see core/database.py).
            session.execute(_insert_if_missing(session, job.name))
            taken = _take(session, job, holder, now)
    except OperationalError as error:  # a busy database: this worker tries again on its next pass
        current_app.logger.warning("could not take the lease of job %s: %s", job.name, error.orig)
        return False
    return taken


def _insert_if_missing(session, name: str):
    values = {"name": name, "runs": 0, "failures": 0}
    if session.get_bind().dialect.name == "postgresql":
        return postgresql_insert(JobLease).values(**values).on_conflict_do_nothing(index_elements=["name"])
    return sqlite_insert(JobLease).values(**values).on_conflict_do_nothing(index_elements=["name"])


def _take(session, job: Job, holder: str, now) -> bool:
    taken = session.execute(
        update(JobLease)
        .where(
            JobLease.name == job.name,
            or_(JobLease.holder.is_(None), JobLease.leased_until < now),
            or_(JobLease.next_run_at.is_(None), JobLease.next_run_at <= now),
        )
        .values(holder=holder, leased_until=now + timedelta(seconds=job.lease_seconds), last_started_at=now)
        .execution_options(synchronize_session=False)
    )
    return taken.rowcount == 1


def release(job: Job, outcome: JobOutcome, holder: str = HOLDER) -> None:
    """Give the lease back with the run's outcome; one UPDATE, and only if this worker still holds it
    (if it lapsed and another worker took it, that worker's row is left alone)."""
    now = utcnow()
    try:
        with separate_session() as session:
            session.execute(
                update(JobLease)
                .where(JobLease.name == job.name, JobLease.holder == holder)
                .values(
                    holder=None,
                    leased_until=None,
                    next_run_at=now + timedelta(seconds=job.every_seconds) if job.every_seconds else None,
                    last_finished_at=now,
                    runs=JobLease.runs + 1,
                    failures=JobLease.failures + (1 if outcome.error else 0),
                    last_report=None if outcome.report is None else str(outcome.report)[:1000],
                    last_error=outcome.error,
                )
                .execution_options(synchronize_session=False)
            )
    except OperationalError as error:  # the lease lapses by itself at leased_until
        current_app.logger.warning("could not release the lease of job %s: %s", job.name, error.orig)


_running: ContextVar[str | None] = ContextVar("running_job", default=None)


def commit_batch() -> None:
    """For a long job (an import of 20,000 lines): make the work so far durable and go on.

    The runner owns the job's transaction; a job that runs for minutes asks it to commit a batch
    rather than committing a session it did not open (on SQLite one transaction over the whole run
    would hold the write lock for minutes)."""
    if _running.get() is None:
        raise RuntimeError("commit_batch() is for jobs run by the job runner")
    db.session.commit()


def run_job(job: Job, holder: str = HOLDER) -> JobOutcome:
    """One run of ``job`` if it is due and free: its work committed once, or rolled back."""
    if not acquire(job, holder):
        return JobOutcome(ran=False)
    outcome = JobOutcome(ran=True)
    db.session.rollback()  # start from a fresh transaction: no snapshot older than the lease
    token = _running.set(job.name)
    try:
        outcome.report = job.run()
        db.session.commit()
    except Exception as error:  # the worker must outlive one bad run; the lease row and log say what broke
        db.session.rollback()
        current_app.logger.exception("job %s failed", job.name)
        outcome.error = f"{type(error).__name__}: {error}"[:1000]
    finally:
        _running.reset(token)
        db.session.rollback()  # end the transaction, busy or idle (a no-op after the commit above)
    release(job, outcome, holder)
    return outcome


def run_once(holder: str = HOLDER) -> dict[str, JobOutcome]:
    """Run every registered job once (those due and not leased elsewhere), in registration order."""
    return {job.name: run_job(job, holder) for job in registered_jobs()}
