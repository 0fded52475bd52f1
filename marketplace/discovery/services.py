"""Search for the web pages, the CLI and (later) the API: one code path, one ranking."""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from marketplace.core.pagination import ResultPage
from marketplace.discovery import outbox
from marketplace.extensions import db
from marketplace.listings import queries
from marketplace.listings.models import Listing
from marketplace.listings.queries import BrowseFilters, to_filters, viewer_for
from search.backends import BackendUnavailable, SearchBackend, create_backend
from search.encoders import Encoder, get_encoder
from search.query import SearchQuery, SearchResult, Viewer

CATCH_UP_LIMIT = 200


def backend() -> SearchBackend:
    """The configured backend, created once per application and process."""
    engine = current_app.extensions.get("search_backend")
    if engine is None:
        name = current_app.config["SEARCH_BACKEND"]
        if name == "elasticsearch":
            if not current_app.config["ELASTICSEARCH_URL"]:
                raise RuntimeError("MARKETPLACE_SEARCH_BACKEND=elasticsearch needs MARKETPLACE_ELASTICSEARCH_URL")
            engine = create_backend(
                name,
                url=current_app.config["ELASTICSEARCH_URL"],
                index_prefix=current_app.config["ELASTICSEARCH_INDEX_PREFIX"],
            )
        else:
            engine = create_backend(name, path=current_app.config["SEARCH_INDEX_PATH"])
        current_app.extensions["search_backend"] = engine
    return engine


def encoder() -> Encoder:
    return get_encoder(current_app.config["SEARCH_ENCODER"])


def catch_up() -> outbox.DrainReport | None:
    """Index what is waiting before reading, so a user finds what they saved a moment ago.

    Returns None when nothing that a request may send was due; never raises for an unavailable backend.
    """
    if not outbox.has_due():
        return None
    return outbox.drain(backend(), limit=CATCH_UP_LIMIT)


def search_listings(
    kind: str, browse: BrowseFilters, viewer: Viewer, page: int = 1, per_page: int = 12, facets: bool = True
) -> SearchResult:
    """The browse/search ranking. Raises BackendUnavailable when the index cannot be used.

    Callers that show no filter counts (commands, alerts, totals) pass ``facets=False``: each facet
    is one more query over the matching listings."""
    catch_up()
    query = SearchQuery(
        text=browse.q or "",
        filters=to_filters(kind, browse),
        sort=browse.sort,
        page=max(page, 1),
        per_page=per_page,
        viewer=viewer,
        facets=facets,
    )
    return backend().search(query)


def health() -> dict:
    try:
        status = backend().health()
    except BackendUnavailable as error:
        status = {"status": "error", "error": str(error)[:200]}
    try:
        status["outbox_backlog"] = outbox.backlog()
    except SQLAlchemyError:
        db.session.rollback()
        status["outbox_backlog"] = None
    return status


@dataclass
class BrowseResult:
    page: ResultPage
    facets: dict[str, dict[str, int]] = field(default_factory=dict)
    highlights: dict[int, dict[str, str]] = field(default_factory=dict)
    relaxed: bool = False
    degraded: bool = False  # the index could not be used; these are plain database results


def browse(kind: str, filters: BrowseFilters, user, page: int, per_page: int) -> BrowseResult:
    """What a browse page shows: search hits as listings, facets and highlights.

    When the search backend is down the page still works, from the database, and says so.
    """
    try:
        result = search_listings(kind, filters, viewer_for(user), page=page, per_page=per_page)
    except BackendUnavailable:
        current_app.logger.warning("search backend unavailable; browse falls back to the database")
        fallback = db.paginate(queries.browse(kind, filters, user), page=page, per_page=per_page, error_out=False)
        return BrowseResult(page=ResultPage(fallback.items, fallback.total, page, per_page), degraded=True)
    ids = [int(hit.id) for hit in result.hits]
    listings = {listing.id: listing for listing in db.session.scalars(select(Listing).where(Listing.id.in_(ids)))}
    items = [listings[listing_id] for listing_id in ids if listing_id in listings]
    return BrowseResult(
        page=ResultPage(items, result.total, page, per_page),
        facets=result.facets,
        highlights={int(hit.id): hit.highlights for hit in result.hits if hit.highlights},
        relaxed=result.relaxed,
    )
