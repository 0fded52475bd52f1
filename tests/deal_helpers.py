"""Builders shared by the deals tests (brokers, a buyer and a seller with listings, deals at a stage)."""

from __future__ import annotations

from decimal import Decimal

from marketplace.accounts.roles import OrgKind, Role
from marketplace.deals.models import BrokerProfile, BrokerStatus, Deal, DealStage
from marketplace.extensions import db
from tests.factories import make_listing, make_org, make_user


def make_broker(status: str | None = BrokerStatus.CERTIFIED, **fields):
    """A broker (role broker); with a profile in ``status`` unless ``status`` is None (an appointed broker)."""
    broker = make_user(Role.BROKER, org=make_org(OrgKind.SERVICE_PROVIDER), **fields)
    if status is not None:
        db.session.add(
            BrokerProfile(
                user_id=broker.id,
                certificate_no=f"QD-JJR-{broker.id:04d}",
                specialities=["marine_equipment"],
                organisation_id=broker.organisation_id,
                status=status,
            )
        )
        db.session.commit()
    return broker


def make_parties():
    """An enterprise with a published demand and a researcher with a published achievement."""
    enterprise = make_user(Role.ENTERPRISE, phone="13800000001")
    researcher = make_user(Role.RESEARCHER, phone="13900000002")
    demand = make_listing("demand", owner=enterprise)
    achievement = make_listing("achievement", owner=researcher)
    return enterprise, researcher, demand, achievement


def make_deal(broker=None, stage: str = DealStage.LEAD, **fields) -> Deal:
    enterprise, researcher, demand, achievement = make_parties()
    deal = Deal(
        title=fields.pop("title", "海水淡化膜撮合"),
        stage=stage,
        broker_id=broker.id if broker else None,
        demand=demand,
        buyer_org_id=enterprise.organisation_id,
        seller_org_id=researcher.organisation_id,
        expected_value=fields.pop("expected_value", Decimal("500000.00")),
        **fields,
    )
    db.session.add(deal)
    db.session.commit()
    from marketplace.deals.models import DealAchievement

    db.session.add(DealAchievement(deal_id=deal.id, achievement_id=achievement.id))
    db.session.commit()
    return deal
