"""Routes for 揭榜挂帅 on the listings blueprint: apply, the owner side's review, withdraw."""

from __future__ import annotations

from dataclasses import dataclass

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from marketplace.core.actions import perform
from marketplace.extensions import db
from marketplace.listings import challenges, permissions
from marketplace.listings.forms import ChallengeApplicationForm
from marketplace.listings.models import ChallengeApplication, Demand
from marketplace.listings.views import bp, get_listing_or_404

ACTIONS = {
    "shortlist": (challenges.shortlist, lambda: _("已将该申请列入入围名单")),
    "winner": (challenges.pick_winner, lambda: _("已选定揭榜团队，其他申请团队会收到未入选通知")),
    "withdraw": (challenges.withdraw, lambda: _("已撤回揭榜申请")),
}


@dataclass
class ChallengePanel:
    """What the 揭榜挂帅 section of a demand's page shows to the current user."""

    phase_label: str
    is_open: bool
    winner: ChallengeApplication | None
    own: ChallengeApplication | None
    form: ChallengeApplicationForm | None
    can_manage: bool
    count: int


@bp.app_template_global()
def can_apply_to_challenge(demand) -> bool:
    return permissions.can_apply_to_challenge(current_user, demand)


@bp.app_template_global()
def challenge_panel(demand: Demand) -> ChallengePanel:
    phase = challenges.phase(demand)
    own = challenges.application_of(current_user, demand)
    may_apply = can_apply_to_challenge(demand) and (own is None or own.status == "withdrawn")
    return ChallengePanel(
        phase_label=str(challenges.PHASE_LABELS[phase]),
        is_open=phase == challenges.Phase.OPEN,
        winner=challenges.winner_of(demand),
        own=own,
        form=ChallengeApplicationForm(formdata=None, obj=own) if may_apply else None,
        can_manage=permissions.can_manage_applications(current_user, demand),
        count=sum(1 for application in demand.applications if application.status != "withdrawn"),
    )


def _challenge_or_404(listing_id: int) -> Demand:
    demand = get_listing_or_404(listing_id)
    if not isinstance(demand, Demand) or not demand.challenge:
        abort(404)
    return demand


def _back_to(listing_id: int):
    return redirect(url_for(".detail", listing_id=listing_id, _anchor="challenge"))


@bp.route("/listings/<int:listing_id>/apply", methods=["POST"])
@login_required
def apply_to_challenge(listing_id: int):
    demand = _challenge_or_404(listing_id)
    form = ChallengeApplicationForm()
    if not form.validate_on_submit():
        for field in (form.team_name, form.proposal):
            for message in field.errors:
                flash(f"{field.label.text}：{message}", "danger")
        return _back_to(listing_id)
    perform(
        lambda: challenges.apply(current_user, demand, form.team_name.data, form.proposal.data),
        _("揭榜申请已提交，发榜方评审后会通知您"),
    )
    return _back_to(listing_id)


@bp.route("/listings/<int:listing_id>/applications")
@login_required
def applications(listing_id: int):
    demand = _challenge_or_404(listing_id)
    if not permissions.can_manage_applications(current_user, demand):
        abort(403)
    return render_template(
        "listings/applications.html",
        demand=demand,
        phase_label=challenges.PHASE_LABELS[challenges.phase(demand)],
        has_winner=challenges.winner_of(demand) is not None,
    )


@bp.route("/applications/<int:application_id>/<any(shortlist, winner, withdraw):action>", methods=["POST"])
@login_required
def application_action(application_id: int, action: str):
    application = db.get_or_404(ChallengeApplication, application_id)
    demand = get_listing_or_404(application.demand_id)
    service, message = ACTIONS[action]
    perform(lambda: service(current_user, application), message())
    if action == "withdraw":
        return _back_to(demand.id)
    return redirect(url_for(".applications", listing_id=demand.id))
