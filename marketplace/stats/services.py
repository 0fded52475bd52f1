"""Admins edit the targets and the published figures: each change audited, flushed, committed by the view."""

from __future__ import annotations

from decimal import Decimal

from flask_babel import gettext as _
from sqlalchemy import select

from marketplace.accounts.capabilities import require_capability
from marketplace.core.audit import record
from marketplace.core.errors import ServiceError
from marketplace.extensions import db
from marketplace.stats.models import PublishedFigure, Target

TARGET_FIELDS = ("scope", "metric", "measure", "year", "value", "baseline_year", "baseline_value", "source")
FIGURE_FIELDS = ("scope", "metric", "year", "value", "source")


def _snapshot(obj, fields) -> dict:
    return {
        name: str(getattr(obj, name)) if isinstance(getattr(obj, name), Decimal) else getattr(obj, name)
        for name in fields
    }


def _check_unique(model, obj, data: dict) -> None:
    clash = db.session.scalar(select(model.id).filter_by(scope=data["scope"], metric=data["metric"], year=data["year"]))
    if clash is not None and (obj is None or clash != obj.id):
        raise ServiceError(_("该范围、指标和年份已有一条记录"))


def _save(actor, model, obj, fields, data: dict, noun: str):
    """Create or update a target or a published figure, audited with its values before and after."""
    require_capability(actor, "stats.manage")
    _check_unique(model, obj, data)
    created = obj is None
    before = {} if created else _snapshot(obj, fields)
    obj = obj or model()
    for name in fields:
        setattr(obj, name, data.get(name))
    db.session.add(obj)
    db.session.flush()
    after = _snapshot(obj, fields)
    record(actor, f"stats.{noun}_created" if created else f"stats.{noun}_updated", obj, before=before, after=after)
    return obj


def _delete(actor, obj, fields, noun: str) -> None:
    require_capability(actor, "stats.manage")
    record(actor, f"stats.{noun}_deleted", obj, before=_snapshot(obj, fields))
    db.session.delete(obj)
    db.session.flush()


def save_target(actor, target: Target | None, data: dict) -> Target:
    return _save(actor, Target, target, TARGET_FIELDS, data, "target")


def delete_target(actor, target: Target) -> None:
    _delete(actor, target, TARGET_FIELDS, "target")


def save_figure(actor, figure: PublishedFigure | None, data: dict) -> PublishedFigure:
    return _save(actor, PublishedFigure, figure, FIGURE_FIELDS, data, "figure")


def delete_figure(actor, figure: PublishedFigure) -> None:
    _delete(actor, figure, FIGURE_FIELDS, "figure")
