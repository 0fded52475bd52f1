"""The transactional outbox that keeps the search index in step with listings.

Every flush that inserts, changes or deletes a listing also inserts an outbox row, in the same
transaction, whatever code path made the change (services, imports, the demo seed, tests).
``drain`` pushes the current state of those listings to the search backend and deletes the rows
it handled; if the backend is down the rows stay, with a back-off, and nothing is lost.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from itertools import chain

from flask import g, has_request_context
from sqlalchemy import delete, event, func, insert, or_, select, update
from sqlalchemy.orm import Session

from marketplace.core.models import utcnow
from marketplace.core.retry import next_attempt_after
from marketplace.core.transaction import on_commit, separate_session
from marketplace.discovery import vectors
from marketplace.discovery.documents import listing_document
from marketplace.discovery.models import SearchOutbox
from marketplace.extensions import db
from marketplace.listings.models import Listing
from search.backends import BackendUnavailable, SearchBackend
from search.documents import DocumentError
from search.encoders import Encoder


@event.listens_for(Session, "after_flush")
def _queue_listing_changes(session: Session, flush_context) -> None:
    changed = {
        obj.id
        for obj in chain(session.new, session.dirty, session.deleted)
        if isinstance(obj, Listing)
        and obj.id is not None
        and (obj in session.new or obj in session.deleted or session.is_modified(obj))
    }
    if changed:
        now = utcnow()
        session.execute(
            insert(SearchOutbox),
            [{"listing_id": listing_id, "created_at": now, "attempts": 0} for listing_id in sorted(changed)],
        )
        on_commit(_note_committed_rows, session)


def _note_committed_rows() -> None:
    """Tell the request (if any) that it committed outbox rows, which it may push after its response."""
    if has_request_context():
        g.search_outbox_committed = True


def committed_in_this_request() -> bool:
    return bool(has_request_context() and g.pop("search_outbox_committed", False))


@dataclass
class DrainReport:
    indexed: int = 0
    deleted: int = 0
    failed: int = 0
    awaiting_vectors: int = 0
    error: str | None = None

    def __str__(self) -> str:
        return f"indexed {self.indexed}, deleted {self.deleted}, failed {self.failed}" + (
            f" ({self.error})" if self.error else ""
        )


def backlog() -> int:
    """Rows waiting now, as committed: read in a session of its own, so a caller that loops
    ``while backlog(): drain()`` sees each drain's work, not its own transaction's old snapshot."""
    with separate_session() as session:
        return session.scalar(select(func.count()).select_from(SearchOutbox)) or 0


def waiting_by_kind() -> dict[bool, tuple[int, datetime | None]]:
    """Rows waiting, split by whether they wait only for a vector: {needs_vector: (count, oldest)}."""
    found = {
        needs_vector: (count, oldest)
        for needs_vector, count, oldest in db.session.execute(
            select(SearchOutbox.needs_vector, func.count(), func.min(SearchOutbox.created_at)).group_by(
                SearchOutbox.needs_vector
            )
        )
    }
    return {flag: found.get(flag, (0, None)) for flag in (False, True)}


def _due(now, with_encoder: bool):
    """The rows a drain may send now: not backing off; without an encoder, none that waits for a vector."""
    due = select(SearchOutbox).where(or_(SearchOutbox.next_attempt_at.is_(None), SearchOutbox.next_attempt_at <= now))
    if not with_encoder:
        due = due.where(SearchOutbox.needs_vector.is_(False))
    return due


def has_due(with_encoder: bool = False) -> bool:
    """Whether a drain would find anything to send now. Asked before every search and match, so it
    is one probe for a single row rather than a count: while the worker catches up on vectors, or
    search is down and rows back off, a web request finds nothing it could send and moves on.
    It reads in the caller's session: a request holding one pooled connection must not wait for a
    second one on every search (under load that exhausts the pool)."""
    probe = _due(utcnow(), with_encoder).with_only_columns(SearchOutbox.id).limit(1)
    return db.session.scalar(probe) is not None


def drain(backend: SearchBackend, limit: int = 500, encoder: Encoder | None = None) -> DrainReport:
    """Send up to ``limit`` due outbox rows to the backend, in a transaction of its own.

    It reads only committed rows and never touches the caller's session, so a web request or a job
    may call it whatever state its own unit of work is in.

    Without an ``encoder`` (web requests) listings whose vector is missing or stale are indexed
    for text search and their rows stay, marked ``needs_vector``, for the worker, which passes
    one: encoding is the slow part and must not sit on a request's path.
    """
    with separate_session() as session:
        return _drain(session, backend, limit, encoder)


def _drain(session: Session, backend: SearchBackend, limit: int, encoder: Encoder | None) -> DrainReport:
    now = utcnow()
    rows = session.scalars(_due(now, with_encoder=encoder is not None).order_by(SearchOutbox.id).limit(limit)).all()
    report = DrainReport()
    if not rows:
        return report
    queued = {row.id: (row.listing_id, row.attempts) for row in rows}
    listing_ids = {listing_id for listing_id, _attempts in queued.values()}
    listings = {listing.id: listing for listing in session.scalars(select(Listing).where(Listing.id.in_(listing_ids)))}
    gone = sorted(str(listing_id) for listing_id in listing_ids - listings.keys())
    documents = [listing_document(listing) for listing in listings.values()]
    stale = vectors.attach_stored(documents, encoder.name if encoder else None, session)
    # End the read before the slow part. Encoding takes seconds; on SQLite a transaction that began
    # by reading cannot write once another connection (a web request saving a form) has committed
    # meanwhile. The writes below start a new transaction, with a write.
    session.rollback()
    computed = vectors.encode(stale, encoder) if encoder is not None else []
    waiting = set() if encoder is not None else {int(doc["id"]) for doc in stale}
    refused: dict[int, str] = {}
    try:
        try:
            backend.index(documents)
        except DocumentError:
            # One listing the backend refuses must not hold up the others: send them one by one
            # and keep only the refused ones back, each with its own reason.
            for document in documents:
                try:
                    backend.index([document])
                except DocumentError as error:
                    refused[int(document["id"])] = str(error)
        if gone:
            backend.delete(gone)
    except BackendUnavailable as error:
        # The backend is away: keep the rows, back off, and leave the reason in last_error where
        # `flask search sync`, /healthz and the admins' job page show the backlog. Vectors computed
        # above are kept only with a successful index write.
        _back_off(session, queued, dict.fromkeys(listing_ids, str(error)), now)
        report.failed, report.error = len(queued), str(error)
        return report
    finished = [row_id for row_id, (listing_id, _) in queued.items() if listing_id not in waiting | refused.keys()]
    session.execute(delete(SearchOutbox).where(SearchOutbox.id.in_(finished)))
    vectors.save(session, [row for row in computed if row["listing_id"] not in refused])
    awaiting = [row_id for row_id, (listing_id, _) in queued.items() if listing_id in waiting - refused.keys()]
    if awaiting:
        session.execute(update(SearchOutbox).where(SearchOutbox.id.in_(awaiting)).values(needs_vector=True))
    if refused:
        _back_off(session, {k: v for k, v in queued.items() if v[0] in refused}, refused, now)
        report.failed, report.error = len(refused), next(iter(refused.values()))
    report.indexed, report.deleted = len(listings) - len(refused), len(gone)
    report.awaiting_vectors = len(waiting - refused.keys())
    return report


def _back_off(session: Session, queued: dict[int, tuple[int, int]], reasons: dict[int, str], now) -> None:
    """Rows (id -> (listing id, attempts so far)) wait longer after each failure, with the reason."""
    for row_id, (listing_id, attempts) in queued.items():
        session.execute(
            update(SearchOutbox)
            .where(SearchOutbox.id == row_id)
            .values(
                attempts=attempts + 1,
                next_attempt_at=next_attempt_after(attempts + 1, now),
                last_error=reasons[listing_id][:500],
            )
        )


def queue_for_vectors(listing_ids: set[int]) -> None:
    """Ask the worker to compute these listings' vectors (indexed already for text): after a
    reindex found them missing or stale, e.g. when the encoder or the encoded text changed. The
    caller commits."""
    if listing_ids:
        now = utcnow()
        db.session.execute(
            insert(SearchOutbox),
            [
                {"listing_id": listing_id, "created_at": now, "attempts": 0, "needs_vector": True}
                for listing_id in sorted(listing_ids)
            ],
        )


def retry_now() -> None:
    """Make every waiting row due (after an outage is fixed, or before a manual sync)."""
    db.session.execute(update(SearchOutbox).values(next_attempt_at=None))
