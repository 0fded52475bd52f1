"""Notify users: an in-app notification row, plus an email sent only once the transaction commits."""

from __future__ import annotations

from functools import partial
from typing import Any

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update

from marketplace.core.links import public_url
from marketplace.core.models import utcnow
from marketplace.core.transaction import on_commit
from marketplace.extensions import db
from marketplace.notifications.mail import send_mail
from marketplace.notifications.models import Notification

# Every notification the platform sends; parameters are filled in when the reader opens it.
MESSAGES = {
    "listing_submitted": _l("「%(title)s」已提交，等待审核。"),
    "listing_approved": _l("您发布的「%(title)s」已通过审核，现已公开。"),
    "listing_rejected": _l("您发布的「%(title)s」未通过审核。原因：%(reason)s"),
    "revision_approved": _l("您对「%(title)s」的修改已通过审核并生效。"),
    "revision_rejected": _l("您对「%(title)s」的修改未通过审核，公开的仍是原版本。原因：%(reason)s"),
    "inquiry_received": _l("%(sender)s 就「%(title)s」向您咨询：%(excerpt)s"),
    "inquiry_reply": _l("%(sender)s 回复了关于「%(title)s」的咨询：%(excerpt)s"),
    "challenge_application": _l("%(team)s 申请揭榜「%(title)s」。"),
    "application_shortlisted": _l("您对「%(title)s」的揭榜申请已入围。"),
    "application_won": _l("恭喜！您成功揭榜「%(title)s」。"),
    "application_not_selected": _l("您对「%(title)s」的揭榜申请未入选。"),
    "application_withdrawn": _l("%(team)s 撤回了对「%(title)s」的揭榜申请。"),
    "organisation_verified": _l("您的机构「%(name)s」已通过平台认证。"),
    "organisation_rejected": _l("您的机构「%(name)s」认证未通过。原因：%(reason)s"),
    "role_granted": _l("管理员已将您的角色设置为：%(role)s。"),
    "strong_match_achievement": _l("新发布的科技成果「%(title)s」与您的需求「%(mine)s」高度匹配（%(score)s 分）。"),
    "strong_match_demand": _l("新发布的技术需求「%(title)s」与您的成果「%(mine)s」高度匹配（%(score)s 分）。"),
    "matches_found": _l("「%(title)s」已匹配到 %(count)s 条高度相关的信息，去看看吧。"),
    "saved_search_results": _l("您订阅的搜索「%(name)s」有 %(count)s 条新结果：%(titles)s"),
    "contract_link_proposed": _l("登记的技术合同「%(title)s」（%(no)s）与您的撮合「%(deal)s」双方一致，是否关联？"),
    "broker_applied": _l("%(name)s 申请认证为技术经纪人，请审核。"),
    "broker_certified": _l("您已通过技术经纪人认证，可以认领和推进撮合。"),
    "broker_rejected": _l("您的技术经纪人认证申请未通过。原因：%(reason)s"),
    "broker_suspended": _l("您的技术经纪人资格已暂停。原因：%(reason)s"),
    "broker_reinstated": _l("您的技术经纪人资格已恢复。"),
    "deal_assigned": _l("撮合「%(title)s」已交由您负责。"),
    "deal_stage": _l("撮合「%(title)s」进入「%(stage)s」阶段。"),
    "deal_introduced": _l("技术经纪人 %(broker)s 邀请您参与撮合「%(title)s」的三方对接。"),
    "deal_message": _l("%(sender)s 在撮合「%(title)s」中留言：%(excerpt)s"),
    "deal_document": _l("%(sender)s 在撮合「%(title)s」中上传了文件「%(filename)s」。"),
    "deal_reminder": _l("撮合「%(title)s」的下一步「%(step)s」已于 %(date)s 到期。"),
}


def render(notification: Notification) -> str:
    template = MESSAGES.get(notification.kind)
    if template is None:
        return notification.kind
    return str(template) % _ParamDefaults(notification.params or {})


class _ParamDefaults(dict):
    def __missing__(self, key: str) -> str:
        return ""


def notify(user, kind: str, link: str | None = None, email: bool = True, **params: Any) -> Notification:
    """Tell ``user`` about something. The caller commits; the email goes out after that commit."""
    if kind not in MESSAGES:
        raise KeyError(f"unknown notification kind {kind!r}")
    notification = Notification(user_id=user.id, kind=kind, params=params, link=link)
    db.session.add(notification)
    if email and user.email:
        with force_locale(current_app.config["DEFAULT_LOCALE"]):
            body = str(MESSAGES[kind]) % _ParamDefaults(params)
            # Parameters such as a message excerpt may hold line breaks, which a mail header may not.
            subject = _("【青岛技术转移服务平台】%(text)s", text=" ".join(body.split())[:40])
        if link:
            body += "\n\n" + public_url(link)  # mail is read off-site: links start with the public address
        queue_mail(user.email, subject, body)
    return notification


def queue_mail(to: str, subject: str, body: str) -> None:
    """Send a mail once the current transaction commits (dropped if it, or its savepoint, rolls back)."""
    on_commit(partial(send_mail, to, subject, body))


def unread_count(user) -> int:
    return (
        db.session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.user_id == user.id, Notification.read_at.is_(None))
        )
        or 0
    )


def mark_read(user, notification_id: int | None = None) -> None:
    """Mark one notification (or all of them) read; only the user's own rows are touched."""
    statement = update(Notification).where(Notification.user_id == user.id, Notification.read_at.is_(None))
    if notification_id is not None:
        statement = statement.where(Notification.id == notification_id)
    db.session.execute(statement.values(read_at=utcnow()))


def notify_admins(kind: str, link: str | None = None, **params: Any) -> None:
    from marketplace.accounts.models import User
    from marketplace.accounts.roles import Role

    for admin in db.session.scalars(select(User).where(User.role == Role.ADMIN, User.active.is_(True))):
        notify(admin, kind, link=link, email=False, **params)
