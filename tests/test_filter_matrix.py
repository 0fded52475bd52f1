"""The browse filter matrix: every case gives the same listings from the sqlite index, from the
database fallback (the index down), from the Elasticsearch request body, and from a live
Elasticsearch when ELASTICSEARCH_URL is set. The filters' meaning is written once, in search/filters.py.
"""

from __future__ import annotations

import os
import uuid
from decimal import Decimal
from typing import Any

import pytest
from flask_login import AnonymousUserMixin
from werkzeug.datastructures import MultiDict

from marketplace.accounts.roles import OrgKind, Role
from marketplace.discovery import outbox
from marketplace.discovery import services as discovery
from marketplace.discovery.documents import listing_document
from marketplace.extensions import db
from marketplace.listings.models import Listing, ListingStatus
from marketplace.listings.queries import BrowseFilters, to_filters, viewer_for
from search.backends import create_backend
from search.backends import es_queries as esq
from search.query import SearchQuery
from tests.factories import make_listing, make_org, make_user
from tests.test_discovery import BrokenBackend

WAN = Decimal(10_000)
ACHIEVEMENTS = {"a_patent", "a_software", "a_institute", "a_renamed"}
DEMANDS = {"d_challenge", "d_upto", "d_from", "d_open", "d_big"}

# (case id, kind, query string, viewer, the listings the page lists)
CASES: list[tuple[str, str, str, str | None, set[str]]] = [
    ("achievements_unfiltered", "achievement", "", None, ACHIEVEMENTS),
    ("demands_unfiltered", "demand", "", None, DEMANDS),
    ("industry", "achievement", "industry=new_materials", None, {"a_patent", "a_renamed"}),
    ("district", "achievement", "district=laoshan", None, {"a_software", "a_renamed"}),
    ("mode_is_list_membership", "achievement", "mode=transfer", None, {"a_patent", "a_software"}),
    ("mode_code_with_underscore", "achievement", "mode=joint_development", None, {"a_institute"}),
    ("demand_mode", "demand", "mode=transfer", None, {"d_challenge"}),
    ("ip_type", "achievement", "ip_type=invention_patent", None, {"a_patent", "a_institute"}),
    ("institution_registered", "achievement", "institution=中国海洋大学", None, {"a_patent", "a_software"}),
    ("institution_free_text", "achievement", "institution=某研究所", None, {"a_institute"}),
    # A registered organisation's name wins over stale free text left on the listing.
    ("institution_stale_free_text", "achievement", "institution=旧校名", None, set()),
    ("institution_renamed_registered", "achievement", "institution=青岛科技大学", None, {"a_renamed"}),
    ("trl_min", "achievement", "trl_min=5", None, {"a_patent", "a_institute"}),
    ("trl_max", "achievement", "trl_max=4", None, {"a_software", "a_renamed"}),
    ("trl_range_inclusive", "achievement", "trl_min=4&trl_max=7", None, {"a_patent", "a_software"}),
    ("demand_trl_is_min_trl", "demand", "trl_min=6", None, {"d_challenge", "d_big"}),
    ("price_min_leaves_out_negotiable", "achievement", "amount_min=100", None, {"a_patent", "a_institute"}),
    ("price_max_inclusive", "achievement", "amount_max=150", None, {"a_patent", "a_renamed"}),
    ("price_range", "achievement", "amount_min=100&amount_max=200", None, {"a_patent"}),
    ("budget_overlaps_from_below", "demand", "amount_min=150", None, {"d_challenge", "d_big"}),
    ("budget_overlaps_from_above", "demand", "amount_max=90", None, {"d_challenge"}),
    ("budget_inside_a_range", "demand", "amount_min=60&amount_max=70", None, {"d_challenge"}),
    ("budget_between_ranges", "demand", "amount_min=210&amount_max=250", None, set()),
    ("budget_range_edges_meet", "demand", "amount_min=200&amount_max=300", None, {"d_challenge", "d_big"}),
    ("challenge_on_demands", "demand", "challenge=1", None, {"d_challenge", "d_big"}),
    # 揭榜挂帅 challenges are demands: the filter does not apply to achievements, so it is ignored there.
    ("challenge_on_achievements_is_ignored", "achievement", "challenge=1", None, ACHIEVEMENTS),
    ("challenge_on_achievements_with_industry", "achievement", "challenge=1&industry=new_materials", None,
     {"a_patent", "a_renamed"}),
    ("challenge_with_budget", "demand", "challenge=1&amount_min=400", None, {"d_big"}),
    ("filters_combine", "achievement", "industry=marine_equipment&district=jimo&ip_type=invention_patent", None,
     {"a_institute"}),
    ("institution_and_ip_type", "achievement", "institution=中国海洋大学&ip_type=software_copyright", None,
     {"a_software"}),
    ("unpublished_anonymous", "achievement", "unpublished=1", None, ACHIEVEMENTS),
    ("unpublished_not_asked_owner", "achievement", "", "owner", ACHIEVEMENTS),
    ("unpublished_owner", "achievement", "unpublished=1", "owner", ACHIEVEMENTS | {"a_draft", "a_archived"}),
    ("unpublished_org_admin", "achievement", "unpublished=1", "ouc_admin", ACHIEVEMENTS | {"a_submitted"}),
    ("unpublished_colleague_not_admin", "achievement", "unpublished=1", "colleague", ACHIEVEMENTS | {"a_submitted"}),
    ("unpublished_admin", "achievement", "unpublished=1", "admin",
     ACHIEVEMENTS | {"a_draft", "a_submitted", "a_archived"}),
    ("unpublished_not_asked_admin", "achievement", "", "admin", ACHIEVEMENTS),
    ("unpublished_owner_with_filter", "achievement", "unpublished=1&industry=new_materials", "owner",
     {"a_patent", "a_renamed", "a_draft"}),
    ("unpublished_challenges_owner", "demand", "unpublished=1&challenge=1", "owner",
     {"d_challenge", "d_big", "d_draft"}),
]  # fmt: skip


@pytest.fixture
def catalogue(app) -> tuple[dict[str, Listing], dict[str, Any]]:
    ouc = make_org(OrgKind.INSTITUTION, name="中国海洋大学")
    qust = make_org(OrgKind.INSTITUTION, name="青岛科技大学")
    viewers = {
        "owner": make_user(Role.RESEARCHER, org_admin=False),
        "colleague": make_user(Role.RESEARCHER, org=ouc, org_admin=False),
        "ouc_admin": make_user(Role.RESEARCHER, org=ouc, org_admin=True),
        "admin": make_user(Role.ADMIN, org=False),
    }
    achievement = {"summary": "成果", "keywords": []}
    demand = {"summary": "需求", "keywords": []}
    listings = {
        "a_patent": make_listing(
            organisation_id=ouc.id, industry="new_materials", district="huangdao", ip_type="invention_patent",
            cooperation_modes=["transfer"], trl=7, price_cny=150 * WAN, **achievement,
        ),
        "a_software": make_listing(
            organisation_id=ouc.id, industry="marine_equipment", district="laoshan", ip_type="software_copyright",
            cooperation_modes=["license", "transfer"], trl=4, price_cny=None, **achievement,
        ),
        "a_institute": make_listing(
            org_name="某研究所", industry="marine_equipment", district="jimo", ip_type="invention_patent",
            cooperation_modes=["joint_development"], trl=9, price_cny=300 * WAN, **achievement,
        ),
        "a_renamed": make_listing(
            organisation_id=qust.id, org_name="旧校名", industry="new_materials", district="laoshan",
            ip_type="utility_model", cooperation_modes=["license"], trl=2, price_cny=10 * WAN, **achievement,
        ),
        "a_draft": make_listing(
            owner=viewers["owner"], status=ListingStatus.DRAFT, industry="new_materials", trl=5,
            price_cny=50 * WAN, **achievement,
        ),
        "a_archived": make_listing(owner=viewers["owner"], status=ListingStatus.ARCHIVED, **achievement),
        "a_submitted": make_listing(owner=viewers["colleague"], status=ListingStatus.SUBMITTED, **achievement),
        "d_challenge": make_listing(
            "demand", challenge=True, industry="new_materials", district="huangdao", cooperation_modes=["transfer"],
            min_trl=6, budget_min_cny=50 * WAN, budget_max_cny=200 * WAN, **demand,
        ),
        # Budgets open at one end: the open end is unknown, so a bound compared against it fails.
        "d_upto": make_listing(
            "demand", cooperation_modes=["development"], min_trl=3, budget_max_cny=80 * WAN, **demand
        ),
        "d_from": make_listing(
            "demand", cooperation_modes=["consulting"], budget_min_cny=100 * WAN, **demand
        ),
        "d_open": make_listing("demand", cooperation_modes=["consulting"], **demand),
        "d_big": make_listing(
            "demand", challenge=True, min_trl=8, cooperation_modes=["license"], budget_min_cny=300 * WAN,
            budget_max_cny=500 * WAN, **demand,
        ),
        "d_draft": make_listing(
            "demand", owner=viewers["owner"], status=ListingStatus.DRAFT, challenge=True, **demand
        ),
    }  # fmt: skip
    return listings, viewers


def _names(listings: dict[str, Listing], ids) -> set[str]:
    by_id = {str(listing.id): name for name, listing in listings.items()}
    return {by_id[str(listing_id)] for listing_id in ids}


def _browse(kind: str, args: str, viewer) -> tuple[list[int], bool]:
    filters = BrowseFilters.from_args(MultiDict(_pairs(args)))
    result = discovery.browse(kind, filters, viewer, page=1, per_page=100)
    return [listing.id for listing in result.page.items], result.degraded


def _pairs(args: str) -> list[tuple[str, str]]:
    return [tuple(pair.split("=", 1)) for pair in args.split("&") if pair]


def _mismatches(catalogue, run) -> dict[str, tuple[set[str], set[str]]]:
    """{case: (listed, expected)} for every case whose listings differ from the expected ones."""
    listings, viewers = catalogue
    wrong = {}
    for case, kind, args, viewer, expected in CASES:
        listed = _names(listings, run(kind, args, viewers.get(viewer) or AnonymousUserMixin()))
        if listed != expected:
            wrong[case] = (listed, expected)
    return wrong


def test_filter_matrix_has_every_case():
    assert len(CASES) >= 28
    assert len({case for case, *_ in CASES}) == len(CASES)


def test_filter_matrix_sqlite_index_lists_the_expected_listings(app, catalogue):
    outbox.drain(discovery.backend())

    def run(kind, args, viewer):
        ids, degraded = _browse(kind, args, viewer)
        assert not degraded
        return ids

    assert _mismatches(catalogue, run) == {}


def test_filter_matrix_database_fallback_lists_the_expected_listings(app, catalogue):
    app.extensions["search_backend"] = BrokenBackend()

    def run(kind, args, viewer):
        ids, degraded = _browse(kind, args, viewer)
        assert degraded
        return ids

    assert _mismatches(catalogue, run) == {}


def test_filter_matrix_elasticsearch_request_selects_the_expected_listings(app, catalogue):
    """The filters of the request body the Elasticsearch backend sends, applied to the documents it
    indexes with Elasticsearch's term, terms, range and bool semantics (no cluster runs here)."""
    listings, _viewers = catalogue
    sources = [esq.document_source(listing_document(listing)) for listing in db.session.scalars(db.select(Listing))]

    def run(kind, args, viewer):
        filters = BrowseFilters.from_args(MultiDict(_pairs(args)))
        query = SearchQuery(filters=to_filters(kind, filters), viewer=viewer_for(viewer), per_page=100)
        body = esq.search_body(query, groups=[])
        clauses = body["query"]["bool"]["filter"] + [body.get("post_filter", {"match_all": {}})]
        return [source["id"] for source in sources if all(_es_matches(clause, source) for clause in clauses)]

    assert _mismatches(catalogue, run) == {}


@pytest.mark.skipif(not os.environ.get("ELASTICSEARCH_URL"), reason="needs an Elasticsearch server (ELASTICSEARCH_URL)")
def test_filter_matrix_live_elasticsearch_lists_the_expected_listings(app, catalogue):
    engine = create_backend(
        "elasticsearch",
        url=os.environ["ELASTICSEARCH_URL"],
        index_prefix=f"matrix-{uuid.uuid4().hex[:12]}",
        refresh="wait_for",
    )
    app.extensions["search_backend"] = engine
    try:
        engine.clear()
        outbox.drain(engine)

        def run(kind, args, viewer):
            ids, degraded = _browse(kind, args, viewer)
            assert not degraded
            return ids

        assert _mismatches(catalogue, run) == {}
    finally:
        engine.drop()


def _es_matches(clause: dict[str, Any], source: dict[str, Any]) -> bool:
    """Whether a document matches a filter clause, as Elasticsearch decides for these query types."""
    ((kind, body),) = clause.items()
    if kind == "match_all":
        return True
    if kind == "bool":
        musts = body.get("filter", []) + body.get("must", [])
        shoulds = body.get("should", [])
        needed = body.get("minimum_should_match", 0 if musts else 1) if shoulds else 0
        return (
            all(_es_matches(c, source) for c in musts)
            and sum(_es_matches(c, source) for c in shoulds) >= needed
            and not any(_es_matches(c, source) for c in body.get("must_not", []))
        )
    ((field, wanted),) = body.items()
    value = source.get(field)
    values = value if isinstance(value, list) else [] if value is None else [value]
    if kind == "term":
        return wanted in values
    if kind == "terms":
        return any(each in values for each in wanted)
    if kind == "range":
        return any(
            all(
                {"gte": v >= bound, "lte": v <= bound, "gt": v > bound, "lt": v < bound}[op]
                for op, bound in wanted.items()
            )
            for v in values
        )
    raise AssertionError(f"query type {kind} is not modelled here")
