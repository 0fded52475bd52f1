"""揭榜挂帅: researchers apply to an open challenge, the owner side shortlists and picks one winner."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from marketplace.accounts.roles import Role
from marketplace.core.audit import AuditEvent
from marketplace.core.errors import PermissionDenied, ServiceError
from marketplace.extensions import db
from marketplace.listings import challenges
from marketplace.listings.models import ApplicationStatus, ChallengeApplication, ListingStatus
from marketplace.notifications.models import Notification
from tests.factories import login, make_listing, make_user

A = ApplicationStatus


@pytest.fixture
def enterprise():
    return make_user(Role.ENTERPRISE, name="海工装备公司")


@pytest.fixture
def demand(enterprise):
    return make_challenge(enterprise)


def make_challenge(owner, **fields):
    values = {"challenge": True, "bounty_cny": Decimal("800000"), "deadline": date.today() + timedelta(days=30)}
    values.update(fields)
    return make_listing("demand", owner=owner, **values)


def applied(demand, researcher=None, team_name="海洋材料课题组"):
    researcher = researcher or make_user(Role.RESEARCHER)
    application = challenges.apply(researcher, demand, team_name, "技术路线：……")
    db.session.commit()
    return application


def notifications_of(user, kind):
    return db.session.scalars(
        select(Notification).where(Notification.user_id == user.id, Notification.kind == kind)
    ).all()


def test_apply_by_researcher_creates_application_and_notifies_owner(app, client, enterprise, demand, mail_outbox):
    researcher = make_user(Role.RESEARCHER)
    login(client, researcher)

    response = client.post(
        f"/listings/{demand.id}/apply",
        data={"team_name": "深海传感团队", "proposal": "采用光纤传感方案，12个月完成样机。"},
        follow_redirects=True,
    )

    assert response.status_code == 200
    assert "揭榜申请已提交" in response.get_data(as_text=True)
    application = db.session.scalars(select(ChallengeApplication)).one()
    assert (application.applicant_id, application.team_name, application.status) == (
        researcher.id,
        "深海传感团队",
        A.SUBMITTED,
    )
    [notice] = notifications_of(enterprise, "challenge_application")
    assert notice.params["team"] == "深海传感团队"
    assert notice.link.endswith(f"/listings/{demand.id}/applications")
    assert [message["To"] for message in mail_outbox] == [enterprise.email]


def test_apply_twice_by_same_researcher_is_refused(app, client, demand):
    researcher = make_user(Role.RESEARCHER)
    applied(demand, researcher)

    with pytest.raises(ServiceError, match="您已申请过该榜单") as error:
        challenges.apply(researcher, demand, "另一个团队", "另一份方案")
    assert error.value.status_code == 409
    db.session.rollback()

    login(client, researcher)
    page = client.post(
        f"/listings/{demand.id}/apply", data={"team_name": "再来", "proposal": "方案"}, follow_redirects=True
    ).get_data(as_text=True)
    assert "您已申请过该榜单" in page
    assert len(db.session.scalars(select(ChallengeApplication)).all()) == 1


@pytest.mark.parametrize("role", [Role.ENTERPRISE, Role.INVESTOR, Role.SERVICE_PROVIDER, Role.BROKER])
def test_apply_by_non_researcher_is_forbidden(app, client, demand, role):
    user = make_user(role)

    with pytest.raises(PermissionDenied):
        challenges.apply(user, demand, "团队", "方案")
    db.session.rollback()

    login(client, user)
    response = client.post(f"/listings/{demand.id}/apply", data={"team_name": "团队", "proposal": "方案"})
    assert response.status_code == 403
    assert db.session.scalars(select(ChallengeApplication)).all() == []


def test_apply_after_deadline_is_refused(app, enterprise):
    closed = make_challenge(enterprise, deadline=date.today() - timedelta(days=1))

    with pytest.raises(ServiceError, match="截止") as error:
        challenges.apply(make_user(Role.RESEARCHER), closed, "团队", "方案")
    assert error.value.status_code == 409


def test_apply_on_deadline_day_is_accepted(app, enterprise):
    closing_today = make_challenge(enterprise, deadline=date.today())

    application = challenges.apply(make_user(Role.RESEARCHER), closing_today, "团队", "方案")

    assert application.status == A.SUBMITTED


def test_apply_after_winner_picked_is_refused(app, enterprise, demand):
    challenges.pick_winner(enterprise, applied(demand))
    db.session.commit()

    with pytest.raises(ServiceError, match="已有团队揭榜成功") as error:
        challenges.apply(make_user(Role.RESEARCHER), demand, "迟到的团队", "方案")
    assert error.value.status_code == 409


def test_apply_to_ordinary_demand_is_refused(app, enterprise):
    ordinary = make_listing("demand", owner=enterprise, challenge=False)

    with pytest.raises(ServiceError, match="不是揭榜挂帅榜单"):
        challenges.apply(make_user(Role.RESEARCHER), ordinary, "团队", "方案")


def test_apply_to_unpublished_challenge_is_refused(app, enterprise):
    draft = make_challenge(enterprise, status=ListingStatus.DRAFT)

    with pytest.raises(ServiceError, match="尚未发布"):
        challenges.apply(make_user(Role.RESEARCHER), draft, "团队", "方案")


def test_apply_with_blank_proposal_is_refused(app, demand):
    with pytest.raises(ServiceError, match="请填写团队名称和揭榜方案"):
        challenges.apply(make_user(Role.RESEARCHER), demand, "团队", "   ")


def test_shortlist_by_owner_notifies_applicant(app, client, enterprise, demand):
    application = applied(demand)
    login(client, enterprise)

    response = client.post(f"/applications/{application.id}/shortlist")

    assert response.status_code == 302
    assert db.session.get(ChallengeApplication, application.id).status == A.SHORTLISTED
    assert len(notifications_of(application.applicant, "application_shortlisted")) == 1


def test_shortlist_twice_is_refused_with_conflict(app, enterprise, demand):
    application = applied(demand)
    challenges.shortlist(enterprise, application)

    with pytest.raises(ServiceError, match="不能执行此操作") as error:
        challenges.shortlist(enterprise, application)
    assert error.value.status_code == 409


def test_pick_winner_marks_others_not_selected_and_notifies_each(app, client, enterprise, demand):
    winner = applied(demand, team_name="甲团队")
    shortlisted = applied(demand, team_name="乙团队")
    pending = applied(demand, team_name="丙团队")
    withdrawn = applied(demand, team_name="丁团队")
    challenges.shortlist(enterprise, shortlisted)
    challenges.withdraw(withdrawn.applicant, withdrawn)
    db.session.commit()
    login(client, enterprise)

    response = client.post(f"/applications/{winner.id}/winner")

    assert response.status_code == 302
    db.session.expire_all()
    statuses = {row.team_name: row.status for row in db.session.scalars(select(ChallengeApplication))}
    assert statuses == {"甲团队": A.WINNER, "乙团队": A.NOT_SELECTED, "丙团队": A.NOT_SELECTED, "丁团队": A.WITHDRAWN}
    assert db.session.get(ChallengeApplication, winner.id).decided_at is not None
    assert len(notifications_of(winner.applicant, "application_won")) == 1
    for loser in (shortlisted, pending):
        assert len(notifications_of(loser.applicant, "application_not_selected")) == 1
    assert notifications_of(withdrawn.applicant, "application_not_selected") == []
    assert challenges.phase(demand) == challenges.Phase.AWARDED


def test_pick_second_winner_is_refused_with_conflict(app, enterprise, demand):
    first, second = applied(demand), applied(demand)
    challenges.pick_winner(enterprise, first)
    db.session.commit()

    with pytest.raises(ServiceError) as error:
        challenges.pick_winner(enterprise, second)
    assert error.value.status_code == 409


@pytest.mark.parametrize("action", ["shortlist", "winner"])
def test_review_action_by_other_enterprise_is_forbidden(app, client, demand, action):
    application = applied(demand)
    login(client, make_user(Role.ENTERPRISE))

    response = client.post(f"/applications/{application.id}/{action}")

    assert response.status_code == 403
    assert db.session.get(ChallengeApplication, application.id).status == A.SUBMITTED


def test_review_action_by_applicant_on_own_application_is_forbidden(app, demand):
    application = applied(demand)

    with pytest.raises(PermissionDenied):
        challenges.pick_winner(application.applicant, application)


def test_withdraw_by_applicant_before_decision_sets_withdrawn_and_tells_owner(app, client, enterprise, demand):
    application = applied(demand)
    login(client, application.applicant)

    response = client.post(f"/applications/{application.id}/withdraw")

    assert response.status_code == 302
    assert db.session.get(ChallengeApplication, application.id).status == A.WITHDRAWN
    assert len(notifications_of(enterprise, "application_withdrawn")) == 1


def test_withdraw_after_decision_is_refused_with_conflict(app, enterprise, demand):
    winner, loser = applied(demand), applied(demand)
    challenges.pick_winner(enterprise, winner)
    db.session.commit()

    for application in (winner, loser):
        with pytest.raises(ServiceError, match="评审结果已出") as error:
            challenges.withdraw(application.applicant, application)
        assert error.value.status_code == 409


def test_withdraw_by_someone_else_is_forbidden(app, client, enterprise, demand):
    application = applied(demand)
    login(client, enterprise)

    response = client.post(f"/applications/{application.id}/withdraw")

    assert response.status_code == 403
    assert db.session.get(ChallengeApplication, application.id).status == A.SUBMITTED


def test_apply_again_after_withdrawing_resubmits_same_application(app, demand):
    application = applied(demand)
    challenges.withdraw(application.applicant, application)
    db.session.commit()

    again = challenges.apply(application.applicant, demand, "改组后的团队", "新方案")

    assert again.id == application.id
    assert (again.status, again.team_name, again.proposal) == (A.SUBMITTED, "改组后的团队", "新方案")


def test_each_action_writes_an_audit_row(app, enterprise, demand):
    first, second = applied(demand), applied(demand)
    challenges.shortlist(enterprise, first)
    challenges.withdraw(second.applicant, second)
    challenges.pick_winner(enterprise, first)
    db.session.commit()

    actions = db.session.scalars(select(AuditEvent.action).where(AuditEvent.object_type == "challenge_applications"))
    assert sorted(actions) == sorted(
        [
            "challenge.applied",
            "challenge.applied",
            "challenge.shortlisted",
            "challenge.withdrawn",
            "challenge.winner_picked",
        ]
    )


def test_applications_page_shows_proposals_to_owner_only(app, client, enterprise, demand):
    application = applied(demand, team_name="甲团队")
    other_client = app.test_client()
    login(client, enterprise)
    login(other_client, application.applicant)

    owner_page = client.get(f"/listings/{demand.id}/applications")
    applicant_page = other_client.get(f"/listings/{demand.id}/applications")

    assert owner_page.status_code == 200
    text = owner_page.get_data(as_text=True)
    assert "甲团队" in text and "技术路线：……" in text and "选定为揭榜团队" in text
    assert applicant_page.status_code == 403


def test_detail_page_shows_applicant_only_own_application(app, client, demand):
    mine = applied(demand, team_name="我的团队")
    applied(demand, team_name="别人的团队")
    login(client, mine.applicant)

    page = client.get(f"/listings/{demand.id}").get_data(as_text=True)

    assert "我的揭榜申请：我的团队" in page and "撤回申请" in page
    assert "别人的团队" not in page
    assert "提交揭榜申请" not in page


def test_detail_page_offers_apply_form_to_eligible_researcher_only(app, client, enterprise, demand):
    researcher_client = app.test_client()
    login(researcher_client, make_user(Role.RESEARCHER))
    login(client, make_user(Role.ENTERPRISE))

    researcher_page = researcher_client.get(f"/listings/{demand.id}").get_data(as_text=True)
    enterprise_page = client.get(f"/listings/{demand.id}").get_data(as_text=True)

    assert "揭榜挂帅" in researcher_page and "提交揭榜申请" in researcher_page and "征集中" in researcher_page
    assert "提交揭榜申请" not in enterprise_page
