"""`flask contracts import FILE [FILE …] [--dry-run]` — registration-office exports (XLSX or CSV)."""

from __future__ import annotations

import sys

import click
from flask import Flask
from flask.cli import AppGroup

from marketplace.contracts.importer import ImportFileError, import_file
from marketplace.core.rowimport import RowReport
from marketplace.extensions import db

contracts_cli = AppGroup("contracts", help="Technology contracts: import registration-office exports.")


def format_report(report: RowReport) -> list[str]:
    lines = [f"imported: {report.created}, unchanged: {report.unchanged}, rejected: {len(report.rejected)}"]
    lines += [f"row {note.line}: {note.reason}" for note in report.rejected]
    return lines


@contracts_cli.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Check and report, save nothing.")
def import_command(paths: tuple[str, ...], dry_run: bool) -> None:
    """Import each FILE (XLSX, or CSV in UTF-8/GBK) as registered contracts; idempotent on the
    registration number. Commits after every batch of rows; exits 1 if a file could not be read."""
    unreadable = 0
    for path in paths:
        click.echo(f"== {path}{' (dry run)' if dry_run else ''}")
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except OSError as error:
            click.echo(f"cannot read {path}: {error.strerror}", err=True)
            unreadable += 1
            continue

        def checkpoint(report: RowReport) -> None:
            db.session.commit()
            click.echo(f"… {report.total} rows", err=True)

        try:
            result = import_file(data, path, dry_run=dry_run, checkpoint=checkpoint)
        except ImportFileError as error:
            db.session.rollback()
            click.echo(f"cannot import {path}: {error.message}", err=True)
            unreadable += 1
            continue
        if dry_run:
            db.session.rollback()
        else:
            db.session.commit()
        for line in format_report(result.report):
            click.echo(line)
        if result.proposals:
            click.echo(f"link proposals sent to brokers: {result.proposals}")
    if unreadable:
        sys.exit(1)


def register(app: Flask) -> None:
    app.cli.add_command(contracts_cli)
