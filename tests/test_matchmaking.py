"""Strong matches on publication: scans queued in the publishing transaction, pairs for brokers,
alerts to the owners of matching listings, the brokers' dashboard and the worker that runs it."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from marketplace.accounts.roles import Role
from marketplace.core.audit import AuditEvent
from marketplace.discovery import outbox
from marketplace.discovery import services as discovery
from marketplace.extensions import db
from marketplace.jobs.runner import run_once
from marketplace.listings import services as listings
from marketplace.listings.interchange import import_lines
from marketplace.listings.models import ListingStatus
from marketplace.matchmaking import services
from marketplace.matchmaking.models import MatchPair, MatchScan, PairStatus
from marketplace.notifications.models import Notification
from search.backends import BackendUnavailable
from tests.factories import index_everything, login, make_listing, make_user, run_as_job

COLD_CHAIN_DEMAND = dict(
    title="冷链物流车厢保温改造",
    min_trl=6,
    keywords=["冷链", "保温"],
    industry="new_materials",
    description="冷藏车夏季车厢温度波动大，能耗高，需要更好的车厢隔热材料，导热系数越低越好。",
    budget_min_cny=500_000,
    budget_max_cny=2_000_000,
    cooperation_modes=["license"],
)
INSULATION = dict(
    title="冷链运输车厢高效隔热材料",
    trl=7,
    keywords=["隔热", "冷链", "气凝胶"],
    industry="new_materials",
    summary="气凝胶复合隔热板，导热系数低于0.02 W/(m·K)，用于冷藏车厢保温",
    price_cny=1_500_000,
    cooperation_modes=["license"],
)
UNRELATED = dict(
    title="船舶压载水处理系统",
    trl=8,
    keywords=["压载水"],
    industry="marine_equipment",
    summary="紫外加过氧化氢高级氧化，低盐度水域达标",
)


@pytest.fixture
def people(app):
    return {
        "admin": make_user(Role.ADMIN, org=False),
        "enterprise": make_user(Role.ENTERPRISE),
        "researcher": make_user(Role.RESEARCHER),
        "broker": make_user(Role.BROKER, org=False),
    }


@pytest.fixture
def published_demand(people):
    demand = make_listing("demand", owner=people["enterprise"], **COLD_CHAIN_DEMAND)
    make_listing("achievement", **UNRELATED)
    index_everything()
    return demand


def publish_by_review(people, **fields):
    listing = make_listing("achievement", owner=people["researcher"], status=ListingStatus.SUBMITTED, **fields)
    listings.approve(people["admin"], listing)
    db.session.commit()
    return listing


def scans() -> list[MatchScan]:
    return db.session.scalars(select(MatchScan)).all()


def test_approval_queues_an_announcing_scan_in_the_same_transaction(people):
    listing = make_listing("achievement", owner=people["researcher"], status=ListingStatus.SUBMITTED, **INSULATION)
    assert scans() == []
    listings.approve(people["admin"], listing)
    db.session.rollback()  # an approval that is not committed queues nothing
    assert scans() == []
    listings.approve(people["admin"], listing)
    db.session.commit()
    assert [(scan.listing_id, scan.notify) for scan in scans()] == [(listing.id, True)]


def test_imports_queue_quiet_scans_and_drafts_none(people):
    line = (
        '{"kind": "achievement", "external_id": "IMP-1", "title": "深远海养殖工船水质监测", '
        '"summary": "在线监测", "industry": "marine_equipment", "trl": 6}'
    )
    report = import_lines([line], people["admin"])
    db.session.commit()
    assert report.created == 1
    assert [scan.notify for scan in scans()] == [False]
    make_listing("achievement", status=ListingStatus.DRAFT)
    assert len(scans()) == 1


def test_scan_records_pairs_and_notifies_owner_of_strong_match_once(app, people, published_demand):
    achievement = publish_by_review(people, **INSULATION)
    index_everything()
    expected = {m.document["title"]: m.score for m in services.matching.matches_for(achievement, limit=5)}
    strong = expected[published_demand.title]
    app.config.update(MATCH_PAIR_MIN_SCORE=strong - 1, MATCH_ALERT_MIN_SCORE=strong)

    report = run_as_job(
        services.run_scans,
    )

    assert (report.scanned, report.pairs, report.notified) == (1, 1, 1)
    pair = db.session.scalar(select(MatchPair))
    assert (pair.demand_id, pair.achievement_id, pair.score, pair.status) == (
        published_demand.id,
        achievement.id,
        strong,
        PairStatus.NEW,
    )
    assert {reason["code"] for reason in pair.reasons} >= {"trl_ok", "industry_same"}
    inbox = {
        n.user_id: n
        for n in db.session.scalars(
            select(Notification).where(Notification.kind.in_(["strong_match_achievement", "matches_found"]))
        )
    }
    assert inbox[people["enterprise"].id].kind == "strong_match_achievement"
    assert inbox[people["enterprise"].id].params == {
        "title": achievement.title,
        "mine": published_demand.title,
        "score": strong,
    }
    assert inbox[people["enterprise"].id].link == f"/listings/{achievement.id}"
    assert inbox[people["researcher"].id].kind == "matches_found"
    assert scans() == []

    # Approving an edit rescans: the pair is rescored, nobody is told twice.
    run_as_job(services.queue_all_published, announce=True)
    assert (
        run_as_job(
            services.run_scans,
        ).notified
        == 0
    )
    assert db.session.scalar(select(MatchPair.score)) == strong
    assert (
        len(db.session.scalars(select(Notification).where(Notification.kind == "strong_match_achievement")).all()) == 1
    )


def test_weak_matches_make_no_pair_and_no_alert(app, people, published_demand):
    app.config.update(MATCH_PAIR_MIN_SCORE=101, MATCH_ALERT_MIN_SCORE=101)
    publish_by_review(people, **INSULATION)
    index_everything()
    report = run_as_job(
        services.run_scans,
    )
    assert (report.scanned, report.pairs, report.notified) == (1, 0, 0)
    assert db.session.scalar(select(MatchPair)) is None


def test_scan_waits_until_the_listing_is_indexed_with_its_vector(app, people, published_demand):
    publish_by_review(people, **INSULATION)
    assert outbox.backlog()
    assert (
        run_as_job(
            services.run_scans,
        ).scanned
        == 0
    )
    outbox.drain(discovery.backend())  # text indexed by a request; the vector is still to come
    assert outbox.backlog()
    assert (
        run_as_job(
            services.run_scans,
        ).scanned
        == 0
    )
    index_everything()
    assert (
        run_as_job(
            services.run_scans,
        ).scanned
        == 1
    )


def test_scan_backs_off_while_search_is_down_and_loses_nothing(app, people, published_demand, monkeypatch):
    publish_by_review(people, **INSULATION)
    index_everything()

    def down(*args, **kwargs):
        raise BackendUnavailable("index offline")

    monkeypatch.setattr(services.matching, "matches_for", down)
    report = run_as_job(
        services.run_scans,
    )
    assert (report.scanned, report.failed) == (0, 1)
    [scan] = scans()
    assert scan.attempts == 1 and scan.next_attempt_at is not None and "offline" in scan.last_error
    monkeypatch.undo()
    scan.next_attempt_at = None
    db.session.commit()
    assert (
        run_as_job(
            services.run_scans,
        ).scanned
        == 1
    )


def test_worker_runs_index_scan_and_alerts_in_order(app, people, published_demand, mail_outbox):
    app.config.update(
        MATCH_PAIR_MIN_SCORE=0, MATCH_ALERT_MIN_SCORE=0, PUBLIC_URL="https://tech.qingdao.example", SERVER_NAME=None
    )  # as in production: the worker's links come from PUBLIC_URL
    achievement = publish_by_review(people, **INSULATION)
    reports = run_once()
    assert reports["search-sync"].report.indexed == 1
    assert reports["match-scans"].report.scanned == 1
    assert db.session.scalar(select(MatchPair.achievement_id)) == achievement.id
    mail = next(m for m in mail_outbox if m["To"] == people["enterprise"].email)
    assert f"https://tech.qingdao.example/listings/{achievement.id}" in mail.get_content()


def test_matchmaking_cli_rescans_everything(app, runner, people, published_demand):
    app.config.update(SERVER_NAME=None)  # as in production, where links come from PUBLIC_URL
    publish_by_review(people, **INSULATION)
    index_everything()
    db.session.execute(MatchScan.__table__.delete())
    db.session.commit()
    result = runner.invoke(args=["matchmaking", "scan", "--all"])
    assert result.exit_code == 0, result.output
    assert "queued 3 listings" in result.output and "scanned 3 listings" in result.output
    assert scans() == []


@pytest.fixture
def pair(app, people, published_demand):
    app.config.update(MATCH_PAIR_MIN_SCORE=0)
    achievement = publish_by_review(people, **INSULATION)
    index_everything()
    run_as_job(
        services.run_scans,
    )
    return db.session.scalar(select(MatchPair).where(MatchPair.achievement_id == achievement.id))


def test_dashboard_is_for_brokers_and_admins_only(client, people, pair):
    assert client.get("/matchmaking/").status_code == 302  # to the login page
    login(client, people["researcher"])
    assert client.get("/matchmaking/").status_code == 403
    assert client.post(f"/matchmaking/pairs/{pair.id}/dismiss").status_code == 403
    assert db.session.get(MatchPair, pair.id).status == PairStatus.NEW


def test_broker_sees_pairs_with_reasons_and_follows_one_up(client, people, pair):
    login(client, people["broker"])
    page = client.get("/matchmaking/").get_data(as_text=True)
    assert pair.demand.title in page and pair.achievement.title in page
    assert "同属化工新材料领域" in page and f">{pair.score}<" in page

    response = client.post(f"/matchmaking/pairs/{pair.id}/follow", data={"status": "new", "industry": "new_materials"})
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/matchmaking/?status=new&industry=new_materials")
    db.session.expire_all()
    followed = db.session.get(MatchPair, pair.id)
    assert (followed.status, followed.handled_by_id) == (PairStatus.FOLLOWING, people["broker"].id)
    assert (
        db.session.scalar(select(AuditEvent.action).where(AuditEvent.object_type == "match_pairs"))
        == "match_pair.follow"
    )
    assert pair.demand.title not in client.get("/matchmaking/").get_data(as_text=True)
    assert pair.demand.title in client.get("/matchmaking/?status=following").get_data(as_text=True)


def test_pairs_of_unpublished_listings_leave_the_dashboard(client, people, pair):
    listings.archive(people["enterprise"], pair.demand)
    db.session.commit()
    login(client, people["broker"])
    assert pair.achievement.title not in client.get("/matchmaking/").get_data(as_text=True)
    assert client.post(f"/matchmaking/pairs/{pair.id}/follow").status_code == 404


def test_dashboard_filters_by_score_floor_and_shows_empty_state(client, people, pair):
    pair.score = 75
    db.session.commit()
    login(client, people["broker"])
    hidden = client.get("/matchmaking/?min_score=80").get_data(as_text=True)
    assert pair.demand.title not in hidden and "暂无匹配" in hidden
    assert pair.demand.title in client.get("/matchmaking/?min_score=70").get_data(as_text=True)
    assert pair.demand.title not in client.get("/matchmaking/?industry=marine_equipment").get_data(as_text=True)


def test_brokers_workbench_counts_pairs_waiting(client, people, pair):
    login(client, people["broker"])
    assert "1 对新匹配待处理，0 对跟进中" in client.get("/dashboard").get_data(as_text=True)
    client.post("/account/logout")
    login(client, people["researcher"])
    assert "对新匹配待处理" not in client.get("/dashboard").get_data(as_text=True)


def test_worker_command_runs_each_job_once(app, runner, people):
    app.config.update(SERVER_NAME=None)
    publish_by_review(people, **INSULATION)
    result = runner.invoke(args=["jobs", "work", "--once"])
    assert result.exit_code == 0, result.output
    assert "search-sync: indexed 1, deleted 0, failed 0" in result.output
    assert "match-scans: scanned 1 listings" in result.output


def test_dismissing_a_pair_without_a_reason_is_refused_and_changes_nothing(client, people, pair):
    login(client, people["broker"])
    page = client.post(f"/matchmaking/pairs/{pair.id}/dismiss", data={}, follow_redirects=True)
    assert "请选择忽略原因" in page.get_data(as_text=True)
    page = client.post(f"/matchmaking/pairs/{pair.id}/dismiss", data={"dismiss_reason": "other"}, follow_redirects=True)
    assert "选择“其他原因”时请填写说明" in page.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(MatchPair, pair.id).status == PairStatus.NEW


def test_dismiss_reasons_are_counted_on_the_dashboard_and_cleared_on_reopen(client, people, pair):
    login(client, people["broker"])
    client.post(f"/matchmaking/pairs/{pair.id}/dismiss", data={"dismiss_reason": "not_relevant"})
    db.session.expire_all()
    dismissed = db.session.get(MatchPair, pair.id)
    assert (dismissed.status, dismissed.dismiss_reason) == (PairStatus.DISMISSED, "not_relevant")
    assert services.dismissed_by_reason() == {"not_relevant": 1}
    page = client.get("/matchmaking/?status=dismissed").get_data(as_text=True)
    assert '<li data-dismiss-reason="not_relevant">技术不对口 <span class="badge text-bg-light border">1</span>' in page
    assert "忽略原因：技术不对口" in page

    client.post(f"/matchmaking/pairs/{pair.id}/reopen")
    db.session.expire_all()
    reopened = db.session.get(MatchPair, pair.id)
    assert (reopened.status, reopened.dismiss_reason) == (PairStatus.NEW, None)
    assert services.dismissed_by_reason() == {}
