"""Leads from every source in one click (idempotent), the pool and its claim, the three-way introduction."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest

from marketplace.accounts.roles import Role
from marketplace.core.errors import PermissionDenied, ServiceError
from marketplace.deals import conversation, services
from marketplace.deals.models import BrokerStatus, Deal, DealEvent, DealStage, LeadSource
from marketplace.extensions import db
from marketplace.listings import challenges
from marketplace.matchmaking.models import MatchPair, PairStatus
from marketplace.messaging import services as messaging
from marketplace.notifications.models import Notification
from tests.deal_helpers import make_broker, make_deal, make_parties
from tests.factories import login, make_listing, make_user


def _pair():
    enterprise, researcher, demand, achievement = make_parties()
    pair = MatchPair(demand=demand, achievement=achievement, score=91)
    db.session.add(pair)
    db.session.commit()
    return pair


def _count(source: str) -> int:
    return db.session.scalar(db.select(db.func.count()).select_from(Deal).where(Deal.source == source))


# --- every source --------------------------------------------------------------------------------


def test_lead_from_pair_links_both_sides_and_follows_pair(app):
    broker, pair = make_broker(), _pair()
    deal = services.create_from_pair(broker, pair)
    db.session.commit()
    assert (deal.source, deal.source_id, deal.broker_id) == (LeadSource.PAIR, pair.id, broker.id)
    assert deal.demand_id == pair.demand_id and deal.achievements == [pair.achievement]
    assert deal.buyer_org_id == pair.demand.organisation_id
    assert deal.seller_org_id == pair.achievement.organisation_id
    assert pair.status == PairStatus.FOLLOWING and pair.handled_by_id == broker.id
    assert [event.kind for event in deal.events] == ["created"]


def test_lead_from_pair_second_click_returns_same_deal(app):
    broker, pair = make_broker(), _pair()
    first = services.create_from_pair(broker, pair)
    db.session.commit()
    second = services.create_from_pair(make_broker(), pair)
    db.session.commit()
    assert first.id == second.id and _count(LeadSource.PAIR) == 1


def test_lead_from_pair_by_admin_goes_to_pool(app):
    deal = services.create_from_pair(make_user(Role.ADMIN), _pair())
    assert deal.broker_id is None


def test_lead_from_pair_by_enterprise_refused(app):
    with pytest.raises(PermissionDenied):
        services.create_from_pair(make_user(Role.ENTERPRISE), _pair())


def test_lead_from_pair_button_through_client(client):
    broker, pair = make_broker(), _pair()
    login(client, broker)
    page = client.get("/matchmaking/?status=new").get_data(as_text=True)
    assert f"/deals/from-pair/{pair.id}" in page
    response = client.post(f"/deals/from-pair/{pair.id}")
    deal = db.session.scalar(db.select(Deal))
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/deals/{deal.id}")
    again = client.post(f"/deals/from-pair/{pair.id}")
    assert again.headers["Location"].endswith(f"/deals/{deal.id}") and _count(LeadSource.PAIR) == 1


def test_lead_from_inquiry_by_broker_is_theirs(app):
    enterprise, researcher, demand, achievement = make_parties()
    thread = messaging.send_inquiry(enterprise, achievement, "请问能否许可使用？")
    db.session.commit()
    broker = make_broker()
    deal = services.create_from_inquiry(broker, thread)
    db.session.commit()
    assert deal.broker_id == broker.id and deal.source == LeadSource.INQUIRY
    assert deal.buyer_org_id == enterprise.organisation_id and deal.seller_org_id == achievement.organisation_id
    assert services.create_from_inquiry(broker, thread).id == deal.id


def test_lead_from_inquiry_by_party_goes_to_pool_and_party_sees_flash(client):
    enterprise, researcher, demand, achievement = make_parties()
    thread = messaging.send_inquiry(enterprise, achievement, "请问能否许可使用？")
    db.session.commit()
    login(client, enterprise)
    assert f"/deals/from-inquiry/{thread.id}" in client.get(f"/messages/{thread.id}").get_data(as_text=True)
    response = client.post(f"/deals/from-inquiry/{thread.id}", follow_redirects=True)
    assert "经纪人认领后会与您联系" in response.get_data(as_text=True)
    deal = db.session.scalar(db.select(Deal))
    assert deal.broker_id is None and deal in db.session.scalars(services.pool()).all()


def test_lead_from_inquiry_by_stranger_is_404(client):
    enterprise, researcher, demand, achievement = make_parties()
    thread = messaging.send_inquiry(enterprise, achievement, "请问能否许可使用？")
    db.session.commit()
    login(client, make_user(Role.INVESTOR))
    assert client.post(f"/deals/from-inquiry/{thread.id}").status_code == 404
    assert _count(LeadSource.INQUIRY) == 0


def _challenge_with_applicant():
    enterprise = make_user(Role.ENTERPRISE)
    team = make_user(Role.RESEARCHER)
    demand = make_listing("demand", owner=enterprise, challenge=True, bounty_cny=Decimal("2000000"))
    application = challenges.apply(team, demand, "海洋材料团队", "三年内完成中试。")
    db.session.commit()
    return enterprise, team, demand, application


def test_lead_from_challenge_winner_created_when_winner_picked(app):
    enterprise, team, demand, application = _challenge_with_applicant()
    challenges.pick_winner(enterprise, application)
    db.session.commit()
    deal = db.session.scalar(db.select(Deal).where(Deal.source == LeadSource.CHALLENGE))
    assert deal.source_id == application.id and deal.broker_id is None  # picked by the enterprise: the pool
    assert deal.buyer_org_id == enterprise.organisation_id and deal.seller_org_id == team.organisation_id
    assert deal.demand_id == demand.id and deal.expected_value == Decimal("2000000.00")


def test_lead_from_challenge_winner_button_returns_same_deal(client):
    enterprise, team, demand, application = _challenge_with_applicant()
    challenges.pick_winner(enterprise, application)
    db.session.commit()
    broker = make_broker()
    login(client, broker)
    response = client.post(f"/deals/from-challenge/{application.id}")
    deal = db.session.scalar(db.select(Deal))
    assert response.headers["Location"].endswith(f"/deals/{deal.id}") and _count(LeadSource.CHALLENGE) == 1


def test_lead_from_challenge_not_winner_refused(app):
    enterprise, team, demand, application = _challenge_with_applicant()
    with pytest.raises(ServiceError):
        services.start_from_challenge(make_broker(), application)


def test_lead_from_roadshow_intent_once_per_intent(app):
    enterprise, researcher, demand, achievement = make_parties()
    broker = make_broker()
    deal = services.create_from_roadshow_intent(
        broker, 41, achievement, enterprise.organisation, researcher.organisation
    )
    again = services.create_from_roadshow_intent(
        broker, 41, achievement, enterprise.organisation, researcher.organisation
    )
    assert deal.id == again.id and deal.source == LeadSource.ROADSHOW and deal.broker_id == broker.id
    assert deal.achievements == [achievement] and deal.buyer_org_id == enterprise.organisation_id


def test_lead_manual_through_client(client):
    enterprise, researcher, demand, achievement = make_parties()
    broker = make_broker()
    login(client, broker)
    response = client.post(
        "/deals/new",
        data={
            "title": "手工撮合",
            "demand_id": str(demand.id),
            "achievement_id": str(achievement.id),
            "buyer_org": enterprise.organisation.name,
            "expected_value": "1200000",
            "next_step": "约见",
            "next_step_on": "2025-06-01",
        },
    )
    deal = db.session.scalar(db.select(Deal))
    assert response.status_code == 302 and deal.title == "手工撮合" and deal.source == LeadSource.MANUAL
    assert deal.broker_id == broker.id and deal.expected_value == Decimal("1200000.00")
    assert deal.demand_id == demand.id and deal.achievements == [achievement]


def test_lead_manual_unknown_listing_is_form_error(client):
    login(client, make_broker())
    response = client.post("/deals/new", data={"title": "手工撮合", "demand_id": "999999"})
    assert response.status_code == 400 and "没有找到这条信息" in response.get_data(as_text=True)
    assert _count(LeadSource.MANUAL) == 0


def test_lead_manual_by_researcher_is_403(client):
    login(client, make_user(Role.RESEARCHER))
    assert client.get("/deals/new").status_code == 403


# --- the pool ------------------------------------------------------------------------------------


def test_pool_claim_by_certified_broker(client):
    deal = make_deal(None)
    broker = make_broker()
    login(client, broker)
    assert f"/deals/{deal.id}/claim" in client.get("/deals/pool").get_data(as_text=True)
    client.post(f"/deals/{deal.id}/claim")
    db.session.refresh(deal)
    assert deal.broker_id == broker.id
    assert db.session.scalar(db.select(DealEvent).where(DealEvent.kind == "assigned")).actor_id == broker.id


def test_pool_claim_second_broker_refused(app):
    deal = make_deal(None)
    first, second = make_broker(), make_broker()
    services.claim(first, deal)
    db.session.commit()
    with pytest.raises(ServiceError) as refused:
        services.claim(second, deal)
    assert refused.value.status_code == 409 and deal.broker_id == first.id


def test_pool_claim_by_suspended_broker_refused(app):
    deal = make_deal(None)
    with pytest.raises(PermissionDenied):
        services.claim(make_broker(status=BrokerStatus.SUSPENDED), deal)
    assert deal.broker_id is None


def test_pool_page_for_suspended_broker_is_403(client):
    login(client, make_broker(status=BrokerStatus.SUSPENDED))
    assert client.get("/deals/pool").status_code == 403


def test_deal_pool_claim_concurrent_only_one_broker_wins(app, database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite serialises writers; the race needs PostgreSQL")
    deal = make_deal(None)
    brokers = [make_broker(), make_broker()]
    deal_id, broker_ids = deal.id, [broker.id for broker in brokers]
    db.session.remove()
    barrier, outcomes = threading.Barrier(2), []

    def attempt(broker_id: int) -> None:
        from marketplace.accounts.models import User

        with app.app_context():
            user, target = db.session.get(User, broker_id), db.session.get(Deal, deal_id)
            barrier.wait()
            try:
                services.claim(user, target)
                db.session.commit()
                outcomes.append(("won", broker_id))
            except ServiceError:
                db.session.rollback()
                outcomes.append(("lost", broker_id))
            finally:
                db.session.remove()

    threads = [threading.Thread(target=attempt, args=(broker_id,)) for broker_id in broker_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(result for result, _id in outcomes) == ["lost", "won"]
    winner = next(broker_id for result, broker_id in outcomes if result == "won")
    assert db.session.get(Deal, deal_id).broker_id == winner
    events = db.session.scalars(db.select(DealEvent).where(DealEvent.kind == "assigned")).all()
    assert [event.actor_id for event in events] == [winner]


def test_reassign_by_admin_audited_and_new_broker_notified(app):
    from marketplace.core.audit import AuditEvent

    admin, old, new = make_user(Role.ADMIN), make_broker(), make_broker()
    deal = make_deal(old)
    services.reassign(admin, deal, new)
    db.session.commit()
    assert deal.broker_id == new.id
    assert (
        db.session.scalar(db.select(AuditEvent).where(AuditEvent.action == "deal.reassigned")).detail["previous"]
        == old.id
    )
    assert db.session.scalar(db.select(Notification).where(Notification.user_id == new.id)).kind == "deal_assigned"
    with pytest.raises(PermissionDenied):
        services.reassign(new, deal, old)
    with pytest.raises(ServiceError):
        services.reassign(admin, deal, make_broker(status=BrokerStatus.SUSPENDED))


# --- introduction and contact details ------------------------------------------------------------


def _introduced():
    broker = make_broker()
    deal = make_deal(broker)
    buyer, seller = deal.demand.owner, deal.achievements[0].owner
    conversation.introduce(broker, deal, buyer, seller, "两位好，我来介绍一下。")
    db.session.commit()
    return broker, deal, buyer, seller


def test_introduce_adds_participants_opens_conversation_and_moves_to_introduced(app):
    broker, deal, buyer, seller = _introduced()
    assert {(p.user_id, p.side) for p in deal.participants} == {(buyer.id, "buyer"), (seller.id, "seller")}
    assert deal.stage == DealStage.INTRODUCED
    assert [m.body for m in conversation.messages(deal)] == ["两位好，我来介绍一下。"]
    kinds = {n.kind for n in db.session.scalars(db.select(Notification).where(Notification.user_id == buyer.id))}
    assert "deal_introduced" in kinds


def test_default_participants_are_listing_owners(app):
    deal = make_deal(make_broker())
    defaults = conversation.default_participants(deal)
    assert defaults["buyer"] == deal.demand.owner and defaults["seller"] == deal.achievements[0].owner


def test_introduce_outsider_refused(app):
    broker = make_broker()
    deal = make_deal(broker)
    with pytest.raises(ServiceError):
        conversation.introduce(broker, deal, make_user(Role.ENTERPRISE), deal.achievements[0].owner)


def test_messages_unread_for_participant_until_read(client):
    broker, deal, buyer, seller = _introduced()
    conversation.post_message(seller, deal, "我们可以提供样品。")
    db.session.commit()
    assert conversation.unread_count(buyer, deal) == 2
    login(client, buyer)
    page = client.get(f"/deals/{deal.id}").get_data(as_text=True)
    assert "我们可以提供样品。" in page
    assert conversation.unread_count(buyer, deal) == 0
    response = client.post(f"/deals/{deal.id}/messages", data={"body": "好的，下周见。"})
    assert response.status_code == 302
    assert {n.kind for n in db.session.scalars(db.select(Notification).where(Notification.user_id == seller.id))} >= {
        "deal_message"
    }


def test_message_by_stranger_refused(app):
    broker, deal, buyer, seller = _introduced()
    with pytest.raises(PermissionDenied):
        conversation.post_message(make_user(Role.ENTERPRISE), deal, "你好")


def test_contact_details_hidden_until_both_sides_accept(client):
    broker, deal, buyer, seller = _introduced()
    login(client, buyer)
    page = client.get(f"/deals/{deal.id}").get_data(as_text=True)
    assert seller.email not in page and seller.phone not in page
    assert buyer.email in page  # one's own side

    client.post(f"/deals/{deal.id}/contact")
    assert seller.email not in client.get(f"/deals/{deal.id}").get_data(as_text=True)

    client.post("/account/logout")
    login(client, seller)
    assert buyer.phone not in client.get(f"/deals/{deal.id}").get_data(as_text=True)
    client.post(f"/deals/{deal.id}/contact")
    assert buyer.phone in client.get(f"/deals/{deal.id}").get_data(as_text=True)

    client.post("/account/logout")
    login(client, buyer)
    page = client.get(f"/deals/{deal.id}").get_data(as_text=True)
    assert seller.email in page and seller.phone in page


def test_contact_accept_by_broker_refused(app):
    broker, deal, buyer, seller = _introduced()
    with pytest.raises(PermissionDenied):
        conversation.accept_contact(broker, deal)
