from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from marketplace.accounts import services
from marketplace.accounts.forms import (
    InviteForm,
    LoginForm,
    OrganisationForm,
    PasswordForm,
    ProfileForm,
    RegistrationForm,
)
from marketplace.accounts.models import User
from marketplace.accounts.roles import ORG_KIND_LABELS, ROLE_LABELS, VERIFICATION_LABELS
from marketplace.core.actions import perform
from marketplace.core.errors import ServiceError
from marketplace.core.params import clean_text
from marketplace.extensions import db, limiter, login_manager

bp = Blueprint("accounts", __name__, url_prefix="/account")


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    return db.session.get(User, int(user_id)) if user_id.isdigit() else None


login_manager.login_view = "accounts.login"
login_manager.login_message = None


@login_manager.unauthorized_handler
def _unauthorized():
    if request.path.startswith("/api/"):
        from marketplace.core.errors import render_error

        return render_error(401, _("请先登录"))
    flash(_("请先登录"), "warning")
    return redirect(url_for("accounts.login", next=request.full_path))


def _safe_next(default: str) -> str:
    target = request.args.get("next") or ""
    # Only same-site relative paths: an open redirect would let phishing links borrow our domain.
    # Browsers drop tabs/newlines and read "\\" as "/", so "/\t/evil" or "/\\evil" would leave the site.
    if any(char == "\\" or ord(char) < 0x20 or ord(char) == 0x7F for char in target):
        return default
    if target.startswith("/") and not target.startswith("//"):
        return target
    return default


def _login_limit() -> str:
    from flask import current_app

    return current_app.config["LOGIN_RATE_LIMIT"]


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"], error_message="too many login attempts")
def login():
    if current_user.is_authenticated:
        return redirect(url_for("portal.home"))
    form = LoginForm()
    if form.validate_on_submit():
        user = services.authenticate(form.email.data, form.password.data)
        if user is None:
            form.password.errors.append(_("邮箱或密码不正确"))
        else:
            db.session.commit()
            login_user(user, remember=form.remember.data)
            flash(_("欢迎回来，%(name)s", name=user.name), "success")
            return redirect(_safe_next(url_for("portal.dashboard")))
    return render_template("accounts/login.html", form=form)


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    logout_user()
    flash(_("您已退出登录"), "info")
    return redirect(url_for("portal.home"))


@bp.route("/register", methods=["GET", "POST"])
def register():
    token = clean_text(request.args.get("invite"), 200)
    invitation = services.pending_invitation(token) if token else None
    form = RegistrationForm(invited=invitation is not None)
    if invitation and request.method == "GET":
        form.email.data = invitation.email
    if form.validate_on_submit():
        details = services.OrganisationDetails(
            name=form.org_name.data or "",
            uscc=form.uscc.data,
            district=form.district.data or None,
            industry=form.industry.data or None,
            is_high_tech=form.is_high_tech.data,
            is_tech_sme=form.is_tech_sme.data,
        )
        try:
            user = services.register_user(
                form.email.data,
                form.password.data,
                form.name.data,
                form.role.data,
                organisation=None if invitation else details,
                invitation_token=token,
            )
        except ServiceError as error:
            db.session.rollback()
            form.form_errors.append(error.message)
        else:
            db.session.commit()
            login_user(user)
            if invitation:
                flash(_("注册成功，您已加入「%(org)s」", org=user.organisation.name), "success")
            else:
                flash(_("注册成功。机构认证通过后即可发布信息，平台将在 1–2 个工作日内完成审核。"), "success")
            return redirect(url_for("portal.dashboard"))
    return render_template("accounts/register.html", form=form, invitation=invitation)


@bp.route("/profile", methods=["GET", "POST"])
@login_required
def profile():
    form = ProfileForm(obj=current_user)
    password_form = PasswordForm(prefix="pw")
    if form.validate_on_submit() and "profile" in request.form:
        services.update_profile(current_user, form.name.data, form.phone.data, form.title.data)
        db.session.commit()
        flash(_("个人资料已保存"), "success")
        return redirect(url_for(".profile"))
    return render_template("accounts/profile.html", form=form, password_form=password_form)


@bp.route("/password", methods=["POST"])
@login_required
def change_password():
    form = PasswordForm(prefix="pw")
    if form.validate_on_submit():
        try:
            services.change_password(current_user, form.current_password.data, form.new_password.data)
        except ServiceError as error:
            form.current_password.errors.append(error.message)
        else:
            db.session.commit()
            flash(_("密码已修改"), "success")
            return redirect(url_for(".profile"))
    return render_template("accounts/profile.html", form=ProfileForm(obj=current_user), password_form=form), 400


@bp.route("/organisation", methods=["GET", "POST"])
@login_required
def organisation():
    org = current_user.organisation
    if org is None:
        return render_template("accounts/organisation.html", org=None, form=None, invite_form=None)
    editable = current_user.is_org_admin
    form = OrganisationForm(obj=org, org_name=org.name) if editable else None
    invite_form = InviteForm(prefix="invite") if editable else None
    if editable and form.validate_on_submit():
        details = services.OrganisationDetails(
            name=form.org_name.data,
            uscc=form.uscc.data,
            district=form.district.data or None,
            industry=form.industry.data or None,
            is_high_tech=form.is_high_tech.data,
            is_tech_sme=form.is_tech_sme.data,
        )
        try:
            services.update_organisation(current_user, org, details, form.description.data, form.website.data)
        except ServiceError as error:
            db.session.rollback()
            form.form_errors.append(error.message)
        else:
            db.session.commit()
            flash(_("机构信息已保存"), "success")
            return redirect(url_for(".organisation"))
    return render_template("accounts/organisation.html", org=org, form=form, invite_form=invite_form)


@bp.route("/organisation/invite", methods=["POST"])
@login_required
def invite():
    form = InviteForm(prefix="invite")
    if not form.validate_on_submit():
        flash(_("请填写正确的邮箱地址"), "danger")
        return redirect(url_for(".organisation"))
    perform(
        lambda: services.invite_member(current_user, form.email.data),
        _("邀请邮件已发送至 %(email)s", email=form.email.data),
    )
    return redirect(url_for(".organisation"))


@bp.app_template_global()
def role_label(role: str) -> str:
    return str(ROLE_LABELS.get(role, role))


@bp.app_template_global()
def org_kind_label(kind: str) -> str:
    return str(ORG_KIND_LABELS.get(kind, kind))


@bp.app_template_global()
def verification_label(status: str) -> str:
    return str(VERIFICATION_LABELS.get(status, status))
