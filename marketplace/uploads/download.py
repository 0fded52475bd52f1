"""Sending a stored upload back to a browser, with headers that keep it a download.

The caller has already decided the user may have the file (its own object check); this only sends
it. The bytes were checked on upload, but a polyglot file must still never run as a page here: the
type is never sniffed, only images are shown inline, and what is shown runs sandboxed.
"""

from __future__ import annotations

import hashlib
import os
import unicodedata
from urllib.parse import quote

from flask import Response, current_app, request, send_file
from flask_babel import gettext as _
from werkzeug.exceptions import RequestedRangeNotSatisfiable

from marketplace.core.errors import ServiceError
from marketplace.uploads.checks import IMAGES
from marketplace.uploads.storage import open_stored

INLINE_TYPES = frozenset(kind.content_type for kind in IMAGES)


def content_disposition(disposition: str, filename: str) -> str:
    """``attachment; filename="…"; filename*=UTF-8''…`` (RFC 6266 / RFC 5987).

    Browsers use the UTF-8 ``filename*``; the plain ``filename`` is an ASCII stand-in for old
    clients (「检测报告.pdf」 becomes "download.pdf", not ".pdf").
    """
    stem, extension = (_ascii(part) for part in os.path.splitext(filename))
    fallback = (stem.strip() or "download") + extension
    return f"{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def _ascii(text: str) -> str:
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return "".join(ch for ch in text if ch.isprintable() and ch not in '"\\;')


def send_upload(
    key: str,
    download_name: str,
    content_type: str,
    *,
    private: bool = True,
    missing_message: str | None = None,
) -> Response:
    """The stored file ``key`` as a response: inline only for images, otherwise a download.

    ``private`` keeps shared caches from storing it (anything not public). A missing file is a 404
    with ``missing_message`` for the user, and an error in the log for us.
    """
    try:
        stored = open_stored(key)
    except FileNotFoundError:
        current_app.logger.error("uploaded file %s is missing", key)
        raise ServiceError(missing_message or _("文件已丢失，请联系上传者重新上传"), 404) from None
    # Stored files never change (a new upload gets a new key), so the key is a sound ETag.
    etag = hashlib.sha256(key.encode()).hexdigest()[:32]
    response = send_file(stored, mimetype=content_type, etag=etag, conditional=False)
    size, modified = _size_and_mtime(stored)
    if size is not None:
        response.content_length = size
        response.last_modified = modified
        try:  # what send_file does itself when it is given a path: 304s and byte ranges (PDF viewers)
            response = response.make_conditional(request.environ, accept_ranges=True, complete_length=size)
        except RequestedRangeNotSatisfiable:
            stored.close()
            raise
    disposition = "inline" if content_type in INLINE_TYPES else "attachment"
    response.headers["Content-Disposition"] = content_disposition(disposition, download_name)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "sandbox"
    if private:
        response.cache_control.private = True
    return response


def _size_and_mtime(stored) -> tuple[int | None, float | None]:
    try:
        stat = os.fstat(stored.fileno())
    except (AttributeError, OSError, ValueError):  # a stream from an object store may not know them
        return None, None
    return stat.st_size, stat.st_mtime
