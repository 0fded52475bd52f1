"""Who may work the matches dashboard: certified brokers and platform admins."""

from __future__ import annotations

from marketplace.accounts.roles import Role

FOLLOW_UP_ROLES = (Role.BROKER, Role.ADMIN)


def can_follow_up(user) -> bool:
    return user.is_authenticated and user.active and user.role in FOLLOW_UP_ROLES
