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


def save_target(actor, target: Target | None, data: dict) -> Target:
    require_capability(actor, "stats.manage")
    _check_unique(Target, target, data)
    created = target is None
    before = {} if created else _snapshot(target, TARGET_FIELDS)
    target = target or Target()
    for name in TARGET_FIELDS:
        setattr(target, name, data.get(name))
    db.session.add(target)
    db.session.flush()
    after = _snapshot(target, TARGET_FIELDS)
    record(actor, "stats.target_created" if created else "stats.target_updated", target, before=before, after=after)
    return target


def delete_target(actor, target: Target) -> None:
    require_capability(actor, "stats.manage")
    record(actor, "stats.target_deleted", target, before=_snapshot(target, TARGET_FIELDS))
    db.session.delete(target)
    db.session.flush()


def save_figure(actor, figure: PublishedFigure | None, data: dict) -> PublishedFigure:
    require_capability(actor, "stats.manage")
    _check_unique(PublishedFigure, figure, data)
    created = figure is None
    before = {} if created else _snapshot(figure, FIGURE_FIELDS)
    figure = figure or PublishedFigure()
    for name in FIGURE_FIELDS:
        setattr(figure, name, data.get(name))
    db.session.add(figure)
    db.session.flush()
    after = _snapshot(figure, FIGURE_FIELDS)
    record(actor, "stats.figure_created" if created else "stats.figure_updated", figure, before=before, after=after)
    return figure


def delete_figure(actor, figure: PublishedFigure) -> None:
    require_capability(actor, "stats.manage")
    record(actor, "stats.figure_deleted", figure, before=_snapshot(figure, FIGURE_FIELDS))
    db.session.delete(figure)
    db.session.flush()
