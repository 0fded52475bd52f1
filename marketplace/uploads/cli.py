"""`flask uploads sweep` — find (and remove) stored files that no row refers to any more.

Files normally follow their rows (removed on rollback and after a committed delete); orphans come
from a crash between the two, a restored database, or files copied in by hand. Only files older
than --min-age-hours are considered, so an upload whose transaction is still open is never taken.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import click
from flask import Flask
from flask.cli import AppGroup

from marketplace.extensions import db
from marketplace.uploads import references
from marketplace.uploads.checks import format_size
from marketplace.uploads.storage import StoredFile, storage

uploads_cli = AppGroup("uploads", help="Stored uploads (attachments and other files).")


def orphaned_files(min_age: timedelta) -> list[StoredFile]:
    referenced = references.referenced_keys(db.session)
    cutoff = datetime.now(UTC) - min_age
    return [
        stored for stored in storage().iter_files() if stored.key not in referenced and stored.modified_at <= cutoff
    ]


@uploads_cli.command("sweep")
@click.option("--dry-run", is_flag=True, help="Only list the orphaned files, remove nothing.")
@click.option("--min-age-hours", type=click.FloatRange(min=0), default=24.0, show_default=True)
def sweep_command(dry_run: bool, min_age_hours: float) -> None:
    """List files under UPLOAD_DIR that no row references, and remove them unless --dry-run."""
    orphans = orphaned_files(timedelta(hours=min_age_hours))
    db.session.rollback()  # end the read transaction before touching files
    for stored in orphans:
        click.echo(f"{stored.key}\t{format_size(stored.size)}\t{stored.modified_at:%Y-%m-%d %H:%M}")
        if not dry_run:
            storage().delete(stored.key)
    total = format_size(sum(stored.size for stored in orphans))
    verb = "would remove" if dry_run else "removed"
    click.echo(f"{len(orphans)} orphaned file(s), {total}: {verb}", err=True)


def register(app: Flask) -> None:
    app.cli.add_command(uploads_cli)
