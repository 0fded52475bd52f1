"""Listing attachments: PDFs and images only, recognised by their bytes, stored under a random name.

The checks, the storage that follows the transaction and the download headers are the uploads
feature's; this module keeps what is particular to listings: who may add, delete and download, the
limit of ten per listing, the audit trail, and the row that points at the stored file.
"""

from __future__ import annotations

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import event, func, select
from sqlalchemy.orm import object_session
from werkzeug.datastructures import FileStorage

from marketplace.accounts.permissions import require
from marketplace.core import audit
from marketplace.core.errors import ServiceError
from marketplace.extensions import db
from marketplace.listings import permissions
from marketplace.listings.models import Attachment, Listing
from marketplace.uploads import checks, references, storage
from marketplace.uploads.checks import MAX_FILENAME_CHARS, clean_filename, format_size  # noqa: F401  (re-exported)

MAX_ATTACHMENTS = 10
ACCEPTED_KINDS = (checks.PDF, *checks.IMAGES)
# Files of attachments stored before uploads had areas sit at the top of UPLOAD_DIR; their keys still work.
AREA = "listings"

references.track(Attachment.stored_name)


def add_attachment(user, listing: Listing, file_storage: FileStorage | None) -> Attachment:
    require(permissions.can_edit(user, listing), _("只有发布方可以上传附件"))
    if file_storage is None or not file_storage.filename:
        raise ServiceError(_("请选择要上传的文件"))
    count = db.session.scalar(select(func.count()).select_from(Attachment).where(Attachment.listing_id == listing.id))
    if count >= MAX_ATTACHMENTS:
        raise ServiceError(_("每条信息最多上传 %(n)d 个附件，请先删除不需要的附件", n=MAX_ATTACHMENTS), 409)

    upload = checks.check_upload(
        file_storage,
        ACCEPTED_KINDS,
        max_bytes=current_app.config["UPLOAD_MAX_BYTES"],
        refused_message=_("只支持 PDF 或图片文件（PNG/JPEG/GIF/WebP）"),
    )
    attachment = Attachment(
        listing_id=listing.id,
        filename=upload.filename,
        stored_name=storage.store(AREA, upload.data, upload.kind.extension),
        content_type=upload.content_type,
        size_bytes=upload.size,
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


def check_can_download(user, attachment: Attachment) -> None:
    """Anyone who may see the listing may download its attachments; others get 404, as for the listing."""
    if not permissions.can_view(user, attachment.listing):
        raise ServiceError(_("附件不存在"), 404)


def slots_left(listing: Listing) -> int:
    return max(0, MAX_ATTACHMENTS - len(listing.attachments))


@event.listens_for(Attachment, "after_delete")
def _schedule_file_removal(mapper, connection, attachment: Attachment) -> None:
    # Also for attachments deleted with their listing (the ORM cascade), not only by delete_attachment.
    storage.delete_after_commit(attachment.stored_name, object_session(attachment) or db.session())
