"""The English catalogue is complete, compiled, and actually used.

Every user-facing string is a Chinese msgid; marketplace/translations/en/LC_MESSAGES/messages.po
must translate all of them. Adding a string without translating it fails here: run
`make translations` and fill in the new entries.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po
from babel.support import Translations

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = PROJECT_ROOT / "marketplace" / "translations"
PO_PATH = TRANSLATIONS / "en" / "LC_MESSAGES" / "messages.po"
MO_PATH = TRANSLATIONS / "en" / "LC_MESSAGES" / "messages.mo"

# Same method map as babel.cfg; same keywords as the Makefile's `translations` target.
METHOD_MAP = [
    ("marketplace/**.py", "python"),
    ("templates/**.html", "jinja2.ext:babel_extract"),
]
KEYWORDS = {
    **DEFAULT_KEYWORDS,
    "_l": None,
    "lazy_gettext": None,
    "lazy_ngettext": (1, 2),
    "lazy_pgettext": ((1, "c"), 2),
}
PLACEHOLDER = re.compile(r"%\(\w+\)[-#0 +]*\d*(?:\.\d+)?[sdifr]")
CJK_OR_FULLWIDTH = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]")


def _msgid(message_id) -> str:
    return message_id[0] if isinstance(message_id, tuple) else message_id


def _text(value) -> str:
    """A msgid or msgstr as one string (plural forms joined), for pattern checks."""
    if isinstance(value, (tuple, list)):
        return "\n".join(part or "" for part in value)
    return value or ""


@pytest.fixture(scope="module")
def source_msgids() -> dict[str, str]:
    """msgid -> first place it is used, extracted from the code as it is now."""
    found: dict[str, str] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        str(PROJECT_ROOT), METHOD_MAP, keywords=KEYWORDS
    ):
        msgid = _msgid(message)
        if msgid:
            found.setdefault(msgid, f"{filename}:{lineno}")
    return found


@pytest.fixture(scope="module")
def catalog():
    with PO_PATH.open("rb") as po_file:
        return read_po(po_file, locale="en")


def _entries(catalog):
    return [m for m in catalog if m.id]


def test_extraction_finds_the_ui_strings(source_msgids):
    # Guard against a method map that silently matches nothing (and so checks nothing).
    assert "科技成果" in source_msgids  # templates and lazy_gettext labels
    assert "请先登录" in source_msgids  # Python gettext


def test_every_msgid_has_an_english_translation(source_msgids, catalog):
    translated = {
        _msgid(m.id): m.string
        for m in _entries(catalog)
        if m.string and (not isinstance(m.string, (tuple, list)) or all(m.string))
    }
    missing = sorted(msgid for msgid in source_msgids if msgid not in translated)
    assert not missing, (
        f"{len(missing)} message(s) have no English translation in {PO_PATH.relative_to(PROJECT_ROOT)}.\n"
        "Run `make translations` and translate them:\n"
        + "\n".join(f"  {msgid!r}  ({source_msgids[msgid]})" for msgid in missing)
    )


def test_no_entry_is_fuzzy_or_left_in_chinese(catalog):
    fuzzy = [m.id for m in _entries(catalog) if m.fuzzy]
    assert not fuzzy, f"fuzzy entries are ignored at runtime; review and unflag them: {fuzzy}"
    untranslated = [m.id for m in _entries(catalog) if CJK_OR_FULLWIDTH.search(_text(m.string))]
    assert not untranslated, f"English strings with Chinese text or full-width punctuation: {untranslated}"


def test_translations_keep_placeholders(catalog):
    wrong = [
        (m.id, m.string)
        for m in _entries(catalog)
        if m.string and set(PLACEHOLDER.findall(_text(m.id))) != set(PLACEHOLDER.findall(_text(m.string)))
    ]
    assert not wrong, "placeholders differ between msgid and translation:\n" + "\n".join(
        f"  {msgid!r} -> {string!r}" for msgid, string in wrong
    )


def test_translations_are_safe_as_markup(catalog):
    # Flask-Babel's newstyle gettext marks translations safe in templates, and several are used
    # inside double-quoted attributes (data-confirm="..."); these characters would break the page.
    unsafe = [
        (m.id, m.string)
        for m in _entries(catalog)
        if any(ch in _text(m.string) and ch not in _text(m.id) for ch in '"<>&')
    ]
    assert not unsafe, f"use ' instead of \" and avoid <, >, & in translations: {unsafe}"


def test_compiled_catalogue_matches_po(catalog):
    assert MO_PATH.exists(), "messages.mo is missing: run `make translations`"
    with MO_PATH.open("rb") as mo_file:
        compiled = Translations(mo_file)
    stale = []
    for m in _entries(catalog):
        if not m.string:
            continue
        if isinstance(m.id, tuple):
            forms = [compiled.ngettext(m.id[0], m.id[1], n) for n in (1, 2)]
            if forms != list(m.string[:2]):
                stale.append(m.id)
        elif m.context is not None:
            if compiled.pgettext(m.context, m.id) != m.string:
                stale.append((m.context, m.id))
        elif compiled.gettext(m.id) != m.string:
            stale.append(m.id)
    assert not stale, f"messages.mo is out of date with messages.po (run `make translations`): {stale[:20]}"


def test_english_ui_via_query_parameter(client):
    page = client.get("/achievements?lang=en").get_data(as_text=True)
    assert "Technology achievements" in page
    assert "Log in" in page
    assert "登录" not in page


def test_default_language_is_chinese(client):
    page = client.get("/achievements").get_data(as_text=True)
    assert "登录" in page
    assert "科技成果" in page
    assert "Log in" not in page


def test_language_switch_is_kept_in_the_session(client):
    response = client.get("/lang/en")
    assert response.status_code == 302

    page = client.get("/achievements").get_data(as_text=True)
    assert "Technology achievements" in page
    assert "登录" not in page

    client.get("/lang/zh_CN")
    page = client.get("/achievements").get_data(as_text=True)
    assert "登录" in page
    assert "Technology achievements" not in page


def test_english_money_keeps_the_unit_scale(app):
    from decimal import Decimal

    from flask_babel import force_locale

    from marketplace.core.money import format_money, format_money_range

    with app.test_request_context("/?lang=en"), force_locale("en"):
        assert format_money(Decimal("8000")) == "¥8,000"
        assert format_money(Decimal("1500000")) == "¥150 × 10,000"
        assert format_money(Decimal("250000000")) == "¥2.5 × 100 million"
        assert format_money(None) == "Negotiable"
        assert format_money_range(None, Decimal("500000")) == "Up to ¥50 × 10,000"
