"""Documents on a deal's timeline (proposals, NDAs, draft contracts): checked by their bytes, stored
under a random key, downloaded only by those who may see the deal."""

from __future__ import annotations

from flask import current_app
from flask_babel import gettext as _
from werkzeug.datastructures import FileStorage

from marketplace.accounts.permissions import require
from marketplace.core import audit
from marketplace.core.errors import ServiceError
from marketplace.deals import permissions, services
from marketplace.deals.models import Deal, DealEvent, DealEventKind
from marketplace.uploads import checks, references, storage

AREA = "deals"
# PDF, images and spreadsheets: what the uploads module recognises by content today.
ACCEPTED_KINDS = (checks.PDF, *checks.IMAGES, checks.XLSX)

references.track(DealEvent.upload_key)


def add_document(user, deal: Deal, file_storage: FileStorage | None) -> DealEvent:
    require(permissions.can_talk(user, deal), _("只有本撮合的经纪人、对接双方或管理员可以上传文件"))
    upload = checks.check_upload(
        file_storage,
        ACCEPTED_KINDS,
        max_bytes=current_app.config["UPLOAD_MAX_BYTES"],
        refused_message=_("只支持 PDF、图片（PNG/JPEG/GIF/WebP）或 Excel（XLSX）文件"),
    )
    key = storage.store(AREA, upload.data, upload.kind.extension)
    event = services.add_event(
        deal, user, DealEventKind.DOCUMENT, content_type=upload.content_type, size_bytes=upload.size
    )
    event.upload_key, event.filename = key, upload.filename
    audit.record(user, "deal.document_added", deal, filename=upload.filename, size_bytes=upload.size)
    services.notify_others(deal, user, "deal_document", sender=user.name, filename=upload.filename)
    return event


def document_for_download(user, event: DealEvent) -> DealEvent:
    """The document, if ``user`` may see its deal; otherwise 404, as for the deal itself."""
    if event.kind != DealEventKind.DOCUMENT or not event.upload_key or not permissions.can_view(user, event.deal):
        raise ServiceError(_("文件不存在"), 404)
    if event.deal.broker_id is None and not permissions.can_talk(user, event.deal):
        raise ServiceError(_("文件不存在"), 404)  # a broker browsing the pool sees the lead, not its files
    return event


def documents(deal: Deal) -> list[DealEvent]:
    return [event for event in deal.events if event.kind == DealEventKind.DOCUMENT]
