"""Listing attachments: PDFs and images only, recognised by their bytes, stored under a random name.

Files live outside the database, so they follow the transaction by hand: a new file is removed if
the transaction rolls back, and a deleted attachment's file is removed only once the delete commits
(also when a listing is deleted with its attachments, through the ORM cascade).
"""

from __future__ import annotations

import io
import os
import secrets
import unicodedata
from functools import partial
from pathlib import Path

from flask import current_app
from flask_babel import gettext as _
from PIL import Image, UnidentifiedImageError
from sqlalchemy import event, func, select
from sqlalchemy.orm import object_session
from werkzeug.datastructures import FileStorage

from marketplace.accounts.permissions import require
from marketplace.core import audit
from marketplace.core.errors import ServiceError
from marketplace.core.transaction import on_commit, on_rollback
from marketplace.extensions import db
from marketplace.listings import permissions
from marketplace.listings.models import Attachment, Listing

MAX_ATTACHMENTS = 10
MAX_FILENAME_CHARS = 120
# Readers look for the trailer in the last KiB (the PDF spec's own allowance for trailing junk).
PDF_EOF_WINDOW = 1024
PDF_TYPE = ("application/pdf", ".pdf")
IMAGE_TYPES = {
    "PNG": ("image/png", ".png"),
    "JPEG": ("image/jpeg", ".jpg"),
    "GIF": ("image/gif", ".gif"),
    "WEBP": ("image/webp", ".webp"),
}
# Extensions a user may already have given the file, per detected type.
KNOWN_EXTENSIONS = {
    "application/pdf": {".pdf"},
    "image/png": {".png"},
    "image/jpeg": {".jpg", ".jpeg", ".jpe"},
    "image/gif": {".gif"},
    "image/webp": {".webp"},
}


def format_size(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size / (1024 * 1024):.1f}".removesuffix(".0") + " MB"


def detect_type(data: bytes) -> tuple[str, str] | None:
    """(content type, extension) from the bytes themselves, or None for anything we do not accept."""
    if data.startswith(b"%PDF-"):
        return PDF_TYPE if b"%%EOF" in data[-PDF_EOF_WINDOW:] else None
    try:
        with Image.open(io.BytesIO(data)) as image:
            image_format = image.format
            image.verify()
    # Pillow reports damaged or foreign input through several exception types.
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError, ValueError):
        return None
    return IMAGE_TYPES.get(image_format or "")


def clean_filename(name: str | None, content_type: str) -> str:
    """The user's file name, kept readable (Chinese included) but safe to show and to send back.

    secure_filename() would turn「检测报告.pdf」into「pdf」, so instead: drop any path the browser
    sent, control and bidi-override characters, leading dots; make the extension match the content.
    """
    name = unicodedata.normalize("NFC", name or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = name.strip().lstrip(".").strip()
    stem, suffix = os.path.splitext(name)
    if suffix.lower() not in KNOWN_EXTENSIONS[content_type]:
        # "photo.png" that is really a JPEG becomes "photo.jpg"; "方案v1.2" becomes "方案v1.2.pdf".
        if not any(suffix.lower() in known for known in KNOWN_EXTENSIONS.values()):
            stem = name
        suffix = _extension_for(content_type)
    stem = stem.strip() or _("附件")
    return stem[: MAX_FILENAME_CHARS - len(suffix)] + suffix


def _extension_for(content_type: str) -> str:
    return next(ext for kind, ext in [PDF_TYPE, *IMAGE_TYPES.values()] if kind == content_type)


def _upload_dir() -> Path:
    return Path(current_app.config["UPLOAD_DIR"])


def _path_of(attachment: Attachment) -> Path:
    directory = _upload_dir().resolve()
    path = (directory / attachment.stored_name).resolve()
    if path.parent != directory:  # stored names are ours, but never let one climb out of the folder
        raise ServiceError(_("附件不存在"), 404)
    return path


def add_attachment(user, listing: Listing, file_storage: FileStorage | None) -> Attachment:
    require(permissions.can_edit(user, listing), _("只有发布方可以上传附件"))
    if file_storage is None or not file_storage.filename:
        raise ServiceError(_("请选择要上传的文件"))
    count = db.session.scalar(select(func.count()).select_from(Attachment).where(Attachment.listing_id == listing.id))
    if count >= MAX_ATTACHMENTS:
        raise ServiceError(_("每条信息最多上传 %(n)d 个附件，请先删除不需要的附件", n=MAX_ATTACHMENTS), 409)

    max_bytes = current_app.config["UPLOAD_MAX_BYTES"]
    data = file_storage.stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ServiceError(_("文件不能超过 %(size)s", size=format_size(max_bytes)), 413)
    if not data:
        raise ServiceError(_("文件是空的，请重新选择"))
    detected = detect_type(data)
    if detected is None:
        raise ServiceError(_("只支持 PDF 或图片文件（PNG/JPEG/GIF/WebP）"), 415)
    content_type, extension = detected

    directory = _upload_dir()
    directory.mkdir(parents=True, exist_ok=True)
    stored_name = secrets.token_hex(16) + extension
    path = directory / stored_name
    on_rollback(partial(_unlink_all, [path]))
    with open(path, "xb") as out:
        out.write(data)

    attachment = Attachment(
        listing_id=listing.id,
        filename=clean_filename(file_storage.filename, content_type),
        stored_name=stored_name,
        content_type=content_type,
        size_bytes=len(data),
        uploaded_by_id=user.id,
    )
    db.session.add(attachment)
    db.session.flush()
    audit.record(
        user,
        "listing.attachment_added",
        listing,
        attachment_id=attachment.id,
        filename=attachment.filename,
        size_bytes=attachment.size_bytes,
    )
    return attachment


def delete_attachment(user, attachment: Attachment) -> None:
    listing = attachment.listing
    require(permissions.can_edit(user, listing), _("只有发布方可以删除附件"))
    audit.record(user, "listing.attachment_deleted", listing, attachment_id=attachment.id, filename=attachment.filename)
    db.session.delete(attachment)
    db.session.flush()


def open_attachment(user, attachment: Attachment) -> Path:
    """The file on disk, for anyone who may see the listing; others get 404, as for the listing."""
    if not permissions.can_view(user, attachment.listing):
        raise ServiceError(_("附件不存在"), 404)
    path = _path_of(attachment)
    if not path.is_file():
        current_app.logger.error("attachment %s: file %s is missing", attachment.id, path)
        raise ServiceError(_("附件文件已丢失，请联系发布方重新上传"), 404)
    return path


def slots_left(listing: Listing) -> int:
    return max(0, MAX_ATTACHMENTS - len(listing.attachments))


@event.listens_for(Attachment, "after_delete")
def _schedule_file_removal(mapper, connection, attachment: Attachment) -> None:
    # Also for attachments deleted with their listing (the ORM cascade), not only by delete_attachment.
    path = _upload_dir() / attachment.stored_name
    on_commit(partial(_unlink_all, [path]), object_session(attachment) or db.session())


def _unlink_all(paths) -> None:
    for path in paths:
        try:
            Path(path).unlink(missing_ok=True)
        except OSError:
            current_app.logger.exception("could not remove attachment file %s", path)
