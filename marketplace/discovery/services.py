"""Search for the web pages, the CLI and (later) the API: one code path, one ranking."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from marketplace.core.models import as_utc, utcnow
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
            engine = create_backend(name, path=current_app.config["SEARCH_INDEX_PATH"], may_create=nothing_to_index)
        current_app.extensions["search_backend"] = engine
    return engine


def nothing_to_index() -> bool:
    """Whether the database has no listing an index would hold: only then may a missing index
    file start empty (first-time setup). With listings, a missing index is a fault to report (search
    degraded, /healthz) until `flask search reindex` rebuilds it, not an empty index to hide it."""
    try:
        return db.session.scalar(select(Listing.id).limit(1)) is None
    except SQLAlchemyError:
        db.session.rollback()
        return False
    except RuntimeError:  # no application context: nobody can tell, so do not create
        return False


def ensure_index() -> None:
    """First-time setup (`flask demo seed`, a fresh test platform): create the empty index when
    there is none and nothing to put in it yet."""
    if nothing_to_index():
        backend().create()


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
    """The search side of /healthz: the backend, the outbox's age, and whether the index holds
    what the database has. ``reasons`` lists what is wrong (empty when healthy); no file paths or
    addresses, which backend errors often carry, reach the (public) answer."""
    try:
        status = backend().health()
    except BackendUnavailable as error:
        status = {"status": "error", "error": str(error)}
    reasons: list[str] = []
    if status["status"] != "ok":
        status["error"] = public_error(status.get("error") or "")
        reasons.append(f"search index unavailable: {status['error']}")
    try:
        waiting = outbox.waiting_by_kind()
        (pending, oldest), (waiting_for_vectors, oldest_vector) = waiting[False], waiting[True]
        listings = db.session.scalar(select(func.count()).select_from(Listing))
    except SQLAlchemyError:
        db.session.rollback()
        status.update(outbox_backlog=None, status="error")
        status["reasons"] = [*reasons, "outbox unreadable"]
        return status
    status["outbox_backlog"] = pending + waiting_for_vectors
    ages = [(utcnow() - as_utc(moment)).total_seconds() for moment in (oldest, oldest_vector) if moment is not None]
    status["outbox_oldest_age_seconds"] = round(max(ages)) if ages else None
    limit = current_app.config["HEALTH_OUTBOX_MAX_AGE_SECONDS"]
    if ages and max(ages) > limit:
        reasons.append(f"search outbox stalled: oldest change waiting {max(ages):.0f} s (limit {limit} s)")
    status["listings"] = listings
    # While changes wait to be indexed the counts may differ for a moment; the outbox age covers that.
    documents = status.get("documents")
    if documents is not None and not pending and documents != listings:
        reasons.append(f"search index holds {documents} documents, the database has {listings} listings")
    if reasons and status["status"] == "ok":
        status["status"] = "degraded"
    status["reasons"] = reasons
    return status


_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://\S+", re.IGNORECASE)
_PATH = re.compile(r"(?:\b[A-Za-z]:)?(?:[\\/][^\s'\"`:,;()\\/]+)+[\\/]?")


def public_error(message: str) -> str:
    """An error message fit for a public health answer: URLs and file paths replaced, shortened."""
    return _PATH.sub("<path>", _URL.sub("<url>", message))[:200]


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
