"""GB 32100-2015 unified social credit codes (统一社会信用代码)."""

from __future__ import annotations

import pytest

from marketplace.accounts.uscc import check_character, is_valid_uscc, normalise_uscc, uscc_error

VALID = ("91350100M000100Y43", "911100001000054748")


@pytest.mark.parametrize("code", VALID)
def test_uscc_known_valid_code_passes(code):
    assert uscc_error(code) is None
    assert is_valid_uscc(code)


@pytest.mark.parametrize("code", VALID)
def test_uscc_check_character_known_code_matches_last_character(code):
    assert check_character(code[:17]) == code[17]


@pytest.mark.parametrize(
    "code",
    [
        "91350100M000100Y44",  # last character changed
        "91350100M000100Y4A",
        "911100001000054740",
        "911100001000054749",
    ],
)
def test_uscc_changed_check_character_fails_with_check(code):
    assert uscc_error(code) == "check"
    assert not is_valid_uscc(code)


@pytest.mark.parametrize(
    "code",
    [
        "",
        "9135010",
        "91350100M000100Y4",  # 17
        "91350100M000100Y433",  # 19
        "91350100M000100Y43911100001000054748",
    ],
)
def test_uscc_wrong_length_fails_with_length(code):
    assert uscc_error(code) == "length"


@pytest.mark.parametrize("raw", ["91350100m000100y43", " 91350100M000100Y43 ", "9135 0100 M000 100Y 43"])
def test_uscc_lowercase_or_spaced_input_is_normalised_and_valid(raw):
    assert normalise_uscc(raw) == "91350100M000100Y43"
    assert uscc_error(raw) is None


@pytest.mark.parametrize("letter", ["I", "O", "S", "V", "Z"])
def test_uscc_forbidden_letter_fails_with_charset(letter):
    # Put the letter in the registration-number part, where letters are otherwise allowed.
    code = "91350100" + letter + "000100Y43"
    assert uscc_error(code) == "charset"


@pytest.mark.parametrize("code", ["91350100M000100Y4-", "91350100M000100Y4*", "91350100M00010０Y43"])
def test_uscc_punctuation_or_fullwidth_character_fails_with_charset(code):
    assert uscc_error(code) == "charset"


@pytest.mark.parametrize(
    "code", ["91A50100M000100Y43", "913501X0M000100Y43", "91350100M000100Y43"[:7] + "K" + "M000100Y43"]
)
def test_uscc_non_digit_region_fails_with_region(code):
    assert len(code) == 18
    assert uscc_error(code) == "region"
