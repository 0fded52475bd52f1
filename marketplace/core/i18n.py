"""Locale choice: zh_CN by default, English when the user switches (kept in the session)."""

from __future__ import annotations

from flask import current_app, has_request_context, request, session

SUPPORTED_LOCALES = ("zh_CN", "en")


def select_locale() -> str:
    if not has_request_context():  # CLI commands and imports speak the default language
        return current_app.config["DEFAULT_LOCALE"]
    chosen = request.args.get("lang") or session.get("locale")
    if chosen in SUPPORTED_LOCALES:
        return chosen
    return current_app.config["DEFAULT_LOCALE"]
