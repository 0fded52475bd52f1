from __future__ import annotations

from flask import Blueprint, current_app, jsonify, redirect, render_template, session, url_for
from flask_login import current_user, login_required
from sqlalchemy import func, select, text

from marketplace.core.i18n import SUPPORTED_LOCALES
from marketplace.core.redirects import back
from marketplace.discovery import services as discovery
from marketplace.extensions import db
from marketplace.listings import queries
from marketplace.listings.models import Listing, ListingKind, ListingStatus
from marketplace.matchmaking import services as matchmaking
from marketplace.matchmaking.permissions import can_follow_up

bp = Blueprint("portal", __name__)


@bp.route("/")
def home():
    latest = {
        kind: db.session.scalars(queries.browse(kind, queries.BrowseFilters()).limit(6)).all() for kind in ListingKind
    }
    counts = dict(
        db.session.execute(
            select(Listing.kind, func.count()).where(Listing.status == ListingStatus.PUBLISHED).group_by(Listing.kind)
        ).all()
    )
    open_challenges = db.session.scalar(
        select(func.count()).select_from(
            queries.browse(ListingKind.DEMAND, queries.BrowseFilters(challenge_only=True)).order_by(None).subquery()
        )
    )
    return render_template("portal/home.html", latest=latest, counts=counts, open_challenges=open_challenges)


@bp.route("/dashboard")
@login_required
def dashboard():
    mine = db.session.scalars(queries.owned_by(current_user).limit(8)).all()
    by_status = _status_counts()
    pair_counts = matchmaking.status_counts() if can_follow_up(current_user) else None
    return render_template("portal/dashboard.html", mine=mine, by_status=by_status, pair_counts=pair_counts)


def _status_counts() -> dict[str, int]:
    owned = queries.owned_by(current_user).order_by(None).subquery()
    rows = db.session.execute(select(owned.c.status, func.count()).group_by(owned.c.status)).all()
    return {status: count for status, count in rows}


@bp.route("/lang/<locale>")
def set_language(locale: str):
    if locale in SUPPORTED_LOCALES:
        session["locale"] = locale
    return redirect(back(url_for(".home")))


@bp.route("/healthz")
def healthz():
    """For load balancers and monitoring: 200 ``ok``, or 503 ``degraded`` with the reasons.

    The site still serves pages when search is degraded (browse falls back to the database), but
    a stalled outbox or an index that lost listings needs someone, so it alarms like an outage."""
    checks = {}
    reasons: list[str] = []
    try:
        db.session.execute(text("SELECT 1"))
        checks["database"] = {"status": "ok", "dialect": db.engine.dialect.name}
    except Exception as error:  # health checks report failures rather than raise them
        db.session.rollback()
        current_app.logger.error("health check: database unavailable: %s", error)
        # Driver messages name hosts, ports and files: the public answer gives the kind of error only.
        checks["database"] = {"status": "error", "error": type(error).__name__}
        reasons.append("database unavailable")
        return jsonify(status="degraded", reasons=reasons, checks=checks), 503
    checks["search"] = discovery.health()
    reasons += checks["search"].pop("reasons", [])
    if reasons:
        current_app.logger.warning("health check degraded: %s", "; ".join(reasons))
    return jsonify(status="degraded" if reasons else "ok", reasons=reasons, checks=checks), 503 if reasons else 200
