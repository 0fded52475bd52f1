"""Unified social credit code (统一社会信用代码) validation, GB 32100-2015."""

from __future__ import annotations

# The code alphabet leaves out I, O, S, V and Z so they cannot be mistaken for digits.
ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def check_character(first17: str) -> str:
    total = sum(ALPHABET.index(char) * weight for char, weight in zip(first17, WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def normalise_uscc(value: str) -> str:
    return value.strip().upper().replace(" ", "")


def uscc_error(value: str) -> str | None:
    """None when ``value`` is a well-formed code, else a reason code: length, charset, region or check."""
    code = normalise_uscc(value)
    if len(code) != 18:
        return "length"
    if any(char not in ALPHABET for char in code):
        return "charset"
    if not code[2:8].isdigit():
        return "region"
    if check_character(code[:17]) != code[17]:
        return "check"
    return None


def is_valid_uscc(value: str) -> bool:
    return uscc_error(value) is None
