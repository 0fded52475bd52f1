"""Deals: the stage table and who may use it, loss reasons, the timeline, documents, reminders."""

from __future__ import annotations

import io
from datetime import date, timedelta
from decimal import Decimal

import pytest

from marketplace.accounts.roles import Role
from marketplace.core.audit import AuditEvent
from marketplace.core.errors import PermissionDenied, ServiceError
from marketplace.deals import documents, services, stages
from marketplace.deals.jobs import send_reminders
from marketplace.deals.models import BrokerStatus, DealEvent, DealStage, LossReason
from marketplace.extensions import db
from marketplace.notifications.models import Notification
from tests.deal_helpers import make_broker, make_deal
from tests.factories import login, make_user, run_as_job

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


# --- the table -------------------------------------------------------------------------------------


def test_stage_table_forward_one_step_by_broker_or_admin():
    rule = stages.move(DealStage.LEAD, DealStage.INTRODUCED)
    assert rule.actors == {stages.BROKER, stages.ADMIN}
    assert stages.move(DealStage.LEAD, DealStage.NEGOTIATING) is None  # no skipping ahead


def test_stage_table_back_one_step_broker_further_admin_only():
    assert stages.BROKER in stages.move(DealStage.NEGOTIATING, DealStage.INTRODUCED).actors
    assert stages.move(DealStage.NEGOTIATING, DealStage.LEAD).actors == {stages.ADMIN}


def test_stage_table_every_open_stage_may_end_lost_with_reason():
    for stage in (DealStage.LEAD, DealStage.SIGNED, DealStage.PERFORMING):
        assert stages.NEEDS_REASON in stages.move(stage, DealStage.LOST).needs
    assert stages.move(DealStage.WON, DealStage.LOST) is None


def test_stage_table_reopening_closed_deal_admin_only():
    assert stages.move(DealStage.LOST, DealStage.NEGOTIATING).actors == {stages.ADMIN}
    assert stages.move(DealStage.WON, DealStage.PERFORMING).actors == {stages.ADMIN}


# --- changing stages -------------------------------------------------------------------------------


def test_change_stage_by_deal_broker_records_event_audit_and_notifies(app):
    broker = make_broker()
    deal = make_deal(broker, DealStage.INTRODUCED)
    from marketplace.deals.models import DealParticipant

    buyer = deal.demand.owner
    db.session.add(DealParticipant(deal_id=deal.id, user_id=buyer.id, side="buyer"))
    db.session.commit()
    services.change_stage(broker, deal, DealStage.NEGOTIATING)
    db.session.commit()
    assert deal.stage == DealStage.NEGOTIATING
    event = db.session.scalar(db.select(DealEvent).where(DealEvent.kind == "stage"))
    assert event.detail == {"from": "introduced", "to": "negotiating"} and event.actor_id == broker.id
    assert db.session.scalar(db.select(AuditEvent).where(AuditEvent.action == "deal.stage_changed")) is not None
    assert db.session.scalar(db.select(Notification).where(Notification.user_id == buyer.id)).kind == "deal_stage"


def test_change_stage_by_other_broker_refused(app):
    deal = make_deal(make_broker(), DealStage.INTRODUCED)
    with pytest.raises(ServiceError) as refused:
        services.change_stage(make_broker(), deal, DealStage.NEGOTIATING)
    assert refused.value.status_code == 404  # another broker does not even see it


def test_change_stage_by_participant_refused(app):
    from marketplace.deals.models import DealParticipant

    deal = make_deal(make_broker(), DealStage.INTRODUCED)
    buyer = deal.demand.owner
    db.session.add(DealParticipant(deal_id=deal.id, user_id=buyer.id, side="buyer"))
    db.session.commit()
    with pytest.raises(PermissionDenied):
        services.change_stage(buyer, deal, DealStage.NEGOTIATING)


def test_change_stage_two_steps_back_broker_refused_admin_allowed(app):
    broker, admin = make_broker(), make_user(Role.ADMIN)
    deal = make_deal(broker, DealStage.NEGOTIATING)
    with pytest.raises(PermissionDenied):
        services.change_stage(broker, deal, DealStage.LEAD)
    services.change_stage(admin, deal, DealStage.LEAD)
    assert deal.stage == DealStage.LEAD


def test_change_stage_skipping_ahead_refused_with_conflict(app):
    broker = make_broker()
    deal = make_deal(broker, DealStage.LEAD)
    with pytest.raises(ServiceError) as refused:
        services.change_stage(broker, deal, DealStage.SIGNED)
    assert refused.value.status_code == 409


def test_lost_without_reason_refused(app):
    broker = make_broker()
    deal = make_deal(broker, DealStage.NEGOTIATING)
    with pytest.raises(ServiceError):
        services.change_stage(broker, deal, DealStage.LOST)
    assert deal.stage == DealStage.NEGOTIATING


def test_lost_other_reason_without_text_refused(app):
    broker = make_broker()
    deal = make_deal(broker, DealStage.NEGOTIATING)
    with pytest.raises(ServiceError):
        services.change_stage(broker, deal, DealStage.LOST, reason=LossReason.OTHER, note="  ")
    services.change_stage(broker, deal, DealStage.LOST, reason=LossReason.OTHER, note="企业转产")
    assert (deal.stage, deal.loss_reason, deal.loss_note) == (DealStage.LOST, "other", "企业转产")
    assert deal.closed_at is not None


def test_lost_coded_reason_sets_closed_and_reopen_by_admin_clears_it(app):
    broker, admin = make_broker(), make_user(Role.ADMIN)
    deal = make_deal(broker, DealStage.NEGOTIATING)
    services.change_stage(broker, deal, DealStage.LOST, reason=LossReason.PRICE)
    with pytest.raises(PermissionDenied):
        services.change_stage(broker, deal, DealStage.NEGOTIATING)
    services.change_stage(admin, deal, DealStage.NEGOTIATING)
    assert (deal.closed_at, deal.loss_reason) == (None, None)


def test_signed_needs_expected_value(app):
    broker = make_broker()
    deal = make_deal(broker, DealStage.NEGOTIATING, expected_value=None)
    with pytest.raises(ServiceError):
        services.change_stage(broker, deal, DealStage.SIGNED)
    services.change_stage(broker, deal, DealStage.SIGNED, expected_value=Decimal("800000"))
    assert deal.expected_value == Decimal("800000.00")


def test_registered_without_registered_contract_refused(app):
    broker = make_broker()
    deal = make_deal(broker, DealStage.SIGNED)
    with pytest.raises(ServiceError) as refused:
        services.change_stage(broker, deal, DealStage.REGISTERED)
    assert refused.value.status_code == 409 and "技术合同" in refused.value.message


def test_registered_with_registered_contract_allowed(app):
    from marketplace.contracts.models import ContractStatus, TechContract

    broker = make_broker()
    deal = make_deal(broker, DealStage.SIGNED)
    contract = TechContract(
        project_name="海水淡化膜技术转让",
        contract_type="transfer",
        contract_amount=Decimal("800000"),
        tech_amount=Decimal("600000"),
        status=ContractStatus.REGISTERED,
        registration_no="2025370200000123",
        registered_on=date(2025, 3, 1),
        seller_name="测试大学",
        seller_kind="university",
        seller_district="laoshan",
        buyer_name="测试企业",
        buyer_kind="enterprise",
        buyer_district="huangdao",
        deal_id=deal.id,
    )
    db.session.add(contract)
    db.session.flush()
    db.session.refresh(deal)
    services.change_stage(broker, deal, DealStage.REGISTERED)
    assert deal.stage == DealStage.REGISTERED


def test_won_sets_closed_at(app):
    broker = make_broker()
    deal = make_deal(broker, DealStage.PERFORMING)
    services.change_stage(broker, deal, DealStage.WON)
    assert deal.closed_at is not None and not deal.is_open


def test_suspended_broker_cannot_change_own_deal(app):
    broker = make_broker(status=BrokerStatus.SUSPENDED)
    deal = make_deal(broker, DealStage.INTRODUCED)
    with pytest.raises(ServiceError):
        services.change_stage(broker, deal, DealStage.NEGOTIATING)
    with pytest.raises(PermissionDenied):
        services.add_activity(broker, deal, "note", "致电企业")


def test_appointed_broker_without_profile_may_work(app):
    broker = make_broker(status=None)
    deal = make_deal(broker, DealStage.LEAD)
    services.change_stage(broker, deal, DealStage.INTRODUCED)
    assert deal.stage == DealStage.INTRODUCED


# --- through the client ------------------------------------------------------------------------------


def test_stage_post_by_deal_broker_changes_stage(client):
    broker = make_broker()
    deal = make_deal(broker, DealStage.INTRODUCED)
    login(client, broker)
    response = client.post(f"/deals/{deal.id}/stage", data={"stage": "negotiating"})
    assert response.status_code == 302
    db.session.refresh(deal)
    assert deal.stage == DealStage.NEGOTIATING


def test_stage_post_by_other_broker_is_404(client):
    deal = make_deal(make_broker(), DealStage.INTRODUCED)
    login(client, make_broker())
    assert client.post(f"/deals/{deal.id}/stage", data={"stage": "negotiating"}).status_code == 404
    assert client.get(f"/deals/{deal.id}").status_code == 404


def test_stage_post_by_participant_is_403(client):
    from marketplace.deals.models import DealParticipant

    deal = make_deal(make_broker(), DealStage.INTRODUCED)
    buyer = deal.demand.owner
    db.session.add(DealParticipant(deal_id=deal.id, user_id=buyer.id, side="buyer"))
    db.session.commit()
    login(client, buyer)
    assert client.get(f"/deals/{deal.id}").status_code == 200
    assert client.post(f"/deals/{deal.id}/stage", data={"stage": "negotiating"}).status_code == 403
    db.session.refresh(deal)
    assert deal.stage == DealStage.INTRODUCED


def test_stage_post_anonymous_changes_nothing(client):
    deal = make_deal(make_broker(), DealStage.INTRODUCED)
    response = client.post(f"/deals/{deal.id}/stage", data={"stage": "negotiating"})
    assert response.status_code in (302, 401, 403, 404)
    assert "/account/login" in response.headers.get("Location", "/account/login")
    db.session.refresh(deal)
    assert deal.stage == DealStage.INTRODUCED


def test_stage_post_by_admin_two_steps_back(client):
    admin = make_user(Role.ADMIN)
    deal = make_deal(make_broker(), DealStage.NEGOTIATING)
    login(client, admin)
    client.post(f"/deals/{deal.id}/stage", data={"stage": "lead"})
    db.session.refresh(deal)
    assert deal.stage == DealStage.LEAD


def test_stage_post_lost_without_reason_shows_message(client):
    broker = make_broker()
    deal = make_deal(broker, DealStage.NEGOTIATING)
    login(client, broker)
    response = client.post(f"/deals/{deal.id}/stage", data={"stage": "lost"}, follow_redirects=True)
    assert response.status_code == 200 and "请选择终止原因" in response.get_data(as_text=True)
    db.session.refresh(deal)
    assert deal.stage == DealStage.NEGOTIATING


def test_deal_page_for_broker_shows_allowed_moves_only(client):
    broker = make_broker()
    deal = make_deal(broker, DealStage.INTRODUCED)
    login(client, broker)
    page = client.get(f"/deals/{deal.id}").get_data(as_text=True)
    assert 'value="negotiating"' in page and 'value="lost"' in page
    assert 'value="signed"' not in page


def test_garbage_stage_value_is_refused_not_500(client):
    broker = make_broker()
    deal = make_deal(broker, DealStage.INTRODUCED)
    login(client, broker)
    response = client.post(f"/deals/{deal.id}/stage", data={"stage": "x" * 500, "expected_value": "abc"})
    assert response.status_code in (302, 400, 409)


# --- timeline, next step, documents -----------------------------------------------------------------


def test_activity_note_call_meeting_on_timeline(app):
    broker = make_broker()
    deal = make_deal(broker)
    services.add_activity(broker, deal, "call", "与企业技术总监通话", date(2025, 3, 1))
    services.add_activity(broker, deal, "meeting", "现场考察")
    with pytest.raises(ServiceError):
        services.add_activity(broker, deal, "note", "  ")
    with pytest.raises(ServiceError):
        services.add_activity(broker, deal, "stage", "伪造阶段")
    kinds = [event.kind for event in deal.events]
    assert kinds == ["call", "meeting"] and deal.events[0].detail == {"on": "2025-03-01"}


def test_document_upload_by_broker_download_by_participant_not_other_broker(client):
    from marketplace.deals.models import DealParticipant

    broker = make_broker()
    deal = make_deal(broker)
    seller = deal.achievements[0].owner
    db.session.add(DealParticipant(deal_id=deal.id, user_id=seller.id, side="seller"))
    db.session.commit()
    login(client, broker)
    response = client.post(
        f"/deals/{deal.id}/documents",
        data={"file": (io.BytesIO(PDF), "保密协议.pdf")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    event = db.session.scalar(db.select(DealEvent).where(DealEvent.kind == "document"))
    assert event.filename == "保密协议.pdf" and event.upload_key.startswith("deals/")
    assert client.get(f"/deals/documents/{event.id}").data == PDF

    client.post("/account/logout")
    login(client, seller)
    assert client.get(f"/deals/documents/{event.id}").status_code == 200
    client.post("/account/logout")
    login(client, make_broker())
    assert client.get(f"/deals/documents/{event.id}").status_code == 404
    client.post("/account/logout")
    assert client.get(f"/deals/documents/{event.id}").status_code == 302  # to the login page


def test_document_of_wrong_kind_refused(app):
    broker = make_broker()
    deal = make_deal(broker)
    from werkzeug.datastructures import FileStorage

    with pytest.raises(ServiceError) as refused:
        documents.add_document(broker, deal, FileStorage(io.BytesIO(b"MZ\x90\x00binary"), "setup.exe"))
    assert refused.value.status_code == 415


def test_document_upload_by_stranger_refused(app):
    from werkzeug.datastructures import FileStorage

    deal = make_deal(make_broker())
    with pytest.raises(PermissionDenied):
        documents.add_document(make_user(Role.ENTERPRISE), deal, FileStorage(io.BytesIO(PDF), "a.pdf"))


# --- reminders ---------------------------------------------------------------------------------------


def test_reminders_job_notifies_once_per_overdue_date(app, mail_outbox):
    broker = make_broker()
    overdue = make_deal(broker, next_step="寄送样品", next_step_on=date.today() - timedelta(days=1))
    make_deal(broker, title="未到期", next_step="回访", next_step_on=date.today())
    make_deal(broker, DealStage.LOST, title="已终止", next_step="回访", next_step_on=date.today() - timedelta(days=3))
    make_deal(None, title="线索池", next_step="回访", next_step_on=date.today() - timedelta(days=3))

    assert run_as_job(send_reminders) == "1 overdue deals reminded"
    reminders = db.session.scalars(db.select(Notification).where(Notification.kind == "deal_reminder")).all()
    assert [n.user_id for n in reminders] == [broker.id] and reminders[0].params["title"] == overdue.title
    assert len(mail_outbox) == 1
    assert run_as_job(send_reminders) == "0 overdue deals reminded"

    # A new date that passes in turn is reminded about again.
    services.set_next_step(broker, overdue, "签署保密协议", date.today() - timedelta(days=1))
    db.session.commit()
    assert run_as_job(send_reminders) == "1 overdue deals reminded"


def test_reminders_job_is_registered(app):
    from marketplace.jobs.registry import registered_jobs

    assert "deal-reminders" in [job.name for job in registered_jobs(app)]


# --- demo ----------------------------------------------------------------------------------------


def test_demo_seed_deals_every_stage_and_source_idempotent(runner):
    from sqlalchemy import select

    from marketplace.accounts.models import User
    from marketplace.deals.models import BrokerProfile, Deal
    from marketplace.demo.deals import seed_deals
    from marketplace.demo.seed import ACCOUNTS, demo_email

    assert runner.invoke(args=["demo", "seed"]).exit_code == 0  # `flask demo seed` seeds the deals too
    users = {local: db.session.scalar(select(User).where(User.email == demo_email(local))) for local, *_ in ACCOUNTS}
    lines = []
    deals = db.session.scalars(select(Deal)).all()
    assert {deal.stage for deal in deals} == set(DealStage)
    assert {deal.source for deal in deals} == {"pair", "inquiry", "challenge", "manual"}
    certified = db.session.scalars(select(BrokerProfile).where(BrokerProfile.status == BrokerStatus.CERTIFIED)).all()
    assert len(certified) == 4 and any(deal.broker_id is None for deal in deals)
    assert all(deal.events for deal in deals)
    assert seed_deals(users, echo=lines.append) is False
    assert len(db.session.scalars(select(Deal)).all()) == len(deals)
