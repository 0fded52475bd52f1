"""Bulk import and export in the listing interchange format (shared/spec/interchange-format.md).

An import is idempotent on (kind, external_id): a second run of the same file creates nothing and
updates only what changed. Each line is checked by the same ``clean_listing`` the web form uses;
a bad line is reported with its number and reason while the others still import, unless the
caller asks for all-or-nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select

from marketplace.accounts.models import Organisation
from marketplace.core.models import as_utc, utcnow
from marketplace.extensions import db
from marketplace.listings.fields import clean_listing
from marketplace.listings.models import MODEL_FOR_KIND, Listing, ListingKind, ListingStatus
from marketplace.listings.services import record_change

ORG_FIELD = {ListingKind.ACHIEVEMENT: "institution", ListingKind.DEMAND: "enterprise"}
KNOWN_KEYS = {
    ListingKind.ACHIEVEMENT: {
        "kind",
        "external_id",
        "title",
        "summary",
        "description",
        "keywords",
        "industry",
        "trl",
        "ip_type",
        "patent_numbers",
        "cooperation_modes",
        "price_cny",
        "institution",
        "district",
        "published_at",
    },
    ListingKind.DEMAND: {
        "kind",
        "external_id",
        "title",
        "description",
        "keywords",
        "industry",
        "budget_min_cny",
        "budget_max_cny",
        "cooperation_modes",
        "min_trl",
        "enterprise",
        "district",
        "deadline",
        "challenge",
        "bounty_cny",
        "summary",
        "published_at",
    },
}
BATCH_SIZE = 500


@dataclass
class RejectedLine:
    line: int
    external_id: str | None
    reason: str


@dataclass
class ImportReport:
    total: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[RejectedLine] = field(default_factory=list)
    dry_run: bool = False
    aborted: bool = False  # all-or-nothing import that saved nothing because of rejected lines

    @property
    def saved(self) -> bool:
        return not self.dry_run and not self.aborted

    def as_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": [vars(line) for line in self.rejected],
            "dry_run": self.dry_run,
            "aborted": self.aborted,
        }


class _LineError(Exception):
    def __init__(self, reason: str, external_id: str | None = None):
        self.reason, self.external_id = reason, external_id


def import_lines(
    lines: Iterable[str | bytes],
    actor=None,
    status: str = ListingStatus.PUBLISHED,
    organisation: Organisation | None = None,
    all_or_nothing: bool = False,
    dry_run: bool = False,
    progress: Callable[[int], None] | None = None,
    source: str = "import",
) -> ImportReport:
    """Import JSON Lines. ``organisation`` limits the import to that organisation's own listings
    (organisation admins); without it (CLI, platform admins) records are linked to a registered
    organisation of the same name when there is one. Commits unless ``dry_run`` or aborted."""
    report = ImportReport(dry_run=dry_run)
    organisations: dict[str, Organisation | None] = {}
    transactional = dry_run or all_or_nothing
    for number, raw_line in enumerate(lines, start=1):
        text = raw_line.decode("utf-8") if isinstance(raw_line, bytes) else raw_line
        if number == 1:
            text = text.lstrip("\ufeff")  # tolerate a BOM written by Windows editors
        if not text.strip():
            continue
        report.total += 1
        try:
            with db.session.begin_nested():
                outcome = _import_record(_parse(text), actor, status, organisation, organisations, source)
        except _LineError as error:
            report.rejected.append(RejectedLine(number, error.external_id, error.reason))
        else:
            setattr(report, outcome, getattr(report, outcome) + 1)
        if progress is not None:
            progress(number)
        if not transactional and report.total % BATCH_SIZE == 0:
            db.session.commit()
    if dry_run or (all_or_nothing and report.rejected):
        report.aborted = not dry_run
        db.session.rollback()
    else:
        db.session.commit()
    return report


def _parse(text: str) -> dict[str, Any]:
    try:
        record = json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as error:
        raise _LineError(_("JSON 格式错误（第 %(col)d 列）：%(msg)s", col=error.colno, msg=error.msg)) from None
    if not isinstance(record, dict):
        raise _LineError(_("每行应为一个 JSON 对象"))
    return record


def _import_record(record, actor, status, organisation, organisations, source) -> str:
    external_id = record.get("external_id")
    external_id = str(external_id).strip() if external_id not in (None, "") else None
    kind = record.get("kind")
    if kind not in (ListingKind.ACHIEVEMENT, ListingKind.DEMAND):
        raise _LineError(_("kind 应为 achievement 或 demand"), external_id)
    if not external_id:
        raise _LineError(_("缺少 external_id"), None)
    if len(external_id) > 100:
        raise _LineError(_("external_id 不能超过 100 个字符"), external_id)
    unknown = sorted(set(record) - KNOWN_KEYS[ListingKind(kind)])
    if unknown:
        raise _LineError(_("未知字段：%(names)s", names="、".join(unknown)), external_id)
    cleaned = clean_listing(kind, record)
    if not cleaned.ok:
        reasons = "；".join(f"{name}：{message}" for name, message in cleaned.errors.items())
        raise _LineError(reasons, external_id)
    values = cleaned.values
    org_name = _text(record.get(ORG_FIELD[ListingKind(kind)]))
    if organisation is not None:
        org_name = organisation.name
    values["org_name"] = org_name
    values["organisation_id"] = (
        organisation.id if organisation is not None else _organisation_id(org_name, organisations)
    )
    published_at = _published_at(record.get("published_at"), external_id)

    listing = db.session.scalar(select(Listing).where(Listing.kind == kind, Listing.external_id == external_id))
    if listing is None:
        listing = MODEL_FOR_KIND[kind](external_id=external_id, source=source, **values)
        listing.owner_id = actor.id if organisation is not None and actor is not None else None
        _set_status(listing, status, published_at)
        db.session.add(listing)
        db.session.flush()
        record_change(actor, listing, "imported", external_id=external_id)
        return "created"
    if organisation is not None and listing.organisation_id != organisation.id:
        raise _LineError(_("该 external_id 已被其他机构的信息使用"), external_id)
    changes = {name: value for name, value in values.items() if getattr(listing, name) != value}
    if published_at and listing.is_published and not _same_instant(listing.published_at, published_at):
        changes["published_at"] = published_at
    if not changes:
        return "unchanged"
    for name, value in changes.items():
        setattr(listing, name, value)
    if status == ListingStatus.SUBMITTED and listing.status != ListingStatus.PUBLISHED:
        listing.status = ListingStatus.SUBMITTED
    record_change(actor, listing, "import_updated", fields=sorted(changes))
    return "updated"


def _set_status(listing: Listing, status: str, published_at: datetime | None) -> None:
    listing.status = status
    if status == ListingStatus.PUBLISHED:
        listing.published_at = published_at or utcnow()
    else:
        listing.submitted_at = utcnow()


def _same_instant(stored: datetime | None, given: datetime) -> bool:
    if stored is None:
        return False
    return as_utc(stored) == given


def _text(value: Any) -> str | None:
    text = str(value).strip() if value is not None else ""
    return text or None


def _organisation_id(name: str | None, cache: dict[str, Organisation | None]) -> int | None:
    if not name:
        return None
    if name not in cache:
        cache[name] = db.session.scalar(select(Organisation).where(Organisation.name == name))
    org = cache[name]
    return org.id if org is not None else None


def _published_at(raw: Any, external_id: str) -> datetime | None:
    if raw in (None, ""):
        return None
    try:
        value = date.fromisoformat(str(raw)[:10])
    except ValueError:
        raise _LineError(_("published_at 日期格式应为 YYYY-MM-DD"), external_id) from None
    return datetime(value.year, value.month, value.day, tzinfo=UTC)


# ---- export -------------------------------------------------------------------------------------


def _money(value: Decimal | None) -> int | str | None:
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else str(value)


def listing_record(listing: Listing) -> dict[str, Any]:
    """One listing in the interchange format."""
    record: dict[str, Any] = {
        "kind": listing.kind,
        "external_id": listing.external_id or f"QDTT-{listing.id}",
        "title": listing.title,
    }
    if listing.kind == ListingKind.ACHIEVEMENT:
        record.update(
            summary=listing.summary,
            description=listing.description,
            keywords=listing.keywords or [],
            industry=listing.industry,
            trl=listing.trl,
            ip_type=listing.ip_type,
            patent_numbers=listing.patent_numbers or [],
            cooperation_modes=listing.cooperation_modes or [],
            price_cny=_money(listing.price_cny),
            institution=listing.offered_by or None,
            district=listing.district,
            published_at=listing.published_at.date().isoformat() if listing.published_at else None,
        )
    else:
        record.update(
            description=listing.description,
            keywords=listing.keywords or [],
            industry=listing.industry,
            budget_min_cny=_money(listing.budget_min_cny),
            budget_max_cny=_money(listing.budget_max_cny),
            cooperation_modes=listing.cooperation_modes or [],
            min_trl=listing.min_trl,
            enterprise=listing.offered_by or None,
            district=listing.district,
            deadline=listing.deadline.isoformat() if listing.deadline else None,
            challenge=bool(listing.challenge),
            bounty_cny=_money(listing.bounty_cny),
        )
    return record


def export_lines(kind: str | None = None, statuses: Iterable[str] = (ListingStatus.PUBLISHED,)) -> Iterator[str]:
    statement = select(Listing).where(Listing.status.in_(list(statuses))).order_by(Listing.kind, Listing.id)
    if kind:
        statement = statement.where(Listing.kind == kind)
    for listing in db.session.scalars(statement).yield_per(500):
        yield json.dumps(listing_record(listing), ensure_ascii=False) + "\n"
