"""Listing forms. They only collect values: ``fields.clean_listing`` decides what is valid,
and its messages are put back beside the fields (see ``show_errors``)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    DecimalField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from marketplace.core import taxonomy
from marketplace.listings.fields import editable_fields
from marketplace.listings.models import ListingKind


class CheckboxList(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()

    def pre_validate(self, form):
        # WTForms' own "not a valid choice" message is English-only; clean_listing names the unknown code.
        pass


PLEASE_CHOOSE = _l("请选择")


def _with_blank(pairs, blank=PLEASE_CHOOSE):
    return [("", blank)] + list(pairs)


class ListingForm(FlaskForm):
    title = StringField(_l("标题"), render_kw={"maxlength": 200})
    summary = TextAreaField(
        _l("摘要"), render_kw={"rows": 3}, description=_l("一到三句话说明这项技术解决什么问题、关键指标")
    )
    description = TextAreaField(_l("详细说明"), render_kw={"rows": 8})
    keywords = StringField(_l("关键词"), description=_l("用逗号或顿号分隔，最多 20 个"))
    industry = SelectField(_l("产业领域"))
    district = SelectField(_l("所在区市"), validators=[Optional()])
    cooperation_modes = CheckboxList(_l("合作方式"), validators=[Optional()])
    contact_name = StringField(_l("联系人"))
    contact_phone = StringField(_l("联系电话"))
    # achievements
    trl = SelectField(_l("技术成熟度（TRL）"), validators=[Optional()])
    ip_type = SelectField(_l("知识产权类型"), validators=[Optional()])
    patent_numbers = StringField(_l("专利号"), description=_l("多个专利号用逗号分隔"))
    price_cny = DecimalField(
        _l("转让/许可价格（元）"), validators=[Optional()], places=2, description=_l("留空表示面议")
    )
    # demands
    min_trl = SelectField(_l("最低技术成熟度要求"), validators=[Optional()])
    budget_min_cny = DecimalField(_l("预算下限（元）"), validators=[Optional()], places=2)
    budget_max_cny = DecimalField(_l("预算上限（元）"), validators=[Optional()], places=2)
    deadline = DateField(_l("截止日期"), validators=[Optional()])
    challenge = BooleanField(_l("揭榜挂帅（公开张榜，团队可申请揭榜）"))
    bounty_cny = DecimalField(_l("榜单金额（元）"), validators=[Optional()], places=2)

    REQUIRED_MARK = {
        ListingKind.ACHIEVEMENT: {"title", "summary", "industry"},
        ListingKind.DEMAND: {"title", "description", "industry"},
    }

    def __init__(self, kind: str, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.kind = ListingKind(kind)
        self.industry.choices = _with_blank(taxonomy.choices(taxonomy.INDUSTRIES))
        self.district.choices = _with_blank(taxonomy.choices(taxonomy.DISTRICTS))
        self.cooperation_modes.choices = taxonomy.choices(taxonomy.COOPERATION_MODES)
        trl_choices = [(str(level), f"TRL {level} · {taxonomy.trl_stage(level)}") for level in taxonomy.TRL_LEVELS]
        self.trl.choices = _with_blank(trl_choices, _l("未知"))
        self.min_trl.choices = _with_blank(trl_choices, _l("不限"))
        self.ip_type.choices = _with_blank(taxonomy.choices(taxonomy.IP_TYPES))
        if self.kind == ListingKind.ACHIEVEMENT:
            self.description.label.text = _l("技术说明")
        else:
            self.description.label.text = _l("需求描述")
            self.description.description = _l("需求背景、要解决的问题、希望达到的技术指标")

    def visible_fields(self):
        return [getattr(self, name) for name in editable_fields(self.kind)]

    def is_required(self, name: str) -> bool:
        return name in self.REQUIRED_MARK[self.kind]

    def raw_values(self) -> dict:
        return {name: getattr(self, name).data for name in editable_fields(self.kind)}

    def fill_from(self, values: dict) -> None:
        """Show stored values (or a pending revision) in the form for editing."""
        for name in editable_fields(self.kind):
            if name not in values:
                continue
            value = values[name]
            field = getattr(self, name)
            if name in ("keywords", "patent_numbers"):
                value = "，".join(value or [])
            elif name in ("trl", "min_trl", "industry", "district", "ip_type"):
                value = "" if value is None else str(value)
            field.data = value

    def show_errors(self, errors: dict[str, str]) -> None:
        for name, message in errors.items():
            getattr(self, name).errors = [*getattr(self, name).errors, message]


class ReviewForm(FlaskForm):
    reason = TextAreaField(_l("不通过原因"), validators=[Optional(), Length(max=2000)])


class AttachmentForm(FlaskForm):
    file = FileField(
        _l("附件"),
        validators=[FileRequired(_l("请选择要上传的文件"))],
        description=_l("PDF 或图片（PNG/JPEG/GIF/WebP），单个文件不超过 10 MB"),
    )


class ChallengeApplicationForm(FlaskForm):
    team_name = StringField(_l("团队名称"), validators=[DataRequired(_l("此项为必填项")), Length(max=120)])
    proposal = TextAreaField(
        _l("揭榜方案"),
        validators=[DataRequired(_l("此项为必填项")), Length(max=10000)],
        render_kw={"rows": 8},
        description=_l("技术路线、团队基础、进度安排与预期指标"),
    )


__all__ = ["ImportForm", "ListingForm", "ReviewForm", "AttachmentForm", "ChallengeApplicationForm"]


class ImportForm(FlaskForm):
    file = FileField(
        _l("JSON Lines 文件"),
        validators=[FileRequired(_l("请选择要导入的文件"))],
        description=_l("每行一个 JSON 对象，UTF-8 编码，字段见《成果/需求交换格式》"),
    )
    dry_run = BooleanField(_l("只检查，不保存"))
    all_or_nothing = BooleanField(_l("有任何一行出错则全部不导入"))
    to_review = BooleanField(_l("导入后进入审核队列（不直接发布）"))
