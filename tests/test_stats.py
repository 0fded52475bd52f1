"""Turnover statistics against hand-computed totals, the CLI and API figures, and target status maths."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest

from marketplace.contracts.models import TechContract
from marketplace.deals.models import Deal
from marketplace.extensions import db
from marketplace.stats import queries, rollup, targets
from marketplace.stats.models import PublishedFigure, Target

YI = Decimal(100_000_000)


def add_contract(
    number: str, registered_on, amount: str, tech: str, seller_district: str, buyer_district: str, **fields
):
    """A contract as the contract services leave it: saved, and its facts added to the roll-ups."""
    values = {
        "registration_no": number,
        "registered_on": registered_on,
        "project_name": f"项目{number}",
        "contract_type": "development",
        "tech_field": "new_materials",
        "contract_amount": Decimal(amount),
        "tech_amount": Decimal(tech),
        "seller_name": "青岛大学",
        "seller_kind": "university",
        "seller_district": seller_district,
        "buyer_name": "海尔集团",
        "buyer_kind": "enterprise",
        "buyer_district": buyer_district,
        "status": "registered" if registered_on else "draft",
    } | fields
    contract = TechContract(**values)
    db.session.add(contract)
    db.session.flush()
    rollup.record_change(None, rollup.facts_of(contract))
    return contract


def change(contract: TechContract, **fields) -> None:
    before = rollup.facts_of(contract)
    for name, value in fields.items():
        setattr(contract, name, value)
    db.session.flush()
    rollup.record_change(before, rollup.facts_of(contract))


@pytest.fixture
def fixture_contracts(app):
    build_fixture_contracts()


def build_fixture_contracts() -> None:
    """A dozen contracts; the totals the tests expect are worked out by hand in each test."""
    deal = Deal(title="海水提锂撮合")
    db.session.add(deal)
    db.session.flush()
    add_contract("R1", date(2024, 1, 15), "1000000.00", "800000.00", "shinan", "huangdao")
    add_contract(
        "R2", date(2024, 3, 10), "123456.78", "123456.78", "laoshan", "laoshan",
        contract_type="transfer", tech_field="biomedicine", seller_kind="institute",
        seller_name="中科院海洋研究所", buyer_name="青岛啤酒",
    )  # fmt: skip
    add_contract(
        "R3", date(2024, 3, 31), "500000.00", "200000.00", "huangdao", "shinan",
        contract_type="service", tech_field="electronic_information", seller_kind="enterprise",
        seller_name="西海岸科技", buyer_name="市南软件", deal_id=deal.id,
    )  # fmt: skip
    add_contract(
        "R4", date(2024, 6, 1), "2000000.00", "1500000.00", "huangdao", "outside",
        contract_type="consulting", tech_field="advanced_manufacturing", seller_kind="enterprise",
        seller_name="西海岸科技", buyer_name="北京某公司",
    )  # fmt: skip
    add_contract(
        "R5", date(2024, 12, 31), "300000.00", "300000.00", "outside", "huangdao",
        contract_type="license", tech_field="new_energy", seller_kind="other", seller_name="济南技术研究会",
    )  # fmt: skip
    add_contract("R6", date(2023, 5, 5), "700000.00", "600000.00", "shinan", "shinan", buyer_name="市南软件")
    add_contract(
        "R7", date(2023, 11, 20), "50000.01", "50000.01", "chengyang", "huangdao",
        contract_type="service", seller_kind="enterprise", seller_name="城阳装备",
    )  # fmt: skip
    cancelled = add_contract("R8", date(2024, 2, 2), "9999999.00", "9999999.00", "shinan", "huangdao")
    change(cancelled, status="cancelled", cancelled_on=date(2024, 5, 1))
    amended = add_contract("R9", date(2024, 4, 4), "400000.00", "300000.00", "jimo", "laoshan")
    change(amended, status="amended", contract_amount=Decimal("450000.00"), tech_amount=Decimal("350000.00"))
    add_contract("R10", None, "5000000.00", "5000000.00", "shinan", "shinan", registration_no=None)
    add_contract(
        "R11", date(2022, 8, 8), "1234.56", "1000.00", "laoshan", "outside", seller_kind="institute",
        seller_name="中科院海洋研究所",
    )  # fmt: skip
    add_contract("R12", date(2025, 2, 2), "88888.88", "0.00", "pingdu", "jiaozhou", contract_type="transfer")
    db.session.commit()


def t(count: int, contract_amount: str, tech_amount: str) -> dict:
    return {"count": count, "contract_amount": contract_amount, "tech_amount": tech_amount}


def test_turnover_by_year_fixture_matches_hand_totals(fixture_contracts):
    assert queries.turnover_json("year") == {
        "2022": t(1, "1234.56", "1000.00"),
        "2023": t(2, "750000.01", "650000.01"),
        "2024": t(6, "4373456.78", "3273456.78"),
        "2025": t(1, "88888.88", "0.00"),
    }


def test_turnover_year_filter_keeps_only_that_year(fixture_contracts):
    assert queries.turnover_json("year", 2023) == {"2023": t(2, "750000.01", "650000.01")}
    assert queries.turnover_json("year", 2019) == {}


def test_turnover_output_and_absorption_count_different_parties(fixture_contracts):
    output = queries.turnover_json("output_district", 2024)
    absorption = queries.turnover_json("absorption_district", 2024)
    assert output["huangdao"] == t(2, "2500000.00", "1700000.00")
    assert absorption["huangdao"] == t(2, "1300000.00", "1100000.00")
    assert output["shinan"] == t(1, "1000000.00", "800000.00")
    assert absorption["laoshan"] == t(2, "573456.78", "473456.78")
    assert output["jimo"] == t(1, "450000.00", "350000.00")  # the amended amounts, not the registered ones
    assert absorption["outside"] == t(1, "2000000.00", "1500000.00")
    assert output["pingdu"] == t(0, "0.00", "0.00")
    assert list(output) == list(absorption)  # every district in taxonomy order, zeros included
    for measure in (output, absorption):  # each measure on its own sums to the year's total, never both
        assert sum(Decimal(row["contract_amount"]) for row in measure.values()) == Decimal("4373456.78")


def test_turnover_cancelled_and_draft_contracts_count_for_nothing(fixture_contracts):
    all_years = queries.turnover("year")
    assert sum(row.count for row in all_years.values()) == 10
    assert all_years["2024"].contract_amount == Decimal("4373456.78")  # without R8's 9,999,999.00


def test_turnover_by_type_field_and_seller_kind_matches_hand_totals(fixture_contracts):
    types = queries.turnover_json("contract_type", 2024)
    assert types["development"] == t(2, "1450000.00", "1150000.00")  # R1 + amended R9
    assert types["transfer"] == t(1, "123456.78", "123456.78")
    assert types["consulting"] == t(1, "2000000.00", "1500000.00")
    fields = queries.turnover_json("tech_field", 2024)
    assert fields["new_materials"] == t(2, "1450000.00", "1150000.00")
    assert fields["new_energy"] == t(1, "300000.00", "300000.00")
    kinds = queries.turnover_json("seller_kind", 2024)
    assert kinds == {
        "enterprise": t(2, "2500000.00", "1700000.00"),
        "university": t(2, "1450000.00", "1150000.00"),
        "institute": t(1, "123456.78", "123456.78"),
        "other": t(1, "300000.00", "300000.00"),
    }
    groups = queries.by_seller_group(2024)
    assert groups["academic"].contract_amount == Decimal("1573456.78")
    assert groups["academic"].count == 3


def test_turnover_by_month_and_via_platform_match_hand_totals(fixture_contracts):
    months = queries.turnover_json("month", 2024)
    assert months["03"] == t(2, "623456.78", "323456.78")
    assert months["02"] == t(0, "0.00", "0.00")  # R8 registered then cancelled
    assert months["04"] == t(1, "450000.00", "350000.00")
    platform = queries.turnover_json("via_platform", 2024)
    assert platform == {"deal": t(1, "500000.00", "200000.00"), "other": t(5, "3873456.78", "3073456.78")}


def test_top_parties_rank_sellers_and_buyers_of_the_year(fixture_contracts):
    sellers = queries.top_parties("seller", 2024)
    assert [(row.name, row.count, row.contract_amount) for row in sellers[:2]] == [
        ("西海岸科技", 2, Decimal("2500000.00")),
        ("青岛大学", 2, Decimal("1450000.00")),
    ]
    buyers = queries.top_parties("buyer", 2024)
    assert buyers[0].name == "北京某公司"
    assert [contract.registration_no for contract in queries.platform_contracts(2024)] == ["R3"]


def test_stats_cli_json_prints_hand_totals(fixture_contracts, runner):
    result = runner.invoke(args=["stats", "turnover", "--by", "output_district", "--year", "2024", "--json"])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output)
    assert printed["huangdao"] == t(2, "2500000.00", "1700000.00")
    assert printed["laoshan"] == t(1, "123456.78", "123456.78")
    assert set(printed) == {"shinan", "shibei", "licang", "laoshan", "chengyang", "huangdao", "jimo"} | {
        "jiaozhou",
        "pingdu",
        "laixi",
        "outside",
    }


def test_stats_cli_table_lists_years(fixture_contracts, runner):
    result = runner.invoke(args=["stats", "turnover"])
    assert result.exit_code == 0
    assert "4,373,456.78" in result.output and "2022" in result.output


@pytest.mark.parametrize(
    "arguments",
    [["--by", "district"], ["--by", "year", "--year", "20x4"], ["--year", "1850"], ["--by", ""]],
)
def test_stats_cli_bad_parameter_exits_with_usage_error(app, runner, arguments):
    result = runner.invoke(args=["stats", "turnover", *arguments, "--json"])
    assert result.exit_code == 2
    assert "Invalid value" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("by", queries.BY_CHOICES)
def test_stats_api_same_figures_as_cli(fixture_contracts, client, runner, by):
    cli = runner.invoke(args=["stats", "turnover", "--by", by, "--year", "2024", "--json"])
    response = client.get(f"/api/v1/stats/turnover?by={by}&year=2024")
    assert response.status_code == 200
    assert response.get_json() == json.loads(cli.output)


def test_stats_api_without_year_gives_every_year(fixture_contracts, client):
    assert client.get("/api/v1/stats/turnover?by=year").get_json()["2023"] == t(2, "750000.01", "650000.01")


@pytest.mark.parametrize("query", ["by=district", "by=year&year=abc", "by=year&year=99999999999999999999", "by="])
def test_stats_api_bad_parameter_returns_400_json(app, client, query):
    response = client.get(f"/api/v1/stats/turnover?{query}")
    assert response.status_code == 400
    body = response.get_json()
    assert body["status"] == 400 and body["message"]


# --- targets -------------------------------------------------------------------------------------------


def no_months(year):
    return [Decimal(0)] * 12


def test_target_passed_by_published_figure_shows_margin_and_year():
    status = targets.evaluate(
        500 * YI,
        2025,
        platform={},
        published={2012: Decimal("25.4") * YI, 2020: Decimal("286.6") * YI, 2024: Decimal("709.58") * YI},
        months_of=no_months,
        today=date(2025, 3, 1),
    )
    assert status.state == targets.PASSED
    assert (status.crossed_year, status.crossed_source, status.crossed_month) == (2024, "published", None)
    assert status.margin == Decimal("209.58") * YI


def test_target_passed_this_year_gives_crossing_month_from_rollups():
    months = [Decimal(30), Decimal(30), Decimal(39), Decimal(1), Decimal(50)] + [Decimal(0)] * 7
    status = targets.evaluate(
        Decimal(100), 2025, {2024: Decimal(80), 2025: Decimal(150)}, {}, lambda year: months, date(2025, 6, 1)
    )
    assert status.state == targets.PASSED
    assert (status.crossed_year, status.crossed_month, status.margin) == (2025, 4, Decimal(50))


def test_target_ahead_gives_gap_needed_growth_and_projection():
    # 2024: 64 亿 full year; 2025 to date (31 Jan + 28 Feb + 31 Mar + 10 Apr = 100 days): 20 亿.
    status = targets.evaluate(
        100 * YI,
        2026,
        platform={2024: 64 * YI, 2025: 20 * YI},
        published={},
        months_of=no_months,
        today=date(2025, 4, 10),
    )
    assert status.state == targets.AHEAD
    assert (status.latest_year, status.latest_value, status.gap) == (2024, 64 * YI, 36 * YI)
    assert status.needed_growth == Decimal("0.2500")  # 64 → 80 → 100: 25 % a year over two years
    assert status.elapsed_days == 100 and status.days_in_year == 365
    assert status.projection == Decimal("7300000000.00")  # 20 亿 ÷ 100 × 365 = 73 亿
    assert status.projected_gap is None  # the target year is next year


def test_target_ahead_in_its_own_year_projects_the_shortfall():
    status = targets.evaluate(
        Decimal(1000), 2024, {2023: Decimal(500), 2024: Decimal(300)}, {}, no_months, date(2024, 3, 1)
    )
    assert status.state == targets.AHEAD
    assert status.needed_growth == Decimal("1.0000")  # double in one year
    assert status.elapsed_days == 61 and status.days_in_year == 366  # leap year
    assert status.projection == Decimal("1800.00")  # 300 ÷ 61 × 366
    assert status.projected_gap == Decimal("-800.00")  # projected to pass by 800
    assert status.gap == Decimal(700)  # still to register this year: 1000 − 300 so far, not − last year's 500


def test_target_of_a_past_year_not_reached_shows_missed_by_how_much():
    status = targets.evaluate(Decimal(100), 2023, {2023: Decimal(70)}, {2022: Decimal(60)}, no_months, date(2025, 1, 1))
    assert status.state == targets.MISSED
    assert (status.gap, status.latest_year, status.latest_source) == (Decimal(30), 2023, "platform")
    earlier_only = targets.evaluate(Decimal(100), 2023, {}, {2022: Decimal(60)}, no_months, date(2025, 1, 1))
    assert (earlier_only.state, earlier_only.gap, earlier_only.latest_year) == ("missed", Decimal(40), 2022)


def test_target_without_any_figure_says_no_data():
    assert targets.evaluate(Decimal(100), 2030, {}, {}, no_months, date(2025, 1, 1)).state == targets.NO_DATA


def test_target_status_of_district_uses_its_measure(fixture_contracts):
    target = Target(scope="huangdao", metric="contract_amount", measure="output", year=2025, value=Decimal(2_400_000))
    status = targets.status_of(target, today=date(2025, 3, 1))
    assert (status.state, status.crossed_year, status.crossed_month) == ("passed", 2024, 6)  # R3 (Mar) + R4 (Jun)
    assert status.margin == Decimal("100000.00")
    target.measure = "absorption"  # buyers in huangdao: 1,300,000 in 2024, nothing in 2025 so far
    status = targets.status_of(target, today=date(2025, 3, 1))
    assert status.state == "ahead" and status.gap == Decimal("1100000.00")


def test_seed_targets_command_is_idempotent(app, runner):
    assert runner.invoke(args=["stats", "seed-targets"]).output.strip() == "added 6"
    assert runner.invoke(args=["stats", "seed-targets"]).output.strip() == "added 0"
    city = db.session.query(Target).filter_by(scope="city").one()
    assert city.value == 500 * YI and city.baseline_value == Decimal("286.6") * YI
    assert db.session.query(PublishedFigure).filter_by(year=2024).one().value == Decimal("709.58") * YI
    status = targets.status_of(city, today=date(2025, 6, 30))
    assert status.state == "passed" and status.crossed_year == 2024


def test_rebuild_rollups_repairs_drifted_totals(fixture_contracts, runner):
    from marketplace.stats.models import PartyRollup, TurnoverRollup

    db.session.query(TurnoverRollup).filter_by(dimension="all", year=2024).update({"count": 99})
    db.session.query(PartyRollup).delete()
    db.session.commit()
    # Six monthly rows for 2024: February's is there at zero since R8 was cancelled.
    assert queries.turnover_json("year", 2024)["2024"]["count"] == 99 * 6
    result = runner.invoke(args=["stats", "rebuild-rollups"])
    assert result.exit_code == 0 and result.output.strip() == "counted 10 contracts"
    assert queries.turnover_json("year") == {
        "2022": t(1, "1234.56", "1000.00"),
        "2023": t(2, "750000.01", "650000.01"),
        "2024": t(6, "4373456.78", "3273456.78"),
        "2025": t(1, "88888.88", "0.00"),
    }
    assert queries.top_parties("seller", 2024)[0].contract_amount == Decimal("2500000.00")
