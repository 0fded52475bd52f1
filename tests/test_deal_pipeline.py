"""Brokers' pipeline: who sees which deals, filters, sorting, pagination, the stats strip's figures
against a hand-built history, exports, and the matchmaking dashboard's count of misses."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from werkzeug.datastructures import MultiDict

from marketplace.accounts.roles import Role
from marketplace.deals import pipeline
from marketplace.deals.models import BrokerProfile, BrokerStatus, Deal, DealEvent, DealStage
from marketplace.extensions import db
from marketplace.matchmaking.models import MatchPair, PairStatus
from tests.factories import login, make_listing, make_org, make_user

NOW = datetime(2026, 3, 1, tzinfo=UTC)


def days_ago(n: float) -> datetime:
    return NOW - timedelta(days=n)


@pytest.fixture(autouse=True)
def _deal_detail_route(app):
    # The deal page belongs to the deals work; until it is merged, a stand-in so links can be built.
    if "deals.detail" not in app.view_functions:
        app.add_url_rule("/deals/<int:deal_id>", endpoint="deals.detail", view_func=lambda deal_id: "")


def make_broker(certified: bool = True, **fields):
    user = make_user(Role.BROKER, org=None, **fields)
    status = BrokerStatus.CERTIFIED if certified else BrokerStatus.APPLIED
    db.session.add(BrokerProfile(user_id=user.id, certificate_no=f"JJ{user.id:06d}", status=status))
    db.session.commit()
    return user


def make_deal(title: str, stage: str = DealStage.LEAD, created: float = 1, history=(), **fields) -> Deal:
    """A deal created ``created`` days before NOW; ``history`` is (days ago, from, to) stage changes."""
    deal = Deal(title=title, stage=stage, created_at=days_ago(created), **fields)
    deal.stage_changed_at = days_ago(history[-1][0]) if history else deal.created_at
    db.session.add(deal)
    db.session.flush()
    for ago, old, new in history:
        db.session.add(
            DealEvent(deal_id=deal.id, kind="stage", detail={"from": old, "to": new}, created_at=days_ago(ago))
        )
    db.session.commit()
    return deal


@pytest.fixture
def world(app):
    """Five deals with a known history (see test_stats_* for the figures they give)."""
    mine, other = make_broker(name="王经纪"), make_broker(name="李经纪")
    buyer, seller = make_org(name="海尔买方"), make_org(name="中国海洋大学卖方")
    deals = {
        "A": make_deal(
            "深海探测传感器",
            DealStage.NEGOTIATING,
            created=10,
            history=[(8, "lead", "introduced"), (5, "introduced", "negotiating")],
            broker_id=mine.id,
            industry="marine_equipment",
            district="huangdao",
            expected_value=Decimal("100000.00"),
            expected_commission=Decimal("5000.00"),
            buyer_org_id=buyer.id,
            seller_org_id=seller.id,
        ),
        "B": make_deal(
            "海藻酸盐纤维",
            DealStage.LOST,
            created=20,
            history=[(16, "lead", "introduced"), (10, "introduced", "lost")],
            broker_id=mine.id,
            industry="new_materials",
            district="laoshan",
            expected_value=Decimal("200000.00"),
            loss_reason="price",
        ),
        "C": make_deal(
            "船舶压载水处理",
            DealStage.WON,
            created=30,
            history=[
                (29, "lead", "introduced"),
                (27, "introduced", "negotiating"),
                (20, "negotiating", "signed"),
                (15, "signed", "registered"),
                (10, "registered", "performing"),
                (4, "performing", "won"),
            ],
            broker_id=mine.id,
            industry="marine_equipment",
            district="huangdao",
            expected_value=Decimal("1000000.00"),
            expected_commission=Decimal("30000.00"),
        ),
        "D": make_deal("冷链隔热材料", DealStage.LEAD, created=3, industry="new_materials", district="shinan"),
        "E": make_deal(
            "工业机器人视觉",
            DealStage.LOST,
            created=12,
            history=[(11, "lead", "lost")],
            broker_id=other.id,
            industry="intelligent_manufacturing",
            district="jimo",
            expected_value=Decimal("50000.00"),
            loss_reason="no_response",
        ),
    }
    return {"mine": mine, "other": other, "deals": deals}


def titles(user, **args) -> set[str]:
    filters = pipeline.Filters.from_args(MultiDict(args), user)
    return {deal.title for deal in db.session.scalars(pipeline.deal_query(user, filters, now=NOW))}


# Visibility -----------------------------------------------------------------------------------------


def test_visibility_certified_broker_sees_own_and_pool_not_others(world):
    assert titles(world["mine"]) == {"深海探测传感器", "海藻酸盐纤维", "船舶压载水处理", "冷链隔热材料"}


def test_visibility_uncertified_broker_sees_only_own(world):
    applicant = make_broker(certified=False)
    make_deal("申请人的撮合", broker_id=applicant.id)
    assert titles(applicant) == {"申请人的撮合"}


def test_visibility_admin_sees_all(world):
    admin = make_user(Role.ADMIN, org=None)
    assert len(titles(admin)) == 5


def test_pipeline_page_broker_lists_own_and_pool_only(client, world):
    login(client, world["mine"])
    page = client.get("/deals/pipeline/table").get_data(as_text=True)
    assert "深海探测传感器" in page and "冷链隔热材料" in page
    assert "工业机器人视觉" not in page
    assert f'href="/deals/{world["deals"]["A"].id}"' in page


def test_pipeline_page_researcher_forbidden(client, world):
    login(client, make_user(Role.RESEARCHER))
    assert client.get("/deals/pipeline").status_code == 403
    assert client.get("/deals/pipeline/table").status_code == 403
    assert client.get("/deals/pipeline/export.csv").status_code == 403


def test_pipeline_page_anonymous_redirected_to_login(client, world):
    response = client.get("/deals/pipeline")
    assert response.status_code == 302 and "/account/login" in response.headers["Location"]


def test_pipeline_board_shows_cards_by_stage_and_overdue_in_red(client, world, app):
    make_deal("逾期的线索", broker_id=world["mine"].id, next_step_on=date(2000, 1, 1))
    login(client, world["mine"])
    page = client.get("/deals/pipeline").get_data(as_text=True)
    assert page.count('class="card shadow-sm mb-2 deal-card"') == 3  # A, D and the overdue one; B, C closed
    assert "text-danger fw-semibold" in page and "已逾期" in page
    assert "撮合管道" in page


def test_pipeline_nav_link_only_for_brokers_and_admins(client, world):
    login(client, world["mine"])
    assert 'href="/deals/pipeline"' in client.get("/").get_data(as_text=True)
    client.post("/account/logout")
    login(client, make_user(Role.RESEARCHER))
    assert 'href="/deals/pipeline"' not in client.get("/").get_data(as_text=True)


# Filters, sorting, pagination -----------------------------------------------------------------------


def test_filter_industry_keeps_matching_deals(world):
    assert titles(world["mine"], industry="marine_equipment") == {"深海探测传感器", "船舶压载水处理"}


def test_filter_district_keeps_matching_deals(world):
    assert titles(world["mine"], district="shinan") == {"冷链隔热材料"}


def test_filter_stage_keeps_matching_deals(world):
    assert titles(world["mine"], stage="lost") == {"海藻酸盐纤维"}


def test_filter_broker_admin_only(world):
    admin = make_user(Role.ADMIN, org=None)
    assert titles(admin, broker=str(world["other"].id)) == {"工业机器人视觉"}
    assert titles(admin, broker="pool") == {"冷链隔热材料"}
    # A broker cannot widen or narrow their scope with someone else's id: the argument is ignored.
    assert titles(world["mine"], broker=str(world["other"].id)) == titles(world["mine"])


def test_filter_age_buckets_split_by_creation_date(world):
    admin = make_user(Role.ADMIN, org=None)
    filters = pipeline.Filters.from_args(MultiDict({"age": "7d"}), admin)
    recent = {d.title for d in db.session.scalars(pipeline.deal_query(admin, filters, now=NOW))}
    assert recent == {"冷链隔热材料"}
    older = pipeline.Filters.from_args(MultiDict({"age": "over30"}), admin)
    assert {d.title for d in db.session.scalars(pipeline.deal_query(admin, older, now=NOW))} == set()
    within30 = pipeline.Filters.from_args(MultiDict({"age": "30d"}), admin)
    assert len(list(db.session.scalars(pipeline.deal_query(admin, within30, now=NOW)))) == 5  # C: exactly 30 days


def test_filter_text_search_on_title_escapes_wildcards(world):
    assert titles(world["mine"], q="海藻") == {"海藻酸盐纤维"}
    assert titles(world["mine"], q="%") == set()


def test_filter_unknown_values_ignored_not_500(client, world):
    login(client, world["mine"])
    for query in ("stage=bogus", "industry=x", "sort=drop", "age=-1", "q=%00", "broker=9" * 30):
        assert client.get(f"/deals/pipeline/table?{query}").status_code == 200


def test_sort_by_expected_value_descending_nulls_last(world):
    admin = make_user(Role.ADMIN, org=None)
    filters = pipeline.Filters.from_args(MultiDict({"sort": "-value"}), admin)
    order = [d.title for d in db.session.scalars(pipeline.deal_query(admin, filters))]
    assert order == ["船舶压载水处理", "海藻酸盐纤维", "深海探测传感器", "工业机器人视觉", "冷链隔热材料"]


def test_pagination_pages_do_not_overlap(client, app, world):
    app.config["PAGE_SIZE"] = 2
    login(client, world["mine"])
    seen, mine = [], ("深海探测传感器", "海藻酸盐纤维", "船舶压载水处理", "冷链隔热材料")
    for number in (1, 2):
        page = client.get(f"/deals/pipeline/table?sort=title&page={number}").get_data(as_text=True)
        seen.append({title for title in mine if title in page})
    assert len(seen[0]) == 2 and len(seen[1]) == 2 and not seen[0] & seen[1]


def test_empty_pipeline_says_what_to_do_next(client, app):
    login(client, make_broker())
    page = client.get("/deals/pipeline").get_data(as_text=True)
    assert "还没有撮合" in page and 'href="/matchmaking/"' in page


# Stats ----------------------------------------------------------------------------------------------


@pytest.fixture
def stats(world):
    return pipeline.pipeline_stats(make_user(Role.ADMIN, org=None), pipeline.Filters(), now=NOW)


def test_stats_stage_totals_count_and_sum(stats):
    assert stats.totals["negotiating"].count == 1
    assert stats.totals["negotiating"].expected_value == Decimal("100000.00")
    assert stats.totals["lost"].count == 2 and stats.totals["lost"].expected_value == Decimal("250000.00")
    assert stats.totals["won"].expected_commission == Decimal("30000.00")
    assert stats.totals["lead"].count == 1 and stats.totals["lead"].expected_value == Decimal("0.00")
    assert stats.open_value == Decimal("100000.00") and stats.open_commission == Decimal("5000.00")


def test_stats_conversion_from_furthest_stage(stats):
    # Furthest stages: A negotiating, B introduced (then lost), C won, D lead, E lead (then lost).
    rates = {c.stage: (c.reached, c.advanced, c.rate) for c in stats.conversion}
    assert rates["lead"] == (5, 3, Decimal("60.0"))
    assert rates["introduced"] == (3, 2, Decimal("66.7"))
    assert rates["negotiating"] == (2, 1, Decimal("50.0"))
    assert rates["signed"] == (1, 1, Decimal("100.0"))
    assert rates["performing"] == (1, 1, Decimal("100.0"))


def test_stats_time_in_stage_average_and_median(stats):
    times = {t.stage: (t.deals, t.average_days, t.median_days) for t in stats.time_in_stage}
    # lead: A 2, B 4, C 1, D 3 (still there), E 1 days.
    assert times["lead"] == (5, Decimal("2.2"), Decimal("2.0"))
    # introduced: A 3, B 6, C 2.
    assert times["introduced"] == (3, Decimal("3.7"), Decimal("3.0"))
    # negotiating: A 5 (until now), C 7.
    assert times["negotiating"] == (2, Decimal("6.0"), Decimal("6.0"))
    assert times["performing"] == (1, Decimal("6.0"), Decimal("6.0"))


def test_stats_won_lost_and_reasons(stats):
    assert (stats.won, stats.lost, stats.win_rate) == (1, 2, Decimal("33.3"))
    assert stats.lost_by_reason == {"price": 1, "no_response": 1}


def test_stats_skipped_stage_counts_as_passed(app):
    admin = make_user(Role.ADMIN, org=None)
    make_deal("跳级", DealStage.SIGNED, created=5, history=[(2, "lead", "signed")])
    stats = pipeline.pipeline_stats(admin, pipeline.Filters(), now=NOW)
    rates = {c.stage: (c.reached, c.advanced) for c in stats.conversion}
    assert rates["introduced"] == (1, 1) and rates["signed"] == (1, 0)


def test_stats_ignore_stage_filter_but_follow_others(world):
    admin = make_user(Role.ADMIN, org=None)
    stats = pipeline.pipeline_stats(admin, pipeline.Filters(stage="won", industry="marine_equipment"), now=NOW)
    assert stats.count == 2 and stats.won == 1


def test_stats_strip_on_page_shows_figures(client, world):
    login(client, world["mine"])
    page = client.get("/deals/pipeline").get_data(as_text=True)
    assert 'data-figure="won">1<' in page and 'data-figure="lost">1<' in page
    assert "统计口径" in page
    assert "价格未谈拢" in page


# Exports --------------------------------------------------------------------------------------------


def test_export_csv_has_bom_and_page_numbers(client, world):
    login(client, world["mine"])
    response = client.get("/deals/pipeline/export.csv?industry=marine_equipment&sort=-value")
    assert response.status_code == 200 and response.data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert rows[0][1] == "标题" and rows[0][8] == "预计成交额(元)"
    assert [(row[1], row[8]) for row in rows[1:]] == [("船舶压载水处理", "1000000.00"), ("深海探测传感器", "100000.00")]


def test_export_xlsx_same_rows_as_table(client, world):
    login(client, world["mine"])
    response = client.get("/deals/pipeline/export.xlsx?sort=title")
    sheet = load_workbook(io.BytesIO(response.data)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert len(rows) == 1 + 4
    by_title = {row[1]: row for row in rows[1:]}
    assert Decimal(str(by_title["深海探测传感器"][8])) == Decimal("100000")
    assert by_title["海藻酸盐纤维"][12] == "价格未谈拢"
    assert by_title["冷链隔热材料"][7] == "待认领"


def test_export_researcher_forbidden(client, world):
    login(client, make_user(Role.RESEARCHER))
    assert client.get("/deals/pipeline/export.xlsx").status_code == 403


# Matchmaking dashboard ------------------------------------------------------------------------------


def test_matchmaking_dashboard_counts_dismissed_pairs_and_lost_reasons(client, world):
    for n in range(3):
        status = PairStatus.DISMISSED if n < 2 else PairStatus.NEW
        db.session.add(
            MatchPair(demand=make_listing("demand"), achievement=make_listing("achievement"), score=80, status=status)
        )
    db.session.commit()
    make_deal("又一个价格问题", DealStage.LOST, loss_reason="price", source="pair", source_id=1)
    login(client, world["mine"])
    page = client.get("/matchmaking/").get_data(as_text=True)
    assert 'data-figure="dismissed">2<' in page
    price = (
        '<tr data-reason="price"><td>价格未谈拢</td><td class="text-end fw-semibold">2</td><td class="text-end">1</td>'
    )
    assert price in page
    silent = (
        '<tr data-reason="no_response"><td>对方无回应</td><td class="text-end fw-semibold">1</td><td class="text-end">0'
    )
    assert silent in page


def test_pipeline_query_for_researcher_refused_with_message(world):
    from marketplace.core.errors import PermissionDenied

    with pytest.raises(PermissionDenied, match="技术经纪人"):
        pipeline.deal_query(make_user(Role.RESEARCHER), pipeline.Filters())


def test_pipeline_pages_in_english(client, world):
    login(client, world["mine"])
    board = client.get("/deals/pipeline?lang=en").get_data(as_text=True)
    assert "Deal pipeline" in board and "How these figures are computed" in board
    table = client.get("/deals/pipeline/table?lang=en").get_data(as_text=True)
    assert "Days in stage" in table


def test_sort_by_stage_follows_pipeline_order(world):
    admin = make_user(Role.ADMIN, org=None)
    filters = pipeline.Filters.from_args(MultiDict({"sort": "stage"}), admin)
    stages = [d.stage for d in db.session.scalars(pipeline.deal_query(admin, filters))]
    assert stages == ["lead", "negotiating", "won", "lost", "lost"]


def test_board_full_column_links_to_table_with_filters(client, world, monkeypatch):
    for n in range(3):
        make_deal(f"批量线索{n}", broker_id=world["mine"].id, industry="new_materials")
    monkeypatch.setattr(pipeline, "BOARD_PER_STAGE", 2)
    login(client, world["mine"])
    page = client.get("/deals/pipeline?industry=new_materials").get_data(as_text=True)
    assert page.count('class="card shadow-sm mb-2 deal-card"') == 2
    assert "查看全部 4 个" in page
    assert "/deals/pipeline/table?industry=new_materials&amp;stage=lead" in page


def test_export_formula_like_title_neutralised(client, world):
    make_deal('=HYPERLINK("http://x")', broker_id=world["mine"].id)
    login(client, world["mine"])
    rows = list(csv.reader(io.StringIO(client.get("/deals/pipeline/export.csv").data.decode("utf-8-sig"))))
    assert '\'=HYPERLINK("http://x")' in [row[1] for row in rows]
    sheet = load_workbook(io.BytesIO(client.get("/deals/pipeline/export.xlsx").data)).active
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)
