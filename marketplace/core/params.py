"""Query arguments are untrusted text: the small parsers every view uses to read them.

A bad value never reaches the database as-is: numbers are bounded before they become SQL
parameters (SQLite refuses integers beyond 64 bits, NUMERIC(18,2) anything past 16 digits) and
text loses control characters (PostgreSQL refuses a NUL byte in a string) and is cut to length.
"""

from __future__ import annotations

import re

# Every C0 control character but tab and newline, and DEL: never part of a search or a name.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
# Longer than any number a query argument carries; parsing longer input is wasted work.
MAX_NUMBER_TEXT = 40


def clean_text(raw: object, max_length: int) -> str | None:
    """``raw`` as a single-line search text: control characters removed, stripped, cut to ``max_length``."""
    if raw is None:
        return None
    text = _CONTROL.sub("", str(raw)[: max_length * 2]).strip()[:max_length].strip()
    return text or None


def int_in(raw: object, low: int, high: int) -> int | None:
    """An integer between ``low`` and ``high``; None for anything else (text, overflow, out of range)."""
    if raw is None or isinstance(raw, bool):
        return None
    text = str(raw).strip()
    if len(text) > MAX_NUMBER_TEXT:
        return None
    try:
        value = int(text)
    except ValueError:
        return None
    return value if low <= value <= high else None


def clamped_int(raw: object, low: int, high: int, default: int) -> int:
    """An integer forced into ``low``..``high``; ``default`` when it is not an integer at all."""
    if raw is None or isinstance(raw, bool):
        return default
    text = str(raw).strip()
    if len(text) > MAX_NUMBER_TEXT:
        # Only digits this long can be an integer: past the top, or (with a sign) past the bottom.
        if text.isdigit():
            return high
        return low if text.startswith("-") and text[1:].isdigit() else default
    try:
        value = int(text)
    except ValueError:
        return default
    return min(max(value, low), high)
