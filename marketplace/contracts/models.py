"""Technology contracts (技术合同) as the registration office records them (认定登记)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import CheckConstraint, Date, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.accounts.models import Organisation, User
from marketplace.core.models import Money, TimestampMixin, utcnow
from marketplace.extensions import db
from marketplace.listings.models import IMPORT_RUN_STATUS_LABELS, ImportRunStatus, JsonDoc


class ContractStatus(StrEnum):
    DRAFT = "draft"
    REGISTERED = "registered"
    AMENDED = "amended"  # 变更登记: counted with its new amounts
    CANCELLED = "cancelled"  # 注销: leaves every total


# The statuses whose contracts count in turnover statistics.
COUNTED_STATUSES = (ContractStatus.REGISTERED, ContractStatus.AMENDED)

CONTRACT_STATUS_LABELS = {
    ContractStatus.DRAFT: _l("草稿"),
    ContractStatus.REGISTERED: _l("已登记"),
    ContractStatus.AMENDED: _l("已变更登记"),
    ContractStatus.CANCELLED: _l("已注销"),
}


class ContractSource(StrEnum):
    MANUAL = "manual"
    IMPORT = "import"  # a registration office's export
    DEAL = "deal"  # created from a signed deal on the platform


class TechContract(TimestampMixin, db.Model):
    __tablename__ = "tech_contracts"
    __table_args__ = (
        UniqueConstraint("registration_no", name="uq_tech_contracts_registration_no"),
        CheckConstraint("contract_amount > 0", name="contract_amount_positive"),
        CheckConstraint("tech_amount >= 0 AND tech_amount <= contract_amount", name="tech_amount_within_contract"),
        Index("ix_tech_contracts_status_registered_on", "status", "registered_on"),
        Index("ix_tech_contracts_seller_name", "seller_name"),
        Index("ix_tech_contracts_buyer_name", "buyer_name"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # 合同登记编号: opaque (16 digits now, 14 on older forms); NULL while a draft is unregistered.
    registration_no: Mapped[str | None] = mapped_column(String(40))
    registered_on: Mapped[date | None] = mapped_column(Date)  # 认定登记日期: statistics count by this
    project_name: Mapped[str] = mapped_column(String(300))
    contract_type: Mapped[str] = mapped_column(String(20))  # taxonomy CONTRACT_TYPES
    tech_field: Mapped[str | None] = mapped_column(String(40))  # taxonomy TECH_FIELDS
    contract_amount: Mapped[Decimal] = mapped_column(Money)  # 成交额, 元
    tech_amount: Mapped[Decimal] = mapped_column(Money)  # 技术交易额 ≤ 成交额, 元
    performed_amount: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))  # 履约金额 to date
    signed_on: Mapped[date | None] = mapped_column(Date)
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_until: Mapped[date | None] = mapped_column(Date)

    seller_name: Mapped[str] = mapped_column(String(200))  # 卖方 / 受托方
    seller_org_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id", ondelete="SET NULL"), index=True)
    seller_kind: Mapped[str] = mapped_column(String(20))  # taxonomy PARTY_KINDS
    seller_district: Mapped[str] = mapped_column(String(20))  # taxonomy DISTRICTS, "outside" beyond Qingdao
    buyer_name: Mapped[str] = mapped_column(String(200))  # 买方 / 委托方
    buyer_org_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id", ondelete="SET NULL"), index=True)
    buyer_kind: Mapped[str] = mapped_column(String(20))
    buyer_district: Mapped[str] = mapped_column(String(20))

    status: Mapped[str] = mapped_column(String(20), default=ContractStatus.DRAFT)
    source: Mapped[str] = mapped_column(String(20), default=ContractSource.MANUAL)
    deal_id: Mapped[int | None] = mapped_column(ForeignKey("deals.id", ondelete="SET NULL"), index=True)
    amended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancelled_on: Mapped[date | None] = mapped_column(Date)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    note: Mapped[str | None] = mapped_column(Text)

    seller_org: Mapped[Organisation | None] = relationship(foreign_keys=[seller_org_id])
    buyer_org: Mapped[Organisation | None] = relationship(foreign_keys=[buyer_org_id])
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    deal = relationship("Deal", back_populates="contracts", foreign_keys=[deal_id])
    listing_links: Mapped[list[ContractListing]] = relationship(
        back_populates="contract", cascade="all, delete-orphan", order_by="ContractListing.id"
    )

    @property
    def counted(self) -> bool:
        return self.status in COUNTED_STATUSES

    @property
    def status_label(self) -> str:
        return str(CONTRACT_STATUS_LABELS.get(self.status, self.status))


class ContractListing(db.Model):
    """A listing (achievement or demand) the contract is about."""

    __tablename__ = "contract_listings"
    __table_args__ = (UniqueConstraint("contract_id", "listing_id", name="uq_contract_listings_contract_listing"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("tech_contracts.id", ondelete="CASCADE"), index=True)
    listing_id: Mapped[int] = mapped_column(ForeignKey("listings.id", ondelete="CASCADE"), index=True)

    contract: Mapped[TechContract] = relationship(back_populates="listing_links")
    listing = relationship("Listing")


class LinkProposalStatus(StrEnum):
    PROPOSED = "proposed"
    ACCEPTED = "accepted"
    DECLINED = "declined"


class ContractLinkProposal(db.Model):
    """After an import: a registered contract whose parties match a deal's, offered to the deal's broker."""

    __tablename__ = "contract_link_proposals"
    __table_args__ = (UniqueConstraint("contract_id", "deal_id", name="uq_contract_link_proposals_contract_deal"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("tech_contracts.id", ondelete="CASCADE"), index=True)
    deal_id: Mapped[int] = mapped_column(ForeignKey("deals.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(20), default=LinkProposalStatus.PROPOSED, index=True)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    score: Mapped[int] = mapped_column(Integer, default=0)  # how many parties matched by name/organisation

    contract: Mapped[TechContract] = relationship()
    deal = relationship("Deal")


class ContractImportRun(TimestampMixin, db.Model):
    """A registration file uploaded by an admin, imported by the ``contract-imports`` job.

    The file waits under UPLOAD_DIR/contract-imports until the run is over. Re-running a run that a
    dead worker left "running" is safe: the import is idempotent on the registration number, so the
    rows saved before are simply "unchanged" the second time.
    """

    __tablename__ = "contract_import_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    stored_name: Mapped[str | None] = mapped_column(String(80), unique=True)  # None once the file is deleted
    dry_run: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(String(20), default=ImportRunStatus.QUEUED, index=True)
    rows_done: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    report: Mapped[dict[str, Any] | None] = mapped_column(JsonDoc)
    proposals: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    owner: Mapped[User | None] = relationship()

    @property
    def status_label(self) -> str:
        return str(IMPORT_RUN_STATUS_LABELS[ImportRunStatus(self.status)])

    @property
    def finished(self) -> bool:
        return self.status in (ImportRunStatus.DONE, ImportRunStatus.FAILED)
