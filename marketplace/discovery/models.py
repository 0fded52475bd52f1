from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.core.models import utcnow
from marketplace.extensions import db


class SearchOutbox(db.Model):
    """A listing whose search document must be rewritten (or removed).

    Written in the same transaction as the listing change, so the index can lag but never miss
    an update; rows are deleted once the backend has accepted the change.
    """

    __tablename__ = "search_outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    # No foreign key: the row must outlive a deleted listing so the deletion reaches the index.
    listing_id: Mapped[int] = mapped_column(Integer, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    last_error: Mapped[str | None] = mapped_column(Text)
    # Indexed for text search already, still waiting for the encoder (which runs only in the worker).
    needs_vector: Mapped[bool] = mapped_column(Boolean, default=False)


class ListingVector(db.Model):
    """A listing's sentence vector, kept with the listing so a reindex never recomputes it."""

    __tablename__ = "listing_vectors"

    listing_id: Mapped[int] = mapped_column(ForeignKey("listings.id", ondelete="CASCADE"), primary_key=True)
    encoder: Mapped[str] = mapped_column(String(60))
    text_hash: Mapped[str] = mapped_column(String(64))  # of the encoded text: a changed title re-embeds
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
