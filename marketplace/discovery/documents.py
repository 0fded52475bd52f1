"""Listings as search documents (the engine's plain-dict format, see search/documents.py)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from marketplace.listings.models import Listing


def _cents(amount: Decimal | None) -> int | None:
    return None if amount is None else int((amount * 100).to_integral_value())


def listing_document(listing: Listing) -> dict[str, Any]:
    return {
        "id": str(listing.id),
        "kind": listing.kind,
        "external_id": listing.external_id,
        "status": listing.status,
        "owner_id": listing.owner_id,
        "organisation_id": listing.organisation_id,
        "title": listing.title,
        "summary": listing.summary,
        "description": listing.description,
        "keywords": list(listing.keywords or []),
        "org_name": listing.offered_by or None,
        "industry": listing.industry,
        "district": listing.district,
        "trl": listing.trl,
        "min_trl": listing.min_trl,
        "ip_type": listing.ip_type,
        "cooperation_modes": list(listing.cooperation_modes or []),
        "price_cents": _cents(listing.price_cny),
        "budget_min_cents": _cents(listing.budget_min_cny),
        "budget_max_cents": _cents(listing.budget_max_cny),
        "challenge": bool(listing.challenge),
        "published_at": listing.published_at.isoformat() if listing.published_at else None,
        "deadline": listing.deadline.isoformat() if listing.deadline else None,
    }
