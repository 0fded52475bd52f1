from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from marketplace.accounts.capabilities import capability_required
from marketplace.core import taxonomy
from marketplace.core.actions import perform
from marketplace.core.pagination import paginate
from marketplace.discovery.matching import describe
from marketplace.extensions import db
from marketplace.matchmaking import services
from marketplace.matchmaking.models import DISMISS_REASON_LABELS, PAIR_STATUS_LABELS, MatchPair, PairStatus
from search.matching import Reason

bp = Blueprint("matchmaking", __name__, url_prefix="/matchmaking")
SCORE_FLOORS = (60, 70, 80, 90)
DASHBOARD_ARGS = ("status", "industry", "min_score", "page")


@bp.route("/")
@capability_required("match.follow")
def dashboard():
    status = request.args.get("status") if request.args.get("status") in PAIR_STATUS_LABELS else PairStatus.NEW
    industry = request.args.get("industry") if request.args.get("industry") in taxonomy.INDUSTRIES else None
    min_score = request.args.get("min_score", type=int)
    min_score = min_score if min_score in SCORE_FLOORS else None
    page = paginate(services.pair_queue(status, industry, min_score))
    return render_template(
        "matchmaking/dashboard.html",
        page=page,
        status=status,
        industry=industry,
        min_score=min_score,
        counts=services.status_counts(),
        dismiss_reasons=DISMISS_REASON_LABELS,
        dismissed_by_reason=services.dismissed_by_reason(),
        misses=services.misses(),
        status_labels=PAIR_STATUS_LABELS,
        score_floors=SCORE_FLOORS,
        reasons={pair.id: [describe(Reason(**reason)) for reason in pair.reasons or []] for pair in page.items},
    )


@bp.route("/pairs/<int:pair_id>/<any(follow, dismiss, reopen):action>", methods=["POST"])
@capability_required("match.follow")
def update_pair(pair_id: int, action: str):
    pair = db.get_or_404(MatchPair, pair_id)
    if not (pair.demand.is_published and pair.achievement.is_published):
        abort(404)
    messages = {"follow": _("已加入跟进"), "dismiss": _("已忽略这一对匹配"), "reopen": _("已恢复为新匹配")}
    perform(
        lambda: services.set_pair_status(
            current_user, pair, action, request.form.get("note"), request.form.get("dismiss_reason")
        ),
        messages[action],
    )
    # Back to the tab, filters and page the broker was working on.
    view = {name: request.form[name] for name in DASHBOARD_ARGS if request.form.get(name)}
    return redirect(url_for("matchmaking.dashboard", **view))
