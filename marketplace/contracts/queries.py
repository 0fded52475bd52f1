"""Reading contracts for the admin pages: the filtered list and a contract's history."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, extract, or_, select

from marketplace.contracts.models import CONTRACT_STATUS_LABELS, ContractImportRun, TechContract
from marketplace.core import taxonomy
from marketplace.core.audit import AuditEvent
from marketplace.core.params import clean_text, int_in
from marketplace.extensions import db


@dataclass
class ContractFilters:
    year: int | None = None
    district: str | None = None
    contract_type: str | None = None
    status: str | None = None
    q: str | None = None

    @classmethod
    def from_args(cls, args) -> ContractFilters:
        """Untrusted query arguments; anything not understood is ignored."""
        district = args.get("district")
        contract_type = args.get("type")
        status = args.get("status")
        return cls(
            year=int_in(args.get("year"), 1990, 2100),
            district=district if district in taxonomy.DISTRICTS else None,
            contract_type=contract_type if contract_type in taxonomy.CONTRACT_TYPES else None,
            status=status if status in CONTRACT_STATUS_LABELS else None,
            q=clean_text(args.get("q"), 100),
        )


def contract_select(filters: ContractFilters) -> Select:
    statement = select(TechContract)
    if filters.year:
        statement = statement.where(extract("year", TechContract.registered_on) == filters.year)
    if filters.district:
        statement = statement.where(
            or_(TechContract.seller_district == filters.district, TechContract.buyer_district == filters.district)
        )
    if filters.contract_type:
        statement = statement.where(TechContract.contract_type == filters.contract_type)
    if filters.status:
        statement = statement.where(TechContract.status == filters.status)
    if filters.q:
        like = "%" + filters.q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        statement = statement.where(
            or_(
                TechContract.registration_no == filters.q,
                TechContract.project_name.like(like, escape="\\"),
                TechContract.seller_name.like(like, escape="\\"),
                TechContract.buyer_name.like(like, escape="\\"),
            )
        )
    return statement.order_by(TechContract.registered_on.desc().nulls_first(), TechContract.id.desc())


def history(contract: TechContract) -> list[AuditEvent]:
    statement = select(AuditEvent).where(
        AuditEvent.object_type == "tech_contracts", AuditEvent.object_id == contract.id
    )
    return list(db.session.scalars(statement.order_by(AuditEvent.id)))


def import_run(run_id: int) -> ContractImportRun | None:
    return db.session.get(ContractImportRun, run_id)
