"""Technology contracts: validation, the life cycle and the roll-ups it keeps, deals, proposals, pages."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from marketplace.accounts.roles import OrgKind, Role
from marketplace.contracts import proposals, services
from marketplace.contracts.models import (
    ContractLinkProposal,
    ContractSource,
    ContractStatus,
    LinkProposalStatus,
    TechContract,
)
from marketplace.contracts.services import ContractInvalid
from marketplace.core.audit import AuditEvent
from marketplace.core.errors import PermissionDenied, ServiceError
from marketplace.deals.models import Deal, DealAchievement, DealEvent
from marketplace.extensions import db
from marketplace.notifications.models import Notification
from marketplace.stats.models import TurnoverRollup
from tests.factories import login, make_listing, make_org, make_user

D = Decimal


def contract_data(**changes) -> dict:
    data = {
        "project_name": "海水淡化膜组件开发",
        "contract_type": "development",
        "tech_field": "new_materials",
        "contract_amount": D("1000000.00"),
        "tech_amount": D("800000.00"),
        "signed_on": date(2024, 3, 1),
        "valid_from": date(2024, 3, 1),
        "valid_until": date(2025, 3, 1),
        "seller_name": "青岛海洋大学",
        "seller_kind": "university",
        "seller_district": "laoshan",
        "buyer_name": "青岛海水科技有限公司",
        "buyer_kind": "enterprise",
        "buyer_district": "huangdao",
    }
    data.update(changes)
    return data


def rollup(dimension: str = "all", key: str = "", year: int = 2024, month: int = 5) -> tuple:
    row = db.session.scalar(select(TurnoverRollup).filter_by(dimension=dimension, key=key, year=year, month=month))
    return (row.count, row.contract_amount, row.tech_amount) if row else (0, D(0), D(0))


@pytest.fixture
def admin(app):
    return make_user(Role.ADMIN, org=None)


def registered(admin, number="2024370200000001", on=date(2024, 5, 6), **changes) -> TechContract:
    contract = services.create_draft(admin, contract_data(**changes))
    services.register(admin, contract, number, on)
    db.session.commit()
    return contract


# --- validation ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"contract_amount": D("0")}, "contract_amount"),
        ({"contract_amount": D("-5")}, "contract_amount"),
        ({"tech_amount": D("-1")}, "tech_amount"),
        ({"tech_amount": D("1000000.01")}, "tech_amount"),
        ({"registered_on": date(2024, 2, 1)}, "registered_on"),
        ({"valid_until": date(2024, 2, 1)}, "valid_until"),
        ({"contract_type": "lease"}, "contract_type"),
        ({"tech_field": "astrology"}, "tech_field"),
        ({"seller_district": "beijing"}, "seller_district"),
        ({"buyer_kind": "alien"}, "buyer_kind"),
        ({"project_name": "  "}, "project_name"),
    ],
)
def test_check_fields_broken_rule_raises_with_field(app, changes, field):
    with pytest.raises(ContractInvalid) as error:
        services.check_fields(contract_data(**changes))
    assert error.value.field == field and error.value.message


def test_check_fields_tech_amount_equal_to_contract_amount_is_valid(app):
    services.check_fields(contract_data(tech_amount=D("1000000.00"), registered_on=date(2024, 3, 1)))


def test_register_duplicate_registration_number_is_refused_with_message(app, admin):
    registered(admin)
    second = services.create_draft(admin, contract_data())
    with pytest.raises(ContractInvalid, match="2024370200000001 已存在"):
        services.register(admin, second, "2024370200000001", date(2024, 5, 7))


def test_create_draft_without_capability_is_denied(app):
    researcher = make_user(Role.RESEARCHER)
    with pytest.raises(PermissionDenied):
        services.create_draft(researcher, contract_data())


# --- life cycle and roll-ups ---------------------------------------------------------------------


def test_draft_counts_nowhere_and_register_adds_to_every_dimension(app, admin):
    contract = services.create_draft(admin, contract_data())
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(TurnoverRollup)) == 0
    services.register(admin, contract, "2024370200000001", date(2024, 5, 6))
    db.session.commit()
    assert contract.status == ContractStatus.REGISTERED
    expected = (1, D("1000000.00"), D("800000.00"))
    assert rollup() == expected
    assert rollup("output_district", "laoshan") == expected
    assert rollup("absorption_district", "huangdao") == expected
    assert rollup("seller_kind", "university") == expected
    assert rollup("via_platform", "other") == expected


def test_amend_replaces_amounts_in_totals_and_audits_old_and_new(app, admin):
    contract = registered(admin)
    services.amend(
        admin, contract, {"contract_amount": D("1500000.00"), "tech_amount": D("1200000.00")}, "补充协议增加金额"
    )
    db.session.commit()
    assert contract.status == ContractStatus.AMENDED and contract.amended_at is not None
    assert rollup() == (1, D("1500000.00"), D("1200000.00"))
    event = db.session.scalar(select(AuditEvent).filter_by(action="contract.amend"))
    assert event.detail["old"] == {"contract_amount": "1000000.00", "tech_amount": "800000.00"}
    assert event.detail["new"] == {"contract_amount": "1500000.00", "tech_amount": "1200000.00"}
    assert event.detail["reason"] == "补充协议增加金额"


def test_amend_moving_registration_month_and_district_moves_the_totals(app, admin):
    contract = registered(admin)
    services.amend(admin, contract, {"registered_on": date(2024, 7, 1), "seller_district": "shinan"}, "更正")
    db.session.commit()
    assert rollup(month=5) == (0, D(0), D(0))
    assert rollup(month=7)[0] == 1
    assert rollup("output_district", "laoshan", month=7)[0] == 0
    assert rollup("output_district", "shinan", month=7)[0] == 1


def test_amend_breaking_a_rule_changes_nothing(app, admin):
    contract = registered(admin)
    with pytest.raises(ContractInvalid):
        services.amend(admin, contract, {"tech_amount": D("2000000")}, "错误")
    db.session.rollback()
    assert rollup() == (1, D("1000000.00"), D("800000.00"))


def test_amend_without_reason_is_refused(app, admin):
    contract = registered(admin)
    with pytest.raises(ContractInvalid):
        services.amend(admin, contract, {"contract_amount": D("2")}, " ")


def test_cancel_removes_contract_from_every_total(app, admin):
    contract = registered(admin)
    services.cancel(admin, contract, date(2024, 9, 1), "合同解除")
    db.session.commit()
    assert contract.status == ContractStatus.CANCELLED
    rows = db.session.scalars(select(TurnoverRollup)).all()
    assert rows and all((r.count, r.contract_amount, r.tech_amount) == (0, 0, 0) for r in rows)
    with pytest.raises(ServiceError):
        services.cancel(admin, contract, date(2024, 9, 2), "再次")


def test_record_performance_above_contract_amount_is_refused(app, admin):
    contract = registered(admin)
    services.record_performance(admin, contract, D("300000.00"))
    assert contract.performed_amount == D("300000.00")
    with pytest.raises(ContractInvalid):
        services.record_performance(admin, contract, D("1000000.01"))


def test_update_draft_of_registered_contract_is_refused(app, admin):
    contract = registered(admin)
    with pytest.raises(ServiceError):
        services.update_draft(admin, contract, {"project_name": "改名"})


# --- deals ---------------------------------------------------------------------------------------


def make_deal(stage="signed", broker=None, **fields) -> Deal:
    seller = fields.pop("seller", None) or make_org(OrgKind.INSTITUTION, name="中国海洋大学", district="laoshan")
    buyer = fields.pop("buyer", None) or make_org(OrgKind.ENTERPRISE, name="青岛港湾机械有限公司", district=None)
    deal = Deal(
        title="港口起重机智能运维",
        stage=stage,
        seller_org_id=seller.id,
        buyer_org_id=buyer.id,
        broker_id=broker.id if broker else None,
        **fields,
    )
    db.session.add(deal)
    db.session.commit()
    return deal


def test_create_from_deal_copies_parties_listings_and_value(app, admin):
    demand = make_listing("demand")
    achievement = make_listing("achievement")
    deal = make_deal(expected_value=D("2500000.00"), demand_id=demand.id)
    db.session.add(DealAchievement(deal_id=deal.id, achievement_id=achievement.id))
    db.session.commit()
    contract = services.create_from_deal(admin, deal)
    db.session.commit()
    assert (contract.seller_name, contract.seller_kind, contract.seller_district) == (
        "中国海洋大学",
        "university",
        "laoshan",
    )
    assert (contract.buyer_name, contract.buyer_kind, contract.buyer_district) == (
        "青岛港湾机械有限公司",
        "enterprise",
        "outside",
    )
    assert contract.seller_org_id == deal.seller_org_id and contract.buyer_org_id == deal.buyer_org_id
    assert (contract.project_name, contract.contract_amount, contract.tech_amount) == (
        "港口起重机智能运维",
        D("2500000.00"),
        D("2500000.00"),
    )
    assert (contract.source, contract.deal_id, contract.status) == (ContractSource.DEAL, deal.id, "draft")
    assert sorted(link.listing_id for link in contract.listing_links) == sorted([demand.id, achievement.id])
    assert db.session.scalar(select(DealEvent).filter_by(deal_id=deal.id, kind="contract")) is not None


def test_create_from_deal_institute_without_university_name_is_institute(app, admin):
    seller = make_org(OrgKind.INSTITUTION, name="青岛海洋装备研究所", district="shinan")
    contract = services.create_from_deal(admin, make_deal(seller=seller, expected_value=D("10")))
    assert contract.seller_kind == "institute"


def test_create_from_deal_by_another_broker_is_denied(app):
    broker, other = make_user(Role.BROKER, org=None), make_user(Role.BROKER, org=None)
    deal = make_deal(broker=broker, expected_value=D("100"))
    with pytest.raises(PermissionDenied):
        services.create_from_deal(other, deal)
    assert services.create_from_deal(broker, deal).deal_id == deal.id


def test_link_deal_moves_totals_to_via_platform(app, admin):
    contract = registered(admin)
    deal = make_deal()
    services.link_deal(admin, contract, deal)
    db.session.commit()
    assert rollup("via_platform", "other")[0] == 0
    assert rollup("via_platform", "deal") == (1, D("1000000.00"), D("800000.00"))
    assert rollup()[0] == 1


def test_registering_the_contract_of_a_signed_deal_moves_the_deal_to_registered(app, admin):
    broker = make_user(Role.BROKER, org=None)
    deal = make_deal(broker=broker, expected_value=D("500000.00"))
    contract = services.create_from_deal(broker, deal)
    db.session.commit()
    assert deal.stage == "signed"  # a draft registers nothing
    services.register(admin, contract, "2025370200000099", date(2025, 6, 1))
    db.session.commit()
    db.session.refresh(deal)
    assert deal.stage == "registered"
    event = db.session.scalar(select(DealEvent).filter_by(deal_id=deal.id, kind="stage"))
    assert (event.detail["from"], event.detail["to"], event.actor_id) == ("signed", "registered", admin.id)


def test_linking_a_registered_contract_to_a_negotiating_deal_leaves_its_stage(app, admin):
    broker = make_user(Role.BROKER, org=None)
    deal = make_deal(stage="negotiating", broker=broker)
    services.link_deal(broker, registered(admin), deal)
    db.session.commit()
    db.session.refresh(deal)
    assert deal.stage == "negotiating"  # only a signed deal is moved on; the rest is the broker's call


# --- proposals -----------------------------------------------------------------------------------


def test_proposal_for_matching_parties_is_created_notified_and_accepted(app, admin):
    broker = make_user(Role.BROKER, org=None)
    deal = make_deal(stage="negotiating", broker=broker)
    rows = [{"registration_no": "R1", "seller_name": "中国海洋大学", "buyer_name": "青岛港湾机械有限公司"}]
    contract = registered(admin, number="R1", seller_name="中国海洋大学", buyer_name="青岛港湾机械有限公司")
    assert proposals.propose_for_rows(rows) == 1
    db.session.commit()
    proposal = db.session.scalar(select(ContractLinkProposal))
    assert (proposal.contract_id, proposal.deal_id, proposal.status) == (contract.id, deal.id, "proposed")
    assert db.session.scalar(select(Notification).filter_by(user_id=broker.id, kind="contract_link_proposed"))

    stranger = make_user(Role.BROKER, org=None)
    with pytest.raises(PermissionDenied):
        proposals.accept_proposal(stranger, proposal)
    proposals.accept_proposal(broker, proposal)
    db.session.commit()
    assert proposal.status == LinkProposalStatus.ACCEPTED and contract.deal_id == deal.id
    assert rollup("via_platform", "deal", year=2024, month=5)[0] == 1
    assert db.session.scalar(select(DealEvent).filter_by(deal_id=deal.id, kind="contract")) is not None


def test_proposal_not_made_for_lost_deal_or_other_parties(app, admin):
    make_deal(stage="lost")
    rows = [{"registration_no": "R1", "seller_name": "中国海洋大学", "buyer_name": "青岛港湾机械有限公司"}]
    assert proposals.propose_for_rows(rows) == 0
    make_deal(stage="signed", seller=make_org(name="别的大学"), buyer=make_org(name="别的公司"))
    assert proposals.propose_for_rows(rows) == 0


def test_decline_proposal_leaves_contract_unlinked(app, admin):
    broker = make_user(Role.BROKER, org=None)
    make_deal(broker=broker)
    contract = registered(admin, number="R1", seller_name="中国海洋大学", buyer_name="青岛港湾机械有限公司")
    proposals.propose_for_rows(
        [{"registration_no": "R1", "seller_name": "中国海洋大学", "buyer_name": "青岛港湾机械有限公司"}]
    )
    proposal = db.session.scalar(select(ContractLinkProposal))
    proposals.decline_proposal(broker, proposal)
    db.session.commit()
    assert proposal.status == "declined" and contract.deal_id is None
    with pytest.raises(ServiceError):
        proposals.accept_proposal(broker, proposal)


# --- pages ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["/admin/contracts/", "/admin/contracts/new", "/admin/contracts/import", "/admin/contracts/1"],
)
def test_admin_contract_pages_for_non_admin_are_forbidden(app, client, path):
    login(client, make_user(Role.BROKER, org=None))
    assert client.get(path).status_code == 403


def test_admin_creates_registers_amends_and_cancels_through_the_pages(app, client, admin):
    login(client, admin)
    form = {
        "project_name": "页面新建合同",
        "contract_type": "service",
        "tech_field": "",
        "contract_amount": "50000",
        "tech_amount": "60000",
        "seller_name": "青岛大学",
        "seller_kind": "university",
        "seller_district": "shinan",
        "buyer_name": "某公司",
        "buyer_kind": "enterprise",
        "buyer_district": "outside",
    }
    refused = client.post("/admin/contracts/new", data=form)
    assert refused.status_code == 400 and "技术交易额不能大于合同成交额" in refused.get_data(as_text=True)
    response = client.post("/admin/contracts/new", data={**form, "tech_amount": "40000"})
    assert response.status_code == 302
    contract = db.session.scalar(select(TechContract))
    page = client.get(f"/admin/contracts/{contract.id}").get_data(as_text=True)
    assert "页面新建合同" in page and "5万元" in page and "草稿" in page

    client.post(
        f"/admin/contracts/{contract.id}/register", data={"registration_no": "P-1", "registered_on": "2024-05-06"}
    )
    db.session.expire_all()
    assert contract.status == "registered" and rollup()[0] == 1

    amended = client.post(
        f"/admin/contracts/{contract.id}/amend",
        data={
            **form,
            "tech_amount": "40000",
            "contract_amount": "70000",
            "registered_on": "2024-05-06",
            "reason": "增加",
        },
    )
    assert amended.status_code == 302
    db.session.expire_all()
    assert rollup() == (1, D("70000.00"), D("40000.00"))
    history = client.get(f"/admin/contracts/{contract.id}").get_data(as_text=True)
    assert "50000.00 → 70000.00" in history

    client.post(f"/admin/contracts/{contract.id}/cancel", data={"cancelled_on": "2024-06-01", "reason": "解除"})
    db.session.expire_all()
    assert contract.status == "cancelled" and rollup()[0] == 0


def test_contract_list_filters_by_year_district_and_search(app, client, admin):
    registered(admin, number="A-1", project_name="海洋监测浮标")
    registered(admin, number="A-2", on=date(2023, 5, 6), seller_district="jimo", signed_on=date(2023, 1, 1))
    login(client, admin)
    assert "海洋监测浮标" in client.get("/admin/contracts/?year=2024").get_data(as_text=True)
    page = client.get("/admin/contracts/?year=2023&district=jimo").get_data(as_text=True)
    assert "A-2" in page and "A-1" not in page
    assert "A-1" in client.get("/admin/contracts/?q=浮标").get_data(as_text=True)
    empty = client.get("/admin/contracts/?q=不存在&year=abc&district=mars&page=x")
    assert empty.status_code == 200 and "没有符合条件的合同" in empty.get_data(as_text=True)


def test_register_with_bad_input_is_a_message_not_a_500(app, client, admin):
    contract = services.create_draft(admin, contract_data())
    db.session.commit()
    login(client, admin)
    response = client.post(
        f"/admin/contracts/{contract.id}/register", data={"registration_no": "", "registered_on": "x"}
    )
    assert response.status_code == 400


def test_broker_accepts_proposal_on_the_proposals_page_and_others_get_404(app, client, admin):
    broker = make_user(Role.BROKER, org=None)
    deal = make_deal(broker=broker)
    registered(admin, number="R1", seller_name="中国海洋大学", buyer_name="青岛港湾机械有限公司")
    rows = [{"registration_no": "R1", "seller_name": "中国海洋大学", "buyer_name": "青岛港湾机械有限公司"}]
    proposals.propose_for_rows(rows)
    db.session.commit()
    proposal = db.session.scalar(select(ContractLinkProposal))

    login(client, make_user(Role.BROKER, org=None))
    assert "港口起重机智能运维" not in client.get("/contracts/proposals").get_data(as_text=True)
    assert client.post(f"/contracts/proposals/{proposal.id}/accept").status_code == 404

    client.post("/account/logout")
    login(client, broker)
    assert "港口起重机智能运维" in client.get("/contracts/proposals").get_data(as_text=True)
    assert client.post(f"/contracts/proposals/{proposal.id}/accept").status_code == 302
    db.session.expire_all()
    assert proposal.status == "accepted" and proposal.contract.deal_id == deal.id


def test_broker_creates_contract_from_own_deal_by_post(app, client):
    broker = make_user(Role.BROKER, org=None)
    deal = make_deal(broker=broker, expected_value=D("300000"))
    login(client, broker)
    assert client.post(f"/contracts/from-deal/{deal.id}").status_code == 302
    assert db.session.scalar(select(TechContract)).deal_id == deal.id


# --- demo data -----------------------------------------------------------------------------------


def test_demo_contracts_follow_the_published_series_and_are_idempotent(app):
    from marketplace.demo.contracts import seed_contracts

    added = seed_contracts(echo=lambda *_: None, today=date(2026, 3, 15))
    db.session.commit()
    assert added == 2000 * 5 + 500

    def year_total(year, dimension="all", key=""):
        rows = db.session.scalars(select(TurnoverRollup).filter_by(dimension=dimension, key=key, year=year)).all()
        return sum((row.contract_amount for row in rows), D(0))

    assert year_total(2021) == D("32010000000.00")
    assert year_total(2024) == D("70958000000.00")
    huangdao_2025 = year_total(2025, "output_district", "huangdao")
    assert D("80e8") < huangdao_2025 < D("100e8")  # about 11 % of 780 亿: the West Coast target is still ahead
    assert db.session.scalar(select(func.max(TechContract.registered_on))) <= date(2026, 3, 15)
    kinds = {row.key for row in db.session.scalars(select(TurnoverRollup).filter_by(dimension="contract_type"))}
    assert kinds == {"development", "transfer", "license", "consulting", "service"}
    assert seed_contracts(echo=lambda *_: None) == 0


def test_create_from_deal_without_expected_value_needs_an_amount(app, client):
    broker = make_user(Role.BROKER, org=None)
    deal = make_deal(broker=broker)
    login(client, broker)
    client.post(f"/contracts/from-deal/{deal.id}")
    assert db.session.scalar(select(func.count()).select_from(TechContract)) == 0
    assert client.post(f"/contracts/from-deal/{deal.id}", data={"contract_amount": "abc"}).status_code == 400
    client.post(f"/contracts/from-deal/{deal.id}", data={"contract_amount": "120000"})
    assert db.session.scalar(select(TechContract.contract_amount)) == D("120000.00")
