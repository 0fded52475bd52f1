"""Broker pages: the public directory and profiles, applying, and the admins' certification list."""

from __future__ import annotations

from flask import abort, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from marketplace.accounts.capabilities import capability_required
from marketplace.core import taxonomy
from marketplace.core.actions import perform
from marketplace.core.pagination import ResultPage, page_number, paginate
from marketplace.deals import brokers
from marketplace.deals.blueprint import bp
from marketplace.deals.forms import BrokerApplicationForm
from marketplace.deals.models import BROKER_LEVEL_LABELS, BROKER_STATUS_LABELS, BrokerProfile, BrokerStatus
from marketplace.deals.permissions import profile_of
from marketplace.extensions import db

PER_PAGE = 12


@bp.route("/brokers")
def brokers_index():
    speciality = request.args.get("speciality") if request.args.get("speciality") in taxonomy.INDUSTRIES else None
    rows = brokers.certified(speciality)
    number = page_number()
    page = ResultPage(rows[(number - 1) * PER_PAGE : number * PER_PAGE], len(rows), number, PER_PAGE)
    return render_template(
        "deals/brokers/index.html", page=page, speciality=speciality, level_labels=BROKER_LEVEL_LABELS
    )


@bp.route("/brokers/<int:profile_id>")
def broker_profile(profile_id: int):
    profile = db.get_or_404(BrokerProfile, profile_id)
    if not brokers.can_see_profile(current_user, profile):
        abort(404)
    return render_template(
        "deals/brokers/profile.html",
        profile=profile,
        won=brokers.won_count(profile),
        level_labels=BROKER_LEVEL_LABELS,
        status_labels=BROKER_STATUS_LABELS,
    )


@bp.route("/brokers/apply", methods=["GET", "POST"])
@capability_required("broker.apply")
def broker_apply():
    profile = profile_of(current_user)
    may_apply = profile is None or profile.status == BrokerStatus.REJECTED
    own = current_user.organisation
    form = BrokerApplicationForm(own_organisation=own, obj=profile if request.method == "GET" else None)
    if request.method == "GET" and profile is None and own is not None:
        form.organisation.data = str(own.id)
    if may_apply and form.validate_on_submit():
        details = brokers.Application(
            certificate_no=form.certificate_no.data,
            level=form.level.data,
            specialities=form.specialities.data or [],
            organisation=own if own is not None and form.organisation.data == str(own.id) else None,
            bio=form.bio.data,
        )
        if perform(lambda: brokers.apply(current_user, details), _("申请已提交，管理员审核后会通知您")):
            return redirect(url_for("deals.broker_apply"))
    status = 400 if form.errors else 200
    return (
        render_template(
            "deals/brokers/apply.html",
            form=form,
            profile=profile,
            may_apply=may_apply,
            status_labels=BROKER_STATUS_LABELS,
        ),
        status,
    )


@bp.route("/admin/brokers")
@capability_required("broker.certify")
def admin_brokers():
    status = request.args.get("status")
    status = status if status in BROKER_STATUS_LABELS or status == "all" else BrokerStatus.APPLIED
    page = paginate(brokers.applications(None if status == "all" else status))
    return render_template(
        "deals/brokers/admin.html",
        page=page,
        status=status,
        counts=brokers.status_counts(),
        status_labels=BROKER_STATUS_LABELS,
        level_labels=BROKER_LEVEL_LABELS,
    )


@bp.route("/admin/brokers/<int:profile_id>/<any(certify, reject, suspend, reinstate):action>", methods=["POST"])
@capability_required("broker.certify")
def decide_broker(profile_id: int, action: str):
    profile = db.get_or_404(BrokerProfile, profile_id)
    messages = {
        "certify": _("已认证"),
        "reject": _("已驳回申请"),
        "suspend": _("已暂停该经纪人资格"),
        "reinstate": _("已恢复该经纪人资格"),
    }
    perform(lambda: brokers.decide(current_user, profile, action, request.form.get("reason")), messages[action])
    return redirect(url_for("deals.admin_brokers", status=request.form.get("status") or None))
