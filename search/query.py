"""Queries and results: the engine's public vocabulary, shared by every backend."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SORTS = ("relevance", "newest", "price_asc", "price_desc", "budget_desc", "deadline")


@dataclass(frozen=True)
class Viewer:
    """Who is searching: decides whether unpublished documents may show up."""

    user_id: int | None = None
    admin_of_organisation_id: int | None = None  # organisation admins see their organisation's drafts
    is_admin: bool = False


ANONYMOUS = Viewer()


@dataclass
class Filters:
    kind: str | None = None
    industry: str | None = None
    district: str | None = None
    cooperation_mode: str | None = None
    ip_type: str | None = None
    trl_min: int | None = None  # achievements: trl; demands: min_trl
    trl_max: int | None = None
    amount_min_cents: int | None = None  # achievements: price; demands: budget range overlap
    amount_max_cents: int | None = None
    org_name: str | None = None
    challenge_only: bool = False
    statuses: tuple[str, ...] = ("published",)  # widened for owners' and admins' own searches


@dataclass
class SearchQuery:
    text: str = ""
    filters: Filters = field(default_factory=Filters)
    sort: str = "relevance"
    page: int = 1
    per_page: int = 12
    viewer: Viewer = ANONYMOUS
    facets: bool = True
    match_any: bool = False  # rank by any matching word (more-like-this), not only listings with all of them

    @property
    def offset(self) -> int:
        return (max(self.page, 1) - 1) * self.per_page


@dataclass
class Hit:
    id: str
    score: float
    document: dict[str, Any]
    highlights: dict[str, str] = field(default_factory=dict)  # field -> HTML with <mark>, already escaped


@dataclass
class SearchResult:
    hits: list[Hit]
    total: int
    facets: dict[str, dict[str, int]] = field(default_factory=dict)
    relaxed: bool = False  # nothing matched every term; these hits match some of them
    query_terms: list[str] = field(default_factory=list)
