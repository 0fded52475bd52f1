"""Contract forms. They only collect values: ``services.check_fields`` decides what is valid and
its message is put back beside the field it names (``show_error``)."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, DateField, DecimalField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from marketplace.core import taxonomy
from marketplace.core.money import MAX_AMOUNT

_AMOUNT = [InputRequired(_l("请填写金额")), NumberRange(min=0, max=MAX_AMOUNT, message=_l("金额超出范围"))]


class ContractForm(FlaskForm):
    project_name = StringField(_l("项目名称"), validators=[DataRequired(_l("请填写项目名称")), Length(max=300)])
    contract_type = SelectField(_l("合同类型"), choices=[])
    tech_field = SelectField(_l("技术领域"), choices=[], validators=[Optional()])
    contract_amount = DecimalField(_l("合同成交额（元）"), places=2, validators=_AMOUNT)
    tech_amount = DecimalField(_l("技术交易额（元）"), places=2, validators=_AMOUNT)
    signed_on = DateField(_l("签订日期"), validators=[Optional()])
    valid_from = DateField(_l("有效期起"), validators=[Optional()])
    valid_until = DateField(_l("有效期止"), validators=[Optional()])
    seller_name = StringField(
        _l("卖方（受托方）名称"), validators=[DataRequired(_l("请填写卖方名称")), Length(max=200)]
    )
    seller_kind = SelectField(_l("卖方单位性质"), choices=[])
    seller_district = SelectField(_l("卖方所在区市"), choices=[])
    buyer_name = StringField(_l("买方（委托方）名称"), validators=[DataRequired(_l("请填写买方名称")), Length(max=200)])
    buyer_kind = SelectField(_l("买方单位性质"), choices=[])
    buyer_district = SelectField(_l("买方所在区市"), choices=[])
    note = TextAreaField(_l("备注"), validators=[Optional(), Length(max=2000)])

    FIELDS = (
        "project_name",
        "contract_type",
        "tech_field",
        "contract_amount",
        "tech_amount",
        "signed_on",
        "valid_from",
        "valid_until",
        "seller_name",
        "seller_kind",
        "seller_district",
        "buyer_name",
        "buyer_kind",
        "buyer_district",
        "note",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.contract_type.choices = taxonomy.choices(taxonomy.CONTRACT_TYPES)
        self.tech_field.choices = [("", "—")] + taxonomy.choices(taxonomy.TECH_FIELDS)
        for side in ("seller", "buyer"):
            getattr(self, f"{side}_kind").choices = taxonomy.choices(taxonomy.PARTY_KINDS)
            getattr(self, f"{side}_district").choices = taxonomy.choices(taxonomy.DISTRICTS)

    def values(self) -> dict[str, Any]:
        values = {name: getattr(self, name).data for name in self.FIELDS}
        for name in ("project_name", "seller_name", "buyer_name", "note"):
            values[name] = (values[name] or "").strip() or None
        values["tech_field"] = values["tech_field"] or None
        return values


class AmendForm(ContractForm):
    registered_on = DateField(_l("登记日期"), validators=[DataRequired(_l("请填写登记日期"))])
    reason = StringField(_l("变更原因"), validators=[DataRequired(_l("请填写变更原因")), Length(max=500)])

    FIELDS = ContractForm.FIELDS + ("registered_on",)


class RegisterForm(FlaskForm):
    registration_no = StringField(_l("合同登记号"), validators=[DataRequired(_l("请填写合同登记号")), Length(max=40)])
    registered_on = DateField(_l("登记日期"), validators=[DataRequired(_l("请填写登记日期"))])


class CancelForm(FlaskForm):
    cancelled_on = DateField(_l("注销日期"), validators=[DataRequired(_l("请填写注销日期"))])
    reason = StringField(_l("注销原因"), validators=[DataRequired(_l("请填写注销原因")), Length(max=500)])


class PerformanceForm(FlaskForm):
    performed_amount = DecimalField(_l("累计履约金额（元）"), places=2, validators=_AMOUNT)


class ImportForm(FlaskForm):
    file = FileField(
        _l("登记数据文件"),
        validators=[FileRequired(_l("请选择要导入的文件"))],
        description=_l("XLSX 或 CSV（UTF-8 或 GBK），列名见《技术合同导入说明》"),
    )
    dry_run = BooleanField(_l("只检查，不保存"))


def show_error(form: FlaskForm, field: str | None, message: str) -> None:
    """Put a service's message beside its field (or above the form)."""
    target = getattr(form, field, None) if field else None
    if target is not None and hasattr(target, "errors"):
        target.errors = [*target.errors, message]
    else:
        form.form_errors.append(message)
