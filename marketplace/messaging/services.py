"""Inquiries: a signed-in user asks a listing's owner; both see the thread in their message centre."""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import and_, func, or_, select

from marketplace.accounts.permissions import require
from marketplace.core import audit
from marketplace.core.errors import ServiceError
from marketplace.core.links import path_for
from marketplace.core.models import utcnow
from marketplace.extensions import db
from marketplace.listings import permissions as listing_permissions
from marketplace.listings.models import Listing
from marketplace.messaging.models import InquiryMessage, InquiryThread
from marketplace.notifications.services import notify

MAX_MESSAGE_LENGTH = 5000
EXCERPT_LENGTH = 60


def clean_body(body: str) -> str:
    body = (body or "").strip()
    if not body:
        raise ServiceError(_("请输入咨询内容"))
    if len(body) > MAX_MESSAGE_LENGTH:
        raise ServiceError(_("内容不能超过 %(n)d 个字符", n=MAX_MESSAGE_LENGTH))
    return body


def send_inquiry(user, listing: Listing, body: str) -> InquiryThread:
    """Start (or continue) the user's thread about ``listing`` with its owner."""
    require(user.is_authenticated and listing.is_published and listing_permissions.can_view(user, listing))
    if listing.owner_id is None:
        raise ServiceError(_("该信息由平台导入，暂无在线联系人，请通过页面上的联系方式沟通"))
    if listing_permissions.is_owner_side(user, listing):
        raise ServiceError(_("不能咨询自己发布的信息"))
    body = clean_body(body)
    thread = db.session.scalar(
        select(InquiryThread).where(InquiryThread.listing_id == listing.id, InquiryThread.asker_id == user.id)
    )
    if thread is None:
        thread = InquiryThread(listing=listing, asker_id=user.id, owner_id=listing.owner_id, subject=listing.title)
        db.session.add(thread)
    _add_message(thread, user, body)
    db.session.flush()
    audit.record(user, "inquiry.sent", thread, listing_id=listing.id)
    notify(
        thread.owner,
        "inquiry_received",
        link=path_for("messaging.thread", thread_id=thread.id),
        sender=user.name,
        title=listing.title,
        excerpt=body[:EXCERPT_LENGTH],
    )
    return thread


def reply(user, thread: InquiryThread, body: str) -> InquiryMessage:
    require(thread.involves(user))
    message = _add_message(thread, user, clean_body(body))
    notify(
        thread.other_party(user),
        "inquiry_reply",
        link=path_for("messaging.thread", thread_id=thread.id),
        sender=user.name,
        title=thread.subject,
        excerpt=message.body[:EXCERPT_LENGTH],
    )
    return message


def _add_message(thread: InquiryThread, sender, body: str) -> InquiryMessage:
    now = utcnow()
    message = InquiryMessage(thread=thread, sender_id=sender.id, body=body, created_at=now)
    db.session.add(message)
    thread.last_message_at = now
    _mark_read_at(thread, sender, now)
    return message


def _mark_read_at(thread: InquiryThread, user, when) -> None:
    if user.id == thread.asker_id:
        thread.asker_read_at = when
    if user.id == thread.owner_id:
        thread.owner_read_at = when


def mark_thread_read(user, thread: InquiryThread) -> None:
    require(thread.involves(user))
    _mark_read_at(thread, user, utcnow())


def threads_for(user):
    return (
        select(InquiryThread)
        .where(or_(InquiryThread.asker_id == user.id, InquiryThread.owner_id == user.id))
        .order_by(InquiryThread.last_message_at.desc())
    )


def _unread_condition(user):
    return or_(
        and_(
            InquiryThread.asker_id == user.id,
            or_(InquiryThread.asker_read_at.is_(None), InquiryThread.asker_read_at < InquiryThread.last_message_at),
        ),
        and_(
            InquiryThread.owner_id == user.id,
            or_(InquiryThread.owner_read_at.is_(None), InquiryThread.owner_read_at < InquiryThread.last_message_at),
        ),
    )


def unread_thread_count(user) -> int:
    return db.session.scalar(select(func.count()).select_from(InquiryThread).where(_unread_condition(user))) or 0


def is_unread(user, thread: InquiryThread) -> bool:
    read_at = thread.asker_read_at if user.id == thread.asker_id else thread.owner_read_at
    return read_at is None or read_at < thread.last_message_at
