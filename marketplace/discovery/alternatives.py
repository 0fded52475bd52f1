"""What to offer when a search finds nothing: the same words without the filters, in the other
kind of listing, or titles that start like the query."""

from __future__ import annotations

from dataclasses import dataclass, field

from marketplace.discovery import services as discovery
from marketplace.listings.models import ListingKind
from marketplace.listings.queries import BrowseFilters
from search import analysis
from search.backends import BackendUnavailable
from search.query import Viewer

MAX_TITLES = 5


@dataclass
class Alternative:
    reason: str  # without_filters | other_kind | title
    kind: str
    args: dict[str, str] = field(default_factory=dict)
    count: int = 0
    text: str | None = None


def _other(kind: str) -> str:
    return ListingKind.DEMAND if kind == ListingKind.ACHIEVEMENT else ListingKind.ACHIEVEMENT


def when_nothing_found(kind: str, filters: BrowseFilters, user, result: discovery.BrowseResult) -> list[Alternative]:
    """Offers for a browse page whose search with words found nothing (none when the index is down)."""
    if result.page.total or result.degraded or not filters.q:
        return []
    try:
        return _alternatives(kind, filters, discovery.viewer_for(user))
    except BackendUnavailable:
        return []


def _alternatives(kind: str, filters: BrowseFilters, viewer: Viewer) -> list[Alternative]:
    offers = []
    words_only = BrowseFilters(q=filters.q)
    if filters.to_args() != words_only.to_args():
        count = discovery.search_listings(kind, words_only, viewer, per_page=1, facets=False).total
        if count:
            offers.append(Alternative("without_filters", kind, words_only.to_args(), count))
    count = discovery.search_listings(_other(kind), words_only, viewer, per_page=1, facets=False).total
    if count:
        offers.append(Alternative("other_kind", _other(kind), words_only.to_args(), count))
    tokens = analysis.tokenize(filters.q)
    if tokens:
        for title in discovery.backend().suggest(tokens[0], kind=kind, limit=MAX_TITLES):
            if title != filters.q:
                offers.append(Alternative("title", kind, {"q": title}, text=title))
    return offers
