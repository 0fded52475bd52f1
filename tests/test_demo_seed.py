"""`flask demo seed` builds a usable demo, once."""

from __future__ import annotations

from sqlalchemy import func, select

from marketplace.accounts.models import User
from marketplace.core import taxonomy
from marketplace.demo.seed import ACCOUNTS, DEMO_PASSWORD, demo_email
from marketplace.extensions import db
from marketplace.listings.models import Listing, ListingStatus


def test_demo_seed_creates_realistic_marketplace_and_is_idempotent(runner, client):
    first = runner.invoke(args=["demo", "seed"])
    assert first.exit_code == 0, first.output
    assert "rejected" in first.output and ", 0 rejected" in first.output
    counts = dict(db.session.execute(select(Listing.kind, func.count()).group_by(Listing.kind)).all())
    assert counts["achievement"] >= 60 and counts["demand"] >= 25
    published_industries = set(
        db.session.scalars(
            select(Listing.industry).where(Listing.kind == "achievement", Listing.status == ListingStatus.PUBLISHED)
        )
    )
    assert published_industries == set(taxonomy.INDUSTRIES)
    states = set(db.session.scalars(select(Listing.status)))
    assert states == set(ListingStatus)
    assert db.session.scalar(select(func.count()).select_from(Listing).where(Listing.pending_changes.is_not(None)))
    assert db.session.scalar(select(func.count()).select_from(Listing).where(Listing.owner_id.is_(None))) == 0

    second = runner.invoke(args=["demo", "seed"])
    assert second.exit_code == 0 and "already loaded" in second.output
    assert sum(counts.values()) == db.session.scalar(select(func.count()).select_from(Listing))

    for local, *_ in ACCOUNTS:
        user = db.session.scalar(select(User).where(User.email == demo_email(local)))
        assert user is not None and user.check_password(DEMO_PASSWORD)
    response = client.post("/account/login", data={"email": demo_email("researcher"), "password": DEMO_PASSWORD})
    assert response.status_code == 302
    dashboard = client.get("/dashboard").get_data(as_text=True)
    assert "李教授" in dashboard
    subscriptions = client.get("/subscriptions/").get_data(as_text=True)
    assert '<td class="text-nowrap">技术需求</td>' in subscriptions and "还没有订阅" not in subscriptions
