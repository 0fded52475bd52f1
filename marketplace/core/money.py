"""Money: Decimal in, Decimal stored (NUMERIC(18,2)), one rule for showing it to Chinese users."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from flask_babel import gettext as _

CENT = Decimal("0.01")
WAN = Decimal(10_000)
YI = Decimal(100_000_000)
MAX_AMOUNT = Decimal("9999999999999999.99")


class MoneyError(ValueError):
    pass


def parse_money(value: object) -> Decimal | None:
    """Parse yuan from a JSON number, a decimal string or a Decimal; None/'' mean 面议.

    Floats are converted through ``str`` so that 0.1 stays 0.10, not 0.1000000000000000055.
    """
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise MoneyError(_("金额格式不正确"))
    text = str(value).strip().replace(",", "")
    if len(text) > 40:  # longer than any amount NUMERIC(18,2) holds, however it is written
        raise MoneyError(_("金额超出范围"))
    try:
        amount = Decimal(text)
    except InvalidOperation as exc:
        raise MoneyError(_("金额格式不正确")) from exc
    if not amount.is_finite():  # NaN, Infinity (JSON allows them as Python reads it)
        raise MoneyError(_("金额格式不正确"))
    if amount < 0:
        raise MoneyError(_("金额不能为负数"))
    if amount > MAX_AMOUNT:
        raise MoneyError(_("金额超出范围"))
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def _trim(amount: Decimal) -> str:
    text = f"{amount:,.2f}".rstrip("0").rstrip(".")
    return text


def format_money(amount: Decimal | int | None, negotiable: str | None = None) -> str:
    """元 below 1 万, 万元 below 1 亿, 亿元 above; None shows as 面议."""
    if amount is None:
        return negotiable if negotiable is not None else _("面议")
    amount = Decimal(amount)
    wan = (amount / WAN).quantize(CENT, rounding=ROUND_HALF_UP)
    # Compare after rounding: 99,999,999元 rounds to 10,000.00万, which reads as 1亿元.
    if wan >= YI / WAN:
        return _("%(n)s亿元", n=_trim((amount / YI).quantize(CENT, rounding=ROUND_HALF_UP)))
    if amount >= WAN:
        return _("%(n)s万元", n=_trim(wan))
    return _("%(n)s元", n=_trim(amount.quantize(CENT, rounding=ROUND_HALF_UP)))


def format_money_range(low: Decimal | None, high: Decimal | None) -> str:
    if low is None and high is None:
        return _("面议")
    if low is None:
        return _("不超过%(amount)s", amount=format_money(high))
    if high is None:
        return _("%(amount)s起", amount=format_money(low))
    if low == high:
        return format_money(low)
    return f"{format_money(low)} – {format_money(high)}"
