"""Jinja filters and globals used by every feature's templates."""

from __future__ import annotations

from datetime import date, datetime

from flask import Flask, request, url_for
from flask_babel import format_date, format_datetime, get_locale

from marketplace.core import taxonomy
from marketplace.core.money import format_money, format_money_range


def _date(value: date | datetime | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.date()
    return format_date(value, format="long")


def _datetime(value: datetime | None) -> str:
    return format_datetime(value, format="medium") if value else ""


def _url_with(**changes) -> str:
    """The current URL with some query arguments replaced (pagination, sorting, filters)."""
    args = request.args.to_dict(flat=False)
    for key, value in changes.items():
        if value is None:
            args.pop(key, None)
        else:
            args[key] = [value]
    return url_for(request.endpoint, **(request.view_args or {}), **args)


def register(app: Flask) -> None:
    app.jinja_env.filters.update(
        money=format_money,
        money_range=format_money_range,
        date_cn=_date,
        datetime_cn=_datetime,
        industry=lambda code: taxonomy.label(taxonomy.INDUSTRIES, code),
        district=lambda code: taxonomy.label(taxonomy.DISTRICTS, code),
        coop_mode=lambda code: taxonomy.label(taxonomy.COOPERATION_MODES, code),
        ip_type=lambda code: taxonomy.label(taxonomy.IP_TYPES, code),
        trl_stage=taxonomy.trl_stage,
    )
    app.jinja_env.globals.update(taxonomy=taxonomy, url_with=_url_with)

    @app.context_processor
    def site_context():
        return {
            "current_locale": str(get_locale()),
            "operator_name": app.config["OPERATOR_NAME"],
            "icp_line": app.config["ICP_LINE"],
        }
