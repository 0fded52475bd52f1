from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from marketplace.core.errors import ServiceError
from marketplace.core.pagination import paginate
from marketplace.extensions import db
from marketplace.listings.views import get_listing_or_404
from marketplace.messaging import services
from marketplace.messaging.models import InquiryThread

bp = Blueprint("messaging", __name__, url_prefix="/messages")


@bp.route("/")
@login_required
def inbox():
    page = paginate(services.threads_for(current_user), per_page=20)
    return render_template("messaging/inbox.html", page=page, is_unread=services.is_unread)


@bp.route("/<int:thread_id>", methods=["GET", "POST"])
@login_required
def thread(thread_id: int):
    conversation = db.get_or_404(InquiryThread, thread_id)
    if not conversation.involves(current_user):
        abort(404)
    if request.method == "POST":
        try:
            services.reply(current_user, conversation, request.form.get("body", ""))
        except ServiceError as error:
            db.session.rollback()
            flash(error.message, "danger")
        else:
            db.session.commit()
            return redirect(url_for(".thread", thread_id=thread_id))
    else:
        services.mark_thread_read(current_user, conversation)
        db.session.commit()
    return render_template("messaging/thread.html", thread=conversation)


@bp.route("/ask/<int:listing_id>", methods=["POST"])
@login_required
def ask(listing_id: int):
    listing = get_listing_or_404(listing_id)
    try:
        conversation = services.send_inquiry(current_user, listing, request.form.get("body", ""))
    except ServiceError as error:
        db.session.rollback()
        if error.status_code == 403:
            raise
        flash(error.message, "danger")
        return redirect(url_for("listings.detail", listing_id=listing_id))
    db.session.commit()
    flash(_("咨询已发送，对方回复后会通知您"), "success")
    return redirect(url_for(".thread", thread_id=conversation.id))
