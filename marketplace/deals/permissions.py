"""Who may do what with a broker profile or a deal. Capabilities come from accounts/capabilities.py;
the rules about one deal (its broker, its participants, the pool) live here.

Brokers appointed before profiles existed (role ``broker`` set by an admin, with
``User.broker_certificate_no``, and no ``BrokerProfile`` row) count as certified: an admin vouched
for them. Other users reach the role only through certification. A suspended or rejected profile
takes every deal right away while the user keeps the role (and the profile, for the record).
"""

from __future__ import annotations

from sqlalchemy import select

from marketplace.accounts.capabilities import has_capability
from marketplace.accounts.roles import Role
from marketplace.deals.models import BrokerProfile, BrokerStatus, Deal
from marketplace.extensions import db


def profile_of(user) -> BrokerProfile | None:
    if user is None or not user.is_authenticated:
        return None
    return db.session.scalar(select(BrokerProfile).where(BrokerProfile.user_id == user.id))


def is_active_broker(user) -> bool:
    """A broker who may work deals now: the role, and a certified profile (or none, see above)."""
    if not has_capability(user, "deal.work") or user.role != Role.BROKER:
        return False
    profile = profile_of(user)
    # A pending application by a broker the admin appointed does not take their rights away meanwhile.
    return profile is None or profile.status not in (BrokerStatus.SUSPENDED, BrokerStatus.REJECTED)


def is_admin(user) -> bool:
    return has_capability(user, "deal.view_all")


def is_deal_broker(user, deal: Deal) -> bool:
    return deal.broker_id is not None and deal.broker_id == getattr(user, "id", None) and is_active_broker(user)


def is_participant(user, deal: Deal) -> bool:
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    return any(participant.user_id == user.id for participant in deal.participants)


def can_view(user, deal: Deal) -> bool:
    """Admins, the deal's broker, its participants; any active broker may see a lead in the pool to claim it."""
    if is_admin(user) or is_deal_broker(user, deal) or is_participant(user, deal):
        return True
    return deal.broker_id is None and is_active_broker(user)


def can_work(user, deal: Deal) -> bool:
    """Notes, documents, next step, stages, the introduction: the deal's (active) broker or an admin."""
    return is_admin(user) or is_deal_broker(user, deal)


def can_claim(user, deal: Deal) -> bool:
    return deal.broker_id is None and deal.is_open and is_active_broker(user)


def can_talk(user, deal: Deal) -> bool:
    """The three-way conversation: the broker, the participants and admins."""
    return can_work(user, deal) or is_participant(user, deal)


def can_create(user) -> bool:
    return has_capability(user, "deal.create") and (is_admin(user) or is_active_broker(user))
