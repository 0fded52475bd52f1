"""Write paths for listings: create, edit, the review lifecycle, views and favourites. Callers commit."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select, update

from marketplace.accounts.permissions import require, require_verified_email
from marketplace.core import audit
from marketplace.core.errors import ServiceError
from marketplace.core.links import path_for
from marketplace.core.models import utcnow
from marketplace.extensions import db
from marketplace.listings import permissions
from marketplace.listings.fields import clean_listing
from marketplace.listings.models import MODEL_FOR_KIND, Favourite, Listing, ListingStatus
from marketplace.listings.signals import listing_changed
from marketplace.notifications.services import notify, notify_admins

S = ListingStatus
# The lifecycle: action -> (states it may start from, state it leads to).
TRANSITIONS: dict[str, tuple[set[str], str]] = {
    "submit": ({S.DRAFT, S.REJECTED, S.ARCHIVED}, S.SUBMITTED),
    "withdraw": ({S.SUBMITTED}, S.DRAFT),
    "approve": ({S.SUBMITTED}, S.PUBLISHED),
    "reject": ({S.SUBMITTED}, S.REJECTED),
    "archive": ({S.DRAFT, S.SUBMITTED, S.PUBLISHED, S.REJECTED}, S.ARCHIVED),
}


class ListingInvalid(ServiceError):
    """Field errors from ``clean_listing``; forms show each beside its field, imports on the line."""

    def __init__(self, errors: dict[str, str]):
        super().__init__(_("请修改标出的字段后再保存"))
        self.errors = errors


def record_change(actor, listing: Listing, action: str, **detail) -> None:
    """Every change to a listing leaves an audit row and tells subscribers (search, later deals)."""
    audit.record(actor, f"listing.{action}", listing, **detail)
    listing_changed.send(listing, action=action)


def _transition(listing: Listing, action: str) -> None:
    sources, target = TRANSITIONS[action]
    if listing.status not in sources:
        raise ServiceError(_("当前状态（%(status)s）不能执行此操作", status=listing.status_label), 409)
    listing.status = target


def _link(listing: Listing) -> str:
    return path_for("listings.detail", listing_id=listing.id)


def _to_comparable(value: Any) -> Any:
    return str(value) if isinstance(value, Decimal) or hasattr(value, "isoformat") else value


def create_listing(user, kind: str, raw: dict[str, Any]) -> Listing:
    require(permissions.can_create(user, kind), _("您的角色不能发布此类信息"))
    require_verified_email(user)
    cleaned = clean_listing(kind, raw)
    if not cleaned.ok:
        raise ListingInvalid(cleaned.errors)
    listing = MODEL_FOR_KIND[kind](**cleaned.values, status=S.DRAFT, owner_id=user.id)
    if user.organisation is not None:
        listing.organisation_id = user.organisation.id
        listing.org_name = user.organisation.name
        listing.district = listing.district or user.organisation.district
    db.session.add(listing)
    db.session.flush()
    record_change(user, listing, "created")
    return listing


def update_listing(user, listing: Listing, raw: dict[str, Any]) -> bool:
    """Save an edit. A published listing keeps its public version; the edit waits for review.

    Returns True when the change went to review rather than straight onto the listing.
    """
    require(permissions.can_edit(user, listing))
    cleaned = clean_listing(listing.kind, raw)
    if not cleaned.ok:
        raise ListingInvalid(cleaned.errors)
    changes = {name: value for name, value in cleaned.values.items() if getattr(listing, name) != value}
    if not changes:
        return False
    if listing.status == S.PUBLISHED and not permissions.can_review(user):
        listing.pending_changes = {name: _to_comparable(value) for name, value in changes.items()}
        listing.submitted_at = utcnow()
        record_change(user, listing, "revision_submitted", fields=sorted(changes))
        notify_admins("listing_submitted", link=path_for("admin.review_queue"), title=listing.title)
        return True
    for name, value in changes.items():
        setattr(listing, name, value)
    if listing.status == S.REJECTED:
        listing.status = S.DRAFT
    record_change(user, listing, "updated", fields=sorted(changes))
    return False


def submit(user, listing: Listing) -> None:
    require(permissions.can_edit(user, listing))
    require_verified_email(user)
    if listing.organisation is not None and not listing.organisation.is_verified and not permissions.can_review(user):
        raise ServiceError(_("您的机构尚未通过平台认证，认证通过后才能提交发布"))
    _transition(listing, "submit")
    listing.submitted_at = utcnow()
    listing.review_note = None
    record_change(user, listing, "submitted")
    notify_admins("listing_submitted", link=path_for("admin.review_queue"), title=listing.title)


def withdraw(user, listing: Listing) -> None:
    require(permissions.can_edit(user, listing))
    _transition(listing, "withdraw")
    record_change(user, listing, "withdrawn")


def approve(admin, listing: Listing) -> None:
    require(permissions.can_review(admin))
    if listing.status == S.PUBLISHED and listing.pending_changes:
        _apply_pending(listing)
        kind = "revision_approved"
    else:
        if listing.organisation is not None and not listing.organisation.is_verified:
            raise ServiceError(_("「%(org)s」尚未通过认证，不能发布其信息", org=listing.organisation.name))
        _transition(listing, "approve")
        listing.published_at = listing.published_at or utcnow()
        kind = "listing_approved"
    listing.reviewed_at, listing.reviewed_by_id, listing.review_note = utcnow(), admin.id, None
    record_change(admin, listing, "approved", revision=kind == "revision_approved")
    if listing.owner is not None:
        notify(listing.owner, kind, link=_link(listing), title=listing.title)


def reject(admin, listing: Listing, reason: str) -> None:
    require(permissions.can_review(admin))
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError(_("请填写不通过的原因，发布者会看到它"))
    if listing.status == S.PUBLISHED and listing.pending_changes:
        listing.pending_changes = None
        kind = "revision_rejected"
    else:
        _transition(listing, "reject")
        kind = "listing_rejected"
    listing.reviewed_at, listing.reviewed_by_id, listing.review_note = utcnow(), admin.id, reason
    record_change(admin, listing, "rejected", reason=reason, revision=kind == "revision_rejected")
    if listing.owner is not None:
        notify(listing.owner, kind, link=_link(listing), title=listing.title, reason=reason)


def bulk_approve(admin, listing_ids: Iterable[int]) -> tuple[int, list[str]]:
    """Approve many; returns how many were approved and a message per listing that could not be."""
    approved, problems = 0, []
    for listing in db.session.scalars(select(Listing).where(Listing.id.in_(list(listing_ids)))):
        try:
            with db.session.begin_nested():
                approve(admin, listing)
        except ServiceError as error:
            problems.append(f"「{listing.title}」：{error.message}")
        else:
            approved += 1
    return approved, problems


def archive(user, listing: Listing) -> None:
    require(permissions.can_edit(user, listing))
    _transition(listing, "archive")
    listing.pending_changes = None
    record_change(user, listing, "archived")


def delete_draft(user, listing: Listing) -> None:
    require(permissions.can_edit(user, listing))
    if listing.status != S.DRAFT:
        raise ServiceError(_("只能删除草稿；已提交或发布的信息请下架"), 409)
    record_change(user, listing, "deleted", title=listing.title)
    db.session.delete(listing)


def _apply_pending(listing: Listing) -> None:
    cleaned = clean_listing(listing.kind, listing.pending_changes or {}, partial=True)
    for name, value in cleaned.values.items():
        setattr(listing, name, value)
    listing.pending_changes = None


# How long counting a view may wait for a lock before the view goes uncounted.
def record_view(user, listing: Listing) -> bool:
    """Count a visit by anyone but the owner side (one UPDATE, so concurrent views all count).

    Returns whether there was a view to count. The detail page runs it through
    ``transaction.commit_best_effort``: a counter is not worth a failed page."""
    if permissions.is_owner_side(user, listing):
        return False
    db.session.execute(update(Listing).where(Listing.id == listing.id).values(view_count=Listing.view_count + 1))
    return True


def is_favourite(user, listing: Listing) -> bool:
    return user.is_authenticated and db.session.get(Favourite, (user.id, listing.id)) is not None


def toggle_favourite(user, listing: Listing) -> bool:
    """Add or remove a favourite; returns whether it is now a favourite."""
    require(user.is_authenticated and permissions.can_view(user, listing))
    favourite = db.session.get(Favourite, (user.id, listing.id))
    if favourite is not None:
        db.session.delete(favourite)
        return False
    db.session.add(Favourite(user_id=user.id, listing_id=listing.id))
    return True
