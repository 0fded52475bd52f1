"""The turnover dashboard, the public summary, the exports and the targets' admin pages, through the client."""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from marketplace.accounts.roles import Role
from marketplace.core.audit import AuditEvent
from marketplace.extensions import db
from marketplace.stats import exports, targets
from marketplace.stats.models import PublishedFigure, Target
from tests.factories import login, make_user
from tests.test_stats import build_fixture_contracts

YI = Decimal(100_000_000)


@pytest.fixture
def fixture_contracts(app):
    """The contracts whose totals tests/test_stats.py works out by hand."""
    build_fixture_contracts()


@pytest.fixture
def admin_client(client):
    login(client, make_user(Role.ADMIN, org=None))
    return client


def table_values(html: str, section: str) -> dict[str, list[str]]:
    """Each row's data-value cells of one section's table, by row key."""
    block = html.split(f'id="section-{section}"', 1)[1].split("</section>", 1)[0]
    rows = {}
    for key, body in re.findall(r'<tr[^>]*data-key="([^"]*)"[^>]*>(.*?)</tr>', block, re.S):
        if key != "total":
            rows[key] = re.findall(r'data-value="([^"]*)"', body)
    return rows


def test_dashboard_admin_sees_every_section_with_hand_totals(fixture_contracts, admin_client):
    response = admin_client.get("/stats/?year=2024")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    for name in exports.SECTIONS:
        assert f'id="section-{name}"' in html
    assert table_values(html, "year")["2024"] == ["6", "4373456.78", "3273456.78"]
    assert table_values(html, "output_district")["huangdao"] == ["2", "2500000.00", "1700000.00"]
    assert table_values(html, "absorption_district")["huangdao"] == ["2", "1300000.00", "1100000.00"]
    assert table_values(html, "month")["03"] == ["2", "623456.78", "323456.78"]
    assert table_values(html, "top_sellers")["西海岸科技"] == ["2", "2500000.00", "1700000.00"]
    assert 'id="stats-data" data-stats=' in html
    assert "vendor/echarts/echarts.min.js" in html and "js/stats-charts.js" in html
    assert "R3" in html  # the contract that came through a platform deal


def test_dashboard_year_filter_changes_the_yearly_views(fixture_contracts, admin_client):
    html = admin_client.get("/stats/?year=2023").get_data(as_text=True)
    assert table_values(html, "output_district")["shinan"] == ["1", "700000.00", "600000.00"]
    assert table_values(html, "via_platform")["deal"] == ["0", "0.00", "0.00"]


@pytest.mark.parametrize("year", ["abc", "99999999999999999999", "-1", "1850"])
def test_dashboard_bad_year_falls_back_to_latest(fixture_contracts, admin_client, year):
    response = admin_client.get(f"/stats/?year={year}")
    assert response.status_code == 200
    assert table_values(response.get_data(as_text=True), "month")["02"] == ["1", "88888.88", "0.00"]  # 2025


def test_dashboard_empty_database_shows_empty_states(app, admin_client):
    response = admin_client.get("/stats/")
    assert response.status_code == 200
    assert "暂无登记合同" in response.get_data(as_text=True)


def test_dashboard_anonymous_redirects_to_login(app, client):
    response = client.get("/stats/")
    assert response.status_code == 302 and "/account/login" in response.headers["Location"]


@pytest.mark.parametrize("role", [Role.BROKER, Role.ENTERPRISE, Role.RESEARCHER])
def test_dashboard_non_admin_gets_403(app, client, role):
    login(client, make_user(role))
    assert client.get("/stats/").status_code == 403
    assert client.get("/stats/export/top_sellers.csv?year=2024").status_code == 403
    assert client.get("/stats/targets").status_code == 403


def test_summary_public_shows_totals_and_targets_but_no_party(fixture_contracts, client):
    targets.seed_defaults()
    db.session.commit()
    response = client.get("/stats/summary")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert table_values(html, "year")["2024"] == ["6", "4373456.78", "3273456.78", "70958000000.00"]
    assert table_values(html, "year")["2021"] == ["0", "0.00", "0.00", "32010000000.00"]  # a published-only year
    assert 'data-target-state="passed"' in html  # the city's 500 亿 target, passed per the 2024 figure
    for name in ("青岛大学", "西海岸科技", "海尔集团", "中科院海洋研究所", "北京某公司", "R3"):
        assert name not in html
    assert client.get("/stats/export/year.csv").status_code == 200
    assert client.get("/stats/export/top_buyers.xlsx?year=2024").status_code == 302  # to the login page


def test_export_csv_has_bom_and_the_page_numbers(fixture_contracts, admin_client):
    html = admin_client.get("/stats/?year=2024").get_data(as_text=True)
    for name in exports.SECTIONS:
        response = admin_client.get(f"/stats/export/{name}.csv?year=2024")
        assert response.status_code == 200
        assert response.data.startswith(b"\xef\xbb\xbf")
        rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
        page = table_values(html, name)
        body = [row for row in rows[1:] if row[0] != "合计"]
        assert len(body) == len(page), name
        for (key, values), row in zip(page.items(), body, strict=True):
            assert [row[1], row[2], row[4]] == values[:3], (name, key)
    district = admin_client.get("/stats/export/output_district.csv?year=2024").data.decode("utf-8-sig")
    assert "黄岛区（西海岸新区）,2,2500000.00,250.000000,1700000.00,170.000000" in district
    assert "合计,6,4373456.78,437.345678,3273456.78,327.345678" in district


def test_export_xlsx_has_the_page_numbers(fixture_contracts, admin_client):
    targets.seed_defaults()
    db.session.commit()
    html = admin_client.get("/stats/?year=2024").get_data(as_text=True)
    for name in ("year", "absorption_district", "seller_group", "top_buyers"):
        response = admin_client.get(f"/stats/export/{name}.xlsx?year=2024")
        assert response.status_code == 200
        sheet = load_workbook(io.BytesIO(response.data)).active
        rows = list(sheet.iter_rows(min_row=3, values_only=True))
        page = table_values(html, name)
        for (key, values), row in zip(page.items(), rows, strict=False):
            assert [str(row[1]), f"{Decimal(str(row[2])):.2f}", f"{Decimal(str(row[4])):.2f}"] == values[:3], (
                name,
                key,
            )
    sheet = load_workbook(io.BytesIO(admin_client.get("/stats/export/year.xlsx").data)).active
    by_year = {row[0]: row for row in sheet.iter_rows(min_row=3, values_only=True)}
    assert f"{Decimal(str(by_year['2024'][2])):.2f}" == "4373456.78"
    assert f"{Decimal(str(by_year['2024'][6])):.2f}" == "70958000000.00"


@pytest.mark.parametrize("path", ["/stats/export/nope.csv", "/stats/export/year.pdf"])
def test_export_unknown_view_or_format_404(admin_client, path):
    assert admin_client.get(path).status_code == 404


def test_targets_admin_add_edit_delete_are_audited(app, admin_client):
    response = admin_client.post(
        "/stats/targets/new",
        data={"scope": "laoshan", "measure": "absorption", "metric": "tech_amount", "year": "2027", "value_yi": "12.5"},
    )
    assert response.status_code == 302
    target = db.session.query(Target).filter_by(scope="laoshan").one()
    assert (target.value, target.measure, target.metric) == (Decimal("1250000000.00"), "absorption", "tech_amount")
    admin_client.post(
        f"/stats/targets/{target.id}/edit",
        data={"scope": "laoshan", "measure": "output", "metric": "tech_amount", "year": "2027", "value_yi": "15"},
    )
    db.session.expire_all()
    assert db.session.get(Target, target.id).value == 15 * YI
    assert admin_client.get("/stats/targets").status_code == 200
    admin_client.post(f"/stats/targets/{target.id}/delete")
    assert db.session.query(Target).count() == 0
    actions = [event.action for event in db.session.query(AuditEvent).order_by(AuditEvent.id)]
    assert actions == ["stats.target_created", "stats.target_updated", "stats.target_deleted"]


def test_published_figure_admin_rejects_duplicate_and_bad_value(app, admin_client):
    data = {"scope": "city", "metric": "contract_amount", "year": "2023", "value_yi": "632.4"}
    assert admin_client.post("/stats/figures/new", data=data).status_code == 302
    assert db.session.query(PublishedFigure).one().value == Decimal("63240000000.00")
    again = admin_client.post("/stats/figures/new", data=data)
    assert again.status_code == 200 and "已有一条记录" in again.get_data(as_text=True)
    bad = admin_client.post("/stats/figures/new", data=data | {"year": "2022", "value_yi": "-3"})
    assert bad.status_code == 200 and db.session.query(PublishedFigure).count() == 1
    assert admin_client.post("/stats/figures/999/delete").status_code == 404


def test_dashboard_target_ahead_card_states_gap_growth_and_projection_method(fixture_contracts, admin_client):
    from datetime import date

    from tests.test_stats import add_contract

    this_year = date.today().year
    add_contract("NOW1", date.today(), "3650000.00", "3650000.00", "laoshan", "laoshan")
    db.session.add(Target(scope="laoshan", metric="contract_amount", measure="output", year=this_year + 1, value=YI))
    db.session.commit()
    html = admin_client.get("/stats/").get_data(as_text=True)
    card = html.split('data-target-state="ahead"', 1)[1].split("</div>\n  </div>", 1)[0]
    assert "距目标还差" in card and "需年均增长" in card
    assert f"{this_year} 年末预测" in card and "预测方法" in card
