"""Write paths for listings: create, edit, the review lifecycle, views and favourites. Callers commit."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select, update

from marketplace.accounts.permissions import require, require_verified_email
from marketplace.core import audit
from marketplace.core.errors import PermissionDenied, ServiceError
from marketplace.core.links import path_for
from marketplace.core.models import as_utc, utcnow
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


def update_listing(user, listing: Listing, raw: dict[str, Any], notify_reviewers: bool = True) -> bool:
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
        if notify_reviewers:
            notify_admins("listing_submitted", link=path_for("admin.review_queue"), title=listing.title)
        return True
    for name, value in changes.items():
        setattr(listing, name, value)
    if listing.status == S.REJECTED:
        listing.status = S.DRAFT
    record_change(user, listing, "updated", fields=sorted(changes))
    return False


def submit(user, listing: Listing, notify_reviewers: bool = True) -> None:
    require(permissions.can_edit(user, listing))
    require_verified_email(user)
    if listing.organisation is not None and not listing.organisation.is_verified and not permissions.can_review(user):
        raise ServiceError(_("您的机构尚未通过平台认证，认证通过后才能提交发布"))
    _transition(listing, "submit")
    listing.submitted_at = utcnow()
    listing.review_note = None
    record_change(user, listing, "submitted")
    if notify_reviewers:  # a bulk import tells the reviewers once, not once per line
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


# ---- bulk import: one row of a file, by the same rules as the form -------------------------------


def import_listing(
    actor,
    kind: str,
    external_id: str,
    raw: dict[str, Any],
    *,
    status: str = S.PUBLISHED,
    published_at: datetime | None = None,
    organisation_id: int | None = None,
    org_name: str | None = None,
    source: str = "import",
) -> tuple[str, str | None]:
    """Create or update the listing (``kind``, ``external_id``) from an import row.

    Returns the outcome (created / updated / unchanged / sent_to_review) and a note for the report.
    An organisation admin's rows go through the form's services: the role must be allowed to create
    this kind, new listings belong to their organisation and are submitted for review (kept as drafts
    while the organisation is unverified, as the form does), and an edit of a published listing
    becomes a revision waiting for review. Platform admins and the command line (no actor) import
    for anyone: records are published or submitted per ``status``, edits apply at once.
    """
    existing = db.session.scalar(select(Listing).where(Listing.kind == kind, Listing.external_id == external_id))
    if actor is not None and not permissions.can_review(actor):
        return _import_for_organisation(actor, kind, external_id, raw, existing, source)
    cleaned = clean_listing(kind, raw)
    if not cleaned.ok:
        raise ListingInvalid(cleaned.errors)
    values = {**cleaned.values, "org_name": org_name, "organisation_id": organisation_id}
    if existing is None:
        listing = MODEL_FOR_KIND[kind](external_id=external_id, source=source, owner_id=None, **values)
        listing.status = status
        if status == S.PUBLISHED:
            listing.published_at = published_at or utcnow()
        else:
            listing.submitted_at = utcnow()
        db.session.add(listing)
        db.session.flush()
        record_change(actor, listing, "imported", external_id=external_id)
        return "created", None
    changes = {name: value for name, value in values.items() if getattr(existing, name) != value}
    if published_at and existing.is_published and not _same_instant(existing.published_at, published_at):
        changes["published_at"] = published_at
    if not changes:
        return "unchanged", None
    for name, value in changes.items():
        setattr(existing, name, value)
    if status == S.SUBMITTED and existing.status != S.PUBLISHED:
        existing.status = S.SUBMITTED
    record_change(actor, existing, "import_updated", fields=sorted(changes))
    return "updated", None


def _import_for_organisation(user, kind, external_id, raw, existing: Listing | None, source) -> tuple[str, str | None]:
    require(permissions.can_import(user), _("只有机构管理员可以批量导入"))
    require(permissions.can_create(user, kind), _("您的角色不能发布此类信息"))
    if existing is None:
        listing = create_listing(user, kind, raw)
        listing.external_id, listing.source = external_id, source
        return "created", _submit_unless_unverified(user, listing)
    if not permissions.is_owner_side(user, existing):
        raise ServiceError(_("该 external_id 已被其他机构的信息使用"))
    cleaned = clean_listing(kind, raw)
    if not cleaned.ok:
        raise ListingInvalid(cleaned.errors)
    changes = {name: value for name, value in cleaned.values.items() if getattr(existing, name) != value}
    if not changes:
        return "unchanged", None
    if existing.is_published and existing.pending_changes == {n: _to_comparable(v) for n, v in changes.items()}:
        return "unchanged", None  # the same revision is already waiting for review
    if update_listing(user, existing, raw, notify_reviewers=False):
        return "sent_to_review", None
    if existing.status in TRANSITIONS["submit"][0]:
        return "updated", _submit_unless_unverified(user, existing)
    return "updated", None


def _submit_unless_unverified(user, listing: Listing) -> str | None:
    """Submit for review as the form's "submit" button does; a refusal keeps the draft, with a note."""
    try:
        with db.session.begin_nested():
            submit(user, listing, notify_reviewers=False)
    except PermissionDenied:
        raise
    except ServiceError as refusal:
        return _("已保存为草稿，未提交审核：%(reason)s", reason=refusal.message)
    return None


def _same_instant(stored: datetime | None, given: datetime) -> bool:
    return stored is not None and as_utc(stored) == given
