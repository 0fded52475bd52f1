"""`flask demo seed` — load the demo marketplace (idempotent)."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import AppGroup

demo_cli = AppGroup("demo", help="Demo data for trying the marketplace.")


@demo_cli.command("seed")
def seed_command() -> None:
    """Create demo organisations, accounts (one per role) and listings; safe to run twice."""
    if current_app.config.get("ENV") == "production":
        # The demo accounts share one published password: on a live site they would be open doors.
        raise click.ClickException("flask demo seed refuses to run when MARKETPLACE_ENV=production")
    from marketplace.demo.seed import seed

    seed(echo=click.echo)


def register(app: Flask) -> None:
    app.cli.add_command(demo_cli)
