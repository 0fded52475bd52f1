"""Turnover statistics against the plans' targets: the dashboard, exports and the stats CLI."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    pass
