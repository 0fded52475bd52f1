"""Work done outside a web request (the worker, commands) still builds links and sends mail."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import current_app, has_request_context


@contextmanager
def on_public_site() -> Iterator[None]:
    """A request context on PUBLIC_URL, so ``url_for`` works and mailed links are absolute."""
    if has_request_context():
        yield
        return
    with current_app.test_request_context(base_url=current_app.config["PUBLIC_URL"]):
        yield
