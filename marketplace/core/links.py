"""Links to the site's pages from code that runs without a request (services, the worker, mail).

``path_for`` builds a path from the URL map alone, so a service or a background job never needs a
(fake) request context; ``public_url`` makes it absolute on PUBLIC_URL, for mail read off-site.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app


def path_for(endpoint: str, **values) -> str:
    """The path of ``endpoint`` (``url_for`` without a request; ``_anchor`` is supported)."""
    anchor = values.pop("_anchor", None)
    script_name = urlsplit(current_app.config["PUBLIC_URL"]).path.rstrip("/") or "/"
    adapter = current_app.url_map.bind("", script_name=script_name)
    path = adapter.build(endpoint, values)
    return f"{path}#{anchor}" if anchor else path


def public_url(path: str) -> str:
    if path.startswith(("http://", "https://")):
        return path
    base = current_app.config["PUBLIC_URL"]
    parts = urlsplit(base)
    return f"{parts.scheme}://{parts.netloc}{path}"
