"""Routes for listing attachments, on the listings blueprint: upload, download, delete."""

from __future__ import annotations

from flask import flash, redirect, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from marketplace.core.actions import perform
from marketplace.extensions import db
from marketplace.listings import attachments
from marketplace.listings.forms import AttachmentForm
from marketplace.listings.models import Attachment
from marketplace.listings.views import bp, editable_listing_or_403, get_listing_or_404
from marketplace.uploads.download import send_upload


def _back_to(listing_id: int):
    return redirect(url_for(".detail", listing_id=listing_id, _anchor="attachments"))


@bp.app_template_filter("filesize")
def filesize(size: int | None) -> str:
    return attachments.format_size(size or 0)


@bp.app_template_global()
def attachment_slots_left(listing) -> int:
    return attachments.slots_left(listing)


@bp.route("/listings/<int:listing_id>/attachments", methods=["POST"])
@login_required
def upload_attachment(listing_id: int):
    listing = editable_listing_or_403(listing_id)
    form = AttachmentForm()
    if not form.validate_on_submit():
        for errors in form.errors.values():
            for message in errors:
                flash(message, "danger")
        return _back_to(listing_id)
    perform(
        lambda: attachments.add_attachment(current_user, listing, form.file.data),
        lambda attachment: _("已上传附件「%(name)s」", name=attachment.filename),
    )
    return _back_to(listing_id)


@bp.route("/attachments/<int:attachment_id>")
def download_attachment(attachment_id: int):
    attachment = db.get_or_404(Attachment, attachment_id)
    attachments.check_can_download(current_user, attachment)
    return send_upload(
        attachment.stored_name,
        attachment.filename,
        attachment.content_type,
        private=not attachment.listing.is_published,
        missing_message=_("附件文件已丢失，请联系发布方重新上传"),
    )


@bp.route("/attachments/<int:attachment_id>/delete", methods=["POST"])
@login_required
def delete_attachment(attachment_id: int):
    attachment = db.get_or_404(Attachment, attachment_id)
    listing_id = get_listing_or_404(attachment.listing_id).id
    name = attachment.filename
    attachments.delete_attachment(current_user, attachment)  # PermissionDenied -> 403 page
    db.session.commit()
    flash(_("已删除附件「%(name)s」", name=name), "success")
    return _back_to(listing_id)
