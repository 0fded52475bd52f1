"""Saved searches and the alerts the worker sends when new listings match them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select

from marketplace.alerts.models import SavedSearch
from marketplace.core import taxonomy
from marketplace.core.errors import ServiceError
from marketplace.core.links import path_for
from marketplace.core.models import as_utc, utcnow
from marketplace.discovery import outbox
from marketplace.discovery import services as discovery
from marketplace.extensions import db
from marketplace.jobs.registry import FailedItem
from marketplace.listings.models import KIND_LABELS, ListingKind
from marketplace.listings.queries import BrowseFilters, invalid_filters_message
from marketplace.notifications.services import notify
from search.backends import BackendUnavailable
from search.query import Viewer

MAX_SAVED_SEARCHES = 20
# New results are looked for among the newest hits; more than this since the last check is "50+".
NEW_RESULTS_WINDOW = 50
TITLES_IN_ALERT = 3
BROWSE_ENDPOINTS = {ListingKind.ACHIEVEMENT: "listings.achievements", ListingKind.DEMAND: "listings.demands"}


def searches_of(user):
    return (
        select(SavedSearch)
        .where(SavedSearch.user_id == user.id)
        .order_by(SavedSearch.created_at.desc(), SavedSearch.id.desc())
    )


def owned_search_or_none(user, search_id: int) -> SavedSearch | None:
    search = db.session.get(SavedSearch, search_id)
    return search if search is not None and search.user_id == user.id else None


def default_name(kind: str, filters: BrowseFilters) -> str:
    """What the search is about, as a reader would put it: its words and the filters' labels."""
    parts = [filters.q] if filters.q else []
    if filters.industry:
        parts.append(taxonomy.label(taxonomy.INDUSTRIES, filters.industry))
    if filters.district:
        parts.append(taxonomy.label(taxonomy.DISTRICTS, filters.district))
    if filters.cooperation_mode:
        parts.append(taxonomy.label(taxonomy.COOPERATION_MODES, filters.cooperation_mode))
    if filters.challenge_only:
        parts.append(_("揭榜挂帅"))
    return " · ".join(parts)[:80] or _("全部%(kind)s", kind=KIND_LABELS[ListingKind(kind)])


def save_search(user, kind: str, args, name: str | None = None) -> SavedSearch:
    if kind not in BROWSE_ENDPOINTS:
        raise ServiceError(_("不支持的信息类型"), 400)
    filters = BrowseFilters.from_args(args)
    if filters.invalid:
        # Saved as given, a bad amount would be left out of every check: the user would be alerted
        # to far more than they asked for. Refuse it, naming what to correct.
        raise ServiceError(_("订阅条件无效：%(problem)s", problem=invalid_filters_message(filters.invalid)), 400)
    filters.include_unpublished = False  # alerts are about what the public can see
    criteria = filters.to_args()
    owned = db.session.scalars(select(SavedSearch).where(SavedSearch.user_id == user.id)).all()
    if any(search.kind == kind and search.criteria == criteria for search in owned):
        raise ServiceError(_("您已经订阅过相同条件的搜索"), 409)
    if len(owned) >= MAX_SAVED_SEARCHES:
        raise ServiceError(_("最多可订阅 %(n)d 个搜索，请先删除不再需要的订阅", n=MAX_SAVED_SEARCHES))
    search = SavedSearch(
        user_id=user.id,
        kind=kind,
        criteria=criteria,
        alert=True,
        name=(name or "").strip()[:80] or default_name(kind, filters),
    )
    db.session.add(search)
    return search


def set_alert(search: SavedSearch, enabled: bool) -> None:
    if enabled and not search.alert:
        search.checked_at = utcnow()  # do not announce what was published while alerts were off
    search.alert = enabled


def delete_search(search: SavedSearch) -> None:
    db.session.delete(search)


def browse_url(search: SavedSearch) -> str:
    return path_for(BROWSE_ENDPOINTS[ListingKind(search.kind)], **search.criteria)


@dataclass
class AlertReport:
    checked: int = 0
    alerted: int = 0
    failed: int = 0
    skipped: str | None = None

    def __str__(self) -> str:
        return (
            f"checked {self.checked} saved searches, alerted {self.alerted}"
            + (f", failed {self.failed}" if self.failed else "")
            + (f" (skipped: {self.skipped})" if self.skipped else "")
        )


def check_saved_searches(now: datetime | None = None, limit: int = 200) -> AlertReport:
    """Tell users about listings published since each due search was last checked.

    Each search is checked in a savepoint; the caller (the job runner) commits once. A search that
    fails is marked with the reason and waits for the next round; it never stops the others.
    Skipped while listing changes wait to be indexed: a check then would miss them for good.
    """
    now = now or utcnow()
    if outbox.backlog():
        return AlertReport(skipped="outbox backlog")
    due_before = now - timedelta(minutes=current_app.config["SAVED_SEARCH_INTERVAL_MINUTES"])
    searches = db.session.scalars(
        select(SavedSearch)
        .where(SavedSearch.alert.is_(True), SavedSearch.checked_at <= due_before)
        .order_by(SavedSearch.checked_at)
        .limit(limit)
    ).all()
    report = AlertReport()
    for search_id in [search.id for search in searches]:
        search = db.session.get(SavedSearch, search_id)
        if search is None:  # deleted by its owner meanwhile
            continue
        try:
            with db.session.begin_nested():
                _check(search, now, report)
        except BackendUnavailable as error:
            report.skipped = str(error)
            return report
        except Exception as error:  # one bad search must not stop the alerts of everyone else
            current_app.logger.exception("saved search %s failed", search_id)
            with db.session.begin_nested():
                _record_failure(
                    search_id, now, _("检查时出错（%(error)s），将在下次检查时重试", error=type(error).__name__)
                )
            report.failed += 1
    return report


class _InvalidCriteria(Exception):
    pass


def _check(search: SavedSearch, now: datetime, report: AlertReport) -> None:
    try:
        fresh = _new_results(search)
    except _InvalidCriteria as error:
        # Saved before criteria were checked: skipped at every round, saying why, until the user replaces it.
        _record_failure(search.id, now, str(error))
        report.failed += 1
        return
    if fresh:
        count = str(len(fresh)) if len(fresh) < NEW_RESULTS_WINDOW else f"{NEW_RESULTS_WINDOW}+"
        titles = "、".join(f"「{hit.document['title']}」" for hit in fresh[:TITLES_IN_ALERT])
        notify(
            search.user,
            "saved_search_results",
            link=browse_url(search),
            name=search.name,
            count=count,
            titles=titles,
        )
        search.last_alerted_at = now
        report.alerted += 1
    search.checked_at = now
    search.last_error = search.failed_at = None
    report.checked += 1


def _record_failure(search_id: int, now: datetime, reason: str) -> None:
    """Mark the search failed; checked_at moves on so it waits for the next round."""
    search = db.session.get(SavedSearch, search_id)
    if search is None:
        return
    search.last_error, search.failed_at, search.checked_at = reason[:500], now, now


def failed_searches(limit: int = 50) -> list[FailedItem]:
    """Saved searches whose last check failed, with the reason (their owners see it too)."""
    rows = db.session.scalars(
        select(SavedSearch)
        .where(SavedSearch.last_error.is_not(None))
        .order_by(SavedSearch.failed_at.desc())
        .limit(limit)
    )
    return [
        FailedItem(what=f"saved search #{row.id}「{row.name}」", error=row.last_error, next_attempt_at=None)
        for row in rows
    ]


def _new_results(search: SavedSearch) -> list:
    filters = BrowseFilters.from_args(search.criteria if isinstance(search.criteria, dict) else {})
    if filters.invalid:
        raise _InvalidCriteria(_("订阅条件无效：%(problem)s", problem=invalid_filters_message(filters.invalid)))
    filters.sort = "newest"
    result = discovery.search_listings(
        search.kind, filters, Viewer(), page=1, per_page=NEW_RESULTS_WINDOW, facets=False
    )
    if result.relaxed:  # the loosened retry's hits do not answer the saved words
        return []
    since = as_utc(search.checked_at)
    return [hit for hit in result.hits if _published_after(hit.document, since)]


def _published_after(document: dict, moment: datetime) -> bool:
    published = document.get("published_at")
    return bool(published) and as_utc(datetime.fromisoformat(published)) > moment
