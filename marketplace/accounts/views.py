from __future__ import annotations

from flask import Blueprint, current_app, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_limiter.util import get_remote_address
from flask_login import current_user, login_required, login_user, logout_user

from marketplace.accounts import services
from marketplace.accounts.forms import (
    ForgotPasswordForm,
    InviteForm,
    LoginForm,
    NewPasswordForm,
    OrganisationForm,
    PasswordForm,
    ProfileForm,
    RegistrationForm,
)
from marketplace.accounts.models import User
from marketplace.accounts.roles import ORG_KIND_LABELS, ROLE_LABELS, VERIFICATION_LABELS
from marketplace.accounts.throttle import login_throttle
from marketplace.accounts.tokens import user_for_reset_token
from marketplace.core.actions import perform
from marketplace.core.errors import ServiceError, render_error
from marketplace.core.params import clean_text
from marketplace.core.redirects import safe_next
from marketplace.extensions import db, limiter, login_manager

bp = Blueprint("accounts", __name__, url_prefix="/account")

# Mail-sending forms: enough for typos, too few to flood someone's inbox from one address.
MAIL_RATE_LIMIT = "5 per 15 minutes"


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    # The id is "<user id>:<auth version>"; a cookie from before the last logout or password change
    # carries an old version and signs no one in.
    user_part, _sep, version = user_id.partition(":")
    if not (user_part.isdigit() and version.isdigit()):
        return None
    user = db.session.get(User, int(user_part))
    return user if user is not None and user.auth_version == int(version) else None


def _mail_links() -> services.MailLinks:
    return services.MailLinks(
        verify_email=lambda token: url_for("accounts.verify_email", token=token, _external=True),
        reset_password=lambda token: url_for("accounts.reset_password", token=token, _external=True),
        forgot_password=url_for("accounts.forgot_password", _external=True),
    )


login_manager.login_view = "accounts.login"
login_manager.login_message = None


@login_manager.unauthorized_handler
def _unauthorized():
    if request.path.startswith("/api/"):
        return render_error(401, _("请先登录"))
    flash(_("请先登录"), "warning")
    return redirect(url_for("accounts.login", next=request.full_path))


def _too_many_attempts(seconds: int):
    minutes = -(-seconds // 60)
    message = _("登录失败次数过多，请 %(minutes)d 分钟后再试", minutes=minutes)
    response = make_response(render_error(429, message))
    response.headers["Retry-After"] = str(seconds)
    return response


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("portal.home"))
    form = LoginForm()
    if form.validate_on_submit():
        # Failed logins count per account and per client address in the shared limiter storage.
        throttle, limit = login_throttle(), current_app.config["LOGIN_RATE_LIMIT"]
        client = get_remote_address()
        wait = throttle.retry_after(limit, form.email.data, client)
        if wait is not None:
            return _too_many_attempts(wait)
        user = services.authenticate(form.email.data, form.password.data)
        if user is None:
            throttle.failed(limit, form.email.data, client)
            form.password.errors.append(_("邮箱或密码不正确"))
        else:
            db.session.commit()
            login_user(user, remember=form.remember.data)
            flash(_("欢迎回来，%(name)s", name=user.name), "success")
            return redirect(safe_next(request.args.get("next"), url_for("portal.dashboard")))
    return render_template("accounts/login.html", form=form)


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    services.logout(current_user)
    db.session.commit()
    logout_user()
    flash(_("您已退出登录"), "info")
    return redirect(url_for("portal.home"))


def _email_key() -> str:
    return "mail:" + (request.form.get("email") or "").strip().lower()


@bp.route("/password/forgot", methods=["GET", "POST"])
@limiter.limit(MAIL_RATE_LIMIT, methods=["POST"])
@limiter.limit(MAIL_RATE_LIMIT, methods=["POST"], key_func=_email_key)
def forgot_password():
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        services.request_password_reset(form.email.data, _mail_links())
        db.session.commit()  # the mail goes out after the commit
        flash(_("如果该邮箱已注册，我们已发送重置链接，请在 1 小时内查收邮件并完成重置。"), "info")
        return redirect(url_for(".login"))
    return render_template("accounts/forgot_password.html", form=form)


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    user = user_for_reset_token(token)
    if user is None:
        return render_error(400, _("重置链接无效、已使用或已过期，请重新申请"))
    form = NewPasswordForm(email=user.email)
    if form.validate_on_submit():
        try:
            services.reset_password(token, form.new_password.data)
        except ServiceError as error:
            db.session.rollback()
            form.new_password.errors.append(error.message)
        else:
            db.session.commit()
            logout_user()
            flash(_("密码已重置，请用新密码登录"), "success")
            return redirect(url_for(".login"))
    return render_template("accounts/reset_password.html", form=form)


@bp.route("/verify/<token>")
def verify_email(token: str):
    user = services.verify_email(token)
    db.session.commit()
    flash(_("邮箱 %(email)s 已验证", email=user.email), "success")
    return redirect(url_for("portal.dashboard" if current_user.is_authenticated else ".login"))


@bp.route("/verify/resend", methods=["POST"])
@login_required
@limiter.limit(MAIL_RATE_LIMIT)
def resend_verification():
    if current_user.email_verified:
        flash(_("您的邮箱已验证"), "info")
    else:
        services.send_verification(current_user, _mail_links())
        db.session.commit()
        flash(_("验证邮件已发送至 %(email)s，请查收", email=current_user.email), "success")
    return redirect(safe_next(request.referrer, url_for(".profile")))


@bp.route("/register", methods=["GET", "POST"])
@limiter.limit("20 per hour", methods=["POST"])
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
                links=_mail_links(),
            )
        except ServiceError as error:
            db.session.rollback()
            form.form_errors.append(error.message)
        else:
            db.session.commit()
            if user is not None and user.email_verified:  # joined by invitation: the address is proven
                login_user(user)
                flash(_("注册成功，您已加入「%(org)s」", org=user.organisation.name), "success")
                return redirect(url_for("portal.dashboard"))
            # The same page whether or not the address already had an account.
            return render_template("accounts/check_mail.html", email=form.email.data.strip().lower())
    return render_template("accounts/register.html", form=form, invitation=invitation)


@bp.route("/profile", methods=["GET", "POST"])
@login_required
def profile():
    form = ProfileForm(obj=current_user)
    password_form = PasswordForm(prefix="pw", email=current_user.email)
    if form.validate_on_submit() and "profile" in request.form:
        services.update_profile(current_user, form.name.data, form.phone.data, form.title.data)
        db.session.commit()
        flash(_("个人资料已保存"), "success")
        return redirect(url_for(".profile"))
    return render_template("accounts/profile.html", form=form, password_form=password_form)


@bp.route("/password", methods=["POST"])
@login_required
def change_password():
    form = PasswordForm(prefix="pw", email=current_user.email)
    if form.validate_on_submit():
        try:
            services.change_password(current_user, form.current_password.data, form.new_password.data)
        except ServiceError as error:
            db.session.rollback()
            form.current_password.errors.append(error.message)
        else:
            db.session.commit()
            # Every other session ended; this one continues under the new version (and stays remembered).
            remembered = current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token") in request.cookies
            login_user(current_user._get_current_object(), remember=remembered)
            flash(_("密码已修改，其他设备上的登录已全部退出"), "success")
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
