"""Deals (撮合): brokers' profiles, the pipeline from a lead to a closed contract, and broker rewards."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from marketplace.deals import broker_views, pipeline_views, views  # noqa: F401  (routes on bp)
    from marketplace.deals.blueprint import bp

    app.register_blueprint(bp)
