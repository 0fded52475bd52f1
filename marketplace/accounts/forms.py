from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Email, EqualTo, Length, Optional, ValidationError

from marketplace.accounts.passwords import password_problem
from marketplace.accounts.roles import ROLE_LABELS, SELF_SERVICE_ROLES, Role
from marketplace.core import taxonomy

REQUIRED = _l("此项为必填项")
# The rest of the policy (length, common passwords, not the e-mail) runs in validate_<field> below.
NEW_PASSWORD_RULES = [DataRequired(REQUIRED)]


def _check_policy(password: str | None, email: str | None) -> None:
    problem = password_problem(password or "", email)
    if problem:
        raise ValidationError(problem)


def _blank_first(pairs):
    return [("", _l("请选择"))] + list(pairs)


class LoginForm(FlaskForm):
    email = EmailField(_l("邮箱"), validators=[DataRequired(REQUIRED), Email(_l("邮箱格式不正确"))])
    password = PasswordField(_l("密码"), validators=[DataRequired(REQUIRED)])
    remember = BooleanField(_l("记住我"))


class OrganisationFieldsMixin:
    org_name = StringField(_l("机构名称"), validators=[Optional(), Length(max=200)])
    # No Optional(): it would stop the chain before RegistrationForm.validate_uscc requires it of enterprises.
    uscc = StringField(
        _l("统一社会信用代码"), validators=[Length(max=30)], description=_l("企业必填，18位，见营业执照")
    )
    district = SelectField(_l("所在区市"), validators=[Optional()])
    industry = SelectField(_l("主要产业领域"), validators=[Optional()])
    is_high_tech = BooleanField(_l("高新技术企业"))
    is_tech_sme = BooleanField(_l("科技型中小企业"))

    def fill_choices(self) -> None:
        self.district.choices = _blank_first(taxonomy.choices(taxonomy.DISTRICTS))
        self.industry.choices = _blank_first(taxonomy.choices(taxonomy.INDUSTRIES))


class RegistrationForm(OrganisationFieldsMixin, FlaskForm):
    email = EmailField(_l("邮箱"), validators=[DataRequired(REQUIRED), Email(_l("邮箱格式不正确")), Length(max=254)])
    name = StringField(_l("姓名"), validators=[DataRequired(REQUIRED), Length(max=80)])
    role = SelectField(_l("身份"), validators=[DataRequired(REQUIRED)])
    password = PasswordField(_l("密码"), validators=NEW_PASSWORD_RULES)
    confirm = PasswordField(
        _l("确认密码"), validators=[DataRequired(REQUIRED), EqualTo("password", _l("两次输入的密码不一致"))]
    )
    accept_terms = BooleanField(_l("我已阅读并同意平台服务协议"), validators=[DataRequired(_l("请先同意平台服务协议"))])

    def __init__(self, *args, invited: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.invited = invited
        self.role.choices = [(role.value, ROLE_LABELS[role]) for role in SELF_SERVICE_ROLES]
        self.fill_choices()

    def validate_password(self, field):
        _check_policy(field.data, self.email.data)

    def validate_org_name(self, field):
        if not self.invited and not (field.data or "").strip():
            raise ValidationError(REQUIRED)

    def validate_uscc(self, field):
        if self.invited or self.role.data != Role.ENTERPRISE:
            return
        from marketplace.accounts.services import uscc_message

        if not (field.data or "").strip():
            raise ValidationError(_l("企业须填写统一社会信用代码"))
        message = uscc_message(field.data)
        if message:
            raise ValidationError(message)


class ProfileForm(FlaskForm):
    name = StringField(_l("姓名"), validators=[DataRequired(REQUIRED), Length(max=80)])
    phone = StringField(_l("手机号码"), validators=[Optional(), Length(max=30)])
    title = StringField(_l("职称/职务"), validators=[Optional(), Length(max=80)])


class NewPasswordForm(FlaskForm):
    """Choose a new password (password reset); ``email`` is the account's, which may not be the password."""

    new_password = PasswordField(_l("新密码"), validators=NEW_PASSWORD_RULES)
    confirm = PasswordField(
        _l("确认新密码"), validators=[DataRequired(REQUIRED), EqualTo("new_password", _l("两次输入的密码不一致"))]
    )

    def __init__(self, *args, email: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.account_email = email

    def validate_new_password(self, field):
        _check_policy(field.data, self.account_email)


class PasswordForm(NewPasswordForm):
    current_password = PasswordField(_l("当前密码"), validators=[DataRequired(REQUIRED)])


class ForgotPasswordForm(FlaskForm):
    email = EmailField(_l("邮箱"), validators=[DataRequired(REQUIRED), Email(_l("邮箱格式不正确")), Length(max=254)])


class OrganisationForm(OrganisationFieldsMixin, FlaskForm):
    description = TextAreaField(_l("机构简介"), validators=[Optional(), Length(max=2000)])
    website = StringField(_l("网址"), validators=[Optional(), Length(max=200)])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fill_choices()
        self.org_name.validators = [DataRequired(REQUIRED), Length(max=200)]


class InviteForm(FlaskForm):
    email = EmailField(_l("被邀请人邮箱"), validators=[DataRequired(REQUIRED), Email(_l("邮箱格式不正确"))])
