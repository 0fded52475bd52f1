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
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError

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
    with separate_session() as session:
        if session.get(JobLease, job.name) is None:
            try:
                with session.begin_nested():
                    session.add(JobLease(name=job.name))
            except IntegrityError:
                pass  # another worker created it a moment ago
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
    now = utcnow()
    with separate_session() as session:
        lease = session.scalar(select(JobLease).where(JobLease.name == job.name, JobLease.holder == holder))
        if lease is None:  # the lease lapsed and another worker took it: leave its row alone
            return
        lease.holder, lease.leased_until = None, None
        lease.next_run_at = now + timedelta(seconds=job.every_seconds) if job.every_seconds else None
        lease.last_finished_at = now
        lease.runs = (lease.runs or 0) + 1
        lease.last_report = None if outcome.report is None else str(outcome.report)[:1000]
        lease.last_error = outcome.error
        if outcome.error:
            lease.failures = (lease.failures or 0) + 1


def run_job(job: Job, holder: str = HOLDER) -> JobOutcome:
    """One run of ``job`` if it is due and free: its work committed once, or rolled back."""
    if not acquire(job, holder):
        return JobOutcome(ran=False)
    outcome = JobOutcome(ran=True)
    db.session.rollback()  # start from a fresh transaction: no snapshot older than the lease
    try:
        outcome.report = job.run()
        db.session.commit()
    except Exception as error:  # the worker must outlive one bad run; the lease row and log say what broke
        db.session.rollback()
        current_app.logger.exception("job %s failed", job.name)
        outcome.error = f"{type(error).__name__}: {error}"[:1000]
    finally:
        db.session.rollback()  # end the transaction, busy or idle (a no-op after the commit above)
    release(job, outcome, holder)
    return outcome


def run_once(holder: str = HOLDER) -> dict[str, JobOutcome]:
    """Run every registered job once (those due and not leased elsewhere), in registration order."""
    return {job.name: run_job(job, holder) for job in registered_jobs()}
