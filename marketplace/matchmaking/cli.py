"""`flask matchmaking scan` — compute strong pairs now instead of waiting for the worker."""

from __future__ import annotations

import sys

import click
from flask import Flask
from flask.cli import AppGroup

from marketplace.core.background import on_public_site
from marketplace.matchmaking import services

matchmaking_cli = AppGroup("matchmaking", help="Strong demand–achievement pairs for brokers.")


@matchmaking_cli.command("scan")
@click.option("--all", "everything", is_flag=True, help="Rescan every published listing.")
@click.option("--notify", is_flag=True, help="With --all: also notify owners of new strong matches.")
def scan_command(everything: bool, notify: bool) -> None:
    """Run the queued match scans (the worker does this continuously)."""
    if everything:
        click.echo(f"queued {services.queue_all_published(announce=notify)} listings")
    total = services.ScanReport()
    while True:
        with on_public_site():
            report = services.run_scans()
        total.scanned, total.pairs, total.notified = (total.scanned + report.scanned, total.pairs + report.pairs,
                                                      total.notified + report.notified)
        if report.failed:
            raise click.ClickException(f"search backend unavailable: {report.error}")
        if not report.scanned:
            break
    click.echo(f"scanned {total.scanned} listings: {total.pairs} strong pairs, {total.notified} owners notified")
    sys.exit(0)


def register(app: Flask) -> None:
    app.cli.add_command(matchmaking_cli)
