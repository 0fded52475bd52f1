"""Bulk import and export in the listing interchange format (shared/spec/interchange-format.md).

An import is idempotent on (kind, external_id): a second run of the same file creates nothing and
updates only what changed. Lines run on the row-import engine (core/rowimport.py), each one through
``services.import_listing`` — the same rules as the web form; a bad line is reported with its number
and reason while the others still import, unless the caller asks for all-or-nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select

from marketplace.accounts.models import Organisation
from marketplace.core.errors import ServiceError
from marketplace.core.links import path_for
from marketplace.core.rowimport import RowOutcome, RowRejected, RowReport, run_rows, text_lines
from marketplace.extensions import db
from marketplace.listings import permissions, services
from marketplace.listings.models import Listing, ListingKind, ListingStatus
from marketplace.notifications.services import notify_admins

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
ImportReport = RowReport  # the report of a listings import (core/rowimport.py)


def import_lines(
    lines: Iterable[str | bytes],
    actor=None,
    status: str = ListingStatus.PUBLISHED,
    all_or_nothing: bool = False,
    dry_run: bool = False,
    progress: Callable[[int, RowReport], None] | None = None,
    checkpoint: Callable[[RowReport], None] | None = None,
    source: str = "import",
    report: RowReport | None = None,
    resume_after: int = 0,
) -> ImportReport:
    """Import JSON Lines through the row-import engine; flushes, never commits (the caller does).

    Each line goes through ``services.import_listing`` (the form's rules for organisation admins;
    see there). ``lines`` may be bytes (each line decoded on its own, so a bad byte is reported on
    its line) or text. A run resumed after a crash passes its saved ``report`` and the last line it
    committed as ``resume_after``: earlier lines are only read for their external ids, so a repeat
    across the resume point is still caught.
    """
    importer = _LineImporter(actor, status, source)
    rows: Iterator[tuple[int, Any]] = text_lines(lines)
    if resume_after:
        rows = importer.skip_through(rows, resume_after)
    report = run_rows(
        rows,
        importer.handle,
        dry_run=dry_run,
        all_or_nothing=all_or_nothing,
        report=report,
        checkpoint=checkpoint,
        progress=progress,
    )
    if report.saved and (report.created or report.updated or report.sent_to_review):
        importer.tell_reviewers(report)
    return report


class _LineImporter:
    def __init__(self, actor, status: str, source: str):
        self.actor, self.status, self.source = actor, status, source
        self.organisations: dict[str, Organisation | None] = {}
        self.seen: dict[tuple[str, str], int] = {}

    def skip_through(self, rows: Iterator[tuple[int, Any]], last_done: int) -> Iterator[tuple[int, Any]]:
        for number, row in rows:
            if number > last_done:
                yield number, row
            elif isinstance(row, str):
                try:
                    self._identify(number, _parse(row))
                except RowRejected:
                    pass

    def _identify(self, number: int, record: dict[str, Any]) -> tuple[str, str]:
        external_id = record.get("external_id")
        external_id = str(external_id).strip() if external_id not in (None, "") else None
        kind = record.get("kind")
        if kind not in (ListingKind.ACHIEVEMENT, ListingKind.DEMAND):
            raise RowRejected(_("kind 应为 achievement 或 demand"), external_id)
        if not external_id:
            raise RowRejected(_("缺少 external_id"), None)
        if len(external_id) > 100:
            raise RowRejected(_("external_id 不能超过 100 个字符"), external_id)
        first = self.seen.setdefault((kind, external_id), number)
        if first != number:
            raise RowRejected(_("external_id 与第 %(line)d 行重复，本行未导入", line=first), external_id)
        return kind, external_id

    def handle(self, number: int, text: str) -> RowOutcome:
        record = _parse(text)
        kind, external_id = self._identify(number, record)
        unknown = sorted(set(record) - KNOWN_KEYS[ListingKind(kind)])
        if unknown:
            raise RowRejected(_("未知字段：%(names)s", names="、".join(unknown)), external_id)
        org_name = _text(record.get(ORG_FIELD[ListingKind(kind)]))
        try:
            outcome, note = services.import_listing(
                self.actor,
                kind,
                external_id,
                record,
                status=self.status,
                published_at=_published_at(record.get("published_at"), external_id),
                organisation_id=_organisation_id(org_name, self.organisations),
                org_name=org_name,
                source=self.source,
            )
        except services.ListingInvalid as invalid:
            reasons = "；".join(f"{name}：{message}" for name, message in invalid.errors.items())
            raise RowRejected(reasons, external_id) from None
        except ServiceError as refusal:
            raise RowRejected(refusal.message, external_id) from None
        return RowOutcome(outcome, external_id, note)

    def tell_reviewers(self, report: RowReport) -> None:
        """Organisation imports wait for review: tell the reviewers once per file, not once per line."""
        if self.actor is None or permissions.can_review(self.actor):
            return
        # Rows kept as drafts (an unverified organisation: the report's notes) wait for no one.
        count = report.created + report.updated + report.sent_to_review - len(report.notes)
        if count <= 0:
            return
        org = self.actor.organisation.name if self.actor.organisation else ""
        title = _("%(org)s 批量导入的 %(n)d 条信息", org=org, n=count)
        notify_admins("listing_submitted", link=path_for("admin.review_queue"), title=title)


def _reject_constant(name: str):
    raise RowRejected(_("不支持 %(value)s：数值必须是有限的数字", value=name))


def _parse(text: str) -> dict[str, Any]:
    try:
        record = json.loads(text, parse_float=Decimal, parse_constant=_reject_constant)
    except json.JSONDecodeError as error:
        raise RowRejected(_("JSON 格式错误（第 %(col)d 列）：%(msg)s", col=error.colno, msg=error.msg)) from None
    except (ValueError, RecursionError):  # an integer too long to read, or nesting too deep
        raise RowRejected(_("数值超出范围或结构嵌套过深")) from None
    if not isinstance(record, dict):
        raise RowRejected(_("每行应为一个 JSON 对象"))
    return record


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
        raise RowRejected(_("published_at 日期格式应为 YYYY-MM-DD"), external_id) from None
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
