"""Achievements and demands share one table (single-table inheritance) so that favourites,
attachments, inquiries and — later — deals and the search outbox refer to "a listing" by one key."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext
from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.accounts.models import Organisation, User
from marketplace.core.models import Money, TimestampMixin, utcnow
from marketplace.extensions import db

JsonList = JSON().with_variant(JSONB(), "postgresql")
# none_as_null: "no pending edit" must be SQL NULL so the review queue can filter on it.
JsonDoc = JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")


class ListingKind(StrEnum):
    ACHIEVEMENT = "achievement"
    DEMAND = "demand"


class ListingStatus(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    PUBLISHED = "published"
    REJECTED = "rejected"
    ARCHIVED = "archived"


# Section names (English plural) …
KIND_LABELS = {ListingKind.ACHIEVEMENT: _l("科技成果"), ListingKind.DEMAND: _l("技术需求")}
# … and the name of one listing (English singular); Chinese reads the same either way.
KIND_NOUNS = {
    ListingKind.ACHIEVEMENT: lazy_pgettext("one listing", "科技成果"),
    ListingKind.DEMAND: lazy_pgettext("one listing", "技术需求"),
}
STATUS_LABELS = {
    ListingStatus.DRAFT: _l("草稿"),
    ListingStatus.SUBMITTED: _l("待审核"),
    ListingStatus.PUBLISHED: _l("已发布"),
    ListingStatus.REJECTED: _l("未通过"),
    ListingStatus.ARCHIVED: _l("已下架"),
}


class Listing(TimestampMixin, db.Model):
    __tablename__ = "listings"
    __table_args__ = (
        UniqueConstraint("kind", "external_id", name="uq_listings_kind_external_id"),
        Index("ix_listings_kind_status_published_at", "kind", "status", "published_at"),
        CheckConstraint("trl IS NULL OR (trl BETWEEN 1 AND 9)", name="trl_range"),
        CheckConstraint("min_trl IS NULL OR (min_trl BETWEEN 1 AND 9)", name="min_trl_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    external_id: Mapped[str | None] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    keywords: Mapped[list[str]] = mapped_column(JsonList, default=list)
    industry: Mapped[str] = mapped_column(String(40), index=True)
    district: Mapped[str | None] = mapped_column(String(20), index=True)
    cooperation_modes: Mapped[list[str]] = mapped_column(JsonList, default=list)

    # Who offers it: a registered organisation when there is one; the name as given by imports always.
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"), index=True)
    org_name: Mapped[str | None] = mapped_column(String(200))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    contact_name: Mapped[str | None] = mapped_column(String(80))
    contact_phone: Mapped[str | None] = mapped_column(String(30))

    status: Mapped[str] = mapped_column(String(20), default=ListingStatus.DRAFT, index=True)
    review_note: Mapped[str | None] = mapped_column(Text)  # the reviewer's reason on rejection
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # An edit to a published listing waits here for review; the published fields stay visible meanwhile.
    pending_changes: Mapped[dict[str, Any] | None] = mapped_column(JsonDoc)
    view_count: Mapped[int] = mapped_column(Integer, default=0)
    source: Mapped[str] = mapped_column(String(20), default="web")  # web | import | demo

    # Achievement fields
    trl: Mapped[int | None] = mapped_column(Integer)
    ip_type: Mapped[str | None] = mapped_column(String(30))
    patent_numbers: Mapped[list[str]] = mapped_column(JsonList, default=list)
    price_cny: Mapped[Decimal | None] = mapped_column(Money)

    # Demand fields
    min_trl: Mapped[int | None] = mapped_column(Integer)
    budget_min_cny: Mapped[Decimal | None] = mapped_column(Money)
    budget_max_cny: Mapped[Decimal | None] = mapped_column(Money)
    deadline: Mapped[date | None] = mapped_column(Date)
    challenge: Mapped[bool] = mapped_column(Boolean, default=False)
    bounty_cny: Mapped[Decimal | None] = mapped_column(Money)

    organisation: Mapped[Organisation | None] = relationship(foreign_keys=[organisation_id])
    owner: Mapped[User | None] = relationship(foreign_keys=[owner_id])
    reviewed_by: Mapped[User | None] = relationship(foreign_keys=[reviewed_by_id])
    attachments: Mapped[list[Attachment]] = relationship(
        back_populates="listing", cascade="all, delete-orphan", order_by="Attachment.id"
    )

    __mapper_args__ = {"polymorphic_on": "kind", "polymorphic_identity": "listing"}

    @property
    def kind_label(self) -> str:
        return str(KIND_NOUNS[ListingKind(self.kind)])

    @property
    def status_label(self) -> str:
        return str(STATUS_LABELS[ListingStatus(self.status)])

    @property
    def is_published(self) -> bool:
        return self.status == ListingStatus.PUBLISHED

    @property
    def offered_by(self) -> str:
        return self.organisation.name if self.organisation else (self.org_name or "")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.id} {self.status} {self.title[:20]}>"


class Achievement(Listing):
    __mapper_args__ = {"polymorphic_identity": ListingKind.ACHIEVEMENT.value}


class Demand(Listing):
    __mapper_args__ = {"polymorphic_identity": ListingKind.DEMAND.value}

    @property
    def is_open_for_applications(self) -> bool:
        return (
            self.challenge
            and self.is_published
            and (self.deadline is None or self.deadline >= date.today())
            and not any(app.status == "winner" for app in self.applications)
        )

    applications: Mapped[list[ChallengeApplication]] = relationship(
        back_populates="demand", cascade="all, delete-orphan", order_by="ChallengeApplication.id"
    )


MODEL_FOR_KIND: dict[str, type[Listing]] = {
    ListingKind.ACHIEVEMENT: Achievement,
    ListingKind.DEMAND: Demand,
}


class ApplicationStatus(StrEnum):
    SUBMITTED = "submitted"
    SHORTLISTED = "shortlisted"
    WINNER = "winner"
    NOT_SELECTED = "not_selected"
    WITHDRAWN = "withdrawn"


APPLICATION_STATUS_LABELS = {
    ApplicationStatus.SUBMITTED: _l("已提交"),
    ApplicationStatus.SHORTLISTED: _l("入围"),
    ApplicationStatus.WINNER: _l("揭榜成功"),
    ApplicationStatus.NOT_SELECTED: _l("未入选"),
    ApplicationStatus.WITHDRAWN: _l("已撤回"),
}


class ChallengeApplication(TimestampMixin, db.Model):
    """A research team's proposal for an open challenge (揭榜挂帅)."""

    __tablename__ = "challenge_applications"
    __table_args__ = (UniqueConstraint("demand_id", "applicant_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    demand_id: Mapped[int] = mapped_column(ForeignKey("listings.id", ondelete="CASCADE"), index=True)
    applicant_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    team_name: Mapped[str] = mapped_column(String(120))
    proposal: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default=ApplicationStatus.SUBMITTED)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    demand: Mapped[Demand] = relationship(back_populates="applications")
    applicant: Mapped[User] = relationship()

    @property
    def status_label(self) -> str:
        return str(APPLICATION_STATUS_LABELS[ApplicationStatus(self.status)])


class Favourite(db.Model):
    __tablename__ = "favourites"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    listing_id: Mapped[int] = mapped_column(ForeignKey("listings.id", ondelete="CASCADE"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    listing: Mapped[Listing] = relationship()


class Attachment(db.Model):
    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    listing_id: Mapped[int] = mapped_column(ForeignKey("listings.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(255))  # as the user named it
    stored_name: Mapped[str] = mapped_column(String(80), unique=True)  # random, on disk under uploads/
    content_type: Mapped[str] = mapped_column(String(60))
    size_bytes: Mapped[int] = mapped_column(Integer)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    listing: Mapped[Listing] = relationship(back_populates="attachments")


class ImportRunStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


IMPORT_RUN_STATUS_LABELS = {
    ImportRunStatus.QUEUED: _l("排队中"),
    ImportRunStatus.RUNNING: _l("导入中"),
    ImportRunStatus.DONE: _l("已完成"),
    ImportRunStatus.FAILED: _l("失败"),
}


class ImportRun(TimestampMixin, db.Model):
    """A bulk import too big to run inside the request: the uploaded file waits under
    UPLOAD_DIR/imports for the ``listing-imports`` job, which records its progress and report here."""

    __tablename__ = "import_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"), index=True)
    filename: Mapped[str] = mapped_column(String(255))  # as the user named it
    stored_name: Mapped[str | None] = mapped_column(String(80), unique=True)  # random; None once deleted
    options: Mapped[dict[str, Any]] = mapped_column(JsonDoc)  # dry_run, all_or_nothing, status
    status: Mapped[str] = mapped_column(String(20), default=ImportRunStatus.QUEUED, index=True)
    lines_total: Mapped[int] = mapped_column(Integer, default=0)
    lines_done: Mapped[int] = mapped_column(Integer, default=0)  # last line committed (a resumed run starts after it)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    report: Mapped[dict[str, Any] | None] = mapped_column(JsonDoc)
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    owner: Mapped[User] = relationship()
    organisation: Mapped[Organisation | None] = relationship()

    @property
    def status_label(self) -> str:
        return str(IMPORT_RUN_STATUS_LABELS[ImportRunStatus(self.status)])

    @property
    def finished(self) -> bool:
        return self.status in (ImportRunStatus.DONE, ImportRunStatus.FAILED)
