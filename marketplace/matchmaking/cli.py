"""`flask matchmaking scan` — compute strong pairs now instead of waiting for the worker."""

from __future__ import annotations

import sys

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import func, select

from marketplace.extensions import db
from marketplace.matchmaking import services
from marketplace.matchmaking.models import MatchScan

matchmaking_cli = AppGroup("matchmaking", help="Strong demand–achievement pairs for brokers.")


@matchmaking_cli.command("scan")
@click.option("--all", "everything", is_flag=True, help="Rescan every published listing.")
@click.option("--notify", is_flag=True, help="With --all: also notify owners of new strong matches.")
def scan_command(everything: bool, notify: bool) -> None:
    """Run the queued match scans (the worker does this continuously)."""
    if everything:
        queued = services.queue_all_published(announce=notify)
        db.session.commit()
        click.echo(f"queued {queued} listings")
    waiting = db.session.scalar(select(func.count(func.distinct(MatchScan.listing_id)))) or 0
    total = services.ScanReport()
    with click.progressbar(length=waiting, label="matching", file=sys.stderr, show_pos=True) as bar:
        while True:
            report = services.run_scans()
            db.session.commit()
            if report.failed:
                raise click.ClickException(f"search backend unavailable: {report.error}")
            if not report.scanned:
                break
            bar.update(report.scanned)
            total.scanned += report.scanned
            total.pairs += report.pairs
            total.notified += report.notified
    click.echo(str(total))


def register(app: Flask) -> None:
    app.cli.add_command(matchmaking_cli)
