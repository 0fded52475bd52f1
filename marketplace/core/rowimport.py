"""One engine for every bulk import: rows in, a report out, each row in a savepoint of its own.

A format (JSON Lines listings today; XLSX/CSV registration files for contracts later) turns its file
into ``(line_number, row)`` pairs — ``row`` being whatever its handler understands, or the exception
that stopped the row from being read (a line that is not UTF-8) — and supplies a handler that saves
one row through the feature's services and returns what happened to it. The engine:

- runs each row inside its own savepoint, so a rejected row leaves nothing behind;
- never commits: ``dry_run`` rolls every row's savepoint back, ``all_or_nothing`` runs inside one
  more savepoint that it rolls back when any row was rejected; otherwise the caller commits, and a
  long run may hand it a ``checkpoint`` to commit in batches (never during all-or-nothing);
- collects one report (counts, and every rejected row with its line number, identifier and reason).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from flask_babel import gettext as _
from sqlalchemy.exc import DataError, IntegrityError

from marketplace.core.errors import ServiceError
from marketplace.extensions import db

OUTCOMES = ("created", "updated", "unchanged", "sent_to_review")
CHECKPOINT_EVERY = 500


class RowRejected(Exception):
    """A row the handler refuses, with the reason shown to the user (already translated)."""

    def __init__(self, reason: str, external_id: str | None = None):
        super().__init__(reason)
        self.reason, self.external_id = reason, external_id


class UndecodableLine(ValueError):
    """A line whose bytes are not in the file's encoding."""

    def __init__(self, line: int):
        super().__init__(line)
        self.line = line

    @property
    def reason(self) -> str:
        return _("第 %(line)d 行不是 UTF-8 编码（可能是 GBK？请另存为 UTF-8 后重试）", line=self.line)


@dataclass
class RowOutcome:
    """What the handler did with a row: one of OUTCOMES, and a note the report shows beside it."""

    outcome: str
    external_id: str | None = None
    note: str | None = None


@dataclass
class RowNote:
    line: int
    external_id: str | None
    reason: str


@dataclass
class RowReport:
    total: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    sent_to_review: int = 0  # edits of published listings waiting for review (the public version stays)
    rejected: list[RowNote] = field(default_factory=list)
    notes: list[RowNote] = field(default_factory=list)
    dry_run: bool = False
    aborted: bool = False  # all-or-nothing run that saved nothing because rows were rejected
    last_line: int = 0

    @property
    def saved(self) -> bool:
        return not self.dry_run and not self.aborted

    def as_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "sent_to_review": self.sent_to_review,
            "rejected": [vars(note) for note in self.rejected],
            "notes": [vars(note) for note in self.notes],
            "dry_run": self.dry_run,
            "aborted": self.aborted,
            "last_line": self.last_line,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RowReport:
        report = cls(**{name: data.get(name, 0) for name in ("total", *OUTCOMES, "last_line")})
        report.rejected = [RowNote(**note) for note in data.get("rejected", [])]
        report.notes = [RowNote(**note) for note in data.get("notes", [])]
        report.dry_run, report.aborted = bool(data.get("dry_run")), bool(data.get("aborted"))
        return report


def text_lines(stream: IO[bytes] | Iterable[bytes], encoding: str = "utf-8") -> Iterator[tuple[int, Any]]:
    """Number and decode a byte stream line by line, so a bad byte is reported on its own line.

    Blank lines are skipped (they are not rows); a BOM at the start of the file is tolerated.
    """
    for number, raw in enumerate(stream, start=1):
        try:
            text = raw.decode(encoding) if isinstance(raw, bytes) else raw
        except UnicodeDecodeError:
            yield number, UndecodableLine(number)
            continue
        if number == 1:
            text = text.lstrip("\ufeff")
        if text.strip():
            yield number, text


def run_rows(
    rows: Iterable[tuple[int, Any]],
    handle: Callable[[int, Any], RowOutcome],
    *,
    dry_run: bool = False,
    all_or_nothing: bool = False,
    report: RowReport | None = None,
    checkpoint: Callable[[RowReport], None] | None = None,
    checkpoint_every: int = CHECKPOINT_EVERY,
    progress: Callable[[int, RowReport], None] | None = None,
    savepoints: bool = True,
) -> RowReport:
    """Run ``handle(line_number, row)`` on every row; see the module docstring for what is saved and when.

    ``report`` continues an earlier report (a resumed run). ``checkpoint(report)`` is called every
    ``checkpoint_every`` rows unless the run is all-or-nothing; the caller may commit there.
    ``savepoints=False`` is for handlers that write nothing per row (they check rows and save a
    whole batch at once afterwards, like the contract importer): no savepoint round trip per row.
    """
    report = report or RowReport()
    report.dry_run = dry_run
    whole = db.session.begin_nested() if all_or_nothing and not dry_run else None
    for number, row in rows:
        report.total += 1
        report.last_line = number
        savepoint = db.session.begin_nested() if savepoints else _NoSavepoint()
        try:
            if isinstance(row, Exception):
                raise row
            outcome = handle(number, row)
        except (RowRejected, UndecodableLine, ServiceError, IntegrityError, DataError) as error:
            if savepoint.is_active:
                savepoint.rollback()
            report.rejected.append(RowNote(number, getattr(error, "external_id", None), _reason(error)))
        except BaseException:
            if savepoint.is_active:
                savepoint.rollback()
            if whole is not None and whole.is_active:
                whole.rollback()
            raise
        else:
            if dry_run:
                savepoint.rollback()  # a dry run keeps nothing, whatever the caller does next
            else:
                savepoint.commit()
            setattr(report, outcome.outcome, getattr(report, outcome.outcome) + 1)
            if outcome.note:
                report.notes.append(RowNote(number, outcome.external_id, outcome.note))
        if progress is not None:
            progress(number, report)
        if checkpoint is not None and whole is None and report.total % checkpoint_every == 0:
            checkpoint(report)
    if whole is not None:
        if report.rejected:
            whole.rollback()
            report.aborted = True
        else:
            whole.commit()
    return report


class _NoSavepoint:
    is_active = False

    def commit(self) -> None:
        pass

    def rollback(self) -> None:
        pass


def _reason(error: BaseException) -> str:
    if isinstance(error, RowRejected | UndecodableLine):
        return error.reason
    if isinstance(error, ServiceError):
        return error.message
    # The database refused the row (a value out of its range, a duplicate made by someone else meanwhile).
    return _("数据库拒绝保存这一行，请检查数值范围后重试")
