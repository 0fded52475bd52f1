"""Highlighting on the original text, shared by every backend.

Indexed text is segmented and stripped of punctuation, so a backend's own highlighter would show
users that form ("b 耐腐蚀 b"). Instead the matched terms are marked in the text the user wrote.
Output is escaped HTML whose only tags are <mark> and </mark>.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable

SNIPPET_CHARS = 90


def _pattern(terms: Iterable[str]) -> re.Pattern[str] | None:
    # Longest first so that 海藻酸盐 wins over 海藻 where both matched.
    unique = sorted({term for term in terms if term and term.strip()}, key=len, reverse=True)
    if not unique:
        return None
    return re.compile("|".join(re.escape(term) for term in unique), re.IGNORECASE)


def _mark(text: str, pattern: re.Pattern[str]) -> str:
    pieces, last = [], 0
    for found in pattern.finditer(text):
        pieces.append(html.escape(text[last : found.start()]))
        pieces.append(f"<mark>{html.escape(found.group(0))}</mark>")
        last = found.end()
    pieces.append(html.escape(text[last:]))
    return "".join(pieces)


def highlight(text: str | None, terms: Iterable[str]) -> str | None:
    """The whole text with every term marked, or None when no term occurs in it."""
    pattern = _pattern(terms)
    if not text or pattern is None or not pattern.search(text):
        return None
    return _mark(text, pattern)


def snippet(texts: Iterable[str | None], terms: Iterable[str], width: int = SNIPPET_CHARS) -> str | None:
    """A window of about ``width`` characters around the first match in the first text that has one."""
    pattern = _pattern(terms)
    if pattern is None:
        return None
    for text in texts:
        if not text:
            continue
        found = pattern.search(text)
        if found is None:
            continue
        start = max(0, found.start() - width // 3)
        end = min(len(text), start + width)
        window = _mark(text[start:end], pattern)
        return ("…" if start else "") + window + ("…" if end < len(text) else "")
    return None


def document_highlights(document: dict, terms: list[str]) -> dict[str, str]:
    """{"title": …, "snippet": …} for a hit, each present only where a term occurs."""
    highlights = {}
    title = highlight(document.get("title"), terms)
    if title:
        highlights["title"] = title
    body = snippet(
        (document.get("summary"), document.get("description"), " ".join(document.get("keywords") or [])), terms
    )
    if body:
        highlights["snippet"] = body
    return highlights
