from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.accounts.models import User
from marketplace.core.models import TimestampMixin, utcnow
from marketplace.extensions import db
from marketplace.listings.models import Listing


class MatchScan(db.Model):
    """A published listing whose matches the worker must (re)compute.

    Written in the transaction that publishes the listing; matching needs the listing indexed
    with its vector, which only the worker computes, so the scan waits for the worker too.
    """

    __tablename__ = "match_scans"

    id: Mapped[int] = mapped_column(primary_key=True)
    listing_id: Mapped[int] = mapped_column(ForeignKey("listings.id", ondelete="CASCADE"), index=True)
    # Bulk imports record pairs for brokers but tell nobody: thousands of alerts would be noise.
    notify: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)

    listing: Mapped[Listing] = relationship()


class PairStatus(StrEnum):
    NEW = "new"
    FOLLOWING = "following"
    DISMISSED = "dismissed"


PAIR_STATUS_LABELS = {
    PairStatus.NEW: _l("新匹配"),
    PairStatus.FOLLOWING: _l("跟进中"),
    PairStatus.DISMISSED: _l("已忽略"),
}


class DismissReason(StrEnum):
    """Why a broker set a pair aside: the matcher's misses, counted on the dashboard."""

    NOT_RELEVANT = "not_relevant"
    TOO_EARLY = "too_early"
    PRICE = "price"
    IP_OWNERSHIP = "ip_ownership"
    ALREADY_PARTNERED = "already_partnered"
    DUPLICATE = "duplicate"
    OTHER = "other"


DISMISS_REASON_LABELS = {
    DismissReason.NOT_RELEVANT: _l("技术不对口"),
    DismissReason.TOO_EARLY: _l("技术成熟度不够"),
    DismissReason.PRICE: _l("价格差距大"),
    DismissReason.IP_OWNERSHIP: _l("知识产权归属问题"),
    DismissReason.ALREADY_PARTNERED: _l("双方已有合作或已另寻合作方"),
    DismissReason.DUPLICATE: _l("重复匹配"),
    DismissReason.OTHER: _l("其他原因"),
}


class MatchPair(TimestampMixin, db.Model):
    """A demand and an achievement that matched strongly: what brokers follow up."""

    __tablename__ = "match_pairs"
    __table_args__ = (
        UniqueConstraint("demand_id", "achievement_id"),
        Index("ix_match_pairs_status_score", "status", "score"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    demand_id: Mapped[int] = mapped_column(ForeignKey("listings.id", ondelete="CASCADE"), index=True)
    achievement_id: Mapped[int] = mapped_column(ForeignKey("listings.id", ondelete="CASCADE"), index=True)
    score: Mapped[int] = mapped_column(Integer)  # 0–100, as on the listings' match panels
    # Reason codes and parameters (search.matching.Reason), worded in the reader's language on display.
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    scored_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    notified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(20), default=PairStatus.NEW)
    handled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    handled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    note: Mapped[str | None] = mapped_column(Text)
    dismiss_reason: Mapped[str | None] = mapped_column(String(30))  # DismissReason, set when dismissed

    demand: Mapped[Listing] = relationship(foreign_keys=[demand_id])
    achievement: Mapped[Listing] = relationship(foreign_keys=[achievement_id])
    handled_by: Mapped[User | None] = relationship(foreign_keys=[handled_by_id])

    @property
    def status_label(self) -> str:
        return str(PAIR_STATUS_LABELS.get(self.status, self.status))

    @property
    def dismiss_reason_label(self) -> str:
        return str(DISMISS_REASON_LABELS.get(self.dismiss_reason, self.dismiss_reason or ""))
