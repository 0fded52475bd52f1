"""Bulk imports too big for one request: queued by the import page, run by the ``listing-imports`` job.

The uploaded file waits under UPLOAD_DIR/imports under a random name. The job takes the oldest
queued run and imports it through ``interchange.import_lines``, committing every few hundred lines
(``checkpoint``) together with the run's progress and report so far. A run found "running" when the
job starts belongs to a worker that died (the job's lease means no other worker is on it): it is
resumed after the last committed line, at most ``MAX_ATTEMPTS`` times, then marked failed. An error
inside a run marks it failed at once, keeping what earlier batches saved. The file is deleted once
the run is over, after the commit that says so.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select

from marketplace.accounts.capabilities import has_capability
from marketplace.core.models import utcnow
from marketplace.core.rowimport import RowReport
from marketplace.extensions import db
from marketplace.jobs.runner import commit_batch
from marketplace.listings.interchange import import_lines
from marketplace.listings.models import ImportRun, ImportRunStatus
from marketplace.uploads import references
from marketplace.uploads import storage as uploads

references.track(ImportRun.stored_name)  # a queued run's file is no orphan for `flask uploads sweep`

MAX_ATTEMPTS = 3
RECENT_RUNS = 10


def count_lines(data: bytes) -> int:
    return data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)


def queue_run(user, data: bytes, filename: str, options: dict[str, Any]) -> ImportRun:
    """Store the file and queue its import; the caller commits (a rollback removes the file)."""
    stored_name = uploads.store("imports", data, ".jsonl")  # removed again if the transaction rolls back
    run = ImportRun(
        owner_id=user.id,
        organisation_id=user.organisation_id,
        filename=(filename or "import.jsonl")[:255],
        stored_name=stored_name,
        options=options,
        status=ImportRunStatus.QUEUED,
        lines_total=count_lines(data),
    )
    db.session.add(run)
    db.session.flush()
    return run


def can_see(user, run: ImportRun) -> bool:
    """The owner, an admin of the run's organisation, or a platform admin."""
    if not user.is_authenticated:
        return False
    if run.owner_id == user.id or has_capability(user, "admin.console"):
        return True
    return bool(run.organisation_id and user.is_org_admin and user.organisation_id == run.organisation_id)


def recent_runs(user) -> list[ImportRun]:
    statement = select(ImportRun).where(ImportRun.owner_id == user.id)
    return list(db.session.scalars(statement.order_by(ImportRun.id.desc()).limit(RECENT_RUNS)))


def report_of(run: ImportRun) -> RowReport | None:
    return RowReport.from_dict(run.report) if run.report else None


def report_csv(run: ImportRun) -> str:
    """Rejected lines and notes as CSV: UTF-8 with a BOM, so Excel opens the Chinese correctly."""
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer)
    writer.writerow(["line", "external_id", "reason"])
    report = report_of(run)
    if report is not None:
        for note in sorted(report.rejected + report.notes, key=lambda note: note.line):
            writer.writerow([note.line, note.external_id or "", note.reason])
    return buffer.getvalue()


@dataclass
class ImportJobReport:
    processed: int = 0
    run_id: int | None = None
    status: str | None = None

    def __str__(self) -> str:
        return f"import run {self.run_id}: {self.status}" if self.run_id else "no import waiting"


def run_next() -> ImportJobReport:
    """The job: run the oldest waiting import to its end (committing in batches as it goes)."""
    statement = select(ImportRun).where(ImportRun.status.in_([ImportRunStatus.QUEUED, ImportRunStatus.RUNNING]))
    run = db.session.scalar(statement.order_by(ImportRun.id).limit(1))
    if run is None:
        return ImportJobReport()
    process(run)
    return ImportJobReport(processed=1, run_id=run.id, status=run.status)


def process(run: ImportRun) -> None:
    run_id = run.id
    run.attempts += 1
    if run.attempts > MAX_ATTEMPTS:
        _finish(run, ImportRunStatus.FAILED, _("导入多次中断，已停止；已保存到第 %(line)d 行", line=run.lines_done))
        return
    resumed = run.status == ImportRunStatus.RUNNING
    run.status, run.started_at = ImportRunStatus.RUNNING, run.started_at or utcnow()
    commit_batch()  # the attempt is counted even if the worker dies during it

    options = run.options or {}
    resume_after = run.lines_done if resumed and run.report else 0
    previous = report_of(run) if resume_after else None

    def checkpoint(report: RowReport) -> None:
        current = db.session.get(ImportRun, run_id)
        current.lines_done, current.report = report.last_line, report.as_dict()
        commit_batch()

    try:
        if run.stored_name is None:
            raise FileNotFoundError("import file already removed")
        with uploads.open_stored(run.stored_name) as handle:
            report = import_lines(
                handle,
                actor=run.owner,
                status=options.get("status", "submitted"),
                dry_run=bool(options.get("dry_run")),
                all_or_nothing=bool(options.get("all_or_nothing")),
                checkpoint=checkpoint,
                report=previous,
                resume_after=resume_after,
                source="import",
            )
    except Exception:  # the run ends failed with what its committed batches saved; the worker goes on
        current_app.logger.exception("import run %s failed", run_id)
        db.session.rollback()
        run = db.session.get(ImportRun, run_id)
        _finish(run, ImportRunStatus.FAILED, _("导入中断：服务器出错，已保存到第 %(line)d 行", line=run.lines_done))
        return
    run = db.session.get(ImportRun, run_id)
    run.lines_done, run.report = report.last_line or run.lines_total, report.as_dict()
    _finish(run, ImportRunStatus.DONE)


def _finish(run: ImportRun, status: str, error: str | None = None) -> None:
    """End the run; its file goes once that is committed (the job runner commits when we return)."""
    run.status, run.error, run.finished_at = status, error, utcnow()
    if run.stored_name is not None:
        uploads.delete_after_commit(run.stored_name)
    run.stored_name = None
