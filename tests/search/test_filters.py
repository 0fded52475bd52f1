"""The filter spec (search/filters.py) and what its compilers make of it.

The marketplace-level matrix (tests/test_filter_matrix.py) checks that the sqlite index, the
database fallback and Elasticsearch list the same listings; these tests pin the spec's own rules
and the exact Elasticsearch clauses each kind of filter becomes.
"""

from __future__ import annotations

import pytest

from search import filters as spec
from search.backends import create_backend
from search.backends import es_queries as esq
from search.backends.sqlite import _Sql
from search.query import ANONYMOUS, Filters, SearchQuery, Viewer
from tests.search.test_backend_contract import doc


def facets_of(filters: Filters) -> dict[str | None, list[spec.Condition]]:
    found: dict[str | None, list[spec.Condition]] = {}
    for facet, condition in spec.conditions(filters, ANONYMOUS):
        found.setdefault(facet, []).append(condition)
    return found


def test_challenge_only_on_achievements_is_no_condition_at_all():
    assert "challenge" not in facets_of(Filters(kind="achievement", challenge_only=True))
    assert facets_of(Filters(kind="demand", challenge_only=True))["challenge"] == [
        spec.Check(spec.EQUALS, "challenge", True)
    ]


def test_amount_is_a_price_range_for_achievements_and_a_budget_overlap_for_demands():
    price = Filters(kind="achievement", amount_min_cents=100, amount_max_cents=200)
    budget = Filters(kind="demand", amount_min_cents=100, amount_max_cents=200)
    assert spec.Check(spec.RANGE, "price_cents", low=100, high=200) in facets_of(price)[None]
    assert (
        spec.Check(spec.OVERLAP, "budget_min_cents", low=100, high=200, field_high="budget_max_cents")
        in facets_of(budget)[None]
    )


def test_every_rule_uses_an_op_every_compiler_knows():
    rules = [rule for field in spec.FIELDS for rule in field.rules.values()]
    assert {rule.op for rule in rules} == set(spec.OPS)
    for op in spec.OPS:
        test = spec.Check(op, "industry", value="x", values=("x",), low=1, high=2, field_high="trl")
        assert esq.compile_condition(test)
        assert _Sql({})(test)


def test_unknown_op_is_refused_by_the_compilers():
    with pytest.raises(ValueError):
        esq.compile_condition(spec.Check("near", "industry", value="x"))
    with pytest.raises(ValueError):
        _Sql({})(spec.Check("near", "industry", value="x"))


def test_visibility_widens_for_owner_and_organisation_admin_and_lifts_for_admin():
    assert spec.visibility(Viewer(is_admin=True)) is None
    assert spec.visibility(Viewer(user_id=7, admin_of_organisation_id=3)) == spec.AnyOf(
        (
            spec.Check(spec.EQUALS, "status", "published"),
            spec.Check(spec.EQUALS, "owner_id", 7),
            spec.Check(spec.EQUALS, "organisation_id", 3),
        )
    )


# ---- the Elasticsearch compiler, clause by clause --------------------------------------------


def es(filters: Filters, viewer: Viewer = ANONYMOUS) -> tuple[list[dict], dict[str, dict]]:
    base = [clause.to_dict() for clause in esq.base_filters(filters, viewer)]
    return base, {name: clause.to_dict() for name, clause in esq.facet_filters(filters).items()}


def test_es_challenge_filter_on_demands_only():
    assert es(Filters(kind="demand", challenge_only=True))[1] == {"challenge": {"term": {"challenge": True}}}
    assert es(Filters(kind="achievement", challenge_only=True))[1] == {}


def test_es_budget_overlap_is_two_ranges_on_opposite_ends():
    base, _ = es(Filters(kind="demand", amount_min_cents=100, amount_max_cents=200))
    assert base[-2:] == [{"range": {"budget_max_cents": {"gte": 100}}}, {"range": {"budget_min_cents": {"lte": 200}}}]


def test_es_price_range_is_one_range_with_both_bounds():
    base, _ = es(Filters(kind="achievement", amount_min_cents=100, amount_max_cents=200))
    assert base[-1] == {"range": {"price_cents": {"gte": 100, "lte": 200}}}


def test_es_list_membership_organisation_and_equals_filters():
    _, toggles = es(
        Filters(kind="achievement", cooperation_mode="license", org_name="中国海洋大学", ip_type="know_how", trl_max=6)
    )
    assert toggles == {
        "ip_type": {"term": {"ip_type": "know_how"}},
        "cooperation_modes": {"term": {"cooperation_modes": "license"}},
        "trl": {"range": {"trl": {"lte": 6}}},
        "org_name": {"term": {"org_name_exact": "中国海洋大学"}},
    }


def test_es_without_kind_tests_each_document_by_its_kinds_rule():
    _, toggles = es(Filters(trl_min=5, challenge_only=True))
    assert toggles["trl"] == {
        "bool": {
            "should": [
                {"bool": {"filter": [{"term": {"kind": "achievement"}}, {"range": {"trl": {"gte": 5}}}]}},
                {"bool": {"filter": [{"term": {"kind": "demand"}}, {"range": {"min_trl": {"gte": 5}}}]}},
            ],
            "minimum_should_match": 1,
        }
    }
    assert toggles["challenge"] == {
        "bool": {
            "should": [
                {"term": {"kind": "achievement"}},
                {"bool": {"filter": [{"term": {"kind": "demand"}}, {"term": {"challenge": True}}]}},
            ],
            "minimum_should_match": 1,
        }
    }


# ---- the sqlite backend without a kind (facets read the kind too) --------------------------------


@pytest.fixture
def sqlite_index(tmp_path):
    backend = create_backend("sqlite", path=tmp_path / "index.sqlite")
    backend.index(
        [
            doc(1, title="隔热材料", trl=7),
            doc(2, title="隔热涂层", trl=3),
            doc(3, kind="demand", title="隔热改造", min_trl=6, challenge=True),
            doc(4, kind="demand", title="隔热需求", min_trl=2),
        ]
    )
    return backend


@pytest.mark.parametrize("text", ["", "隔热"], ids=["no_text", "text"])
def test_sqlite_without_kind_filters_each_kind_by_its_own_rule(sqlite_index, text):
    result = sqlite_index.search(SearchQuery(text=text, filters=Filters(trl_min=5)))
    assert sorted(hit.id for hit in result.hits) == ["1", "3"]
    assert result.facets["trl"] == {"7": 1, "3": 1}  # the TRL facet leaves out its own filter
    result = sqlite_index.search(SearchQuery(text=text, filters=Filters(challenge_only=True)))
    assert sorted(hit.id for hit in result.hits) == ["1", "2", "3"]  # achievements pass, demands must be challenges
