"""Small builders so a test states only what matters (in the spirit of CTFd's gen_* helpers)."""

from __future__ import annotations

import itertools
from functools import lru_cache

from werkzeug.security import generate_password_hash

from marketplace.accounts.models import Organisation, User
from marketplace.accounts.roles import ORG_KIND_FOR_ROLE, OrgKind, Role, Verification
from marketplace.accounts.uscc import check_character
from marketplace.extensions import db
from marketplace.listings.models import MODEL_FOR_KIND, Listing, ListingStatus

PASSWORD = "correct-horse-9"
_sequence = itertools.count(1)


@lru_cache(maxsize=1)
def _password_hash() -> str:
    # scrypt (what the app uses) costs ~0.1 s per login by design; test users get a cheap hash so the
    # suite's hundreds of logins stay fast. Registration tests still exercise the real scrypt path.
    return generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")


def valid_uscc(serial: int) -> str:
    body = f"91370211{serial:09d}"
    return body + check_character(body)


def make_org(kind: str = OrgKind.ENTERPRISE, verified: bool = True, **fields) -> Organisation:
    n = next(_sequence)
    org = Organisation(
        name=fields.pop("name", f"测试机构{n}"),
        kind=kind,
        uscc=fields.pop("uscc", valid_uscc(n) if kind == OrgKind.ENTERPRISE else None),
        district=fields.pop("district", "huangdao"),
        verification=Verification.VERIFIED if verified else Verification.PENDING,
        **fields,
    )
    db.session.add(org)
    db.session.commit()
    return org


def make_user(
    role: str = Role.RESEARCHER,
    org: Organisation | None | bool = True,
    org_admin: bool = True,
    verified: bool = True,
    **fields,
) -> User:
    """A user of ``role``; ``org=True`` gives them a fresh organisation of the kind their role implies."""
    n = next(_sequence)
    if org is True:
        kind = ORG_KIND_FOR_ROLE.get(Role(role))
        org = make_org(kind, verified=verified) if kind else None
    user = User(
        email=fields.pop("email", f"user{n}@example.cn"),
        name=fields.pop("name", f"用户{n}"),
        role=role,
        password_hash=_password_hash(),
        organisation=org or None,
        is_org_admin=org_admin and bool(org),
        **{"email_verified": True, **fields},
    )
    db.session.add(user)
    db.session.commit()
    return user


def make_listing(
    kind: str = "achievement", owner: User | None = None, status: str = ListingStatus.PUBLISHED, **fields
) -> Listing:
    n = next(_sequence)
    values = {
        "title": f"测试{('成果' if kind == 'achievement' else '需求')}{n}",
        "summary": "一项用于测试的技术。",
        "description": "较长的技术说明。",
        "industry": "marine_equipment",
        "district": "laoshan",
        "keywords": ["测试"],
        "cooperation_modes": ["transfer"],
    }
    values.update(fields)
    listing = MODEL_FOR_KIND[kind](status=status, **values)
    if owner is not None:
        listing.owner_id = owner.id
        listing.organisation_id = owner.organisation_id
        listing.org_name = owner.organisation.name if owner.organisation else None
    if status == ListingStatus.PUBLISHED and "published_at" not in fields:
        from marketplace.core.models import utcnow

        listing.published_at = utcnow()
    db.session.add(listing)
    db.session.commit()
    return listing


def login(client, user: User, password: str = PASSWORD):
    response = client.post("/account/login", data={"email": user.email, "password": password})
    assert response.status_code == 302, f"login failed for {user.email}: {response.status_code}"
    return response


def index_everything() -> None:
    """Run the worker's search-sync job until the outbox is empty, as the worker would between jobs:
    the test's own session ends its transaction first, so it reads (and writes) after the drains
    on a fresh snapshot instead of one SQLite would refuse to write from."""
    from marketplace.discovery import outbox
    from marketplace.discovery import services as discovery

    db.session.commit()
    while outbox.backlog():
        outbox.drain(discovery.backend(), encoder=discovery.encoder())


def run_as_job(function, *args, **kwargs):
    """Call a job's function as the worker's runner does: its work committed once it returns."""
    result = function(*args, **kwargs)
    db.session.commit()
    return result
