"""Background work: one worker process runs every feature's periodic job in turn."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from marketplace.jobs import cli

    cli.register(app)
