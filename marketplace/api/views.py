from __future__ import annotations

from flask import Blueprint, abort, jsonify, request
from flask_login import current_user

from marketplace.discovery import matching
from marketplace.extensions import csrf, db
from marketplace.listings import permissions
from marketplace.listings.models import Listing, ListingKind
from search.backends import BackendUnavailable

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)
MAX_LIMIT = 50


def _matches(kind: str, listing_id: int):
    listing = db.session.get(Listing, listing_id)
    if listing is None or listing.kind != kind or not permissions.can_view(current_user, listing):
        abort(404)
    limit = min(max(request.args.get("limit", 10, type=int) or 10, 1), MAX_LIMIT)
    try:
        found = matching.matches_for(listing, limit=limit)
    except BackendUnavailable:
        abort(503)
    key = "demand" if kind == ListingKind.DEMAND else "achievement"
    return jsonify(
        {
            key: listing.external_id or str(listing.id),
            "id": listing.id,
            "matches": [matching.as_json(item) for item in found],
        }
    )


@bp.route("/demands/<int:listing_id>/matches")
def demand_matches(listing_id: int):
    """The achievements the demand's page recommends, in the same order, with scores and reasons."""
    return _matches(ListingKind.DEMAND, listing_id)


@bp.route("/achievements/<int:listing_id>/matches")
def achievement_matches(listing_id: int):
    return _matches(ListingKind.ACHIEVEMENT, listing_id)
