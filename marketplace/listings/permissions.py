"""Who may do what with a listing. Called from views, services and (later) the API."""

from __future__ import annotations

from marketplace.accounts.capabilities import has_capability
from marketplace.listings.models import Listing, ListingKind, ListingStatus

CREATE_CAPABILITY = {ListingKind.ACHIEVEMENT: "listing.create_achievement", ListingKind.DEMAND: "listing.create_demand"}


def can_create(user, kind: str) -> bool:
    return has_capability(user, CREATE_CAPABILITY[ListingKind(kind)])


def can_import(user) -> bool:
    return has_capability(user, "listing.import")


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
    return can_review(user) or is_owner_side(user, listing)


def can_edit(user, listing: Listing) -> bool:
    return can_review(user) or is_owner_side(user, listing)


def can_review(user) -> bool:
    return has_capability(user, "listing.review")


def can_apply_to_challenge(user, demand) -> bool:
    return (
        has_capability(user, "challenge.apply") and demand.is_open_for_applications and not is_owner_side(user, demand)
    )


def can_manage_applications(user, demand) -> bool:
    return can_edit(user, demand)
