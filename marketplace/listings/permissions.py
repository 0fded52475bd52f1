"""Who may do what with a listing. Called from views, services and (later) the API."""

from __future__ import annotations

from marketplace.accounts.roles import Role
from marketplace.listings.models import Listing, ListingKind, ListingStatus

CREATOR_ROLES = {ListingKind.ACHIEVEMENT: Role.RESEARCHER, ListingKind.DEMAND: Role.ENTERPRISE}


def can_create(user, kind: str) -> bool:
    return user.is_authenticated and (user.is_admin or user.role == CREATOR_ROLES[ListingKind(kind)])


def is_owner_side(user, listing: Listing) -> bool:
    """The owner, or an admin of the organisation the listing belongs to."""
    if not user.is_authenticated:
        return False
    if listing.owner_id == user.id:
        return True
    return bool(listing.organisation_id and user.is_org_admin and user.organisation_id == listing.organisation_id)


def can_view(user, listing: Listing) -> bool:
    if listing.status == ListingStatus.PUBLISHED:
        return True
    return user.is_authenticated and (user.is_admin or is_owner_side(user, listing))


def can_edit(user, listing: Listing) -> bool:
    return user.is_authenticated and (user.is_admin or is_owner_side(user, listing))


def can_review(user) -> bool:
    return user.is_authenticated and user.is_admin


def can_apply_to_challenge(user, demand) -> bool:
    return (
        user.is_authenticated
        and user.role == Role.RESEARCHER
        and demand.is_open_for_applications
        and not is_owner_side(user, demand)
    )


def can_manage_applications(user, demand) -> bool:
    return can_edit(user, demand)
