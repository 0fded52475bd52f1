"""What the engine indexes: plain dicts, one per listing, built by the application.

The engine never sees application models. A document carries the text to search, the codes to
filter and facet on, the ids that decide who may see an unpublished listing, and what a hit
shows. Money is in integer fen (cents) so no backend ever compares floats.
"""

from __future__ import annotations

from typing import Any

TEXT_FIELDS = ("title", "keywords", "summary", "description", "org_name")
REQUIRED_FIELDS = ("id", "kind", "status", "title", "industry")
FACET_FIELDS = ("industry", "district", "cooperation_modes", "ip_type", "trl", "min_trl", "challenge")
# Shown on a hit without a database round trip.
STORED_FIELDS = (
    "id",
    "kind",
    "external_id",
    "status",
    "title",
    "summary",
    "description",
    "keywords",
    "org_name",
    "industry",
    "district",
    "trl",
    "min_trl",
    "ip_type",
    "cooperation_modes",
    "price_cents",
    "budget_min_cents",
    "budget_max_cents",
    "challenge",
    "published_at",
    "deadline",
)


class DocumentError(ValueError):
    pass


def check_document(doc: dict[str, Any]) -> dict[str, Any]:
    """Reject a document a backend could not index consistently; returns it unchanged."""
    missing = [name for name in REQUIRED_FIELDS if doc.get(name) in (None, "")]
    if missing:
        raise DocumentError(f"document {doc.get('id')!r} lacks {', '.join(missing)}")
    for name in ("keywords", "cooperation_modes"):
        if not isinstance(doc.get(name) or [], list):
            raise DocumentError(f"document {doc['id']!r}: {name} must be a list")
    for name in ("price_cents", "budget_min_cents", "budget_max_cents", "trl", "min_trl"):
        value = doc.get(name)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise DocumentError(f"document {doc['id']!r}: {name} must be an integer")
    return doc


def stored_view(doc: dict[str, Any]) -> dict[str, Any]:
    return {name: doc.get(name) for name in STORED_FIELDS}
