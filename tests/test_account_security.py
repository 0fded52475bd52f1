"""Account security: reset and verification links, sessions that end, throttling, policy, headers, redirects."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis
from sqlalchemy import func, select

from config.settings import load_config
from marketplace import create_app
from marketplace.accounts import services, tokens
from marketplace.accounts.models import Invitation, User
from marketplace.accounts.passwords import common_passwords, password_problem
from marketplace.core.errors import ServiceError
from marketplace.core.redirects import safe_next
from marketplace.extensions import db
from marketplace.listings import services as listing_services
from marketplace.listings.models import Listing
from tests.factories import PASSWORD, login, make_listing, make_user

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
NEW_PASSWORD = "tidal-lighthouse-42"


def _user(email: str) -> User:
    db.session.expire_all()
    return db.session.scalar(select(User).where(User.email == email))


def _link(mail_outbox, path_prefix: str) -> str:
    """The path of the one link to ``path_prefix`` in the mail sent last."""
    body = mail_outbox[-1].get_content()
    match = re.search(r"https?://\S+", body)
    assert match, body
    path = urlsplit(match.group(0)).path
    assert path.startswith(path_prefix), body
    return path


def _registration(email: str = "new.user@example.cn", password: str = "s3cure-passw0rd", **overrides) -> dict:
    return {
        "email": email,
        "name": "王海洋",
        "role": "researcher",
        "password": password,
        "confirm": password,
        "accept_terms": "y",
        "org_name": overrides.pop("org_name", "中国海洋大学测试学院"),
        "district": "laoshan",
        "industry": "marine_biomedicine",
        **overrides,
    }


def _cookie(client, name: str) -> str | None:
    cookie = client.get_cookie(name)
    return cookie.value if cookie is not None else None


def _signed_in(app, **cookies) -> bool:
    """Whether a fresh browser holding only ``cookies`` is signed in."""
    other = app.test_client()
    for name, value in cookies.items():
        other.set_cookie(name, value)
    return other.get("/dashboard").status_code == 200


def _change_password(client, current: str = PASSWORD, new: str = NEW_PASSWORD):
    return client.post(
        "/account/password", data={"pw-current_password": current, "pw-new_password": new, "pw-confirm": new}
    )


# --- password reset ---------------------------------------------------------------------------


def test_forgot_password_known_and_unknown_email_same_answer_mail_only_to_account(client, mail_outbox):
    user = make_user("researcher", email="known@example.cn")

    known = client.post("/account/password/forgot", data={"email": "known@example.cn"}, follow_redirects=True)
    unknown = client.post("/account/password/forgot", data={"email": "nobody@example.cn"}, follow_redirects=True)

    assert known.status_code == unknown.status_code == 200
    assert known.get_data() == unknown.get_data()
    assert "如果该邮箱已注册，我们已发送重置链接" in known.get_data(as_text=True)
    assert [mail["To"] for mail in mail_outbox] == [user.email]
    assert "1 小时" in mail_outbox[0].get_content()


def test_login_page_links_to_forgot_password(client):
    assert 'href="/account/password/forgot"' in client.get("/account/login").get_data(as_text=True)


def test_reset_link_sets_new_password_and_is_single_use(client, mail_outbox):
    user = make_user("researcher")
    client.post("/account/password/forgot", data={"email": user.email})
    path = _link(mail_outbox, "/account/password/reset/")

    assert client.get(path).status_code == 200
    response = client.post(path, data={"new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD})

    assert response.status_code == 302
    assert _user(user.email).check_password(NEW_PASSWORD)
    again = client.post(path, data={"new_password": "another-fine-pass-7", "confirm": "another-fine-pass-7"})
    assert again.status_code == 400
    assert "重置链接无效、已使用或已过期" in again.get_data(as_text=True)
    assert _user(user.email).check_password(NEW_PASSWORD)


def test_reset_link_after_an_hour_is_refused(client, monkeypatch):
    user = make_user("researcher")
    token = tokens.reset_token(user)
    monkeypatch.setattr(tokens, "RESET_MAX_AGE", -1)  # the token is already older than that

    response = client.post(f"/account/password/reset/{token}", data={"new_password": NEW_PASSWORD})

    assert response.status_code == 400
    assert _user(user.email).check_password(PASSWORD)


def test_reset_link_tampered_is_refused(client):
    user = make_user("researcher")
    token = tokens.reset_token(user)

    assert client.get(f"/account/password/reset/{token[:-2]}xx").status_code == 400


def test_reset_password_common_password_is_refused_beside_field(client, mail_outbox):
    user = make_user("researcher")
    token = tokens.reset_token(user)

    response = client.post(f"/account/password/reset/{token}", data={"new_password": "12345678", "confirm": "12345678"})

    assert response.status_code == 200
    assert "这个密码太常见" in response.get_data(as_text=True)
    assert _user(user.email).check_password(PASSWORD)


def test_reset_password_ends_existing_sessions(app, client):
    user = make_user("researcher")
    login(client, user)
    stolen = _cookie(client, "session")

    services.reset_password(tokens.reset_token(user), NEW_PASSWORD)
    db.session.commit()

    assert not _signed_in(app, session=stolen)


# --- e-mail verification ----------------------------------------------------------------------


def test_register_sends_verification_link_that_verifies(client, mail_outbox):
    client.post("/account/register", data=_registration())
    assert not _user("new.user@example.cn").email_verified
    path = _link(mail_outbox, "/account/verify/")

    response = client.get(path)

    assert response.status_code == 302
    assert _user("new.user@example.cn").email_verified


def test_verify_link_expired_is_refused(client, monkeypatch):
    user = make_user("researcher", email_verified=False)
    token = tokens.verification_token(user)
    monkeypatch.setattr(tokens, "VERIFY_MAX_AGE", -1)

    response = client.get(f"/account/verify/{token}")

    assert response.status_code == 400
    assert "验证链接无效或已过期" in response.get_data(as_text=True)
    assert not _user(user.email).email_verified


def test_unverified_user_can_browse_and_sees_resend_button(client, mail_outbox):
    user = make_user("researcher", email_verified=False)
    login(client, user)

    page = client.get("/dashboard")

    assert page.status_code == 200
    assert "重新发送验证邮件" in page.get_data(as_text=True)
    response = client.post("/account/verify/resend")
    assert response.status_code == 302
    assert [mail["To"] for mail in mail_outbox] == [user.email]
    client.get(_link(mail_outbox, "/account/verify/"))
    assert _user(user.email).email_verified
    assert "重新发送验证邮件" not in client.get("/dashboard").get_data(as_text=True)


def test_unverified_user_create_listing_service_raises(app):
    user = make_user("researcher", email_verified=False)

    with pytest.raises(ServiceError, match="请先验证您的邮箱"):
        listing_services.create_listing(user, "achievement", {"title": "某技术"})
    assert db.session.scalar(select(func.count()).select_from(Listing)) == 0


def test_unverified_user_submit_service_raises(app):
    user = make_user("researcher", email_verified=False)
    draft = make_listing(owner=user, status="draft")

    with pytest.raises(ServiceError, match="请先验证您的邮箱"):
        listing_services.submit(user, draft)


def test_unverified_user_new_listing_form_shows_message_and_saves_nothing(client):
    login(client, make_user("researcher", email_verified=False))

    response = client.post(
        "/listings/new/achievement",
        data={
            "title": "海洋微生物来源的抗菌肽制备技术",
            "summary": "从深海微生物中筛选的抗菌肽。",
            "industry": "marine_biomedicine",
            "district": "laoshan",
            "cooperation_modes": ["transfer"],
            "trl": "5",
        },
    )

    assert response.status_code == 200
    assert "请先验证您的邮箱" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Listing)) == 0


def test_factory_and_demo_users_count_as_verified(app, runner):
    assert make_user("researcher").email_verified
    assert runner.invoke(args=["demo", "seed"]).exit_code == 0
    assert db.session.scalar(select(func.count()).select_from(User).where(User.email_verified.is_(False))) == 0


# --- sessions end on logout and password change -----------------------------------------------


def test_logout_replayed_session_cookie_is_not_signed_in(app, client):
    login(client, make_user("researcher"))
    copied = _cookie(client, "session")
    assert _signed_in(app, session=copied)  # the copy works while the session lasts

    client.post("/account/logout")

    assert not _signed_in(app, session=copied)


def test_logout_replayed_remember_cookie_is_not_signed_in(app, client):
    user = make_user("researcher")
    client.post("/account/login", data={"email": user.email, "password": PASSWORD, "remember": "y"})
    remember = _cookie(client, "remember_token")
    assert remember and _signed_in(app, remember_token=remember)

    client.post("/account/logout")

    assert not _signed_in(app, remember_token=remember)


def test_logout_ends_sessions_on_other_devices(app, client):
    user = make_user("researcher")
    login(client, user)
    phone = app.test_client()
    login(phone, user)

    client.post("/account/logout")

    assert phone.get("/dashboard").status_code == 302


def test_change_password_other_sessions_end_this_one_continues(app, client):
    user = make_user("researcher")
    client.post("/account/login", data={"email": user.email, "password": PASSWORD, "remember": "y"})
    copied_session, copied_remember = _cookie(client, "session"), _cookie(client, "remember_token")

    response = _change_password(client)

    assert response.status_code == 302
    assert client.get("/dashboard").status_code == 200
    assert not _signed_in(app, session=copied_session)
    assert not _signed_in(app, remember_token=copied_remember)
    # The device that changed it stays remembered under the new version.
    assert _signed_in(app, remember_token=_cookie(client, "remember_token"))


def test_deactivate_user_ends_their_sessions(app, client):
    admin, user = make_user("admin", org=None), make_user("researcher")
    login(client, user)

    services.set_active(admin, user, False)
    db.session.commit()

    assert client.get("/dashboard").status_code == 302


# --- cookies ----------------------------------------------------------------------------------


def test_cookies_samesite_lax_httponly_and_bounded_remember(client):
    user = make_user("researcher")
    response = client.post("/account/login", data={"email": user.email, "password": PASSWORD, "remember": "y"})

    set_cookies = response.headers.getlist("Set-Cookie")
    for name in ("session", "remember_token"):
        [header] = [value for value in set_cookies if value.startswith(f"{name}=")]
        assert "SameSite=Lax" in header
        assert "HttpOnly" in header
        assert "Secure" not in header  # development and tests run on http
    config = client.application.config
    assert config["REMEMBER_COOKIE_DURATION"].days <= 30


def test_cookies_production_are_secure(tmp_path):
    config = load_config({"ENV": "production", "SECRET_KEY": "k" * 32, "INSTANCE_PATH": str(tmp_path)})

    assert config["SESSION_COOKIE_SECURE"] and config["REMEMBER_COOKIE_SECURE"]
    assert config["SESSION_COOKIE_SAMESITE"] == config["REMEMBER_COOKIE_SAMESITE"] == "Lax"


# --- login throttling -------------------------------------------------------------------------


def _fail(client, email: str, address: str = "10.0.0.1"):
    return client.post(
        "/account/login", data={"email": email, "password": "wrong-password"}, environ_base={"REMOTE_ADDR": address}
    )


def test_login_failures_per_account_from_many_addresses_lock_the_account(app, client):
    app.config["LOGIN_RATE_LIMIT"] = "3 per minute"
    user = make_user("researcher")
    for n in range(3):
        assert _fail(client, user.email, f"10.0.1.{n}").status_code == 200

    response = client.post(
        "/account/login",
        data={"email": user.email, "password": PASSWORD},
        environ_base={"REMOTE_ADDR": "10.0.1.99"},
    )

    assert response.status_code == 429
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert "登录失败次数过多，请 1 分钟后再试" in response.get_data(as_text=True)
    # Another account from a fresh address is unaffected.
    other = make_user("researcher")
    assert client.post("/account/login", data={"email": other.email, "password": PASSWORD}).status_code == 302


def test_login_failures_per_client_across_accounts_lock_the_client(app, client):
    app.config["LOGIN_RATE_LIMIT"] = "3 per minute"
    for n in range(3):
        assert _fail(client, f"guess{n}@example.cn").status_code == 200

    response = _fail(client, "guess9@example.cn")

    assert response.status_code == 429
    assert "Retry-After" in response.headers


def test_login_successes_do_not_count_towards_the_limit(app, client):
    app.config["LOGIN_RATE_LIMIT"] = "2 per minute"
    user = make_user("researcher")
    for _attempt in range(4):
        login(client, user)
        client.post("/account/logout")


def _app_with_storage(database_url: str, instance, storage: str):
    second = create_app(
        {
            "ENV": "testing",
            "DATABASE_URL": database_url,
            "INSTANCE_PATH": str(instance),
            "MAIL_BACKEND": "memory",
            "WTF_CSRF_ENABLED": False,
            "SERVER_NAME": "localhost",
            "RATELIMIT_STORAGE_URL": storage,
            "LOGIN_RATE_LIMIT": "4 per minute",
        }
    )
    second.config["WTF_CSRF_ENABLED"] = False
    return second


def test_login_failures_redis_storage_shared_by_two_workers(app, database_url, tmp_path):
    # One Redis database per test database, so parallel runs on SQLite and PostgreSQL do not meet.
    number = 11 if database_url.startswith("sqlite") else 12
    storage = f"redis://127.0.0.1:6379/{number}"
    redis.Redis.from_url(storage).flushdb()
    user = make_user("researcher")
    workers = [_app_with_storage(database_url, tmp_path / str(n), storage).test_client() for n in (1, 2)]
    try:
        for attempt in range(4):
            assert _fail(workers[attempt % 2], user.email).status_code == 200

        assert _fail(workers[0], user.email).status_code == 429
        assert _fail(workers[1], user.email).status_code == 429
    finally:
        redis.Redis.from_url(storage).flushdb()


def test_login_failures_memory_storage_each_worker_counts_alone(app, database_url, tmp_path):
    user = make_user("researcher")
    workers = [_app_with_storage(database_url, tmp_path / str(n), "memory://").test_client() for n in (1, 2)]
    for attempt in range(4):
        assert _fail(workers[attempt % 2], user.email).status_code == 200

    # Two failures each: the README's warning about the default, shown.
    assert _fail(workers[0], user.email).status_code == 200


# --- timing and enumeration -------------------------------------------------------------------


def test_login_unknown_email_checks_a_scrypt_hash(app, monkeypatch):
    checked = []
    real_check = services.check_password_hash
    monkeypatch.setattr(
        services, "check_password_hash", lambda hash_, pw: checked.append(hash_) or real_check(hash_, pw)
    )

    assert services.authenticate("nobody@example.cn", "whatever-password") is None

    assert len(checked) == 1 and checked[0].startswith("scrypt:")


def test_login_deactivated_user_password_is_still_checked(app, monkeypatch):
    user = make_user("researcher", active=False)
    checked = []
    monkeypatch.setattr(User, "check_password", lambda self, pw: checked.append(pw) or True)

    assert services.authenticate(user.email, PASSWORD) is None
    assert checked == [PASSWORD]


def test_invite_existing_account_answers_as_usual_and_mails_its_owner(client, mail_outbox):
    admin = make_user("researcher")
    existing = make_user("researcher", email="has.account@example.cn")
    login(client, admin)

    fresh = client.post(
        "/account/organisation/invite", data={"invite-email": "fresh@example.cn"}, follow_redirects=True
    )
    mail_outbox.clear()
    response = client.post("/account/organisation/invite", data={"invite-email": existing.email}, follow_redirects=True)

    assert response.status_code == fresh.status_code == 200
    page = response.get_data(as_text=True)
    assert "邀请邮件已发送至 has.account@example.cn" in page
    assert "已注册" not in page
    assert (
        db.session.scalar(select(func.count()).select_from(Invitation).where(Invitation.email == existing.email)) == 0
    )
    [mail] = mail_outbox
    assert mail["To"] == existing.email


# --- password policy --------------------------------------------------------------------------


def test_common_password_list_has_ten_thousand_entries():
    assert len(common_passwords()) >= 9900  # 10,000 lines; a few differ only in case
    assert {"12345678", "password", "qwertyuiop"} <= common_passwords()


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("short1", "至少需要 8 位"),
        ("12345678", "太常见"),
        ("PassWord1", "太常见"),
        ("wang.haiyang", "不能与邮箱地址相同"),
        ("Wang.Haiyang@example.cn", "不能与邮箱地址相同"),
        ("tidal-lighthouse-42", None),
    ],
)
def test_password_policy_refuses_short_common_and_email(app, password, problem):
    result = password_problem(password, "wang.haiyang@example.cn")

    assert (result is None) if problem is None else (problem in result)


@pytest.mark.parametrize("password", ["12345678", "new.user@example.cn", "new.user"])
def test_register_weak_password_refused_beside_field(client, password):
    response = client.post("/account/register", data=_registration(password=password))

    assert response.status_code == 200
    page = response.get_data(as_text=True)
    group = page[page.rindex("<", 0, page.index('id="password"')) : page.index("<label", page.index('id="password"'))]
    assert "is-invalid" in group
    assert _user("new.user@example.cn") is None


def test_change_password_common_password_is_refused(client):
    user = make_user("researcher")
    login(client, user)

    response = _change_password(client, new="12345678")

    assert response.status_code == 400
    assert "这个密码太常见" in response.get_data(as_text=True)
    assert _user(user.email).check_password(PASSWORD)


def test_register_user_service_common_password_raises(app):
    with pytest.raises(ServiceError, match="太常见"):
        services.register_user(
            "x@example.cn",
            "12345678",
            "某人",
            "researcher",
            organisation=services.OrganisationDetails(name="某机构"),
            links=services.MailLinks(str, str, "/forgot"),
        )


# --- security headers -------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/account/login", "/no-such-page"])
def test_security_headers_on_every_response(client, path):
    headers = client.get(path).headers

    csp = dict(part.strip().split(" ", 1) for part in headers["Content-Security-Policy"].split(";"))
    assert csp["script-src"] == "'self'"
    assert csp["default-src"] == "'self'"
    assert csp["frame-ancestors"] == "'none'"
    assert csp["base-uri"] == csp["form-action"] == "'self'"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert headers["X-Frame-Options"] == "DENY"
    assert "Strict-Transport-Security" not in headers


def test_security_headers_production_adds_hsts(app, client):
    app.config["ENV"] = "production"

    assert "max-age=" in client.get("/").headers["Strict-Transport-Security"]


def test_templates_have_no_inline_script_or_event_handlers():
    offenders = []
    for template in TEMPLATES.rglob("*.html"):
        text = template.read_text(encoding="utf-8")
        for match in re.finditer(r"<script\b([^>]*)>", text):
            if "src=" not in match.group(1):
                offenders.append(f"{template.name}: inline <script>")
        offenders += [f"{template.name}: {m.group(0)}" for m in re.finditer(r"\son[a-z]+\s*=", text)]
        if "javascript:" in text:
            offenders.append(f"{template.name}: javascript: URL")
    assert offenders == []


# --- same-site redirects ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "referrer",
    ["https://evil.example/phish", "//evil.example/", "http://localhost.evil.example/", "javascript:alert(1)"],
)
def test_language_switch_offsite_referrer_goes_home(client, referrer):
    response = client.get("/lang/en", headers={"Referer": referrer})

    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_language_switch_same_site_referrer_is_followed(client):
    response = client.get("/lang/en", headers={"Referer": "http://localhost/listings?industry=marine#top"})

    assert response.headers["Location"] == "/listings?industry=marine#top"


def test_favourite_offsite_referrer_goes_to_listing(client):
    user = make_user("enterprise")
    listing = make_listing()
    login(client, user)

    response = client.post(f"/listings/{listing.id}/favourite", headers={"Referer": "https://evil.example/"})

    assert response.status_code == 302
    assert response.headers["Location"] == f"/listings/{listing.id}"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("/my/listings?page=2", "/my/listings?page=2"),
        ("http://localhost/dashboard", "/dashboard"),
        ("https://evil.example/", "/"),
        ("//evil.example", "/"),
        ("/\\evil.example", "/"),
        ("/\t/evil.example", "/"),
        ("ftp://localhost/x", "/"),
        ("relative/path", "/"),
        (None, "/"),
    ],
)
def test_safe_next_keeps_only_same_site_paths(app, url, expected):
    with app.test_request_context("/", base_url="http://localhost"):
        assert safe_next(url) == expected


# --- secret key and demo seed -----------------------------------------------------------------


def test_generated_secret_key_file_is_owner_only(tmp_path):
    old_umask = os.umask(0o022)
    try:
        config = load_config({"ENV": "development", "INSTANCE_PATH": str(tmp_path)})
    finally:
        os.umask(old_umask)

    key_file = tmp_path / "secret_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert config["SECRET_KEY"] == key_file.read_text().strip()


def test_demo_seed_in_production_refuses(app, runner):
    app.config["ENV"] = "production"

    result = runner.invoke(args=["demo", "seed"])

    assert result.exit_code != 0
    assert "production" in result.output
    assert db.session.scalar(select(func.count()).select_from(User)) == 0
