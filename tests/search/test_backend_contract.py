"""One contract for every search backend: run on sqlite always, on Elasticsearch when it is configured.

These tests talk to the engine only through ``search`` (documents in, hits out); they need no
Flask app and no database.
"""

from __future__ import annotations

import os
import uuid

import pytest

from search.backends import create_backend
from search.query import Filters, SearchQuery, Viewer

BACKENDS = ["sqlite"] + (["elasticsearch"] if os.environ.get("ELASTICSEARCH_URL") else [])


def _create(name, tmp_path):
    if name == "elasticsearch":
        # Indices of their own per test, so runs (and xdist workers) never see each other's documents.
        return create_backend(
            "elasticsearch",
            url=os.environ["ELASTICSEARCH_URL"],
            index_prefix=f"contract-{uuid.uuid4().hex[:12]}",
            refresh="wait_for",
        )
    return create_backend(name, path=tmp_path / "index.sqlite")


@pytest.fixture(params=BACKENDS)
def backend(request, tmp_path):
    engine = _create(request.param, tmp_path)
    engine.clear()
    yield engine
    engine.clear()
    if request.param == "elasticsearch":
        engine.drop()


def doc(doc_id, **fields):
    base = {
        "id": str(doc_id),
        "kind": "achievement",
        "status": "published",
        "title": f"成果{doc_id}",
        "industry": "new_materials",
        "keywords": [],
        "cooperation_modes": [],
        "published_at": f"2024-01-{int(doc_id):02d}",
    }
    base.update(fields)
    return base


CORPUS = [
    doc(
        1,
        title="冷链运输车厢高效隔热材料",
        summary="气凝胶复合隔热板，导热系数低于0.02",
        keywords=["隔热", "冷链"],
        trl=7,
        price_cents=150_000_000,
        cooperation_modes=["transfer"],
        district="huangdao",
    ),
    doc(
        2,
        title="海藻酸盐医用敷料制备技术",
        summary="可降解止血敷料，用于创面修复",
        keywords=["海藻酸盐", "敷料"],
        industry="marine_biomedicine",
        trl=6,
        price_cents=None,
        cooperation_modes=["license", "transfer"],
        district="laoshan",
    ),
    doc(
        3,
        title="船舶压载水处理系统",
        summary="紫外加过氧化氢高级氧化，低盐度水域达标",
        keywords=["压载水"],
        industry="marine_equipment",
        trl=8,
        price_cents=280_000_000,
        cooperation_modes=["license"],
        district="laoshan",
    ),
    doc(
        4,
        title="冷库节能保温墙体",
        summary="聚氨酯夹芯板保温，冷链仓储节能",
        keywords=["保温", "冷库"],
        trl=3,
        price_cents=50_000_000,
        cooperation_modes=["joint_development"],
        district="jimo",
    ),
    doc(
        5,
        kind="demand",
        title="冷链车厢隔热改造需求",
        description="现有车厢隔热差，夏季能耗高",
        min_trl=6,
        budget_min_cents=50_000_000,
        budget_max_cents=200_000_000,
        challenge=True,
        district="huangdao",
    ),
    doc(6, status="draft", title="未发布的隔热涂层", summary="草稿", owner_id=77, organisation_id=9),
]


@pytest.fixture
def indexed(backend):
    assert backend.index(CORPUS) == len(CORPUS)
    return backend


def ids(result):
    return [hit.id for hit in result.hits]


def test_search_text_ranks_title_matches_first(indexed):
    result = indexed.search(SearchQuery(text="隔热材料", filters=Filters(kind="achievement")))
    assert ids(result)[0] == "1"
    assert "6" not in ids(result)  # drafts are not public


def test_search_synonym_finds_wording_the_listing_did_not_use(indexed):
    result = indexed.search(SearchQuery(text="车厢保温", filters=Filters(kind="achievement")))
    assert "1" in ids(result)  # 保温 ~ 隔热


def test_search_filters_combine_and_count(indexed):
    query = SearchQuery(filters=Filters(kind="achievement", district="laoshan", trl_min=7))
    assert ids(indexed.search(query)) == ["3"]
    query = SearchQuery(filters=Filters(kind="achievement", cooperation_mode="transfer"))
    assert sorted(ids(indexed.search(query))) == ["1", "2"]
    query = SearchQuery(filters=Filters(kind="achievement", amount_min_cents=100_000_000, amount_max_cents=200_000_000))
    assert ids(indexed.search(query)) == ["1"]


def test_search_demand_budget_range_overlaps(indexed):
    query = SearchQuery(filters=Filters(kind="demand", amount_min_cents=150_000_000, challenge_only=True))
    assert ids(indexed.search(query)) == ["5"]
    query = SearchQuery(filters=Filters(kind="demand", amount_min_cents=300_000_000))
    assert ids(indexed.search(query)) == []


def test_search_facets_exclude_their_own_filter(indexed):
    result = indexed.search(SearchQuery(filters=Filters(kind="achievement", district="laoshan")))
    assert result.total == 2
    assert result.facets["district"] == {"huangdao": 1, "laoshan": 2, "jimo": 1}
    assert result.facets["industry"] == {"marine_biomedicine": 1, "marine_equipment": 1}
    assert result.facets["cooperation_modes"] == {"license": 2, "transfer": 1}


def test_organisation_facet_lists_every_organisation_while_one_is_chosen(backend):
    backend.index(
        [
            doc(11, org_name="中国海洋大学"),
            doc(12, org_name="中国海洋大学"),
            doc(13, org_name="青岛科技大学"),
            doc(14, org_name="中国海洋大学", industry="marine_equipment"),
        ]
    )
    result = backend.search(
        SearchQuery(filters=Filters(kind="achievement", org_name="中国海洋大学", industry="new_materials"))
    )
    assert sorted(ids(result)) == ["11", "12"]
    assert result.facets["org_name"] == {"中国海洋大学": 2, "青岛科技大学": 1}
    assert result.facets["industry"] == {"new_materials": 2, "marine_equipment": 1}


def test_search_sort_by_price_puts_negotiable_last(indexed):
    result = indexed.search(SearchQuery(filters=Filters(kind="achievement"), sort="price_asc"))
    assert ids(result) == ["4", "1", "3", "2"]


def test_search_newest_without_text(indexed):
    result = indexed.search(SearchQuery(filters=Filters(kind="achievement")))
    assert ids(result) == ["4", "3", "2", "1"]


def test_search_pagination_and_total(indexed):
    result = indexed.search(SearchQuery(filters=Filters(kind="achievement"), per_page=3, page=2))
    assert result.total == 4 and ids(result) == ["1"]


def test_search_highlights_are_escaped_html_with_marks(indexed):
    indexed.index([doc(7, title="<b>耐腐蚀</b>涂层", summary="海洋平台防腐蚀涂层")])
    hit = indexed.search(SearchQuery(text="涂层")).hits[0]
    assert "<mark>" in hit.highlights["title"]
    assert "&lt;b&gt;" in hit.highlights["title"] and "<b>" not in hit.highlights["title"]
    assert " " not in hit.highlights["title"].replace("<mark>", "").replace("</mark>", "")


def test_search_relaxes_when_nothing_matches_every_term(indexed):
    result = indexed.search(SearchQuery(text="压载水 区块链", filters=Filters(kind="achievement")))
    assert result.relaxed and ids(result) == ["3"]
    strict = indexed.search(SearchQuery(text="压载水", filters=Filters(kind="achievement")))
    assert not strict.relaxed


def test_unpublished_visible_to_owner_org_admin_and_admin_only(indexed):
    wide = Filters(statuses=("published", "draft"))
    assert "6" not in ids(indexed.search(SearchQuery(text="隔热", filters=wide)))
    assert "6" not in ids(indexed.search(SearchQuery(text="隔热", filters=wide, viewer=Viewer(user_id=1))))
    assert "6" in ids(indexed.search(SearchQuery(text="隔热", filters=wide, viewer=Viewer(user_id=77))))
    org_admin = Viewer(user_id=2, admin_of_organisation_id=9)
    assert "6" in ids(indexed.search(SearchQuery(text="隔热", filters=wide, viewer=org_admin)))
    assert "6" in ids(indexed.search(SearchQuery(text="隔热", filters=wide, viewer=Viewer(is_admin=True))))


def test_reindexing_a_document_replaces_it(indexed):
    indexed.index([doc(3, title="船舶尾气脱硫洗涤塔", industry="marine_equipment")])
    assert ids(indexed.search(SearchQuery(text="压载水"))) == []
    assert ids(indexed.search(SearchQuery(text="脱硫"))) == ["3"]
    assert indexed.count() == len(CORPUS)


def test_delete_removes_document_and_ignores_unknown_ids(indexed):
    indexed.delete(["2", "does-not-exist"])
    assert ids(indexed.search(SearchQuery(text="敷料"))) == []
    assert indexed.count() == len(CORPUS) - 1


def test_suggest_completes_titles_from_a_prefix(indexed):
    assert "海藻酸盐医用敷料制备技术" in indexed.suggest("海藻")
    assert indexed.suggest("未发布") == []


def test_health_reports_document_count(indexed):
    assert indexed.health() == {"status": "ok", "backend": indexed.name, "documents": len(CORPUS)}


def test_bad_document_is_refused(backend):
    with pytest.raises(ValueError):
        backend.index([{"id": "x", "kind": "achievement"}])
    assert backend.count() == 0
