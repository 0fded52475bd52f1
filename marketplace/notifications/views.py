from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from marketplace.core.pagination import paginate
from marketplace.extensions import db
from marketplace.notifications import services
from marketplace.notifications.models import Notification

bp = Blueprint("notifications", __name__, url_prefix="/notifications")


@bp.app_context_processor
def unread_counts():
    """Navbar badge: unread notifications plus unread inquiry threads."""
    if not current_user.is_authenticated:
        return {}
    from marketplace.messaging.services import unread_thread_count

    return {"unread_total": services.unread_count(current_user) + unread_thread_count(current_user)}


@bp.route("/")
@login_required
def index():
    statement = select(Notification).where(Notification.user_id == current_user.id).order_by(Notification.id.desc())
    page = paginate(statement, per_page=20)
    return render_template("notifications/index.html", page=page, render=services.render)


@bp.route("/<int:notification_id>")
@login_required
def open_notification(notification_id: int):
    notification = db.get_or_404(Notification, notification_id)
    if notification.user_id != current_user.id:
        abort(404)
    services.mark_read(current_user, notification_id)
    db.session.commit()
    return redirect(notification.link or url_for(".index"))


@bp.route("/read-all", methods=["POST"])
@login_required
def read_all():
    services.mark_read(current_user)
    db.session.commit()
    return redirect(url_for(".index"))
