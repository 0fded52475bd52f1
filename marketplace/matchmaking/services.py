"""Strong matches: found by the worker when a listing is published, kept as pairs for brokers,
and announced to the owners of the listings they match."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from itertools import groupby

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import case, delete, func, or_, select
from sqlalchemy.orm import aliased, contains_eager

from marketplace.accounts.permissions import require
from marketplace.core import audit
from marketplace.core.errors import ServiceError
from marketplace.core.links import path_for
from marketplace.core.models import utcnow
from marketplace.core.retry import next_attempt_after
from marketplace.deals.models import LOSS_REASON_LABELS, Deal, DealStage, LeadSource
from marketplace.discovery import matching
from marketplace.discovery.models import SearchOutbox
from marketplace.extensions import db
from marketplace.listings.models import Listing, ListingKind, ListingStatus
from marketplace.listings.signals import listing_changed
from marketplace.matchmaking.models import DISMISS_REASON_LABELS, DismissReason, MatchPair, MatchScan, PairStatus
from marketplace.matchmaking.permissions import can_follow_up
from marketplace.notifications.services import notify
from search.backends import BackendUnavailable

SCAN_BATCH = 20
MATCHES_PER_SCAN = 20
# Approval by a reviewer announces a listing; an import records its pairs quietly.
SCAN_ACTIONS = {"approved": True, "imported": False, "import_updated": False}


@listing_changed.connect
def _queue_scan(listing: Listing, action: str, **_detail) -> None:
    if action in SCAN_ACTIONS and listing.status == ListingStatus.PUBLISHED:
        db.session.add(MatchScan(listing=listing, notify=SCAN_ACTIONS[action]))


def queue_all_published(announce: bool = False) -> int:
    """Queue a scan of every published listing (after thresholds change, or to fill the dashboard);
    the caller commits."""
    ids = db.session.scalars(select(Listing.id).where(Listing.status == ListingStatus.PUBLISHED)).all()
    db.session.add_all(MatchScan(listing_id=listing_id, notify=announce) for listing_id in ids)
    return len(ids)


@dataclass
class ScanReport:
    scanned: int = 0
    pairs: int = 0
    notified: int = 0
    failed: int = 0
    error: str | None = None

    def __str__(self) -> str:
        return f"scanned {self.scanned} listings: {self.pairs} strong pairs, {self.notified} owners notified" + (
            f"; {self.failed} failed ({self.error})" if self.failed else ""
        )


def run_scans(limit: int = SCAN_BATCH) -> ScanReport:
    """Match up to ``limit`` queued listings, each in a savepoint; the caller commits.

    A listing still waiting in the search outbox is not yet indexed with its vector: its scan
    waits, as it would otherwise match with half its signals. A scan that fails is kept with its
    reason and retried with back-off; it never stops the scans after it (except when the search
    backend is down, which would fail them all).
    """
    now = utcnow()
    rows = db.session.scalars(
        select(MatchScan)
        .where(or_(MatchScan.next_attempt_at.is_(None), MatchScan.next_attempt_at <= now))
        .where(MatchScan.listing_id.not_in(select(SearchOutbox.listing_id)))
        .order_by(MatchScan.listing_id, MatchScan.id)
        .limit(limit)
    ).all()
    report = ScanReport()
    groups = [list(group) for _listing_id, group in groupby(rows, key=lambda row: row.listing_id)]
    for position, scans in enumerate(groups):
        try:
            with db.session.begin_nested():
                listing = db.session.get(Listing, scans[0].listing_id)
                if listing is not None and listing.status == ListingStatus.PUBLISHED:
                    pairs, notified = _scan(listing, announce=any(scan.notify for scan in scans))
                    report.pairs, report.notified = report.pairs + pairs, report.notified + notified
                db.session.execute(delete(MatchScan).where(MatchScan.id.in_([scan.id for scan in scans])))
        except BackendUnavailable as error:
            # Search is down: every scan left would fail the same way; they all wait.
            for waiting in groups[position:]:
                _back_off(waiting, str(error))
            report.failed, report.error = report.failed + len(groups) - position, str(error)
            break
        except Exception as error:  # one bad listing must not stop the others: kept, with its reason
            current_app.logger.exception("match scan of listing %s failed", scans[0].listing_id)
            _back_off(scans, f"{type(error).__name__}: {error}")
            report.failed, report.error = report.failed + 1, str(error)
            continue
        report.scanned += 1
    return report


def _back_off(scans: list[MatchScan], error: str) -> None:
    now = utcnow()
    for scan in scans:
        scan.attempts += 1
        scan.next_attempt_at = next_attempt_after(scan.attempts, now)
        scan.last_error = error[:500]
    db.session.flush()


def _scan(listing: Listing, announce: bool) -> tuple[int, int]:
    """Record the listing's strong matches as pairs; tell owners about new very strong ones."""
    config = current_app.config
    strong = [
        found
        for found in matching.matches_for(listing, limit=MATCHES_PER_SCAN)
        if found.score >= config["MATCH_PAIR_MIN_SCORE"]
    ]
    others = {
        other.id: other
        for other in db.session.scalars(select(Listing).where(Listing.id.in_([int(found.id) for found in strong])))
    }
    pairs, now, announced = _pairs_of(listing), utcnow(), []
    for found in strong:
        other = others.get(int(found.id))
        if other is None:
            continue
        pair = pairs.get(other.id) or _new_pair(listing, other)
        pair.score, pair.scored_at = found.score, now
        pair.reasons = [asdict(reason) for reason in found.reasons]
        if announce and found.score >= config["MATCH_ALERT_MIN_SCORE"] and pair.notified_at is None:
            pair.notified_at = now
            announced.append((other, found.score))
    link = path_for("listings.detail", listing_id=listing.id)
    for other, score in announced:
        if other.owner is not None and other.owner_id != listing.owner_id and other.owner.active:
            kind = "strong_match_achievement" if listing.kind == ListingKind.ACHIEVEMENT else "strong_match_demand"
            notify(other.owner, kind, link=link, title=listing.title, mine=other.title, score=score)
    if announced and listing.owner is not None:
        notify(listing.owner, "matches_found", link=link + "#matches", title=listing.title, count=len(announced))
    return len(strong), len(announced)


def _pairs_of(listing: Listing) -> dict[int, MatchPair]:
    """The listing's recorded pairs, by the other listing's id (one query for the whole scan)."""
    own, other = (
        (MatchPair.demand_id, MatchPair.achievement_id)
        if listing.kind == ListingKind.DEMAND
        else (MatchPair.achievement_id, MatchPair.demand_id)
    )
    return {other_id: pair for pair, other_id in db.session.execute(select(MatchPair, other).where(own == listing.id))}


def _new_pair(listing: Listing, other: Listing) -> MatchPair:
    demand, achievement = (listing, other) if listing.kind == ListingKind.DEMAND else (other, listing)
    pair = MatchPair(demand=demand, achievement=achievement, status=PairStatus.NEW)
    db.session.add(pair)
    return pair


def _between_published(statement):
    """``statement`` over pairs whose two listings are both still published, and the two aliases."""
    demand, achievement = aliased(Listing), aliased(Listing)
    statement = (
        statement.join(demand, MatchPair.demand_id == demand.id)
        .join(achievement, MatchPair.achievement_id == achievement.id)
        .where(demand.status == ListingStatus.PUBLISHED, achievement.status == ListingStatus.PUBLISHED)
    )
    return statement, demand, achievement


def pair_queue(status: str = PairStatus.NEW, industry: str | None = None, min_score: int | None = None):
    """Pairs to follow up, best first: both listings still published."""
    statement, demand, achievement = _between_published(select(MatchPair))
    statement = statement.options(
        contains_eager(MatchPair.demand.of_type(demand)), contains_eager(MatchPair.achievement.of_type(achievement))
    )
    statement = statement.where(MatchPair.status == status)
    if industry:
        statement = statement.where(or_(demand.industry == industry, achievement.industry == industry))
    if min_score:
        statement = statement.where(MatchPair.score >= min_score)
    return statement.order_by(MatchPair.score.desc(), MatchPair.created_at.desc(), MatchPair.id.desc())


def status_counts() -> dict[str, int]:
    statement, _demand, _achievement = _between_published(select(MatchPair.status, func.count()))
    return {status: count for status, count in db.session.execute(statement.group_by(MatchPair.status))}


def misses() -> dict:
    """Where matching did not lead to a contract: dismissed pairs (they carry a free-text note only,
    so a count) and deals ended (终止) by coded reason, all deals and those started from a pair,
    most frequent first."""
    dismissed = db.session.scalar(
        select(func.count()).select_from(MatchPair).where(MatchPair.status == PairStatus.DISMISSED)
    )
    from_pair = func.sum(case((Deal.source == LeadSource.PAIR, 1), else_=0))
    rows = db.session.execute(
        select(Deal.loss_reason, func.count(), from_pair).where(Deal.stage == DealStage.LOST).group_by(Deal.loss_reason)
    )
    lost: dict[str, list[int]] = {}
    for reason, count, pairs in rows:
        totals = lost.setdefault(reason if reason in LOSS_REASON_LABELS else "other", [0, 0])
        totals[0], totals[1] = totals[0] + count, totals[1] + int(pairs or 0)
    return {
        "dismissed": dismissed or 0,
        "lost": sorted(
            ((LOSS_REASON_LABELS[code], code, total, pairs) for code, (total, pairs) in lost.items()),
            key=lambda row: (-row[2], row[1]),
        ),
        "lost_total": sum(total for total, _pairs in lost.values()),
    }


PAIR_ACTIONS = {"follow": PairStatus.FOLLOWING, "dismiss": PairStatus.DISMISSED, "reopen": PairStatus.NEW}


def set_pair_status(user, pair: MatchPair, action: str, note: str | None = None, reason: str | None = None) -> None:
    """Follow, dismiss (with a DismissReason code; "other" needs a note) or reopen a pair."""
    require(can_follow_up(user))
    if note is not None:
        note = note.strip()[:1000] or None
    if action == "dismiss":
        if reason not in DISMISS_REASON_LABELS:
            raise ServiceError(_("请选择忽略原因"))
        if reason == DismissReason.OTHER and not note:
            raise ServiceError(_("选择“其他原因”时请填写说明"))
    pair.status = PAIR_ACTIONS[action]
    pair.dismiss_reason = reason if action == "dismiss" else None
    pair.handled_by_id, pair.handled_at = user.id, utcnow()
    if note is not None:
        pair.note = note
    audit.record(user, f"match_pair.{action}", pair, note=pair.note, reason=pair.dismiss_reason)


def dismissed_by_reason() -> dict[str, int]:
    """Dismissed pairs per reason code (pairs dismissed before reasons were recorded count under "")."""
    statement, _demand, _achievement = _between_published(select(MatchPair.dismiss_reason, func.count()))
    statement = statement.where(MatchPair.status == PairStatus.DISMISSED).group_by(MatchPair.dismiss_reason)
    return {reason or "": count for reason, count in db.session.execute(statement)}
