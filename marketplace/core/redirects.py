"""Redirects that stay on this site: ``next`` arguments and Referer headers are user-controlled."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from flask import request, url_for


def safe_next(url: str | None, default: str | None = None) -> str:
    """``url`` as a same-site path if it points at this host, else ``default`` (the home page).

    An open redirect would let phishing links borrow our domain. Browsers drop tabs/newlines and read
    "\\" as "/", so "/\\t/evil" or "/\\\\evil" would leave the site: anything with those is refused.
    """
    fallback = default or url_for("portal.home")
    if not url or any(char == "\\" or ord(char) < 0x20 or ord(char) == 0x7F for char in url):
        return fallback
    parts = urlsplit(url)
    if parts.scheme or parts.netloc:
        if parts.scheme not in ("http", "https") or parts.netloc.lower() != request.host.lower():
            return fallback
    path = parts.path or "/"
    if not path.startswith("/") or path.startswith("//"):
        return fallback
    return urlunsplit(("", "", path, parts.query, parts.fragment))


def back(default: str | None = None) -> str:
    """Where "go back" leads: the Referer when it is this site, else ``default``."""
    return safe_next(request.referrer, default)
