from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import or_, select

from marketplace.accounts import services as account_services
from marketplace.accounts.capabilities import capability_required
from marketplace.accounts.models import Organisation, User
from marketplace.accounts.roles import ORG_KIND_LABELS, ROLE_LABELS, VERIFICATION_LABELS, Role
from marketplace.core.actions import perform
from marketplace.core.audit import AuditEvent
from marketplace.core.errors import ServiceError
from marketplace.core.pagination import paginate
from marketplace.core.params import clean_text
from marketplace.core.redirects import back
from marketplace.extensions import db
from marketplace.jobs.models import JobLease
from marketplace.jobs.registry import registered_jobs
from marketplace.listings import queries, services
from marketplace.listings.fields import editable_fields
from marketplace.listings.forms import ListingForm, ReviewForm
from marketplace.listings.models import KIND_LABELS, Listing

bp = Blueprint("admin", __name__, url_prefix="/admin")

# What the audit log calls each action; codes not listed here are shown as they are stored.
ACTION_LABELS = {
    "listing.created": _l("创建信息"),
    "listing.updated": _l("修改信息"),
    "listing.submitted": _l("提交审核"),
    "listing.revision_submitted": _l("提交修改审核"),
    "listing.withdrawn": _l("撤回审核"),
    "listing.approved": _l("审核通过"),
    "listing.rejected": _l("审核不通过"),
    "listing.archived": _l("下架"),
    "listing.deleted": _l("删除草稿"),
    "organisation.verified": _l("机构认证通过"),
    "organisation.rejected": _l("机构认证未通过"),
    "organisation.updated": _l("修改机构资料"),
    "organisation.member_invited": _l("邀请机构成员"),
    "user.registered": _l("注册"),
    "user.role_changed": _l("变更角色"),
    "user.activated": _l("启用账号"),
    "user.deactivated": _l("停用账号"),
    "user.password_changed": _l("修改密码"),
    "inquiry.sent": _l("发送咨询"),
}
OBJECT_TYPE_LABELS = {
    "listings": _l("信息"),
    "organisations": _l("机构"),
    "users": _l("用户"),
    "inquiry_threads": _l("咨询"),
}


@bp.before_request
@capability_required("admin.console")
def _admins_only():
    """Every page under /admin is for platform administrators only."""


@bp.route("/")
def index():
    return redirect(url_for(".review_queue"))


@bp.route("/review")
def review_queue():
    kind, industry = request.args.get("kind"), request.args.get("industry")
    page = paginate(queries.review_queue(kind, industry), per_page=20)
    return render_template(
        "admin/review_queue.html", page=page, kind=kind, industry=industry, kind_labels=KIND_LABELS, form=ReviewForm()
    )


@bp.route("/review/<int:listing_id>", methods=["GET", "POST"])
def review(listing_id: int):
    listing = db.get_or_404(Listing, listing_id)
    form = ReviewForm()
    if form.validate_on_submit():
        decision = request.form.get("decision")
        try:
            if decision == "approve":
                services.approve(current_user, listing)
            elif decision == "reject":
                services.reject(current_user, listing, form.reason.data)
            else:
                raise ServiceError(_("请选择通过或不通过"))
        except ServiceError as error:
            db.session.rollback()
            form.reason.errors = [*form.reason.errors, error.message]
        else:
            db.session.commit()
            flash(
                _("已审核通过「%(title)s」", title=listing.title)
                if decision == "approve"
                else _("已退回「%(title)s」", title=listing.title),
                "success",
            )
            return redirect(url_for(".review_queue"))
    return render_template(
        "admin/review.html", listing=listing, form=form, field_labels=_field_labels(listing.kind)
    ), 400 if form.errors else 200


def _field_labels(kind: str) -> dict[str, str]:
    """The listing form's own labels, so the review page names fields as the publisher saw them."""
    form = ListingForm(kind, formdata=None, meta={"csrf": False})
    return {name: str(getattr(form, name).label.text) for name in editable_fields(kind)}


@bp.route("/review/bulk-approve", methods=["POST"])
def bulk_approve():
    ids = [int(value) for value in request.form.getlist("listing_ids") if value.isdigit()]
    if not ids:
        flash(_("请先勾选要通过的信息"), "warning")
        return redirect(url_for(".review_queue"))
    approved, problems = services.bulk_approve(current_user, ids)
    db.session.commit()
    flash(_("已通过 %(n)d 条", n=approved), "success")
    for problem in problems:
        flash(problem, "warning")
    return redirect(url_for(".review_queue"))


@bp.route("/organisations")
def organisations():
    status = request.args.get("status", "pending")
    statement = select(Organisation).order_by(Organisation.created_at.desc(), Organisation.id.desc())
    if status in VERIFICATION_LABELS:
        statement = statement.where(Organisation.verification == status)
    q = clean_text(request.args.get("q"), 100) or ""
    if q:
        statement = statement.where(or_(Organisation.name.ilike(f"%{q}%"), Organisation.uscc == q.upper()))
    page = paginate(statement, per_page=20)
    return render_template(
        "admin/organisations.html",
        page=page,
        status=status,
        q=q,
        verification_labels=VERIFICATION_LABELS,
        kind_labels=ORG_KIND_LABELS,
    )


@bp.route("/organisations/<int:org_id>/verify", methods=["POST"])
def verify_organisation(org_id: int):
    organisation = db.get_or_404(Organisation, org_id)
    approve = request.form.get("decision") == "approve"
    perform(
        lambda: account_services.review_organisation(current_user, organisation, approve, request.form.get("note")),
        _("「%(name)s」已认证", name=organisation.name)
        if approve
        else _("「%(name)s」认证未通过", name=organisation.name),
    )
    return redirect(back(url_for(".organisations")))


@bp.route("/users")
def users():
    statement = select(User).order_by(User.id.desc())
    role = request.args.get("role")
    if role in ROLE_LABELS:
        statement = statement.where(User.role == role)
    q = clean_text(request.args.get("q"), 100) or ""
    if q:
        statement = statement.where(or_(User.email.ilike(f"%{q}%"), User.name.ilike(f"%{q}%")))
    page = paginate(statement, per_page=30)
    return render_template("admin/users.html", page=page, role=role, q=q, role_labels=ROLE_LABELS)


@bp.route("/users/<int:user_id>/role", methods=["POST"])
def set_role(user_id: int):
    user = db.get_or_404(User, user_id)
    perform(
        lambda: account_services.set_role(
            current_user, user, request.form.get("role", ""), request.form.get("certificate_no")
        ),
        lambda _result: _("已将 %(name)s 的角色设为%(role)s", name=user.name, role=ROLE_LABELS[Role(user.role)]),
    )
    return redirect(back(url_for(".users")))


@bp.route("/users/<int:user_id>/active", methods=["POST"])
def set_active(user_id: int):
    user = db.get_or_404(User, user_id)
    perform(
        lambda: account_services.set_active(current_user, user, request.form.get("active") == "1"), _("账号状态已更新")
    )
    return redirect(back(url_for(".users")))


@bp.route("/audit")
def audit_log():
    statement = select(AuditEvent).order_by(AuditEvent.id.desc())
    object_type = clean_text(request.args.get("object_type"), 50)
    if object_type:
        statement = statement.where(AuditEvent.object_type == object_type)
    page = paginate(statement, per_page=50)
    return render_template(
        "admin/audit.html",
        page=page,
        actors=_users_by_id(e.actor_id for e in page.items),
        object_type=object_type,
        action_labels=ACTION_LABELS,
        object_type_labels=OBJECT_TYPE_LABELS,
    )


@bp.route("/jobs")
def jobs():
    """Each background job: who runs it, how its last run went, and the items it failed on."""
    leases = {lease.name: lease for lease in db.session.scalars(select(JobLease))}
    rows = [(job, leases.get(job.name), job.failures(50) if job.failures else []) for job in registered_jobs()]
    return render_template("admin/jobs.html", rows=rows, any_failures=any(failures for *_, failures in rows))


def _users_by_id(ids) -> dict[int, User]:
    """The actors on one page of the audit log, in one query rather than one per row."""
    wanted = {user_id for user_id in ids if user_id is not None}
    if not wanted:
        return {}
    return {user.id: user for user in db.session.scalars(select(User).where(User.id.in_(wanted)))}
