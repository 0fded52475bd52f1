"""The one place that says what a valid listing is.

``clean_listing`` turns raw values — from a web form, an interchange-format line or the API —
into model values, or a dict of field -> user-facing error. The form, the importer and the API
all call it, so a rule changes in one place.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from flask_babel import gettext as _

from marketplace.core import taxonomy
from marketplace.core.money import MoneyError, parse_money
from marketplace.listings.models import ListingKind

COMMON_FIELDS = (
    "title",
    "summary",
    "description",
    "keywords",
    "industry",
    "district",
    "cooperation_modes",
    "contact_name",
    "contact_phone",
)
KIND_FIELDS = {
    ListingKind.ACHIEVEMENT: ("trl", "ip_type", "patent_numbers", "price_cny"),
    ListingKind.DEMAND: ("min_trl", "budget_min_cny", "budget_max_cny", "deadline", "challenge", "bounty_cny"),
}
REQUIRED = {
    ListingKind.ACHIEVEMENT: ("title", "summary", "industry"),
    ListingKind.DEMAND: ("title", "description", "industry"),
}
MAX_LENGTHS = {"title": 200, "summary": 2000, "description": 20000, "contact_name": 80, "contact_phone": 30}
MAX_KEYWORDS = 20


def editable_fields(kind: str) -> tuple[str, ...]:
    return COMMON_FIELDS + KIND_FIELDS[ListingKind(kind)]


@dataclass
class Cleaned:
    values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


def _text(raw: Any) -> str | None:
    if raw is None:
        return None
    text = str(raw).strip()
    return text or None


def _string_list(raw: Any) -> list[str]:
    if raw is None or raw == "":
        return []
    if isinstance(raw, str):
        # Forms send keywords as one line: accept Chinese and Western separators alike.
        for separator in "，、；;\n":
            raw = raw.replace(separator, ",")
        raw = raw.split(",")
    if not isinstance(raw, list | tuple):
        raise ValueError
    items: list[str] = []
    for item in raw:
        text = _text(item)
        if text and text not in items:
            items.append(text)
    return items


def _trl(raw: Any) -> int | None:
    """A whole number 1–9 from an int, an integral float (JSON ``7.0``) or text; anything else,
    NaN, infinities and numbers too large for a float included, raises ValueError."""
    if raw is None or raw == "":
        return None
    if isinstance(raw, bool):
        raise ValueError
    if isinstance(raw, float):
        if not math.isfinite(raw) or not raw.is_integer():
            raise ValueError
        value = int(raw)
    elif isinstance(raw, int):
        value = raw
    else:
        text = str(raw).strip()
        if len(text) > 20:
            raise ValueError
        try:
            value = int(text)
        except ValueError:
            number = float(text)  # "7.0" is 7; "nan", "inf" and "1e309" fail the check below
            if not math.isfinite(number) or not number.is_integer():
                raise ValueError from None
            value = int(number)
    if not 1 <= value <= 9:
        raise ValueError
    return value


def _date(raw: Any) -> date | None:
    if raw is None or raw == "":
        return None
    if isinstance(raw, datetime):
        return raw.date()
    if isinstance(raw, date):
        return raw
    return date.fromisoformat(str(raw).strip()[:10])


def _bool(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    if raw is None or raw == "":
        return False
    if str(raw).strip().lower() in {"true", "1", "yes", "y", "on"}:
        return True
    if str(raw).strip().lower() in {"false", "0", "no", "n", "off"}:
        return False
    raise ValueError


def clean_listing(kind: str, raw: dict[str, Any], partial: bool = False) -> Cleaned:
    """Validate ``raw`` for a listing of ``kind``. With ``partial``, absent fields are left out, not required."""
    result = Cleaned()
    kind = ListingKind(kind)
    for name in editable_fields(kind):
        if partial and name not in raw:
            continue
        try:
            result.values[name] = _clean_field(name, raw.get(name))
        except _FieldError as error:
            result.errors[name] = error.message
    for name in REQUIRED[kind]:
        if (not partial or name in raw) and name not in result.errors and not result.values.get(name):
            result.errors[name] = _("此项为必填项")
    _check_ranges(result)
    return result


class _FieldError(Exception):
    def __init__(self, message: str):
        self.message = message


def _clean_field(name: str, raw: Any) -> Any:
    if name in ("keywords", "patent_numbers"):
        try:
            items = _string_list(raw)
        except ValueError:
            raise _FieldError(_("应为字符串列表")) from None
        if name == "keywords" and len(items) > MAX_KEYWORDS:
            raise _FieldError(_("关键词最多 %(n)d 个", n=MAX_KEYWORDS))
        return items
    if name == "cooperation_modes":
        try:
            modes = _string_list(raw)
        except ValueError:
            raise _FieldError(_("应为合作方式代码列表")) from None
        unknown = [mode for mode in modes if mode not in taxonomy.COOPERATION_MODES]
        if unknown:
            raise _FieldError(_("未知的合作方式：%(codes)s", codes="、".join(unknown)))
        return modes
    if name == "industry":
        code = _text(raw)
        if code and code not in taxonomy.INDUSTRIES:
            raise _FieldError(_("未知的产业领域代码：%(code)s", code=code))
        return code
    if name == "district":
        text = _text(raw)
        code = taxonomy.normalise_district(text)
        if text and code is None:
            raise _FieldError(_("未知的区市：%(name)s", name=text))
        return code
    if name == "ip_type":
        code = _text(raw)
        if code and code not in taxonomy.IP_TYPES:
            raise _FieldError(_("未知的知识产权类型：%(code)s", code=code))
        return code
    if name in ("trl", "min_trl"):
        try:
            return _trl(raw)
        except (TypeError, ValueError):
            raise _FieldError(_("技术成熟度应为 1–9 的整数")) from None
    if name.endswith("_cny"):
        try:
            return parse_money(raw)
        except MoneyError as error:
            raise _FieldError(str(error)) from None
    if name == "deadline":
        try:
            return _date(raw)
        except (TypeError, ValueError):
            raise _FieldError(_("日期格式应为 YYYY-MM-DD")) from None
    if name == "challenge":
        try:
            return _bool(raw)
        except ValueError:
            raise _FieldError(_("应为 true 或 false")) from None
    text = _text(raw)
    limit = MAX_LENGTHS.get(name)
    if text and limit and len(text) > limit:
        raise _FieldError(_("不能超过 %(n)d 个字符", n=limit))
    return text


def _check_ranges(result: Cleaned) -> None:
    low, high = result.values.get("budget_min_cny"), result.values.get("budget_max_cny")
    if low is not None and high is not None and low > high and "budget_max_cny" not in result.errors:
        result.errors["budget_max_cny"] = _("预算上限不能低于下限")
    if result.values.get("bounty_cny") is not None and not result.values.get("challenge"):
        if "challenge" in result.values:
            result.errors.setdefault("bounty_cny", _("只有揭榜挂帅需求可以设置榜单金额"))
