"""The registration-office export format: finding the header, reading cells into contract fields.

XLSX (first sheet, through python-calamine) or CSV in UTF-8 (with or without BOM) or GBK/GB18030. The
header row is the first row with a registration-number column (合同登记号 …); rows above it (a
title such as "2024年青岛市技术合同登记汇总表") are skipped. Columns are found through ``HEADERS``
(one place, data only), and a header's unit decides the amount's scale: "合同成交额(万元)" is in
万元 (× 10 000, kept to the fen), otherwise 元. Parsing never touches the database.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import cached_property
from typing import Any

from flask_babel import gettext as _

from marketplace.core import taxonomy
from marketplace.core.errors import ServiceError
from marketplace.core.rowimport import RowRejected

HEADER_SEARCH_ROWS = 20  # a header further down than this is not a registration export
CENT = Decimal("0.01")
WAN = Decimal(10_000)

# field -> the headers registration offices use for it (matched after ``_normalise_header``).
HEADERS: dict[str, tuple[str, ...]] = {
    "registration_no": ("合同登记号", "登记编号", "合同登记编号", "登记号"),
    "project_name": ("项目名称", "合同名称"),
    "contract_type": ("合同类型", "技术合同类别", "合同类别", "技术合同类型"),
    "tech_field": ("技术领域", "技术领域类别"),
    "contract_amount": ("合同成交额", "成交金额", "成交额", "合同金额"),
    "tech_amount": ("技术交易额", "技术交易金额"),
    "signed_on": ("签订日期", "签约日期", "合同签订日期"),
    "registered_on": ("登记日期", "认定登记日期", "认定日期"),
    "seller_name": ("卖方名称", "卖方(受托方)", "卖方(受托方)名称", "受托方", "受托方名称", "卖方"),
    "buyer_name": ("买方名称", "买方(委托方)", "买方(委托方)名称", "委托方", "委托方名称", "买方"),
    # A column without a party ("所在地区") is the seller's: registration points register their sellers' contracts.
    "seller_district": (
        "卖方所在地区",
        "卖方地区",
        "卖方所在地",
        "卖方行政区划代码",
        "受托方所在地区",
        "受托方行政区划代码",
        "所在地区",
        "行政区划代码",
    ),
    "buyer_district": (
        "买方所在地区",
        "买方地区",
        "买方所在地",
        "买方行政区划代码",
        "委托方所在地区",
        "委托方行政区划代码",
    ),
    "seller_kind": ("卖方单位性质", "卖方类型", "卖方性质", "受托方单位性质"),
    "buyer_kind": ("买方单位性质", "买方类型", "买方性质", "委托方单位性质"),
    "valid_from": ("有效期起", "有效期开始", "合同有效期起", "有效期自"),
    "valid_until": ("有效期止", "有效期至", "有效期结束", "合同有效期止"),
    "performed_amount": ("履约金额", "已履约金额", "到账金额"),
}
REQUIRED = (
    "registration_no",
    "project_name",
    "contract_type",
    "contract_amount",
    "registered_on",
    "seller_name",
    "buyer_name",
    "seller_district",
    "buyer_district",
)
AMOUNT_FIELDS = ("contract_amount", "tech_amount", "performed_amount")
DATE_FIELDS = ("signed_on", "registered_on", "valid_from", "valid_until")
# What "unchanged" compares: everything the file says about a contract.
COMPARED = (
    "project_name",
    "contract_type",
    "tech_field",
    "contract_amount",
    "tech_amount",
    "signed_on",
    "registered_on",
    "seller_name",
    "seller_kind",
    "seller_district",
    "buyer_name",
    "buyer_kind",
    "buyer_district",
)
FIELD_LABELS = {
    "registration_no": "合同登记号",
    "project_name": "项目名称",
    "contract_type": "合同类型",
    "tech_field": "技术领域",
    "contract_amount": "合同成交额",
    "tech_amount": "技术交易额",
    "signed_on": "签订日期",
    "registered_on": "登记日期",
    "seller_name": "卖方名称",
    "seller_kind": "卖方单位性质",
    "seller_district": "卖方所在地区",
    "buyer_name": "买方名称",
    "buyer_kind": "买方单位性质",
    "buyer_district": "买方所在地区",
    "valid_from": "有效期起",
    "valid_until": "有效期止",
    "performed_amount": "履约金额",
}

_FULL_WIDTH = str.maketrans("（）：，　", "():, ")
_UNIT = re.compile(r"\((万?元)\)$")
_HEADER_NOISE = re.compile(r"[\s()/:*_\-—]")
_DATE = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[ T]\d{1,2}:\d{2}(?::\d{2})?)?$")
_COMPACT_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
EXCEL_EPOCH = date(1899, 12, 30)
_KIND_LABELS = {labels[0]: code for code, labels in taxonomy.PARTY_KINDS.items()} | {
    "高校": "university",
    "大学": "university",
    "科研院所": "institute",
    "研究机构": "institute",
    "内资企业": "enterprise",
    "港澳台商投资企业": "enterprise",
    "外商投资企业": "enterprise",
}
_TYPE_LABELS = {labels[0]: code for code, labels in taxonomy.CONTRACT_TYPES.items()}
_FIELD_LABELS = {labels[0]: code for code, labels in taxonomy.TECH_FIELDS.items()}


class ImportFileError(ServiceError):
    """The file as a whole cannot be read (not XLSX/CSV, no header row, a required column missing)."""


def _normalise_header(text: Any) -> tuple[str, str]:
    """(the header reduced for matching, its unit "元" or "万元")."""
    value = str(text or "").translate(_FULL_WIDTH).strip()
    value = re.sub(r"\s+", "", value)
    unit = "元"
    match = _UNIT.search(value)
    if match:
        unit, value = match.group(1), value[: match.start()]
    return _HEADER_NOISE.sub("", value), unit


_ALIASES = {_normalise_header(alias)[0]: name for name, aliases in HEADERS.items() for alias in aliases}


# --- reading the file ----------------------------------------------------------------------------


def read_table(data: bytes, filename: str = "") -> Iterator[list[Any]]:
    """Every row of the file's first sheet (XLSX) or of the CSV, as a list of cell values."""
    if data.startswith(b"PK\x03\x04"):
        return _xlsx_rows(data)
    if filename.lower().endswith((".xlsx", ".xlsm")):
        raise ImportFileError(_("无法读取这个 Excel 文件，请另存为 .xlsx 或 CSV 后重试"))
    return _csv_rows(data)


def _xlsx_rows(data: bytes) -> Iterator[list[Any]]:
    # python-calamine (a Rust reader) parses a sheet ~14× faster than openpyxl, which capped imports of
    # registration-office XLSX at ~4,000 rows/s. Date cells arrive as date/datetime, numbers as float.
    from python_calamine import CalamineWorkbook

    try:
        sheet = CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_index(0)
    except Exception as error:  # a damaged or encrypted workbook, or not a workbook at all
        raise ImportFileError(_("无法读取这个 Excel 文件，请另存为 .xlsx 或 CSV 后重试")) from error
    # Rows come from the sheet's first row, cells from its first used column: pad them back to column A
    # so that column positions (and a report's row numbers) are those the user sees in Excel.
    padding = [""] * (sheet.start[1] if sheet.start else 0)

    def rows():
        for row in sheet.iter_rows():
            yield padding + list(row)

    return rows()


def decode_text(data: bytes) -> str:
    """UTF-8 (a BOM is dropped), else GB18030 (a superset of GBK, what Excel saves on Chinese Windows)."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ImportFileError(_("文件编码无法识别，请保存为 UTF-8 或 GBK 编码的 CSV"))


def _csv_rows(data: bytes) -> Iterator[list[Any]]:
    text = decode_text(data)
    if "\x00" in text:
        raise ImportFileError(_("这不是 CSV 文件，请上传 XLSX 或 CSV"))
    return iter(csv.reader(io.StringIO(text, newline="")))


@dataclass
class Layout:
    """Where each field's column is, and the unit of each amount column."""

    columns: dict[str, int]
    units: dict[str, str] = field(default_factory=dict)

    @cached_property
    def width(self) -> int:
        return max(self.columns.values()) + 1


def find_header(rows: Iterator[list[Any]]) -> Layout:
    """Consume rows up to and including the header row; ImportFileError if there is none."""
    for _index, row in zip(range(HEADER_SEARCH_ROWS), rows, strict=False):
        columns: dict[str, int] = {}
        units: dict[str, str] = {}
        for position, cell in enumerate(row):
            key, unit = _normalise_header(cell)
            name = _ALIASES.get(key)
            if name and name not in columns:
                columns[name], units[name] = position, unit
        if "registration_no" in columns:
            missing = [FIELD_LABELS[name] for name in REQUIRED if name not in columns]
            if missing:
                raise ImportFileError(_("缺少必需的列：%(columns)s", columns="、".join(missing)))
            return Layout(columns, units)
    raise ImportFileError(_("找不到表头：需要一行包含“合同登记号”等列名"))


# --- parsing values ------------------------------------------------------------------------------


def text_of(value: Any) -> str:
    if value.__class__ is str:
        return value.strip()
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def parse_amount(value: Any, unit: str, label: str) -> Decimal | None:
    """元 (or 万元 × 10 000) to the fen; None when the cell is empty; RowRejected when unreadable."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise RowRejected(_("%(field)s无法识别：%(value)s", field=label, value=value))
    text = str(value) if not isinstance(value, float) else repr(value)
    text = text.translate(_FULL_WIDTH).replace(",", "").replace(" ", "").removesuffix("万元").removesuffix("元")
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise RowRejected(_("%(field)s无法识别：%(value)s", field=label, value=text_of(value)[:40])) from None
    if not amount.is_finite() or abs(amount) > Decimal("1e15"):
        raise RowRejected(_("%(field)s无法识别：%(value)s", field=label, value=text_of(value)[:40]))
    if unit == "万元":
        amount *= WAN
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def parse_date(value: Any, label: str) -> date | None:
    if value.__class__ is str:
        match = _DATE.match(value.strip())
        if match:
            try:
                return date(*(int(part) for part in match.groups()))
            except ValueError:
                raise RowRejected(_("%(field)s无法识别：%(value)s", field=label, value=value.strip()[:40])) from None
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            if 1 <= value < 2958466:  # Excel's serial day numbers (1900 date system) up to 9999-12-31
                return EXCEL_EPOCH + timedelta(days=int(value))
        text = text_of(value)
        match = _DATE.match(text) or _COMPACT_DATE.match(text)
        if match:
            return date(*(int(part) for part in match.groups()))
        if text.isdigit() and 20000 <= int(text) < 80000:  # a serial number that reached a CSV as text
            return EXCEL_EPOCH + timedelta(days=int(text))
    except (ValueError, OverflowError):
        pass
    raise RowRejected(_("%(field)s无法识别：%(value)s", field=label, value=text_of(value)[:40]))


def parse_code(value: Any, vocabulary: taxonomy.Vocabulary, labels: dict[str, str], label: str) -> str | None:
    text = text_of(value)
    if not text:
        return None
    if text in vocabulary:
        return text
    if text in labels:
        return labels[text]
    raise RowRejected(_("未知的%(field)s：%(value)s", field=label, value=text[:40]))


def parse_district(value: Any) -> str | None:
    text = text_of(value)
    if not text:
        return None
    if text.isdigit() and len(text) > 6:  # 12-digit statistical codes start with the GB/T 2260 code
        text = text[:6]
    return taxonomy.normalise_district(text) or "outside"


def parse_kind(value: Any, name: str) -> str:
    """A party_kind code or label, a 3-digit legal-nature code (taxonomy.md), or a guess from the name."""
    text = text_of(value)
    if text.isdigit() and len(text) <= 3:
        number = int(text)
        return {21: "institute", 22: "university"}.get(number, "enterprise" if 100 <= number <= 399 else "other")
    if text in taxonomy.PARTY_KINDS:
        return text
    if text in _KIND_LABELS:
        return _KIND_LABELS[text]
    if text:
        return "enterprise" if "企业" in text else "other"
    return guess_kind(name)


def guess_kind(name: str) -> str:
    if "大学" in name or "学院" in name:
        return "university"
    if any(word in name for word in ("研究院", "研究所", "科学院", "研究中心", "实验室")):
        return "institute"
    if any(word in name for word in ("公司", "企业", "厂", "集团")):
        return "enterprise"
    return "other"


def parse_row(row: list[Any], layout: Layout) -> dict[str, Any]:
    """One row as TechContract fields, or RowRejected with the reason."""

    if len(row) < layout.width:
        row = [*row, *([None] * (layout.width - len(row)))]
    columns = layout.columns

    def cell(name: str) -> Any:
        position = columns.get(name)
        return None if position is None else row[position]

    number = text_of(cell("registration_no"))
    if not number:
        raise RowRejected(_("缺少合同登记号"))
    fields: dict[str, Any] = {"registration_no": number[:40]}
    try:
        for name in AMOUNT_FIELDS:
            fields[name] = parse_amount(cell(name), layout.units.get(name, "元"), FIELD_LABELS[name])
        for name in DATE_FIELDS:
            fields[name] = parse_date(cell(name), FIELD_LABELS[name])
        fields["contract_type"] = parse_code(cell("contract_type"), taxonomy.CONTRACT_TYPES, _TYPE_LABELS, "合同类型")
        fields["tech_field"] = parse_code(cell("tech_field"), taxonomy.TECH_FIELDS, _FIELD_LABELS, "技术领域")
    except RowRejected as error:
        error.external_id = number
        raise
    fields["project_name"] = text_of(cell("project_name"))[:300]
    for side in ("seller", "buyer"):
        fields[f"{side}_name"] = text_of(cell(f"{side}_name"))[:200]
        fields[f"{side}_district"] = parse_district(cell(f"{side}_district"))
        fields[f"{side}_kind"] = parse_kind(cell(f"{side}_kind"), fields[f"{side}_name"])
    return fields
