"""Matches for a listing: the same ranking on detail pages, the CLI and the API."""

from __future__ import annotations

from flask_babel import gettext as _

from marketplace.core import taxonomy
from marketplace.core.money import format_money
from marketplace.discovery import services as discovery
from marketplace.discovery import vectors
from marketplace.discovery.documents import listing_document
from marketplace.listings.models import Listing, ListingKind
from search import matching
from search.backends import BackendUnavailable


def target_kind(kind: str) -> str:
    return ListingKind.ACHIEVEMENT if kind == ListingKind.DEMAND else ListingKind.DEMAND


def match_document(document: dict, limit: int = 10, exclude: set[str] | None = None) -> list[matching.Match]:
    """Matches for a document (a listing's, or an ad-hoc one such as a title-only query).

    A listing whose stored vector is current is matched with it: nothing is encoded on the request.
    """
    discovery.catch_up()
    encoder = discovery.encoder()
    return matching.match(
        discovery.backend(),
        encoder,
        document,
        target_kind(document["kind"]),
        limit=limit,
        exclude=exclude,
        source_vector=vectors.stored_vector(document, encoder.name),
        vectors_of=lambda ids: vectors.stored_vectors(ids, encoder.name),
    )


def matches_for(listing: Listing, limit: int = 10) -> list[matching.Match]:
    return match_document(listing_document(listing), limit=limit)


def safe_matches_for(listing: Listing, limit: int = 5) -> list[matching.Match] | None:
    """For pages: None (not an error page) when the search backend is down."""
    try:
        return matches_for(listing, limit=limit)
    except BackendUnavailable:
        return None


SEMANTIC_FLOOR, SEMANTIC_CEILING = 0.80, 0.97


def _semantic_percent(cosine: float) -> int:
    """e5 cosines crowd into 0.8–0.97 whatever the texts (unrelated listings still reach 0.85), so a
    raw 90 % would read as close kinship; people see the cosine's place in that band instead."""
    return round(100 * min(max((cosine - SEMANTIC_FLOOR) / (SEMANTIC_CEILING - SEMANTIC_FLOOR), 0.0), 1.0))


def _cents(value: int) -> str:
    return format_money(value / 100)


def describe(reason: matching.Reason) -> str:
    """One reason in the reader's language."""
    p = reason.params
    texts = {
        "shared_terms": lambda: _("共同关键词：%(terms)s", terms="、".join(p["terms"])),
        "semantic": lambda: _("语义相似度 %(pct)d%%", pct=_semantic_percent(p["similarity"])),
        "industry_same": lambda: _("同属%(industry)s领域", industry=taxonomy.label(taxonomy.INDUSTRIES, p["industry"])),
        "industry_other": lambda: _(
            "跨领域：%(industry)s", industry=taxonomy.label(taxonomy.INDUSTRIES, p["industry"])
        ),
        "trl_ok": lambda: _("成熟度 TRL %(trl)d，满足 TRL≥%(min)d 的要求", trl=p["trl"], min=p["min_trl"]),
        "trl_below": lambda: _("成熟度 TRL %(trl)d，低于要求的 TRL %(min)d", trl=p["trl"], min=p["min_trl"]),
        "trl_unknown": lambda: _("未注明成熟度（要求 TRL≥%(min)d）", min=p["min_trl"]),
        "modes": lambda: _(
            "合作方式相符：%(modes)s",
            modes="、".join(taxonomy.label(taxonomy.COOPERATION_MODES, mode) for mode in p["modes"]),
        ),
        "price_within_budget": lambda: _(
            "报价 %(price)s，在预算上限 %(budget)s 以内",
            price=_cents(p["price_cents"]),
            budget=_cents(p["budget_max_cents"]),
        ),
        "price_over_budget": lambda: _(
            "报价 %(price)s，高于预算上限 %(budget)s",
            price=_cents(p["price_cents"]),
            budget=_cents(p["budget_max_cents"]),
        ),
        "same_district": lambda: _("同在%(district)s", district=taxonomy.label(taxonomy.DISTRICTS, p["district"])),
    }
    render = texts.get(reason.code)
    return render() if render else reason.code


def as_json(match: matching.Match) -> dict:
    return {
        "id": int(match.id),
        "external_id": match.document.get("external_id"),
        "title": match.document.get("title"),
        "score": match.score,
        "why": [describe(reason) for reason in match.reasons],
    }
