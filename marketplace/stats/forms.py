from __future__ import annotations

from decimal import Decimal

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DecimalField, IntegerField, SelectField, StringField
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from marketplace.core import taxonomy
from marketplace.core.money import CENT

YI = Decimal(100_000_000)
MAX_YI = Decimal("99999999")  # NUMERIC(18,2) holds up to 10^16 元


def scope_choices() -> list[tuple[str, str]]:
    return [("city", str(_l("青岛市（全市）")))] + [
        (code, label) for code, label in taxonomy.choices(taxonomy.DISTRICTS) if code != "outside"
    ]


def metric_choices() -> list[tuple[str, str]]:
    return [("contract_amount", str(_l("技术合同成交额"))), ("tech_amount", str(_l("技术交易额")))]


class FigureForm(FlaskForm):
    scope = SelectField(_l("范围"))
    metric = SelectField(_l("指标"))
    year = IntegerField(_l("年份"), validators=[InputRequired(), NumberRange(min=1980, max=2100)])
    value_yi = DecimalField(
        _l("数值（亿元）"), places=None, validators=[InputRequired(), NumberRange(min=Decimal("0.01"), max=MAX_YI)]
    )
    source = StringField(_l("来源"), validators=[Optional(), Length(max=300)])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.scope.choices = scope_choices()
        self.metric.choices = metric_choices()

    def data_for_model(self) -> dict:
        return {
            "scope": self.scope.data,
            "metric": self.metric.data,
            "year": self.year.data,
            "value": (self.value_yi.data * YI).quantize(CENT),
            "source": (self.source.data or "").strip() or None,
        }


class TargetForm(FigureForm):
    measure = SelectField(_l("区市口径"), description=_l("全市目标按全部登记合同计算，不区分口径"))
    baseline_year = IntegerField(_l("基期年份"), validators=[Optional(), NumberRange(min=1980, max=2100)])
    baseline_yi = DecimalField(
        _l("基期数值（亿元）"), places=None, validators=[Optional(), NumberRange(min=Decimal("0"), max=MAX_YI)]
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.measure.choices = [
            ("output", str(_l("输出（卖方在该区市）"))),
            ("absorption", str(_l("吸纳（买方在该区市）"))),
        ]

    def data_for_model(self) -> dict:
        data = super().data_for_model()
        data["measure"] = self.measure.data
        data["baseline_year"] = self.baseline_year.data
        data["baseline_value"] = (
            (self.baseline_yi.data * YI).quantize(CENT) if self.baseline_yi.data is not None else None
        )
        return data
