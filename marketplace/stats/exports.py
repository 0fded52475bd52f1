"""Each dashboard view as one table: the page's table, its chart data, and its XLSX/CSV export
are all built from ``section(name, year)``, so the numbers cannot differ."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from decimal import Decimal

from flask_babel import gettext as _
from openpyxl import Workbook
from openpyxl.styles import Font

from marketplace.core import spreadsheet
from marketplace.core.money import CENT, WAN, YI
from marketplace.stats import queries, targets

# The sections a public visitor may see and download: aggregate figures, no party named.
PUBLIC_SECTIONS = ("year",)
SECTIONS = (
    "year",
    "month",
    "output_district",
    "absorption_district",
    "contract_type",
    "tech_field",
    "seller_group",
    "via_platform",
    "top_sellers",
    "top_buyers",
)
NEEDS_YEAR = frozenset(SECTIONS) - {"year"}


@dataclass
class Row:
    key: str
    label: str
    count: int
    contract_amount: Decimal
    tech_amount: Decimal
    published: Decimal | None = None  # the authorities' figure for the year (year view only)


@dataclass
class Section:
    name: str
    title: str
    key_header: str
    year: int | None
    rows: list[Row] = field(default_factory=list)
    chart: str = "bar"  # "bar", or "none" for ranked lists of names

    @property
    def has_published(self) -> bool:
        return any(row.published is not None for row in self.rows)

    @property
    def total(self) -> Row:
        return Row(
            "total",
            _("合计"),
            sum(row.count for row in self.rows),
            sum((row.contract_amount for row in self.rows), Decimal("0.00")),
            sum((row.tech_amount for row in self.rows), Decimal("0.00")),
        )

    @property
    def is_empty(self) -> bool:
        return not any(row.count or row.published for row in self.rows)


def titles() -> dict[str, tuple[str, str]]:
    """Each section's title and the header of its first column."""
    return {
        "year": (_("历年技术合同成交额"), _("年份")),
        "month": (_("按月登记成交额"), _("月份")),
        "output_district": (_("按区市（输出，卖方所在地）"), _("区市")),
        "absorption_district": (_("按区市（吸纳，买方所在地）"), _("区市")),
        "contract_type": (_("按合同类型"), _("合同类型")),
        "tech_field": (_("按技术领域"), _("技术领域")),
        "seller_group": (_("按卖方类型"), _("卖方类型")),
        "via_platform": (_("平台撮合与全部登记合同"), _("来源")),
        "top_sellers": (_("成交额前十的卖方（输出机构）"), _("卖方")),
        "top_buyers": (_("成交额前十的买方（吸纳企业）"), _("买方")),
    }


def _published_city_series() -> dict[int, Decimal]:
    return targets.published_series("city", "contract_amount")


def section(name: str, year: int | None) -> Section:
    title, key_header = titles()[name]
    result = Section(name, title, key_header, None if name == "year" else year)
    if name == "year":
        figures = queries.by_year()
        published = _published_city_series()
        for key in sorted(set(figures) | {str(y) for y in published}):
            totals = figures.get(key, queries.Totals())
            result.rows.append(
                Row(key, key, totals.count, totals.contract_amount, totals.tech_amount, published.get(int(key)))
            )
        return result
    if name in ("top_sellers", "top_buyers"):
        result.chart = "none"
        for party in queries.top_parties("seller" if name == "top_sellers" else "buyer", year):
            result.rows.append(Row(party.name, party.name, party.count, party.contract_amount, party.tech_amount))
        return result
    by = "month" if name == "month" else name
    for key, totals in queries.turnover(by, year).items():
        result.rows.append(
            Row(key, queries.key_label(by, key), totals.count, totals.contract_amount, totals.tech_amount)
        )
    return result


def chart_data(sections: list[Section]) -> dict:
    """What static/js/stats-charts.js draws, per section in 亿元 when its largest figure reaches 1 亿
    and in 万元 otherwise (display only; the tables carry 元)."""
    in_yi = {
        "contract": _("成交额（亿元）"),
        "tech": _("技术交易额（亿元）"),
        "published": _("公布成交额（亿元）"),
        "unit": _("亿元"),
    }
    in_wan = {
        "contract": _("成交额（万元）"),
        "tech": _("技术交易额（万元）"),
        "published": _("公布成交额（万元）"),
        "unit": _("万元"),
    }

    def section(item: Section) -> dict:
        amounts = [a for row in item.rows for a in (row.contract_amount, row.published) if a is not None]
        large = bool(amounts) and max(amounts) >= YI
        divisor = YI if large else WAN

        def scaled(amount: Decimal | None) -> str | None:
            return None if amount is None else str((amount / divisor).quantize(CENT))

        return {
            "names": in_yi if large else in_wan,
            "labels": [row.label for row in item.rows],
            "contract": [scaled(row.contract_amount) for row in item.rows],
            "tech": [scaled(row.tech_amount) for row in item.rows],
            "published": [scaled(row.published) for row in item.rows] if item.has_published else None,
        }

    return {"sections": {item.name: section(item) for item in sections if item.chart != "none"}}


def _header(item: Section) -> list[str]:
    header = [
        item.key_header,
        _("合同数"),
        _("成交额（元）"),
        _("成交额（万元）"),
        _("技术交易额（元）"),
        _("技术交易额（万元）"),
    ]
    if item.has_published:
        header.append(_("公布成交额（元）"))
    return header


def _cells(item: Section, row: Row) -> list:
    cells = [
        row.label,
        row.count,
        row.contract_amount.quantize(CENT),
        (row.contract_amount / WAN).quantize(Decimal("0.000001")),
        row.tech_amount.quantize(CENT),
        (row.tech_amount / WAN).quantize(Decimal("0.000001")),
    ]
    if item.has_published:
        cells.append(row.published.quantize(CENT) if row.published is not None else None)
    return cells


def _caption(item: Section) -> str:
    if item.year is None:
        return item.title
    return f"{item.title} · {item.year}"


def to_csv(item: Section) -> bytes:
    """UTF-8 with a BOM so that Excel opens it as UTF-8; amounts as plain decimals (no separators)."""
    rows = [_cells(item, row) for row in item.rows]
    if item.chart != "none":
        rows.append(_cells(item, item.total)[:6])
    return spreadsheet.to_csv(_header(item), rows)


def to_xlsx(item: Section) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = item.name[:31]
    sheet.append([_caption(item)])
    sheet["A1"].font = Font(bold=True)
    sheet.append(_header(item))
    for cell in sheet[2]:
        cell.font = Font(bold=True)
    rows = [*item.rows, item.total] if item.chart != "none" else item.rows
    for row in rows:
        cells = _cells(item, row) if row.key != "total" else _cells(item, row)[:6]
        sheet.append([spreadsheet.xlsx_value(cell) for cell in cells])
    for column in ("C", "E", "G"):
        for cell in sheet[column][2:]:
            cell.number_format = "#,##0.00"
    for column in ("D", "F"):
        for cell in sheet[column][2:]:
            cell.number_format = "#,##0.0000"
    sheet.column_dimensions["A"].width = 28
    for column in "BCDEFG":
        sheet.column_dimensions[column].width = 20
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
