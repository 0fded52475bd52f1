"""Registration files uploaded on the admins' import page, run by the ``contract-imports`` job.

The upload is checked (XLSX or CSV by its bytes) and stored under UPLOAD_DIR/contract-imports; the
job takes the oldest waiting run and imports it batch by batch, committing each batch together with
the run's progress and report so far. A run found "running" belongs to a worker that died: it runs
again from the top (the import is idempotent, so rows saved before come out "unchanged"), at most
``MAX_ATTEMPTS`` times. The file is deleted once the run is over, after the commit that says so.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select

from marketplace.contracts.importer import ImportFileError, import_file
from marketplace.contracts.models import ContractImportRun
from marketplace.core.models import utcnow
from marketplace.core.rowimport import RowReport
from marketplace.extensions import db
from marketplace.jobs.runner import commit_batch
from marketplace.listings.models import ImportRunStatus
from marketplace.uploads import references
from marketplace.uploads import storage as uploads
from marketplace.uploads.checks import CSV, XLSX, CheckedUpload

references.track(ContractImportRun.stored_name)  # a waiting run's file is no orphan for `flask uploads sweep`

MAX_ATTEMPTS = 3
ACCEPTED = (XLSX, CSV)


def queue_run(user, upload: CheckedUpload, dry_run: bool = False) -> ContractImportRun:
    """Store the checked file and queue its import; the caller commits (a rollback removes the file)."""
    stored_name = uploads.store("contract-imports", upload.data, upload.kind.extension)
    run = ContractImportRun(owner_id=user.id, filename=upload.filename[:255], stored_name=stored_name, dry_run=dry_run)
    db.session.add(run)
    db.session.flush()
    return run


def recent_runs(limit: int = 10) -> list[ContractImportRun]:
    return list(db.session.scalars(select(ContractImportRun).order_by(ContractImportRun.id.desc()).limit(limit)))


def report_of(run: ContractImportRun) -> RowReport | None:
    return RowReport.from_dict(run.report) if run.report else None


@dataclass
class ContractImportJobReport:
    run_id: int | None = None
    status: str | None = None

    def __str__(self) -> str:
        return f"contract import run {self.run_id}: {self.status}" if self.run_id else "no contract import waiting"


def run_next() -> ContractImportJobReport:
    statement = select(ContractImportRun).where(
        ContractImportRun.status.in_([ImportRunStatus.QUEUED, ImportRunStatus.RUNNING])
    )
    run = db.session.scalar(statement.order_by(ContractImportRun.id).limit(1))
    if run is None:
        return ContractImportJobReport()
    process(run)
    return ContractImportJobReport(run.id, run.status)


def process(run: ContractImportRun) -> None:
    run_id = run.id
    run.attempts += 1
    if run.attempts > MAX_ATTEMPTS:
        _finish(run, ImportRunStatus.FAILED, _("导入多次中断，已停止"))
        return
    run.status, run.started_at = ImportRunStatus.RUNNING, run.started_at or utcnow()
    commit_batch()  # the attempt counts even if the worker dies during it
    owner = run.owner

    def checkpoint(report: RowReport) -> None:
        current = db.session.get(ContractImportRun, run_id)
        current.rows_done, current.report = report.last_line, report.as_dict()
        commit_batch()

    try:
        if run.stored_name is None:
            raise FileNotFoundError("import file already removed")
        with uploads.open_stored(run.stored_name) as handle:
            data = handle.read()
        result = import_file(data, run.filename, actor=owner, dry_run=run.dry_run, checkpoint=checkpoint)
    except ImportFileError as error:
        db.session.rollback()
        _finish(db.session.get(ContractImportRun, run_id), ImportRunStatus.FAILED, error.message)
        return
    except Exception:  # the run ends failed with what its committed batches saved; the worker goes on
        current_app.logger.exception("contract import run %s failed", run_id)
        db.session.rollback()
        _finish(db.session.get(ContractImportRun, run_id), ImportRunStatus.FAILED, _("导入中断：服务器出错"))
        return
    if run.dry_run:
        db.session.rollback()
    run = db.session.get(ContractImportRun, run_id)
    run.rows_done, run.report = result.report.last_line, result.report.as_dict()
    run.proposals = result.proposals
    _finish(run, ImportRunStatus.DONE)


def _finish(run: ContractImportRun, status: str, error: str | None = None) -> None:
    run.status, run.error, run.finished_at = status, error, utcnow()
    if run.stored_name is not None:
        uploads.delete_after_commit(run.stored_name)
    run.stored_name = None
