"""`flask jobs work` — the background worker: search index, match scans, saved-search alerts."""

from __future__ import annotations

import time

import click
from flask import Flask
from flask.cli import AppGroup

from marketplace.jobs.runner import run_once

jobs_cli = AppGroup("jobs", help="Background work.")


@jobs_cli.command("work")
@click.option("--once", is_flag=True, help="Run every job once and exit (cron-style).")
@click.option("--interval", default=2.0, show_default=True, help="Seconds to rest when there was nothing to do.")
def work_command(once: bool, interval: float) -> None:
    """Index changed listings, scan new ones for strong matches, alert saved searches."""
    while True:
        reports = run_once()
        busy = False
        for name, report in reports.items():
            if report:
                busy = busy or bool(getattr(report, "indexed", 0) or getattr(report, "scanned", 0))
                if _worth_logging(report):
                    click.echo(f"{name}: {report}")
        if once:
            return
        if not busy:
            time.sleep(interval)


def _worth_logging(report) -> bool:
    fields = ("indexed", "deleted", "failed", "scanned", "alerted", "pairs")
    return any(getattr(report, name, 0) for name in fields)


def register(app: Flask) -> None:
    app.cli.add_command(jobs_cli)
