"""Broker rewards: the pure computation against hand-computed figures (both caps, rounding, policy
validity), the query over registered contracts, the pages, exports and policy administration."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from marketplace.accounts.roles import Role
from marketplace.contracts.models import TechContract
from marketplace.core.audit import AuditEvent
from marketplace.deals import rewards
from marketplace.deals.models import Deal, DealStage, RewardPolicy
from marketplace.deals.rewards import ContractFacts, PolicyFacts, compute_rewards
from marketplace.extensions import db
from tests.factories import login, make_user

D = Decimal
X, Y = 1, 2  # brokers

# 2024: 2 %, at most 30,000 per contract and 50,000 per broker a year. 2025 H2 on: 1.5 %, no caps.
# Between them (2025-01-01 … 2025-06-30) no policy applies.
POLICY_2024 = PolicyFacts(1, D("0.0200"), date(2024, 1, 1), date(2024, 12, 31), D("30000.00"), D("50000.00"))
POLICY_2025 = PolicyFacts(2, D("0.0150"), date(2025, 7, 1))
POLICIES = [POLICY_2024, POLICY_2025]


def test_compute_rewards_both_caps_rounding_and_validity():
    contracts = [  # deliberately out of order: allocation follows registration order
        ContractFacts(3, X, date(2024, 5, 1), D("123456.78")),
        ContractFacts(1, X, date(2024, 2, 1), D("900000.00")),
        ContractFacts(4, X, date(2024, 6, 1), D("10000.00")),
        ContractFacts(2, X, date(2024, 3, 15), D("2000000.00")),
        ContractFacts(8, Y, date(2024, 7, 1), D("1234.25")),
        ContractFacts(5, X, date(2025, 3, 1), D("500000.00")),
        ContractFacts(6, X, date(2025, 8, 1), D("1234567.89")),
        ContractFacts(7, X, date(2025, 7, 1), D("100.01")),
    ]
    result = {r.contract_id: r for r in compute_rewards(contracts, POLICIES)}

    assert [r.contract_id for r in compute_rewards(contracts, POLICIES)] == [1, 2, 3, 4, 8, 5, 7, 6]
    # 900,000 × 2 % = 18,000.00, under both caps.
    assert (result[1].reward, result[1].capped_by) == (D("18000.00"), None)
    # 2,000,000 × 2 % = 40,000 → 30,000 (contract cap); year so far 48,000.
    assert (result[2].computed, result[2].reward, result[2].capped_by) == (D("40000.00"), D("30000.00"), "contract")
    # 123,456.78 × 2 % = 2,469.1356 → 2,469.14; only 2,000 left under the 50,000 year cap.
    assert (result[3].computed, result[3].reward, result[3].capped_by) == (D("2469.14"), D("2000.00"), "year")
    # 10,000 × 2 % = 200, nothing left this year.
    assert (result[4].reward, result[4].capped_by) == (D("0.00"), "year")
    # Broker Y has their own year: 1,234.25 × 2 % = 24.685 → 24.69 (half up, not to even).
    assert result[8].reward == D("24.69")
    # 2025-03-01: no policy is valid.
    assert (result[5].policy_id, result[5].reward) == (None, D("0.00"))
    # 2025-07-01, the first day of the 2025 policy: 100.01 × 1.5 % = 1.50015 → 1.50.
    assert (result[7].policy_id, result[7].reward) == (2, D("1.50"))
    # 1,234,567.89 × 1.5 % = 18,518.51835 → 18,518.52; no caps, and 2025 starts a fresh year total.
    assert result[6].reward == D("18518.52")
    assert sum(r.reward for r in result.values() if r.broker_id == X and r.contract_id <= 4) == D("50000.00")


def test_compute_rewards_overlapping_policies_latest_start_wins():
    special = PolicyFacts(3, D("0.0500"), date(2024, 6, 15), date(2024, 6, 30))
    result = compute_rewards(
        [ContractFacts(1, X, date(2024, 6, 20), D("1000.00")), ContractFacts(2, X, date(2024, 7, 1), D("1000.00"))],
        [*POLICIES, special],
    )
    assert [(r.policy_id, r.reward) for r in result] == [(3, D("50.00")), (1, D("20.00"))]


def test_compute_rewards_policy_ending_day_is_inclusive():
    (last_day,) = compute_rewards([ContractFacts(1, X, date(2024, 12, 31), D("100.00"))], POLICIES)
    (next_day,) = compute_rewards([ContractFacts(2, X, date(2025, 1, 1), D("100.00"))], POLICIES)
    assert (last_day.policy_id, last_day.reward) == (1, D("2.00"))
    assert next_day.policy_id is None


# Contracts in the database ---------------------------------------------------------------------------

_numbers = iter(range(10_000_000, 99_999_999))


def make_contract(deal: Deal | None, registered_on: date, tech: str, status: str = "registered", **fields):
    contract = TechContract(
        registration_no=fields.pop("registration_no", f"3702{next(_numbers)}"),
        registered_on=registered_on,
        project_name=fields.pop("project_name", "海水淡化膜技术开发"),
        contract_type="development",
        contract_amount=D(tech) * 2,
        tech_amount=D(tech),
        seller_name="中国海洋大学",
        seller_kind="university",
        seller_district="shinan",
        buyer_name="青岛某企业",
        buyer_kind="enterprise",
        buyer_district="huangdao",
        status=status,
        deal_id=deal.id if deal else None,
        **fields,
    )
    db.session.add(contract)
    db.session.commit()
    return contract


@pytest.fixture
def setup(app):
    x, y = make_user(Role.BROKER, org=None, name="王经纪"), make_user(Role.BROKER, org=None, name="李经纪")
    db.session.add(
        RewardPolicy(
            name="2024 年奖励办法",
            rate=D("0.0200"),
            cap_per_contract=D("30000.00"),
            cap_per_broker_year=D("50000.00"),
            valid_from=date(2024, 1, 1),
            valid_until=date(2024, 12, 31),
        )
    )
    deal_x = Deal(title="X 的撮合", stage=DealStage.REGISTERED, broker_id=x.id)
    deal_y = Deal(title="Y 的撮合", stage=DealStage.WON, broker_id=y.id)
    pool = Deal(title="线索池", stage=DealStage.SIGNED)
    db.session.add_all([deal_x, deal_y, pool])
    db.session.commit()
    make_contract(deal_x, date(2024, 2, 1), "900000.00", project_name="合同甲")
    make_contract(deal_x, date(2024, 3, 15), "2000000.00", status="amended", project_name="合同乙")
    make_contract(deal_x, date(2024, 5, 1), "123456.78", project_name="合同丙")
    make_contract(deal_x, date(2024, 4, 1), "777777.00", status="cancelled", project_name="已注销合同")
    make_contract(deal_x, date(2024, 4, 2), "777777.00", status="draft", registration_no=None, project_name="草稿")
    make_contract(pool, date(2024, 4, 3), "777777.00", project_name="无经纪人")
    make_contract(None, date(2024, 4, 4), "777777.00", project_name="无撮合")
    make_contract(deal_y, date(2024, 7, 1), "1234.25", project_name="合同丁")
    make_contract(deal_x, date(2023, 7, 1), "1000.00", project_name="去年的合同")
    return {"x": x, "y": y}


def test_broker_rewards_counts_registered_and_amended_linked_contracts_only(setup):
    report = rewards.broker_rewards(2024)
    assert [row.contract.project_name for row in report.rows] == ["合同甲", "合同乙", "合同丙", "合同丁"]
    assert [row.reward.reward for row in report.rows] == [D("18000.00"), D("30000.00"), D("2000.00"), D("24.69")]
    assert report.total == D("50024.69")
    assert report.totals[setup["x"].id]["reward"] == D("50000.00")


def test_broker_rewards_one_broker(setup):
    report = rewards.broker_rewards(2024, setup["y"].id)
    assert [row.contract.project_name for row in report.rows] == ["合同丁"] and report.total == D("24.69")


def test_reward_years_newest_first(setup):
    assert rewards.reward_years() == [2024, 2023]


def test_rewards_page_broker_sees_only_own(client, setup):
    login(client, setup["y"])
    page = client.get(f"/deals/rewards?year=2024&broker={setup['x'].id}").get_data(as_text=True)
    assert "合同丁" in page and "合同甲" not in page
    assert 'data-col="reward">24.69' in page


def test_rewards_page_admin_sees_all_with_year_filter(client, setup):
    login(client, make_user(Role.ADMIN, org=None))
    page = client.get("/deals/rewards?year=2024").get_data(as_text=True)
    assert all(name in page for name in ("合同甲", "合同乙", "合同丙", "合同丁"))
    assert "去年的合同" not in page and "已注销合同" not in page
    assert "按经纪人汇总" in page and "年度上限" in page
    assert "去年的合同" in client.get("/deals/rewards?year=2023").get_data(as_text=True)


def test_rewards_page_researcher_forbidden(client, setup):
    login(client, make_user(Role.RESEARCHER))
    assert client.get("/deals/rewards").status_code == 403
    assert client.get("/deals/rewards/export.csv").status_code == 403


def test_rewards_page_without_contracts_shows_empty_state(client, app):
    login(client, make_user(Role.BROKER, org=None))
    page = client.get("/deals/rewards?year=abc")
    assert page.status_code == 200 and "本年度没有可计奖励的合同" in page.get_data(as_text=True)


def test_rewards_export_csv_same_numbers_as_page(client, setup):
    login(client, make_user(Role.ADMIN, org=None))
    response = client.get("/deals/rewards/export.csv?year=2024")
    assert response.data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert rows[0][0] == "技术经纪人" and rows[0][7] == "奖励金额(元)"
    assert [(row[2], row[7], row[8]) for row in rows[1:-1]] == [
        ("合同甲", "18000.00", ""),
        ("合同乙", "30000.00", "单份合同上限"),
        ("合同丙", "2000.00", "年度上限"),
        ("合同丁", "24.69", ""),
    ]
    assert rows[-1][0] == "合计" and rows[-1][7] == "50024.69"


def test_rewards_export_xlsx_broker_own_rows(client, setup):
    login(client, setup["x"])
    response = client.get("/deals/rewards/export.xlsx?year=2024")
    rows = list(load_workbook(io.BytesIO(response.data)).active.iter_rows(values_only=True))
    assert [row[2] for row in rows[1:-1]] == ["合同甲", "合同乙", "合同丙"]
    assert sum(D(str(row[7])) for row in rows[1:-1]) == D("50000.00") == D(str(rows[-1][7]))


# Policy administration -------------------------------------------------------------------------------


def test_policy_create_and_edit_by_admin_audited(client, app):
    admin = make_user(Role.ADMIN, org=None)
    login(client, admin)
    form = {"name": "2026 年办法", "rate_percent": "2.5", "cap_per_contract": "", "cap_per_broker_year": "100000"}
    response = client.post("/deals/rewards/policies/new", data={**form, "valid_from": "2026-01-01"})
    assert response.status_code == 302
    policy = db.session.scalar(select(RewardPolicy))
    assert (policy.rate, policy.cap_per_contract, policy.cap_per_broker_year) == (D("0.0250"), None, D("100000.00"))

    edit = f"/deals/rewards/policies/{policy.id}/edit"
    assert 'value="2.50"' in client.get(edit).get_data(as_text=True)
    client.post(edit, data={**form, "rate_percent": "3", "valid_from": "2026-01-01", "valid_until": "2026-12-31"})
    db.session.refresh(policy)
    assert policy.rate == D("0.0300") and policy.valid_until == date(2026, 12, 31)
    actions = db.session.scalars(select(AuditEvent.action).where(AuditEvent.object_type == "reward_policies")).all()
    assert actions == ["reward_policy.create", "reward_policy.update"]
    assert "2026 年办法" in client.get("/deals/rewards/policies").get_data(as_text=True)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("rate_percent", "0"),
        ("rate_percent", "101"),
        ("rate_percent", "NaN"),
        ("cap_per_contract", "-1"),
        ("cap_per_contract", "1e400"),
        ("valid_until", "2025-12-31"),
        ("valid_from", "yesterday"),
    ],
)
def test_policy_form_bad_input_shows_error_not_500(client, app, field, value):
    login(client, make_user(Role.ADMIN, org=None))
    data = {"name": "办法", "rate_percent": "2", "valid_from": "2026-01-01", field: value}
    response = client.post("/deals/rewards/policies/new", data=data)
    assert response.status_code == 200 and "is-invalid" in response.get_data(as_text=True)
    assert db.session.scalar(select(RewardPolicy)) is None


def test_policy_pages_broker_forbidden(client, app):
    login(client, make_user(Role.BROKER, org=None))
    assert client.get("/deals/rewards/policies").status_code == 403
    assert client.post("/deals/rewards/policies/new", data={"name": "x"}).status_code == 403
