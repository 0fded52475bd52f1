from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from marketplace.alerts import services
from marketplace.core.actions import perform
from marketplace.core.pagination import paginate
from marketplace.listings.models import KIND_LABELS
from marketplace.listings.queries import BrowseFilters

bp = Blueprint("alerts", __name__, url_prefix="/subscriptions")


def _own_search_or_404(search_id: int):
    search = services.owned_search_or_none(current_user, search_id)
    if search is None:
        abort(404)  # someone else's subscription does not exist for this user
    return search


@bp.route("/")
@login_required
def index():
    page = paginate(services.searches_of(current_user))
    return render_template("alerts/index.html", page=page, kind_labels=KIND_LABELS, browse_url=services.browse_url)


@bp.route("/<kind>", methods=["POST"])
@login_required
def save(kind: str):
    search = perform(
        lambda: services.save_search(current_user, kind, request.form, request.form.get("name")),
        lambda saved: _("已订阅「%(name)s」：有新结果时会通知您", name=saved.name),
    )
    if search is not None:
        return redirect(services.browse_url(search))
    endpoint = services.BROWSE_ENDPOINTS.get(kind)
    if endpoint is None:
        return redirect(url_for("alerts.index"))
    # Refused (a duplicate, too many): back to the page the user subscribed from, with its message.
    return redirect(url_for(endpoint, **BrowseFilters.from_args(request.form).to_args()))


@bp.route("/<int:search_id>/alert", methods=["POST"])
@login_required
def toggle_alert(search_id: int):
    search = _own_search_or_404(search_id)
    enabled = request.form.get("enabled") == "1"
    perform(lambda: services.set_alert(search, enabled), _("已开启新结果通知") if enabled else _("已暂停新结果通知"))
    return redirect(url_for("alerts.index"))


@bp.route("/<int:search_id>/delete", methods=["POST"])
@login_required
def delete(search_id: int):
    search = _own_search_or_404(search_id)
    perform(lambda: services.delete_search(search), _("已删除订阅"))
    return redirect(url_for("alerts.index"))
