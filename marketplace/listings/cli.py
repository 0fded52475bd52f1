"""`flask listings import|export` — bulk exchange in the interchange format."""

from __future__ import annotations

import json
import sys

import click
from flask import Flask
from flask.cli import AppGroup

from marketplace.extensions import db
from marketplace.listings.interchange import export_lines, import_lines
from marketplace.listings.models import ListingKind, ListingStatus

listings_cli = AppGroup("listings", help="Import and export listings (JSON Lines interchange format).")


def _count_lines(path: str) -> int:
    with open(path, "rb") as handle:
        return sum(1 for _ in handle)


@listings_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--all-or-nothing", is_flag=True, help="Save nothing if any line is rejected.")
@click.option("--dry-run", is_flag=True, help="Check and report, save nothing.")
@click.option(
    "--status",
    type=click.Choice([ListingStatus.PUBLISHED.value, ListingStatus.SUBMITTED.value], case_sensitive=False),
    default=ListingStatus.PUBLISHED.value,
    show_default=True,
    help="Publish imported records, or send them to the review queue.",
)
@click.option("--json-report", is_flag=True, help="Print the report as JSON.")
def import_command(path: str, all_or_nothing: bool, dry_run: bool, status: str, json_report: bool) -> None:
    """Import PATH (JSON Lines); idempotent on (kind, external_id). Commits every few hundred lines
    (all at once with --all-or-nothing; never with --dry-run)."""
    total = _count_lines(path)
    with (
        open(path, "rb") as handle,
        click.progressbar(length=total, label="importing", file=sys.stderr, show_pos=True) as bar,
    ):
        last = 0

        def advance(line_number: int, _report) -> None:
            nonlocal last
            bar.update(line_number - last)
            last = line_number

        report = import_lines(
            handle,
            status=ListingStatus(status.lower()),
            all_or_nothing=all_or_nothing,
            dry_run=dry_run,
            progress=advance,
            checkpoint=lambda _report: db.session.commit(),
        )
        if report.saved:
            db.session.commit()
        else:
            db.session.rollback()
    if json_report:
        click.echo(json.dumps(report.as_dict(), ensure_ascii=False))
    else:
        mode = " (dry run: nothing saved)" if dry_run else ""
        if report.aborted:
            mode = " (all-or-nothing: nothing saved because lines were rejected)"
        click.echo(
            f"{report.total} records: {report.created} created, {report.updated} updated, "
            f"{report.unchanged} unchanged, {len(report.rejected)} rejected{mode}"
        )
        for line in report.rejected:
            click.echo(f"  line {line.line} [{line.external_id or '-'}]: {line.reason}")
    if report.rejected:
        sys.exit(1)


@listings_cli.command("export")
@click.option("--kind", type=click.Choice([kind.value for kind in ListingKind]), default=None)
@click.option("--output", type=click.File("w", encoding="utf-8"), default="-", help="File (default: stdout).")
@click.option("--all-statuses", is_flag=True, help="Include drafts, submissions and archived listings.")
def export_command(kind: str | None, output, all_statuses: bool) -> None:
    """Write listings in the interchange format (published ones unless --all-statuses)."""
    statuses = list(ListingStatus) if all_statuses else [ListingStatus.PUBLISHED]
    for line in export_lines(kind, statuses):
        output.write(line)


def register(app: Flask) -> None:
    app.cli.add_command(listings_cli)
