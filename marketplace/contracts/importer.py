"""Import registration-office exports (XLSX or CSV) as registered technology contracts.

The file format (header variants, units, dates, districts) is ``fileformat``'s. **Row numbers count
from the header: the header is row 1, the first data row is row 2**, whether or not a title row sits
above it, so a report line "row 5: …" is the fifth row of the table itself (rows above the header
are not counted). Empty rows are skipped but keep their number.

Saving: rows are checked by ``services.check_fields`` (the rule the form uses) on the row-import
engine without a savepoint each (nothing is written per row), and every ``BATCH_SIZE`` rows the good
ones go in with one bulk insert and one ``rollup.apply``; the caller's ``checkpoint`` may commit
there. Idempotent on the registration number: the same values again are "unchanged"; different
values are rejected, never overwritten (a real change is a 变更登记 in the admin pages).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import insert, select

from marketplace.accounts.models import Organisation
from marketplace.contracts.fileformat import (
    AMOUNT_FIELDS,
    CENT,
    COMPARED,
    FIELD_LABELS,
    ImportFileError,
    Layout,
    find_header,
    parse_row,
    read_table,
    text_of,
)
from marketplace.contracts.models import ContractSource, ContractStatus, TechContract
from marketplace.contracts.services import ContractInvalid, check_fields
from marketplace.core.models import utcnow
from marketplace.core.rowimport import RowOutcome, RowRejected, RowReport, run_rows
from marketplace.extensions import db
from marketplace.stats import rollup

__all__ = ["BATCH_SIZE", "ImportFileError", "ImportResult", "import_file", "insert_contracts"]

BATCH_SIZE = 5000  # rows per bulk insert, roll-up update and commit: fewer, larger statements import faster


def _reject(reason: str, number: str) -> RowRejected:
    return RowRejected(reason, external_id=number)


def validate_row(fields: dict[str, Any]) -> None:
    """The rules a registration row must meet beyond the form's (which ``check_fields`` applies)."""
    number = fields["registration_no"]
    if fields["contract_amount"] is None:
        raise _reject(_("缺少合同成交额"), number)
    if fields["contract_amount"] <= 0:
        raise _reject(_("合同成交额必须大于 0"), number)
    if fields["tech_amount"] is None:
        fields["tech_amount"] = fields["contract_amount"]
    if fields["registered_on"] is None:
        raise _reject(_("缺少登记日期"), number)
    if fields["contract_type"] is None:
        raise _reject(_("缺少合同类型"), number)
    if fields["seller_district"] is None:
        raise _reject(_("缺少卖方所在地区"), number)
    if fields["buyer_district"] is None:
        raise _reject(_("缺少买方所在地区"), number)
    if fields["performed_amount"] is None:
        fields["performed_amount"] = Decimal("0.00")
    try:
        check_fields(fields, unique=False)
    except ContractInvalid as error:
        raise _reject(error.message, number) from None


# --- saving --------------------------------------------------------------------------------------


def insert_contracts(rows: list[dict[str, Any]]) -> None:
    """Bulk-insert registered contracts (full column dicts) and add them to the roll-ups: the one
    fast path, shared by the importer and the demo data."""
    if not rows:
        return
    now = utcnow()
    for row in rows:
        row.setdefault("created_at", now)
        row.setdefault("updated_at", now)
    db.session.execute(insert(TechContract.__table__), rows)  # Core executemany: no ORM bookkeeping per row
    changes = []
    for row in rows:
        facts = rollup.facts_of(SimpleNamespace(**{"deal_id": None, **row}, counted=row["status"] in _COUNTED))
        if facts is not None:
            changes.append((facts, 1))
    rollup.apply(changes)


_COUNTED = {ContractStatus.REGISTERED.value, ContractStatus.AMENDED.value}


@dataclass
class ImportResult:
    report: RowReport
    proposals: int = 0


class _Batch:
    """Rows of one batch: parsed, checked against the contracts that exist, then saved together."""

    def __init__(self, importer: ContractImporter, lines: list[tuple[int, Any]]):
        self.importer, self.lines = importer, lines
        self.parsed: dict[int, dict[str, Any] | Exception] = {}
        for number, row in lines:
            try:
                self.parsed[number] = parse_row(row, importer.layout)
            except RowRejected as error:
                self.parsed[number] = error
        numbers = {value["registration_no"] for value in self.parsed.values() if isinstance(value, dict)}
        self.existing = importer.existing(numbers)
        self.pending: list[dict[str, Any]] = []

    def handle(self, number: int, _row: Any) -> RowOutcome:
        fields = self.parsed[number]
        if isinstance(fields, Exception):
            raise fields
        registration_no = fields["registration_no"]
        first = self.importer.seen.get(registration_no)
        if first is not None:
            raise _reject(
                _("合同登记号 %(no)s 在文件中重复（与第 %(row)d 行）", no=registration_no, row=first), registration_no
            )
        self.importer.seen[registration_no] = number
        validate_row(fields)
        existing = self.existing.get(registration_no)
        if existing is not None:
            differing = [FIELD_LABELS[name] for name in COMPARED if existing.get(name) != fields.get(name)]
            if differing:
                raise _reject(
                    _(
                        "合同登记号已存在且内容不同（%(fields)s），未覆盖；如需修改请办理变更登记",
                        fields="、".join(differing),
                    ),
                    registration_no,
                )
            return RowOutcome("unchanged", registration_no)
        self.pending.append(fields)
        return RowOutcome("created", registration_no)


class ContractImporter:
    def __init__(self, layout: Layout, *, actor=None, dry_run: bool = False, propose: bool = True):
        self.layout, self.actor, self.dry_run, self.propose = layout, actor, dry_run, propose
        self.seen: dict[str, int] = {}
        self.organisations = {
            name: org_id for org_id, name in db.session.execute(select(Organisation.id, Organisation.name))
        }
        self.result = ImportResult(RowReport())

    def existing(self, numbers: set[str]) -> dict[str, dict[str, Any]]:
        if not numbers:
            return {}
        columns = [getattr(TechContract, name) for name in ("registration_no", *COMPARED)]
        found = {}
        for row in db.session.execute(select(*columns).where(TechContract.registration_no.in_(numbers))):
            values = dict(row._mapping)
            for name in AMOUNT_FIELDS:
                if name in values and values[name] is not None:
                    values[name] = Decimal(values[name]).quantize(CENT)
            found[values["registration_no"]] = values
        return found

    def run_batch(self, lines: list[tuple[int, Any]]) -> None:
        batch = _Batch(self, lines)
        run_rows(lines, batch.handle, dry_run=self.dry_run, report=self.result.report, savepoints=False)
        if self.dry_run or not batch.pending:
            return
        now = utcnow()
        rows = [
            {
                **fields,
                "status": ContractStatus.REGISTERED.value,
                "source": ContractSource.IMPORT.value,
                "seller_org_id": self.organisations.get(fields["seller_name"]),
                "buyer_org_id": self.organisations.get(fields["buyer_name"]),
                "created_by_id": getattr(self.actor, "id", None),
                "created_at": now,
                "updated_at": now,
            }
            for fields in batch.pending
        ]
        insert_contracts(rows)
        if self.propose:
            from marketplace.contracts.proposals import propose_for_rows

            self.result.proposals += propose_for_rows(rows)


def import_file(
    data: bytes,
    filename: str = "",
    *,
    actor=None,
    dry_run: bool = False,
    checkpoint: Callable[[RowReport], None] | None = None,
    batch_size: int = BATCH_SIZE,
    propose: bool = True,
) -> ImportResult:
    """Import one file; ImportFileError when it cannot be read at all. Never commits: ``checkpoint``
    (called after each batch is saved) may."""
    rows = read_table(data, filename)
    layout = find_header(rows)
    importer = ContractImporter(layout, actor=actor, dry_run=dry_run, propose=propose)
    for lines in _batches(_numbered(rows), batch_size):
        importer.run_batch(lines)
        if checkpoint is not None and not dry_run:
            checkpoint(importer.result.report)
    importer.result.report.dry_run = dry_run
    return importer.result


def _numbered(rows: Iterable[list[Any]]) -> Iterator[tuple[int, list[Any]]]:
    """Data rows numbered with the header as row 1; empty rows skipped (their number is kept)."""
    for number, row in enumerate(rows, start=2):
        if any(text_of(cell) for cell in row):
            yield number, row


def _batches(rows: Iterator[tuple[int, Any]], size: int) -> Iterator[list[tuple[int, Any]]]:
    batch: list[tuple[int, Any]] = []
    for item in rows:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
