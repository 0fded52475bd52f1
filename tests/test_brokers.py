"""Brokers: applying, certification by admins (role, audit, notice), suspension, the public directory."""

from __future__ import annotations

import pytest

from marketplace.accounts.roles import Role
from marketplace.core.audit import AuditEvent
from marketplace.core.errors import PermissionDenied, ServiceError
from marketplace.deals import brokers, permissions
from marketplace.deals.models import BrokerProfile, BrokerStatus, DealStage
from marketplace.extensions import db
from marketplace.notifications.models import Notification
from tests.deal_helpers import make_broker, make_deal
from tests.factories import login, make_user


def _application(user, **changes) -> brokers.Application:
    values = {
        "certificate_no": "QD-JJR-2025-0001",
        "level": "intermediate",
        "specialities": ["marine_equipment", "new_materials"],
        "organisation": user.organisation,
        "bio": "十年技术转移经验。",
    }
    values.update(changes)
    return brokers.Application(**values)


def _kinds(user) -> set[str]:
    return {n.kind for n in db.session.scalars(db.select(Notification).where(Notification.user_id == user.id))}


def test_apply_creates_pending_profile_and_tells_admins(app):
    admin, applicant = make_user(Role.ADMIN), make_user(Role.SERVICE_PROVIDER)
    profile = brokers.apply(applicant, _application(applicant))
    db.session.commit()
    assert profile.status == BrokerStatus.APPLIED and profile.organisation_id == applicant.organisation_id
    assert profile.specialities == ["marine_equipment", "new_materials"]
    assert "broker_applied" in _kinds(admin)
    assert not permissions.is_active_broker(applicant)


def test_apply_twice_refused_until_rejected(app):
    admin, applicant = make_user(Role.ADMIN), make_user(Role.RESEARCHER)
    profile = brokers.apply(applicant, _application(applicant))
    with pytest.raises(ServiceError):
        brokers.apply(applicant, _application(applicant))
    brokers.decide(admin, profile, "reject", "证书编号无法核验")
    again = brokers.apply(applicant, _application(applicant, certificate_no="QD-JJR-2025-0002"))
    assert again.id == profile.id and again.status == BrokerStatus.APPLIED and again.status_note is None


def test_apply_bad_details_refused(app):
    applicant = make_user(Role.RESEARCHER)
    for changes in ({"certificate_no": " "}, {"level": "guru"}, {"specialities": []}, {"specialities": ["nope"]}):
        with pytest.raises(ServiceError):
            brokers.apply(applicant, _application(applicant, **changes))


def test_apply_by_admin_refused(app):
    admin = make_user(Role.ADMIN)
    with pytest.raises(PermissionDenied):
        brokers.apply(admin, _application(admin))


def test_certify_grants_broker_role_audited_and_notified(app):
    admin, applicant = make_user(Role.ADMIN), make_user(Role.SERVICE_PROVIDER)
    profile = brokers.apply(applicant, _application(applicant))
    brokers.decide(admin, profile, "certify")
    db.session.commit()
    assert applicant.role == Role.BROKER and applicant.broker_certificate_no == "QD-JJR-2025-0001"
    assert profile.status == BrokerStatus.CERTIFIED and profile.certified_at is not None
    actions = set(db.session.scalars(db.select(AuditEvent.action)))
    assert {"broker.certify", "user.role_changed"} <= actions
    assert "broker_certified" in _kinds(applicant)
    assert permissions.is_active_broker(applicant)


def test_reject_and_suspend_need_reason(app):
    admin, applicant = make_user(Role.ADMIN), make_user(Role.SERVICE_PROVIDER)
    profile = brokers.apply(applicant, _application(applicant))
    with pytest.raises(ServiceError):
        brokers.decide(admin, profile, "reject", " ")
    brokers.decide(admin, profile, "certify")
    with pytest.raises(ServiceError):
        brokers.decide(admin, profile, "suspend")
    with pytest.raises(ServiceError):
        brokers.decide(admin, profile, "certify")  # already certified: 409


def test_decide_by_non_admin_refused(app):
    applicant = make_user(Role.SERVICE_PROVIDER)
    profile = brokers.apply(applicant, _application(applicant))
    with pytest.raises(PermissionDenied):
        brokers.decide(make_broker(), profile, "certify")


def test_suspended_broker_keeps_profile_loses_deal_rights_until_reinstated(app):
    admin, broker = make_user(Role.ADMIN), make_broker()
    profile = db.session.scalar(db.select(BrokerProfile).where(BrokerProfile.user_id == broker.id))
    deal = make_deal(broker, DealStage.INTRODUCED)
    brokers.decide(admin, profile, "suspend", "违规收费")
    db.session.commit()
    assert broker.role == Role.BROKER and profile.status == BrokerStatus.SUSPENDED
    assert not permissions.is_active_broker(broker) and not permissions.can_work(broker, deal)
    assert "broker_suspended" in _kinds(broker)
    brokers.decide(admin, profile, "reinstate")
    assert permissions.can_work(broker, deal)
    assert "broker_reinstated" in _kinds(broker)


def test_suspended_broker_cannot_open_deal_page_or_act(client):
    broker = make_broker(status=BrokerStatus.SUSPENDED)
    deal = make_deal(broker, DealStage.INTRODUCED)
    login(client, broker)
    assert client.get(f"/deals/{deal.id}").status_code == 404
    assert client.post(f"/deals/{deal.id}/activity", data={"kind": "note", "body": "x"}).status_code == 404
    assert client.get("/deals/new").status_code == 403


def test_apply_page_through_client(client):
    applicant = make_user(Role.RESEARCHER)
    login(client, applicant)
    assert client.get("/brokers/apply").status_code == 200
    response = client.post(
        "/brokers/apply",
        data={
            "certificate_no": "QD-JJR-2025-0100",
            "level": "senior",
            "specialities": ["marine_equipment"],
            "organisation": str(applicant.organisation_id),
            "bio": "",
        },
    )
    assert response.status_code == 302
    profile = db.session.scalar(db.select(BrokerProfile))
    assert profile.user_id == applicant.id and profile.level == "senior"
    assert "待认证" in client.get("/brokers/apply").get_data(as_text=True)


def test_apply_page_missing_fields_shows_errors(client):
    login(client, make_user(Role.RESEARCHER))
    response = client.post("/brokers/apply", data={"certificate_no": "", "level": "junior"})
    assert response.status_code == 400 and db.session.scalar(db.select(BrokerProfile)) is None


def test_admin_certifies_through_client(client):
    admin, applicant = make_user(Role.ADMIN), make_user(Role.SERVICE_PROVIDER)
    profile = brokers.apply(applicant, _application(applicant))
    db.session.commit()
    login(client, admin)
    assert applicant.name in client.get("/admin/brokers").get_data(as_text=True)
    client.post(f"/admin/brokers/{profile.id}/certify")
    db.session.refresh(profile)
    assert profile.status == BrokerStatus.CERTIFIED


def test_admin_brokers_page_forbidden_to_brokers(client):
    login(client, make_broker())
    assert client.get("/admin/brokers").status_code == 403


def test_public_directory_lists_certified_with_won_count(client):
    certified, suspended, pending = (
        make_broker(),
        make_broker(BrokerStatus.SUSPENDED),
        make_broker(BrokerStatus.APPLIED),
    )
    make_deal(certified, DealStage.WON)
    make_deal(certified, DealStage.WON)
    make_deal(certified, DealStage.LOST)
    page = client.get("/brokers").get_data(as_text=True)
    assert certified.name in page and suspended.name not in page and pending.name not in page
    assert "成交撮合 2 项" in page
    profile = db.session.scalar(db.select(BrokerProfile).where(BrokerProfile.user_id == certified.id))
    assert certified.name in client.get(f"/brokers/{profile.id}").get_data(as_text=True)
    hidden = db.session.scalar(db.select(BrokerProfile).where(BrokerProfile.user_id == suspended.id))
    assert client.get(f"/brokers/{hidden.id}").status_code == 404


def test_public_directory_filters_by_speciality(client):
    broker = make_broker()
    assert broker.name in client.get("/brokers?speciality=marine_equipment").get_data(as_text=True)
    assert broker.name not in client.get("/brokers?speciality=aerospace").get_data(as_text=True)
    assert client.get("/brokers?speciality=<script>&page=abc").status_code == 200
