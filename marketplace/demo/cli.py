"""`flask demo seed` — load the demo marketplace (idempotent)."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

demo_cli = AppGroup("demo", help="Demo data for trying the marketplace.")


@demo_cli.command("seed")
def seed_command() -> None:
    """Create demo organisations, accounts (one per role) and listings; safe to run twice."""
    from marketplace.demo.seed import seed

    seed(echo=click.echo)


def register(app: Flask) -> None:
    app.cli.add_command(demo_cli)
