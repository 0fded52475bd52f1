"""Notifications: the in-app centre, read state per user, and email sent only after commit."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from marketplace.accounts.roles import Role
from marketplace.extensions import db
from marketplace.notifications import services
from marketplace.notifications.models import Notification
from tests.factories import login, make_user


@pytest.fixture
def alice():
    return make_user(Role.RESEARCHER, name="艾丽斯", email="alice@example.cn")


@pytest.fixture
def bob():
    return make_user(Role.ENTERPRISE, name="鲍勃", email="bob@example.cn")


def notify(user, title="深海传感器", link="/listings/1") -> Notification:
    notification = services.notify(user, "listing_approved", link=link, title=title)
    db.session.commit()
    return notification


def unread_ids(user) -> set[int]:
    return set(
        db.session.scalars(
            select(Notification.id).where(Notification.user_id == user.id, Notification.read_at.is_(None))
        )
    )


def test_notify_sends_email_only_after_commit(app, alice, mail_outbox):
    services.notify(alice, "listing_approved", link="/listings/7", title="深海传感器")
    db.session.flush()
    assert mail_outbox == []

    db.session.commit()

    assert len(mail_outbox) == 1
    message = mail_outbox[0]
    assert message["To"] == "alice@example.cn" and "深海传感器" in message["Subject"]
    assert "http://localhost/listings/7" in message.get_content()


def test_notify_rolled_back_sends_no_email_and_keeps_no_row(app, alice, mail_outbox):
    services.notify(alice, "listing_approved", title="不会保存")
    db.session.rollback()
    db.session.commit()

    assert mail_outbox == [] and unread_ids(alice) == set()


def test_mail_queued_before_a_failed_savepoint_is_still_sent(app, alice, bob, mail_outbox):
    services.notify(alice, "listing_approved", title="先通过的")
    try:
        with db.session.begin_nested():
            services.notify(bob, "listing_approved", title="随后失败的")
            raise RuntimeError("step failed")
    except RuntimeError:
        pass
    db.session.commit()

    assert [m["To"] for m in mail_outbox] == ["alice@example.cn"]


def test_notify_with_unknown_kind_raises(app, alice):
    with pytest.raises(KeyError):
        services.notify(alice, "no_such_kind")


def test_render_fills_parameters_and_tolerates_missing_ones(app, alice):
    complete = Notification(user_id=alice.id, kind="listing_rejected", params={"title": "甲", "reason": "乙"})
    missing = Notification(user_id=alice.id, kind="listing_rejected", params={"title": "甲"})

    assert services.render(complete) == "您发布的「甲」未通过审核。原因：乙"
    assert services.render(missing) == "您发布的「甲」未通过审核。原因："


def test_index_lists_only_own_notifications(client, alice, bob):
    notify(alice, title="艾丽斯的成果")
    notify(bob, title="鲍勃的需求")
    login(client, alice)

    html = client.get("/notifications/").get_data(as_text=True)

    assert "艾丽斯的成果" in html and "鲍勃的需求" not in html


def test_index_without_notifications_shows_empty_state(client, alice):
    login(client, alice)

    assert "暂无通知" in client.get("/notifications/").get_data(as_text=True)


def test_open_notification_marks_only_that_one_read_and_follows_link(client, alice):
    opened, other = notify(alice, link="/listings/42"), notify(alice)
    login(client, alice)

    response = client.get(f"/notifications/{opened.id}")

    assert response.status_code == 302 and response.headers["Location"].endswith("/listings/42")
    assert unread_ids(alice) == {other.id}


def test_open_someone_elses_notification_returns_404_and_leaves_it_unread(client, alice, bob):
    bobs = notify(bob)
    login(client, alice)

    assert client.get(f"/notifications/{bobs.id}").status_code == 404
    assert unread_ids(bob) == {bobs.id}


def test_read_all_marks_only_current_users_rows(client, alice, bob):
    notify(alice), notify(alice)
    bobs = notify(bob)
    login(client, alice)

    response = client.post("/notifications/read-all")

    assert response.status_code == 302
    assert unread_ids(alice) == set() and unread_ids(bob) == {bobs.id}


def test_mark_read_service_with_other_users_id_changes_nothing(app, alice, bob):
    bobs = notify(bob)

    services.mark_read(alice, bobs.id)
    db.session.commit()

    assert unread_ids(bob) == {bobs.id}


def test_unread_count_counts_only_unread_rows_of_the_user(app, alice, bob):
    first = notify(alice)
    notify(alice), notify(bob)
    services.mark_read(alice, first.id)
    db.session.commit()

    assert services.unread_count(alice) == 1 and services.unread_count(bob) == 1


def test_notifications_for_anonymous_redirect_to_login(client):
    response = client.get("/notifications/")

    assert response.status_code == 302 and "/account/login" in response.headers["Location"]


def test_notify_admins_reaches_active_admins_without_email(app, mail_outbox):
    active_admin = make_user(Role.ADMIN, org=False)
    retired_admin = make_user(Role.ADMIN, org=False, active=False)

    services.notify_admins("listing_submitted", link="/admin/review", title="待审")
    db.session.commit()

    assert services.unread_count(active_admin) == 1 and services.unread_count(retired_admin) == 0
    assert mail_outbox == []
