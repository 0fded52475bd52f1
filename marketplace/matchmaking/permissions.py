"""Who may work the matches dashboard: the holders of ``match.follow`` (brokers and platform admins)."""

from __future__ import annotations

from marketplace.accounts.capabilities import has_capability


def can_follow_up(user) -> bool:
    return has_capability(user, "match.follow")
