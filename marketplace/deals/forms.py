"""Forms for brokers and deals. They collect values; the services decide what is valid."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import DateField, DecimalField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from marketplace.core import taxonomy
from marketplace.deals.models import BROKER_LEVEL_LABELS, LOSS_REASON_LABELS
from marketplace.listings.forms import CheckboxList

REQUIRED = _l("此项为必填项")
MONEY = {"places": 2, "validators": [Optional(), NumberRange(min=0, max=9_999_999_999_999_999)]}


class BrokerApplicationForm(FlaskForm):
    certificate_no = StringField(
        _l("证书编号"),
        validators=[DataRequired(REQUIRED), Length(max=60)],
        description=_l("技术经纪人/技术经理人证书上的编号"),
    )
    level = SelectField(_l("经纪人等级"), choices=list(BROKER_LEVEL_LABELS.items()))
    specialities = CheckboxList(_l("擅长领域"), validators=[DataRequired(REQUIRED)])
    organisation = SelectField(_l("所属技术转移机构"), validators=[Optional()])
    bio = TextAreaField(_l("个人简介"), validators=[Optional(), Length(max=2000)], render_kw={"rows": 5})

    def __init__(self, *args, own_organisation=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.specialities.choices = taxonomy.choices(taxonomy.INDUSTRIES)
        self.organisation.choices = [("", _l("不填写"))]
        if own_organisation is not None:
            self.organisation.choices.insert(0, (str(own_organisation.id), own_organisation.name))


class DealForm(FlaskForm):
    title = StringField(_l("撮合名称"), validators=[DataRequired(REQUIRED), Length(max=200)])
    demand_id = StringField(_l("技术需求编号"), validators=[Optional()], description=_l("选填：需求页面地址中的数字"))
    achievement_id = StringField(
        _l("科技成果编号"), validators=[Optional()], description=_l("选填：成果页面地址中的数字")
    )
    buyer_org = StringField(
        _l("需求方机构"), validators=[Optional(), Length(max=200)], description=_l("平台上的机构全称")
    )
    seller_org = StringField(
        _l("供给方机构"), validators=[Optional(), Length(max=200)], description=_l("平台上的机构全称")
    )
    expected_value = DecimalField(_l("预计成交额（元）"), **MONEY)
    expected_commission = DecimalField(_l("预计佣金（元）"), **MONEY)
    next_step = StringField(_l("下一步"), validators=[Optional(), Length(max=200)])
    next_step_on = DateField(_l("下一步日期"), validators=[Optional()])


class StageForm(FlaskForm):
    stage = SelectField(_l("变更为"), validate_choice=False)
    reason = SelectField(
        _l("终止原因"), choices=[("", _l("请选择"))] + list(LOSS_REASON_LABELS.items()), validate_choice=False
    )
    note = TextAreaField(_l("说明"), validators=[Optional(), Length(max=5000)], render_kw={"rows": 2})
    expected_value = DecimalField(_l("预计成交额（元）"), **MONEY)


class ActivityForm(FlaskForm):
    kind = SelectField(
        _l("类型"), choices=[("note", _l("备注")), ("call", _l("电话沟通")), ("meeting", _l("会面洽谈"))]
    )
    body = TextAreaField(_l("内容"), validators=[DataRequired(REQUIRED), Length(max=5000)], render_kw={"rows": 3})
    happened_on = DateField(_l("日期"), validators=[Optional()])


class NextStepForm(FlaskForm):
    next_step = StringField(_l("下一步"), validators=[Optional(), Length(max=200)])
    next_step_on = DateField(_l("下一步日期"), validators=[Optional()])


class ExpectationsForm(FlaskForm):
    expected_value = DecimalField(_l("预计成交额（元）"), **MONEY)
    expected_commission = DecimalField(_l("预计佣金（元）"), **MONEY)


class DocumentForm(FlaskForm):
    file = FileField(_l("文件"), validators=[FileRequired(_l("请选择要上传的文件"))])


class MessageForm(FlaskForm):
    body = TextAreaField(_l("消息"), validators=[DataRequired(REQUIRED), Length(max=5000)], render_kw={"rows": 3})
