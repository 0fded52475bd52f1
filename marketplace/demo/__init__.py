"""Demo data: a realistic Qingdao marketplace for `make run` and for trying the product."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from marketplace.demo import cli

    cli.register(app)
