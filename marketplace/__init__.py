"""青岛技术转移服务平台 — the Flask application factory."""

from __future__ import annotations

from importlib import import_module
from pathlib import Path
from typing import Any

from flask import Flask

from config import load_config
from marketplace.extensions import babel, csrf, db, limiter, login_manager, migrate

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# One entry per feature package; each one's init_app registers its blueprint, commands and jobs.
FEATURES = (
    "portal",
    "accounts",
    "uploads",
    "listings",
    "messaging",
    "notifications",
    "admin",
    "discovery",
    "matchmaking",
    "alerts",
    "deals",
    "contracts",
    "stats",
    "jobs",
    "api",
    "demo",
)


def create_app(config: dict[str, Any] | None = None) -> Flask:
    settings = load_config(config)
    app = Flask(
        __name__,
        instance_path=settings["INSTANCE_PATH"],
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    app.config.from_mapping(settings)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)

    from marketplace.core import database, headers, i18n, templating, transaction  # noqa: F401  (database: events)
    from marketplace.core.errors import register_error_handlers

    babel.init_app(
        app,
        locale_selector=i18n.select_locale,
        default_translation_directories=str(Path(__file__).parent / "translations"),
    )
    templating.register(app)
    transaction.init_app(app)
    headers.init_app(app)
    register_error_handlers(app)
    _import_models()

    for feature in FEATURES:
        import_module(f"marketplace.{feature}").init_app(app)
    return app


def _import_models() -> None:
    """Import every feature's models so the metadata (and Alembic) sees all tables."""
    for feature in (
        "accounts",
        "listings",
        "messaging",
        "notifications",
        "discovery",
        "matchmaking",
        "alerts",
        "jobs",
        "deals",
        "contracts",
        "stats",
    ):
        import_module(f"marketplace.{feature}.models")
    import_module("marketplace.core.audit")
    import_module("marketplace.discovery.outbox")  # registers the outbox's flush listener
    import_module("marketplace.matchmaking.services")  # queues a match scan when a listing is published
