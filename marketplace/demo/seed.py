"""`flask demo seed`: a realistic Qingdao marketplace to try the product with.

The listings are the project's own content in the interchange format (demo/data/*.jsonl), loaded
through the same importer users run; organisations, accounts and a little activity are added here.
Running it twice changes nothing.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select

from marketplace.accounts.models import Organisation, User
from marketplace.accounts.roles import OrgKind, Role, Verification
from marketplace.alerts.services import save_search
from marketplace.contracts import services as contracts
from marketplace.core.models import as_utc, utcnow
from marketplace.deals.models import Deal, DealStage, RewardPolicy
from marketplace.demo.contracts import seed_contracts
from marketplace.demo.deals import seed_deals
from marketplace.discovery import services as discovery
from marketplace.extensions import db
from marketplace.listings.interchange import import_lines
from marketplace.listings.models import (
    ApplicationStatus,
    ChallengeApplication,
    Demand,
    Favourite,
    Listing,
    ListingStatus,
)
from marketplace.messaging.models import InquiryMessage, InquiryThread
from marketplace.notifications.services import notify
from marketplace.stats.models import Target

DATA = Path(__file__).parent / "data"
DEMO_PASSWORD = "demo2025"
DEMO_DOMAIN = "demo.qdtt.cn"

# The documented accounts, one per role (README "Demo accounts").
ACCOUNTS = [
    # email, name, role, organisation group, organisation index
    ("admin", "平台管理员", Role.ADMIN, None, None),
    ("broker", "王经纪", Role.BROKER, "service_providers", 0),
    ("researcher", "李教授", Role.RESEARCHER, "institutions", 0),
    ("enterprise", "张总工", Role.ENTERPRISE, "enterprises", 0),
    ("service", "赵经理", Role.SERVICE_PROVIDER, "service_providers", 1),
    ("investor", "陈投资", Role.INVESTOR, "investors", 0),
]
GROUP_KIND = {
    "institutions": OrgKind.INSTITUTION,
    "enterprises": OrgKind.ENTERPRISE,
    "service_providers": OrgKind.SERVICE_PROVIDER,
    "investors": OrgKind.INVESTOR,
}
CONTACT_ROLE = {"institutions": Role.RESEARCHER, "enterprises": Role.ENTERPRISE}
SURNAMES = "王李张刘陈杨黄赵周吴徐孙马朱胡郭何林罗高"


def demo_email(local: str) -> str:
    return f"{local}@{DEMO_DOMAIN}"


def seed(echo=print) -> bool:
    """Load the demo; returns False (and changes nothing) when it is already there."""
    if db.session.scalar(select(User.id).where(User.email == demo_email("admin"))):
        echo("demo data already loaded; nothing to do")
        return False
    discovery.ensure_index()  # a fresh platform: `flask search sync` then indexes what is loaded below
    catalogue = json.loads((DATA / "organisations.json").read_text(encoding="utf-8"))
    _busiest_first(catalogue)
    orgs = _organisations(catalogue)
    users = _accounts(orgs)
    contacts = _contacts(catalogue, orgs, users)
    db.session.commit()
    for name in ("achievements.jsonl", "demands.jsonl"):
        with (DATA / name).open(encoding="utf-8") as handle:
            report = import_lines(handle, actor=users["admin"], source="demo")
        echo(f"{name}: {report.created} created, {len(report.rejected)} rejected")
        for line in report.rejected:
            echo(f"  line {line.line}: {line.reason}")
    _assign_owners(contacts)
    _lifecycle_examples(users)
    _activity(users)
    _reward_policy()
    db.session.commit()
    seed_deals(users, echo=echo)
    seed_contracts(echo)
    _contracts_of_demo_deals(users["admin"])
    _demo_target()
    db.session.commit()
    echo(f"demo accounts ({DEMO_PASSWORD}): " + ", ".join(demo_email(a[0]) for a in ACCOUNTS))
    return True


def _busiest_first(catalogue) -> None:
    """Put the institution and the enterprise with the most demo listings first: the documented
    researcher and enterprise accounts belong to them, so their dashboards have something to show."""
    for group, filename, field in (
        ("institutions", "achievements.jsonl", "institution"),
        ("enterprises", "demands.jsonl", "enterprise"),
    ):
        with (DATA / filename).open(encoding="utf-8") as handle:
            owners = Counter(json.loads(line).get(field) for line in handle if line.strip())
        catalogue[group].sort(key=lambda item: -owners[item["name"]])


def _organisations(catalogue) -> dict[str, list[Organisation]]:
    orgs: dict[str, list[Organisation]] = {}
    for group, kind in GROUP_KIND.items():
        orgs[group] = []
        for item in catalogue.get(group, []):
            org = Organisation(
                name=item["name"],
                kind=kind,
                uscc=item.get("uscc"),
                district=item.get("district"),
                industry=item.get("industry"),
                description=item.get("description"),
                is_high_tech=item.get("is_high_tech", False),
                is_tech_sme=item.get("is_tech_sme", False),
                verification=Verification.VERIFIED,
                verified_at=utcnow(),
            )
            db.session.add(org)
            orgs[group].append(org)
    # One enterprise still waiting for verification, so the admin's queue is not empty.
    waiting = Organisation(
        name="青岛海川新材料科技有限公司",
        kind=OrgKind.ENTERPRISE,
        uscc="913702115XGD2K1T88",
        district="huangdao",
        industry="new_materials",
        verification=Verification.PENDING,
    )
    db.session.add(waiting)
    orgs["waiting"] = [waiting]
    db.session.flush()
    return orgs


def _user(local: str, name: str, role: str, org: Organisation | None, org_admin: bool = True) -> User:
    user = User(
        email=demo_email(local),
        name=name,
        role=role,
        organisation=org,
        is_org_admin=org_admin and org is not None,
        email_verified=True,
    )
    user.set_password(DEMO_PASSWORD)
    db.session.add(user)
    return user


def _accounts(orgs) -> dict[str, User]:
    users = {}
    for local, name, role, group, index in ACCOUNTS:
        org = orgs[group][index] if group else None
        users[local] = _user(local, name, role, org)
    users["broker"].broker_certificate_no = "QD-JJR-2024-0157"
    users["waiting"] = _user("newcomer", "刘新", Role.ENTERPRISE, orgs["waiting"][0])
    return users


def _contacts(catalogue, orgs, users) -> dict[str, User]:
    """A contact person for every institution and enterprise, so every demo listing has an owner."""
    contacts: dict[str, User] = {}
    taken = {user.organisation.name: user for user in users.values() if user.organisation}
    for group, role in CONTACT_ROLE.items():
        for index, org in enumerate(orgs[group]):
            if org.name in taken:
                contacts[org.name] = taken[org.name]
                continue
            surname = SURNAMES[index % len(SURNAMES)]
            title = "老师" if group == "institutions" else "工"
            contacts[org.name] = _user(f"{group[:3]}{index + 1:02d}", f"{surname}{title}", role, org)
    db.session.flush()
    return contacts


def _assign_owners(contacts: dict[str, User]) -> None:
    for listing in db.session.scalars(select(Listing).where(Listing.source == "demo")):
        owner = contacts.get(listing.org_name or "")
        if owner is not None:
            listing.owner_id = owner.id
            listing.organisation_id = owner.organisation_id
            listing.contact_name = owner.name
            listing.contact_phone = "0532-8" + f"{listing.id:07d}"[-7:]


def _lifecycle_examples(users) -> None:
    """A few of the demo accounts' own listings in every state of the review lifecycle."""
    researcher, enterprise = users["researcher"], users["enterprise"]
    now = utcnow()
    own_achievements = _owned_by(researcher, "achievement")
    own_demands = _owned_by(enterprise, "demand")
    states = [
        (ListingStatus.DRAFT, None),
        (ListingStatus.SUBMITTED, None),
        (ListingStatus.REJECTED, "请补充技术指标的测试条件和第三方检测报告编号。"),
        (ListingStatus.ARCHIVED, None),
    ]
    for listings in (own_achievements, own_demands):
        # The first listing stays published; later ones show the other states, as many as there are.
        for listing, (status, note) in zip(listings[1:], states, strict=False):
            listing.status, listing.review_note = status, note
            listing.submitted_at = now - timedelta(days=2) if status != ListingStatus.DRAFT else None
            if status in (ListingStatus.DRAFT, ListingStatus.SUBMITTED):
                listing.published_at = None
    if len(own_achievements) > len(states):
        edited = own_achievements[0]
        edited.pending_changes = {"title": edited.title + "（第二代）", "price_cny": None}
        edited.submitted_at = now - timedelta(hours=5)


def _owned_by(user: User, kind: str) -> list[Listing]:
    return list(
        db.session.scalars(
            select(Listing).where(Listing.owner_id == user.id, Listing.kind == kind).order_by(Listing.id)
        )
    )


def _activity(users) -> None:
    researcher, enterprise, investor = users["researcher"], users["enterprise"], users["investor"]
    published = select(Listing).where(Listing.status == ListingStatus.PUBLISHED)
    achievement = db.session.scalar(published.where(Listing.owner_id == researcher.id, Listing.kind == "achievement"))
    if achievement is not None:
        thread = InquiryThread(
            listing=achievement, asker_id=enterprise.id, owner_id=researcher.id, subject=achievement.title
        )
        db.session.add(thread)
        db.session.add_all(
            [
                InquiryMessage(
                    thread=thread,
                    sender_id=enterprise.id,
                    body="李教授您好，我们在西海岸新区有一条中试线，想了解这项技术的放大条件和许可方式。",
                ),
                InquiryMessage(
                    thread=thread,
                    sender_id=researcher.id,
                    body="您好，可以先安排一次线上交流，我把小试数据和设备清单发给您。",
                ),
            ]
        )
        thread.owner_read_at = utcnow()
        notify(
            enterprise,
            "inquiry_reply",
            link=None,
            email=False,
            sender=researcher.name,
            title=achievement.title,
            excerpt="您好，可以先安排一次线上交流……",
        )
        for user in (enterprise, investor):
            db.session.add(Favourite(user_id=user.id, listing_id=achievement.id))
    challenge = db.session.scalar(published.where(Listing.kind == "demand", Demand.challenge.is_(True)))
    if challenge is not None:
        db.session.add(
            ChallengeApplication(
                demand_id=challenge.id,
                applicant_id=researcher.id,
                team_name="海洋材料与防护创新团队",
                proposal="团队在该方向有十年积累，拟采用“材料改性 + 工艺优化”两条路线并行，六个月内完成中试验证。",
                status=ApplicationStatus.SHORTLISTED,
            )
        )
    # Subscriptions, so the demo's 我的订阅 page and its alerts have something to show.
    save_search(enterprise, "achievement", {"q": "海水淡化"})
    save_search(investor, "achievement", {"industry": "marine_biomedicine"})
    save_search(researcher, "demand", {"challenge": "1"})
    for admin_notice in db.session.scalars(select(Listing).where(Listing.status == ListingStatus.SUBMITTED)):
        notify(users["admin"], "listing_submitted", link=None, email=False, title=admin_notice.title)


def _reward_policy() -> None:
    """A broker reward policy, so the rewards page computes something for the demo's contracts (an
    example of the shape, not a real city policy)."""
    db.session.add(
        RewardPolicy(
            name="技术经纪人奖励（示例）",
            rate=Decimal("0.0100"),
            cap_per_contract=Decimal("100000.00"),
            cap_per_broker_year=Decimal("300000.00"),
            valid_from=date(2020, 1, 1),
            note="技术交易额的 1%，单份合同不超过 10 万元，每名经纪人每年不超过 30 万元。",
        )
    )


def _contracts_of_demo_deals(admin: User) -> None:
    """Deals past signing get their contract through the contracts services, registered a few weeks
    after the deal reached its stage: the dashboard's "through the platform" figures and the broker
    rewards then have something to show."""
    stages = (DealStage.REGISTERED, DealStage.PERFORMING, DealStage.WON)
    deals = db.session.scalars(select(Deal).where(Deal.stage.in_(stages)).order_by(Deal.id))
    for number, deal in enumerate(deals, start=1):
        if deal.contracts or deal.buyer_org is None or deal.seller_org is None:
            continue
        signed_on = as_utc(deal.stage_changed_at).date() - timedelta(days=40)
        contract = contracts.create_from_deal(admin, deal, {"signed_on": signed_on})
        contracts.register(admin, contract, f"2026370299{number:06d}", signed_on + timedelta(days=21))


def _demo_target() -> None:
    """The plans' 2025 targets are in the past by now; a West Coast target for the current year (clearly
    labelled as a demo, not a plan's figure) shows how the dashboard projects a target still ahead."""
    year = date.today().year
    if db.session.scalar(select(Target.id).filter_by(scope="huangdao", metric="contract_amount", year=year)):
        return
    db.session.add(
        Target(
            scope="huangdao",
            metric="contract_amount",
            measure="output",
            year=year,
            value=Decimal(100 * 100_000_000),
            source="演示数据：示例目标（非规划口径），用于展示尚未达成目标的进度与年末预测",
        )
    )
