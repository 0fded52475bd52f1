"""The worker: jobs registered by features, run under a lease, one transaction each, never stalled."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from datetime import timedelta

from sqlalchemy import select, update

from marketplace.core.models import utcnow
from marketplace.core.transaction import separate_session
from marketplace.discovery import outbox
from marketplace.extensions import db
from marketplace.jobs.models import JobLease
from marketplace.jobs.registry import Job, registered_jobs
from marketplace.jobs.runner import run_job, run_once
from marketplace.listings.models import Listing
from tests.factories import index_everything, make_listing

# A second process writes one outbox row for listing {id} with its own connection and commits.
OTHER_PROCESS = """
import sys
from sqlalchemy import create_engine, text
engine = create_engine(sys.argv[1])
with engine.begin() as connection:
    connection.execute(
        text("INSERT INTO search_outbox (listing_id, created_at, attempts, needs_vector) "
             "VALUES (:id, CURRENT_TIMESTAMP, 0, false)"),
        {"id": int(sys.argv[2])},
    )
"""


def test_features_register_their_jobs_in_dependency_order(app):
    names = [job.name for job in registered_jobs()]
    assert names.index("search-sync") < names.index("match-scans") < names.index("saved-search-alerts")


def test_idle_worker_sees_a_row_written_by_another_process(app):
    listing = make_listing(title="海水淡化反渗透膜")
    index_everything()
    idle = run_once(holder="worker")
    assert idle["search-sync"].report.indexed == 0

    url = db.engine.url.render_as_string(hide_password=False)
    subprocess.run([sys.executable, "-c", OTHER_PROCESS, url, str(listing.id)], check=True)

    busy = run_once(holder="worker")
    assert busy["search-sync"].report.indexed == 1  # the old worker kept its idle snapshot and saw nothing
    assert outbox.backlog() == 0


def test_worker_ends_its_transaction_after_every_job(app):
    run_once(holder="worker")
    assert not db.session().in_transaction()


def _lease(name: str) -> JobLease:
    with separate_session() as session:
        lease = session.get(JobLease, name)
        session.expunge_all()
        return lease


def test_failed_job_rolls_back_its_work_records_the_reason_and_the_next_job_still_runs(app):
    def breaks():
        db.session.add(Listing(kind="achievement", title="半途而废", status="draft", industry="marine_equipment"))
        db.session.flush()
        raise ValueError("bad item")

    failing, following = Job("test-breaks", breaks), Job("test-follows", lambda: "fine")
    assert run_job(failing, holder="worker").error == "ValueError: bad item"
    assert run_job(following, holder="worker").report == "fine"
    assert db.session.scalar(select(Listing).where(Listing.title == "半途而废")) is None
    lease = _lease("test-breaks")
    assert (lease.failures, lease.holder, lease.last_error) == (1, None, "ValueError: bad item")


def test_job_waits_for_its_interval(app):
    job = Job("test-interval", lambda: "ran", every_seconds=3600)
    assert run_job(job, holder="worker").ran
    assert not run_job(job, holder="worker").ran
    with separate_session() as session:
        session.execute(update(JobLease).where(JobLease.name == job.name).values(next_run_at=utcnow()))
    assert run_job(job, holder="worker").ran


def test_crashed_workers_lease_lapses_and_another_worker_takes_over(app):
    job = Job("test-crash", lambda: "ran", lease_seconds=60)
    with separate_session() as session:  # a worker took the lease, then died without releasing it
        session.add(JobLease(name=job.name, holder="dead:1", leased_until=utcnow() + timedelta(seconds=60)))
    assert not run_job(job, holder="alive:2").ran
    with separate_session() as session:
        session.execute(
            update(JobLease).where(JobLease.name == job.name).values(leased_until=utcnow() - timedelta(seconds=1))
        )
    assert run_job(job, holder="alive:2").ran
    assert _lease(job.name).holder is None


def test_two_workers_never_run_the_same_job_at_once(app):
    running, overlaps, runs = [], [], []
    guard = threading.Lock()

    def slow():
        with guard:
            if running:
                overlaps.append(True)
            running.append(1)
        time.sleep(0.3)
        with guard:
            running.pop()
            runs.append(1)

    job = Job("test-exclusive", slow, every_seconds=3600)
    barrier = threading.Barrier(4)

    errors = []

    def worker(n: int):
        with app.app_context():
            barrier.wait()
            try:
                run_job(job, holder=f"host{n}:1")
            except Exception as error:  # a busy database must cost a worker its turn, not its life
                errors.append(error)
            db.session.remove()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert (len(runs), overlaps, errors) == (1, [], [])


def test_admin_job_page_lists_jobs_and_the_items_they_failed_on(app, client):
    from marketplace.accounts.roles import Role
    from marketplace.matchmaking.models import MatchScan
    from tests.factories import login, make_user

    listing = make_listing(title="海水淡化反渗透膜")
    db.session.add(
        MatchScan(
            listing_id=listing.id,
            attempts=3,
            last_error="ValueError: 向量维度不符",
            next_attempt_at=utcnow() + timedelta(minutes=5),
        )
    )
    db.session.commit()
    run_once(holder="worker")
    login(client, make_user(Role.RESEARCHER))
    assert client.get("/admin/jobs").status_code == 403
    client.post("/account/logout")
    login(client, make_user(Role.ADMIN, org=None))
    page = client.get("/admin/jobs").get_data(as_text=True)
    assert "search-sync" in page and "match-scans" in page and "saved-search-alerts" in page
    assert "ValueError: 向量维度不符" in page and f"listing #{listing.id}" in page


class WebRequestCommitsWhileEncoding:
    """The real encoder, but while it encodes another connection commits a listing change (a web
    request saving a form): on SQLite the drain must still write afterwards."""

    def __init__(self, encoder, url: str, listing_id: int):
        self.encoder, self.url, self.listing_id = encoder, url, listing_id
        self.name, self.dim = encoder.name, encoder.dim

    def _web_request_commits(self) -> None:
        subprocess.run([sys.executable, "-c", OTHER_PROCESS, self.url, str(self.listing_id)], check=True)

    def encode_queries(self, texts):
        self._web_request_commits()
        return self.encoder.encode_queries(texts)

    def encode_passages(self, texts):
        self._web_request_commits()
        return self.encoder.encode_passages(texts)


def test_worker_drain_survives_a_web_commit_while_it_encodes(app):
    from marketplace.discovery import services as discovery
    from marketplace.discovery.models import ListingVector

    listing = make_listing(title="海水淡化反渗透膜")
    other = make_listing(title="船舶压载水处理系统")
    db.session.commit()
    url = db.engine.url.render_as_string(hide_password=False)
    encoder = WebRequestCommitsWhileEncoding(discovery.encoder(), url, other.id)
    report = outbox.drain(discovery.backend(), encoder=encoder)
    assert (report.indexed, report.failed) == (2, 0)
    db.session.commit()
    assert db.session.get(ListingVector, listing.id) is not None
    assert outbox.backlog() >= 1  # the row the "web request" wrote meanwhile waits for the next pass


def test_commit_batch_is_only_for_jobs_the_runner_runs(app):
    import pytest

    from marketplace.jobs.runner import commit_batch

    with pytest.raises(RuntimeError):
        commit_batch()
    batches = []
    assert run_job(Job("test-batches", lambda: batches.append(commit_batch())), holder="worker").error is None
    assert batches == [None]
