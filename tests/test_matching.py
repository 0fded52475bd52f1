"""Demand ↔ achievement matching: ranking, reasons, and one ranking across page, CLI and API."""

from __future__ import annotations

import json

import numpy as np
import pytest

from marketplace.discovery import matching, outbox, vectors
from marketplace.discovery import services as discovery
from marketplace.discovery.documents import listing_document
from search import matching as search_matching
from search.encoders import passage_text
from tests.factories import make_listing


def index_with_vectors():
    while outbox.backlog():
        outbox.drain(discovery.backend(), encoder=discovery.encoder())


@pytest.fixture
def marketplace_data(app):
    listings = {
        "insulation": make_listing(
            "achievement",
            title="冷链运输车厢高效隔热材料",
            external_id="A-INS",
            trl=7,
            summary="气凝胶复合隔热板，导热系数低于0.02 W/(m·K)，用于冷藏车厢保温",
            keywords=["隔热", "冷链", "气凝胶"],
            industry="new_materials",
            price_cny=1_500_000,
            cooperation_modes=["license"],
            district="huangdao",
        ),
        "insulation_lab": make_listing(
            "achievement",
            title="冷藏车厢用真空绝热板",
            external_id="A-LAB",
            trl=3,
            summary="真空绝热板实验室样品，车厢隔热性能提升40%",
            keywords=["隔热", "真空绝热板"],
            industry="new_materials",
            price_cny=300_000,
        ),
        "dressing": make_listing(
            "achievement",
            title="海藻酸盐医用敷料制备技术",
            external_id="A-DRS",
            trl=6,
            summary="可降解止血敷料，用于创面修复",
            keywords=["海藻酸盐", "敷料"],
            industry="marine_biomedicine",
        ),
        "ballast": make_listing(
            "achievement",
            title="船舶压载水处理系统",
            external_id="A-BAL",
            trl=8,
            summary="紫外加过氧化氢高级氧化，低盐度水域达标",
            keywords=["压载水"],
            industry="marine_equipment",
        ),
        "demand": make_listing(
            "demand",
            title="冷链物流车厢保温改造",
            external_id="D-COLD",
            min_trl=6,
            description="冷藏车夏季车厢温度波动大，能耗高，需要更好的车厢隔热材料，导热系数越低越好。",
            keywords=["冷链", "保温"],
            industry="new_materials",
            budget_min_cny=500_000,
            budget_max_cny=2_000_000,
            cooperation_modes=["license", "transfer"],
            district="huangdao",
        ),
    }
    index_with_vectors()
    return listings


def test_demand_matches_rank_solving_achievement_first_with_reasons(marketplace_data):
    found = matching.matches_for(marketplace_data["demand"], limit=4)
    ids = [item.document["external_id"] for item in found]
    assert ids[0] == "A-INS"
    assert ids.index("A-INS") < ids.index("A-DRS") and ids.index("A-INS") < ids.index("A-BAL")
    top = found[0]
    assert 0 <= top.score <= 100 and top.score >= found[-1].score
    reasons = [matching.describe(reason) for reason in top.reasons]
    assert any(reason.startswith("共同关键词：冷链、车厢") for reason in reasons)
    assert any(reason.startswith("语义相似度") for reason in reasons)
    assert "成熟度 TRL 7，满足 TRL≥6 的要求" in reasons
    assert "同在黄岛区（西海岸新区）" in reasons
    assert any(reason.startswith("报价 150万元，在预算上限 200万元 以内") for reason in reasons)


def test_immature_achievement_ranks_below_mature_one_and_says_why(marketplace_data):
    found = matching.matches_for(marketplace_data["demand"], limit=4)
    ids = [item.document["external_id"] for item in found]
    assert ids.index("A-INS") < ids.index("A-LAB")
    lab = found[ids.index("A-LAB")]
    assert "成熟度 TRL 3，低于要求的 TRL 6" in [matching.describe(reason) for reason in lab.reasons]


def test_achievement_page_recommends_demands(client, marketplace_data):
    page = client.get(f"/listings/{marketplace_data['insulation'].id}").get_data(as_text=True)
    assert "这项成果可以回应的企业需求" in page and "冷链物流车厢保温改造" in page


def test_demand_page_cli_and_api_share_one_ranking(client, runner, marketplace_data):
    demand = marketplace_data["demand"]
    api = client.get(f"/api/v1/demands/{demand.id}/matches?limit=3").json
    result = runner.invoke(args=["search", "match", "--demand", "D-COLD", "--limit", "3"])
    assert result.exit_code == 0, result.output
    cli = json.loads(result.output.strip().splitlines()[-1])
    assert cli["demand"] == api["demand"] == "D-COLD"
    assert [m["external_id"] for m in cli["matches"]] == [m["external_id"] for m in api["matches"]]
    assert [m["score"] for m in cli["matches"]] == [m["score"] for m in api["matches"]]
    page = client.get(f"/listings/{demand.id}").get_data(as_text=True)
    positions = [page.index(m["title"]) for m in api["matches"]]
    assert positions == sorted(positions)


def test_api_matches_hide_unpublished_listings(client, app):
    draft = make_listing("demand", status="draft", title="草稿需求", description="说明")
    assert client.get(f"/api/v1/demands/{draft.id}/matches").status_code == 404
    achievement = make_listing("achievement")
    assert client.get(f"/api/v1/demands/{achievement.id}/matches").status_code == 404  # wrong kind


def test_cli_match_reports_unknown_demand(runner, app):
    result = runner.invoke(args=["search", "match", "--demand", "NOPE"])
    assert result.exit_code != 0 and "NOPE" in result.output


def test_listing_with_stored_vector_is_matched_without_encoding(marketplace_data, monkeypatch):
    expected = [item.id for item in matching.matches_for(marketplace_data["demand"], limit=4)]
    encoder = discovery.encoder()

    def refuse(texts):
        raise AssertionError("a stored vector was current: nothing should be encoded")

    monkeypatch.setattr(encoder, "encode_queries", refuse)
    monkeypatch.setattr(encoder, "encode_passages", refuse)
    search_matching._QUERY_VECTORS.clear()
    assert [item.id for item in matching.matches_for(marketplace_data["demand"], limit=4)] == expected
    assert matching.matches_for(marketplace_data["insulation"], limit=1)[0].document["external_id"] == "D-COLD"


def test_demand_vector_is_stored_in_query_mode(marketplace_data):
    demand = marketplace_data["demand"]
    stored = vectors.stored_vector(listing_document(demand), discovery.encoder().name)
    expected = discovery.encoder().encode_queries([passage_text(listing_document(demand))])[0]
    assert stored is not None and np.allclose(stored, expected, atol=1e-5)


def test_a_lone_unrelated_listing_is_not_scored_as_a_strong_match(app):
    demand = make_listing(
        "demand",
        title="冷链物流车厢保温改造",
        description="冷藏车车厢隔热材料，导热系数越低越好。",
        industry="new_materials",
    )
    make_listing(
        "achievement",
        title="船舶压载水处理系统",
        summary="紫外加过氧化氢高级氧化，低盐度水域达标",
        industry="marine_equipment",
    )
    index_with_vectors()
    [only] = matching.matches_for(demand, limit=5)
    assert only.score < 30  # first of one, but nothing in common


def test_scores_follow_the_evidence(marketplace_data):
    found = matching.matches_for(marketplace_data["demand"], limit=4)
    scores = {item.document["external_id"]: item.score for item in found}
    # A small pool is no handicap: the score reads the pair (vectors, shared title words, TRL …).
    assert scores["A-INS"] >= 80 and scores["A-BAL"] <= 5
    assert scores["A-LAB"] < scores["A-INS"]  # below the demand's min_trl, and fewer shared words


@pytest.mark.parametrize("cosine, shown", [(0.75, "0%"), (0.885, "50%"), (0.97, "100%"), (0.99, "100%")])
def test_semantic_similarity_is_shown_within_the_band_e5_cosines_fall_in(app, cosine, shown):
    from search.matching import Reason

    with app.test_request_context():
        assert matching.describe(Reason("semantic", {"similarity": cosine})) == f"语义相似度 {shown}"
