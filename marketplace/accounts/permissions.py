"""Object-level permission helpers. Who holds which capability is in ``capabilities.py``.

Object rules (who may edit a listing, read a thread …) live next to the feature they protect;
they are plain functions ``can_<action>(user, obj) -> bool`` called from views and services alike.
"""

from __future__ import annotations

from flask_babel import gettext as _

from marketplace.core.errors import PermissionDenied, ServiceError


def require(allowed: bool, message: str | None = None) -> None:
    """Service guard: raise PermissionDenied (HTTP 403 with a message) unless ``allowed``."""
    if not allowed:
        raise PermissionDenied(message or _("您没有权限执行此操作"))


def is_org_admin_of(user, organisation) -> bool:
    return bool(
        user.is_authenticated
        and organisation is not None
        and user.organisation_id == organisation.id
        and user.is_org_admin
    )


def require_verified_email(user) -> None:
    """Service guard for publishing: unverified accounts may browse, not post listings.

    A ServiceError (not a 403): the user can fix it themselves, so views show it as a message.
    """
    if not getattr(user, "email_verified", True):
        raise ServiceError(
            _("请先验证您的邮箱：打开注册时收到的验证邮件中的链接，或在页面顶部重新发送验证邮件，之后即可发布信息")
        )
