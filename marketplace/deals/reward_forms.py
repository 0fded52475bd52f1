"""The admins' form for a broker reward policy."""

from __future__ import annotations

from decimal import Decimal

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, DecimalField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from marketplace.core.money import MAX_AMOUNT


def _within(low: Decimal, high: Decimal, message):
    def check(form, field):
        value = field.data
        if value is None:
            return
        if not value.is_finite() or not low <= value <= high:
            raise ValidationError(str(message))

    return check


class RewardPolicyForm(FlaskForm):
    name = StringField(_l("政策名称"), validators=[DataRequired(), Length(max=120)])
    rate_percent = DecimalField(
        _l("奖励比例（占技术交易额的百分比）"),
        validators=[DataRequired(), _within(Decimal("0.01"), Decimal("100"), _l("比例应在 0.01 到 100 之间"))],
        places=2,
    )
    cap_per_contract = DecimalField(
        _l("单份合同奖励上限（元）"),
        validators=[Optional(), _within(Decimal("0"), MAX_AMOUNT, _l("金额超出范围"))],
        places=2,
    )
    cap_per_broker_year = DecimalField(
        _l("每名经纪人年度奖励上限（元）"),
        validators=[Optional(), _within(Decimal("0"), MAX_AMOUNT, _l("金额超出范围"))],
        places=2,
    )
    valid_from = DateField(_l("生效日期"), validators=[DataRequired()])
    valid_until = DateField(_l("失效日期"), validators=[Optional()])
    note = TextAreaField(_l("备注"), validators=[Optional(), Length(max=2000)])

    def validate_valid_until(self, field):
        if field.data and self.valid_from.data and field.data < self.valid_from.data:
            raise ValidationError(str(_l("失效日期不能早于生效日期")))
