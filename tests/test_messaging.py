"""Inquiries: a signed-in user asks a listing's owner; both follow the thread in /messages/."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from marketplace.accounts.roles import Role
from marketplace.core.errors import ServiceError
from marketplace.extensions import db
from marketplace.listings.models import ListingStatus
from marketplace.messaging import services
from marketplace.messaging.models import InquiryMessage, InquiryThread
from marketplace.notifications.models import Notification
from tests.factories import login, make_listing, make_user


@pytest.fixture
def owner():
    return make_user(Role.RESEARCHER, name="发布方王工")


@pytest.fixture
def asker():
    return make_user(Role.ENTERPRISE, name="企业李经理")


@pytest.fixture
def listing(owner):
    return make_listing(owner=owner, title="海洋牧场水下监测浮标")


def client_for(app, user):
    client = app.test_client()
    login(client, user)
    return client


def badge(html: str) -> int:
    """The navbar's unread badge; 0 when it is not shown."""
    match = re.search(r'unread-badge">(\d+)<', html)
    return int(match.group(1)) if match else 0


def ask(client, listing, body="请问浮标的续航时间是多少？"):
    return client.post(f"/messages/ask/{listing.id}", data={"body": body})


def only_thread() -> InquiryThread:
    return db.session.scalars(select(InquiryThread)).one()


def test_inquiry_from_published_listing_creates_thread_and_notifies_owner(app, owner, asker, listing, mail_outbox):
    response = ask(client_for(app, asker), listing)

    thread = only_thread()
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/messages/{thread.id}")
    assert (thread.asker_id, thread.owner_id, thread.subject) == (asker.id, owner.id, "海洋牧场水下监测浮标")
    notification = db.session.scalars(select(Notification).where(Notification.user_id == owner.id)).one()
    assert notification.kind == "inquiry_received" and notification.params["sender"] == "企业李经理"
    assert [m["To"] for m in mail_outbox] == [owner.email]


def test_inquiry_thread_appears_in_both_inboxes(app, owner, asker, listing):
    asker_client, owner_client = client_for(app, asker), client_for(app, owner)
    ask(asker_client, listing)

    for client, other_name in ((asker_client, "发布方王工"), (owner_client, "企业李经理")):
        html = client.get("/messages/").get_data(as_text=True)
        assert "海洋牧场水下监测浮标" in html and other_name in html
        assert f"/listings/{listing.id}" in html


def test_inquiry_second_message_reuses_thread(app, asker, listing):
    client = client_for(app, asker)
    ask(client, listing, "第一个问题")
    ask(client, listing, "第二个问题")

    assert db.session.scalar(select(func.count()).select_from(InquiryThread)) == 1
    assert [m.body for m in only_thread().messages] == ["第一个问题", "第二个问题"]


def test_owner_reply_notifies_asker_and_shows_as_bubbles(app, owner, asker, listing):
    asker_client, owner_client = client_for(app, asker), client_for(app, owner)
    ask(asker_client, listing)
    thread = only_thread()

    response = owner_client.post(f"/messages/{thread.id}", data={"body": "续航约 180 天。"})

    assert response.status_code == 302
    reply_notice = db.session.scalars(
        select(Notification).where(Notification.user_id == asker.id, Notification.kind == "inquiry_reply")
    ).one()
    assert reply_notice.params["excerpt"] == "续航约 180 天。"
    html = asker_client.get(f"/messages/{thread.id}").get_data(as_text=True)
    assert "续航约 180 天。" in html and "请问浮标的续航时间是多少？" in html
    assert html.count("message-mine") == 1 and html.count("message-theirs") == 1


def test_reply_with_empty_body_is_refused(app, owner, asker, listing):
    ask(client_for(app, asker), listing)
    thread = only_thread()

    html = client_for(app, owner).post(f"/messages/{thread.id}", data={"body": "   "}).get_data(as_text=True)

    assert "请输入咨询内容" in html
    assert db.session.scalar(select(func.count()).select_from(InquiryMessage)) == 1


def test_thread_for_third_user_returns_404(app, asker, listing):
    ask(client_for(app, asker), listing)
    thread = only_thread()
    outsider = client_for(app, make_user(Role.ENTERPRISE))

    assert outsider.get(f"/messages/{thread.id}").status_code == 404
    assert outsider.post(f"/messages/{thread.id}", data={"body": "插一句"}).status_code == 404
    assert db.session.scalar(select(func.count()).select_from(InquiryMessage)) == 1


def test_thread_for_anonymous_redirects_to_login(app, client, asker, listing):
    ask(client_for(app, asker), listing)

    response = client.get(f"/messages/{only_thread().id}")

    assert response.status_code == 302 and "/account/login" in response.headers["Location"]


def test_inquiry_on_own_listing_is_refused(app, owner, listing):
    client = client_for(app, owner)

    html = client.post(f"/messages/ask/{listing.id}", data={"body": "自问自答"}, follow_redirects=True).get_data(
        as_text=True
    )

    assert "不能咨询自己发布的信息" in html
    assert db.session.scalar(select(func.count()).select_from(InquiryThread)) == 0


def test_inquiry_on_unpublished_listing_returns_404(app, owner, asker):
    draft = make_listing(owner=owner, status=ListingStatus.DRAFT)

    assert ask(client_for(app, asker), draft).status_code == 404
    assert db.session.scalar(select(func.count()).select_from(InquiryThread)) == 0


def test_send_inquiry_service_on_imported_listing_without_owner_raises(app, asker):
    imported = make_listing(title="批量导入的成果")

    with pytest.raises(ServiceError):
        services.send_inquiry(asker, imported, "你好")


def test_unread_counts_rise_on_inquiry_and_fall_after_reading(app, owner, asker, listing):
    asker_client, owner_client = client_for(app, asker), client_for(app, owner)
    assert badge(owner_client.get("/").get_data(as_text=True)) == 0

    ask(asker_client, listing)
    thread = only_thread()

    # One notification plus one unread thread for the owner; nothing new for the sender.
    assert services.unread_thread_count(owner) == 1 and services.unread_thread_count(asker) == 0
    assert badge(owner_client.get("/").get_data(as_text=True)) == 2
    assert "未读" in owner_client.get("/messages/").get_data(as_text=True)

    owner_client.get(f"/messages/{thread.id}")
    assert services.unread_thread_count(owner) == 0
    assert badge(owner_client.get("/").get_data(as_text=True)) == 1

    notification = db.session.scalars(select(Notification).where(Notification.user_id == owner.id)).one()
    owner_client.get(f"/notifications/{notification.id}")
    assert badge(owner_client.get("/").get_data(as_text=True)) == 0


def test_reply_makes_thread_unread_for_the_other_party_only(app, owner, asker, listing):
    asker_client, owner_client = client_for(app, asker), client_for(app, owner)
    ask(asker_client, listing)
    thread = only_thread()
    owner_client.get(f"/messages/{thread.id}")

    owner_client.post(f"/messages/{thread.id}", data={"body": "可以安排现场演示。"})

    assert services.unread_thread_count(asker) == 1 and services.unread_thread_count(owner) == 0
    asker_client.get(f"/messages/{thread.id}")
    assert services.unread_thread_count(asker) == 0


def test_inbox_without_threads_shows_empty_state(app, asker):
    html = client_for(app, asker).get("/messages/").get_data(as_text=True)

    assert "还没有咨询消息" in html


def test_inquiry_with_line_breaks_still_emails_the_owner(app, owner, asker, listing, mail_outbox):
    ask(client_for(app, asker), listing, "第一行问题\n第二行问题")

    assert [m["To"] for m in mail_outbox] == [owner.email]
    assert "\n" not in mail_outbox[0]["Subject"] and "第二行问题" in mail_outbox[0].get_content()
