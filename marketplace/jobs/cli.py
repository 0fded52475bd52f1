"""`flask jobs work|status` — the background worker and what it last did."""

from __future__ import annotations

import time

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import select

from marketplace.extensions import db
from marketplace.jobs.models import JobLease
from marketplace.jobs.registry import registered_jobs
from marketplace.jobs.runner import run_once

jobs_cli = AppGroup("jobs", help="Background work.")


@jobs_cli.command("work")
@click.option("--once", is_flag=True, help="Run every due job once and exit (cron-style).")
@click.option("--interval", default=2.0, show_default=True, help="Seconds to rest when there was nothing to do.")
def work_command(once: bool, interval: float) -> None:
    """Run the registered jobs (search index, match scans, saved-search alerts …) until stopped.

    Several workers (on several hosts) may run at once: each job runs in one of them at a time.
    """
    while True:
        outcomes = run_once()
        busy = False
        for name, outcome in outcomes.items():
            if outcome.ran and (outcome.error or _did_work(outcome.report)):
                busy = True
                click.echo(f"{name}: {outcome}")
        if once:
            return
        if not busy:
            time.sleep(interval)


def _did_work(report) -> bool:
    fields = ("indexed", "deleted", "failed", "scanned", "alerted", "pairs", "processed")
    return any(getattr(report, name, 0) for name in fields)


@jobs_cli.command("status")
def status_command() -> None:
    """Each registered job: who holds it, when it last ran, and its last error."""
    leases = {lease.name: lease for lease in db.session.scalars(select(JobLease))}
    for job in registered_jobs():
        lease = leases.get(job.name)
        if lease is None:
            click.echo(f"{job.name}: never ran")
            continue
        state = f"running on {lease.holder}" if lease.holder else "idle"
        click.echo(
            f"{job.name}: {state}; runs {lease.runs}, failures {lease.failures}; "
            f"last finished {lease.last_finished_at or '-'}"
            + (f"; last error: {lease.last_error}" if lease.last_error else "")
        )


def register(app: Flask) -> None:
    app.cli.add_command(jobs_cli)
