"""The row-import engine on its own: rows in, a report out, nothing committed by it."""

from __future__ import annotations

from sqlalchemy import func, select

from marketplace.core.rowimport import RowOutcome, RowRejected, run_rows, text_lines
from marketplace.extensions import db
from marketplace.listings.models import Listing


def _titles() -> list[str]:
    return list(db.session.scalars(select(Listing.title).order_by(Listing.id)))


def _handler(number: int, title: str) -> RowOutcome:
    if title.startswith("bad"):
        raise RowRejected("坏行", external_id=title)
    listing = Listing(kind="achievement", title=title.strip(), industry="new_materials", status="draft")
    db.session.add(listing)
    db.session.flush()
    return RowOutcome("created", title, note="注意" if title.startswith("note") else None)


def test_text_lines_reports_a_bad_byte_on_its_own_line_and_skips_blank_lines():
    rows = list(text_lines([b"\xef\xbb\xbfone\n", b"\n", "二".encode("gbk") + b"\n", "三\n".encode()]))
    assert [number for number, _ in rows] == [1, 3, 4]
    assert rows[0][1] == "one\n"
    assert "第 3 行不是 UTF-8 编码" in rows[1][1].reason


def test_run_rows_rejected_rows_leave_nothing_and_others_are_kept_uncommitted(app):
    rows = text_lines([b"a\n", b"bad\n", "坏".encode("gbk") + b"\n", b"note\n"])
    report = run_rows(rows, _handler)
    assert (report.total, report.created) == (4, 2)
    assert [(line.line, line.external_id) for line in report.rejected] == [(2, "bad\n"), (3, None)]
    assert [(note.line, note.reason) for note in report.notes] == [(4, "注意")]
    assert _titles() == ["a", "note"]
    db.session.rollback()  # the engine never committed: the caller decides
    assert _titles() == []


def test_run_rows_dry_run_keeps_nothing_even_if_the_caller_commits(app):
    report = run_rows(text_lines([b"a\n", b"b\n"]), _handler, dry_run=True)
    db.session.commit()
    assert report.created == 2 and not report.saved
    assert _titles() == []


def test_run_rows_all_or_nothing_rolls_back_every_row_when_one_fails_and_never_checkpoints(app):
    checkpoints = []
    report = run_rows(
        text_lines([b"a\n", b"b\n", b"bad\n"]),
        _handler,
        all_or_nothing=True,
        checkpoint=checkpoints.append,
        checkpoint_every=1,
    )
    db.session.commit()
    assert report.aborted and checkpoints == []
    assert _titles() == []


def test_run_rows_checkpoint_every_n_rows_and_progress_every_row(app):
    checkpoints, progress = [], []

    def checkpoint(report):
        checkpoints.append(report.last_line)
        db.session.commit()

    run_rows(
        text_lines([f"t{n}\n".encode() for n in range(1, 6)]),
        _handler,
        checkpoint=checkpoint,
        checkpoint_every=2,
        progress=lambda number, report: progress.append(number),
    )
    assert checkpoints == [2, 4] and progress == [1, 2, 3, 4, 5]
    db.session.rollback()
    assert _titles() == ["t1", "t2", "t3", "t4"]  # the fifth was never committed
    assert db.session.scalar(select(func.count()).select_from(Listing)) == 4
