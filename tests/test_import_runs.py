"""Web imports too big for one request: queued, run by the listing-imports job, followed on a progress page."""

from __future__ import annotations

import io
import json
from pathlib import Path

from sqlalchemy import func, select

from marketplace.extensions import db
from marketplace.jobs.registry import registered_jobs
from marketplace.jobs.runner import run_job
from marketplace.listings import import_runs
from marketplace.listings.interchange import import_lines
from marketplace.listings.models import ImportRun, ImportRunStatus, Listing, ListingStatus
from tests.factories import login, make_user
from tests.test_import import ACHIEVEMENT


def _file(n: int, repeat: dict[int, int] | None = None, bad: int | None = None) -> bytes:
    """n achievement lines; ``repeat`` maps a line to the earlier line whose external_id it repeats."""
    out = []
    for number in range(1, n + 1):
        source = (repeat or {}).get(number, number)
        record = {**ACHIEVEMENT, "external_id": f"RUN-{source}", "title": f"后台导入{number}"}
        text = json.dumps(record, ensure_ascii=False) + "\n"
        out.append(text.encode("gbk") if number == bad else text.encode("utf-8"))
    return b"".join(out)


def _upload(client, payload: bytes, **options):
    data = {"file": (io.BytesIO(payload), "big.jsonl")}
    data.update({key: "y" for key, value in options.items() if value})
    return client.post("/listings/import", data=data, content_type="multipart/form-data")


def _count(**criteria) -> int:
    return db.session.scalar(select(func.count()).select_from(Listing).filter_by(**criteria))


def _run_import_job():
    db.session.commit()
    job = next(job for job in registered_jobs() if job.name == "listing-imports")
    outcome = run_job(job)
    assert outcome.ran and outcome.error is None, outcome
    db.session.expire_all()
    return outcome


def test_upload_above_inline_limit_is_queued_and_the_job_imports_it_with_a_report(app, client):
    admin = make_user("admin", org=None)
    login(client, admin)
    response = _upload(client, _file(400, bad=350))
    assert response.status_code == 302
    run = db.session.scalar(select(ImportRun))
    assert response.headers["Location"].endswith(f"/listings/import/runs/{run.id}")
    assert (run.status, run.lines_total, _count()) == (ImportRunStatus.QUEUED, 400, 0)
    stored = Path(app.config["UPLOAD_DIR"]) / run.stored_name
    assert stored.exists()

    waiting = client.get(f"/listings/import/runs/{run.id}").get_data(as_text=True)
    assert "import-progress.js" in waiting and "刷新" in waiting and "<script>" not in waiting

    _run_import_job()
    run = db.session.get(ImportRun, run.id)
    assert run.status == ImportRunStatus.DONE and run.lines_done == 400
    assert _count(status=ListingStatus.PUBLISHED) == 399
    assert not stored.exists() and run.stored_name is None

    progress = client.get(f"/listings/import/runs/{run.id}/progress.json").get_json()
    assert progress["finished"] and progress["lines_done"] == 400
    page = client.get(f"/listings/import/runs/{run.id}").get_data(as_text=True)
    assert "导入报告" in page and "第 350 行不是 UTF-8 编码" in page and "399" in page
    csv = client.get(f"/listings/import/runs/{run.id}/report.csv")
    assert csv.data.startswith(b"\xef\xbb\xbf")
    rows = csv.data.decode("utf-8-sig").splitlines()
    assert rows[0] == "line,external_id,reason" and rows[1].startswith("350,,")
    assert "big.jsonl" in client.get("/listings/import").get_data(as_text=True)


def test_import_run_dry_run_in_background_saves_nothing(app, client):
    login(client, make_user("admin", org=None))
    _upload(client, _file(350), dry_run=True)
    _run_import_job()
    run = db.session.scalar(select(ImportRun))
    assert run.status == ImportRunStatus.DONE and run.report["created"] == 350 and run.report["dry_run"]
    assert _count() == 0


def test_import_run_all_or_nothing_in_background_saves_nothing_when_a_line_fails(app, client):
    login(client, make_user("admin", org=None))
    _upload(client, _file(350, bad=349), all_or_nothing=True)
    _run_import_job()
    run = db.session.scalar(select(ImportRun))
    assert run.status == ImportRunStatus.DONE and run.report["aborted"]
    assert _count() == 0


def test_import_run_page_is_404_for_other_users(app, client):
    owner = make_user("researcher")
    login(client, owner)
    _upload(client, _file(301))
    run_id = db.session.scalar(select(ImportRun.id))
    assert client.get(f"/listings/import/runs/{run_id}").status_code == 200
    client.post("/account/logout")
    login(client, make_user("researcher"))
    for path in ("", "/progress.json", "/report.csv"):
        assert client.get(f"/listings/import/runs/{run_id}{path}").status_code == 404


def test_interrupted_import_run_resumes_after_the_last_committed_line(app, client):
    login(client, make_user("admin", org=None))
    payload = _file(400, repeat={380: 10})
    _upload(client, payload)
    run = db.session.scalar(select(ImportRun))
    # A worker committed the first 200 lines, then died.
    first = import_lines(io.BytesIO(b"".join(payload.splitlines(keepends=True)[:200])), actor=run.owner)
    run.status, run.attempts, run.lines_done, run.report = ImportRunStatus.RUNNING, 1, 200, first.as_dict()
    _run_import_job()
    run = db.session.get(ImportRun, run.id)
    assert run.status == ImportRunStatus.DONE and run.attempts == 2
    assert run.report["total"] == 400 and run.report["created"] == 399
    assert [line["line"] for line in run.report["rejected"]] == [380]
    assert _count() == 399


def test_import_run_interrupted_too_often_is_marked_failed(app, client):
    login(client, make_user("admin", org=None))
    _upload(client, _file(301))
    run = db.session.scalar(select(ImportRun))
    run.status, run.attempts = ImportRunStatus.RUNNING, import_runs.MAX_ATTEMPTS
    stored = Path(app.config["UPLOAD_DIR"]) / run.stored_name
    _run_import_job()
    run = db.session.get(ImportRun, run.id)
    assert run.status == ImportRunStatus.FAILED and run.error
    assert not stored.exists()
    assert "失败" in client.get(f"/listings/import/runs/{run.id}").get_data(as_text=True)
