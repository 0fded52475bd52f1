"""One unit of work: what a request, a job or a command leaves uncommitted is never saved by anyone
else, and side effects wait for the commit (``on_commit``), savepoints included."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from marketplace.core.transaction import on_commit, on_rollback, separate_session
from marketplace.discovery import services as discovery
from marketplace.discovery.models import SearchOutbox
from marketplace.extensions import db
from marketplace.listings.models import Listing
from search.query import Filters, SearchQuery
from tests.factories import index_everything, make_listing


def committed_title(listing_id: int) -> str:
    with separate_session() as session:
        return session.get(Listing, listing_id).title


def test_after_request_hook_never_commits_what_the_view_left_uncommitted(app, client):
    listing = make_listing(title="原来的标题")
    index_everything()

    @app.route("/_test/flush-only/<int:listing_id>", methods=["POST"])
    def flush_only(listing_id):
        # A view that changes a listing and then handles an error without committing (as the old
        # web import did with UnicodeDecodeError): its flushed change must not survive the request.
        db.session.get(Listing, listing_id).title = "未提交的标题"
        db.session.flush()
        return "handled", 200

    assert client.post(f"/_test/flush-only/{listing.id}").status_code == 200
    assert committed_title(listing.id) == "原来的标题"
    with separate_session() as session:
        assert session.scalars(select(SearchOutbox)).all() == []


def test_request_that_commits_is_pushed_to_the_index_after_its_response(app, client):
    listing = make_listing(title="原来的标题")
    index_everything()

    @app.route("/_test/commit/<int:listing_id>", methods=["POST"])
    def commit(listing_id):
        db.session.get(Listing, listing_id).title = "海水淡化正渗透膜"
        db.session.commit()
        return "saved", 200

    assert client.post(f"/_test/commit/{listing.id}").status_code == 200
    assert committed_title(listing.id) == "海水淡化正渗透膜"
    # Pushed for text search by the after-request drain; the new vector is left to the worker.
    found = discovery.backend().search(SearchQuery(text="正渗透", filters=Filters(kind="achievement")))
    assert [hit.document["title"] for hit in found.hits] == ["海水淡化正渗透膜"]
    with separate_session() as session:
        assert [row.needs_vector for row in session.scalars(select(SearchOutbox))] == [True]


def test_on_commit_outside_a_transaction_runs_at_once(app):
    ran = []
    db.session.commit()
    on_commit(lambda: ran.append("now"))
    on_rollback(lambda: ran.append("nothing to undo"))
    assert ran == ["now"]


def test_on_commit_runs_after_the_outer_commit_only(app):
    ran = []
    make_listing().title = "改一下"
    db.session.flush()
    on_commit(lambda: ran.append("outer"))
    with db.session.begin_nested():
        on_commit(lambda: ran.append("released savepoint"))
    assert ran == []  # releasing a savepoint is not a commit
    db.session.commit()
    assert ran == ["outer", "released savepoint"]


def test_on_commit_in_a_rolled_back_savepoint_is_dropped_and_its_undo_runs(app):
    ran = []
    make_listing().title = "改一下"
    db.session.flush()
    with pytest.raises(RuntimeError):
        with db.session.begin_nested():
            on_commit(lambda: ran.append("kept?"))
            on_rollback(lambda: ran.append("undone"))
            raise RuntimeError
    on_commit(lambda: ran.append("outer"))
    db.session.commit()
    assert ran == ["undone", "outer"]


def test_on_commit_is_dropped_when_the_transaction_rolls_back(app):
    ran = []
    make_listing().title = "改了又不要了"
    db.session.flush()
    on_commit(lambda: ran.append("mail"))
    on_rollback(lambda: ran.append("clean-up"))
    db.session.rollback()
    db.session.commit()
    assert ran == ["clean-up"]


def test_a_failing_callback_does_not_stop_the_others(app):
    ran = []
    make_listing().title = "改一下"
    db.session.flush()
    on_commit(lambda: 1 / 0)
    on_commit(lambda: ran.append("second"))
    db.session.commit()
    assert ran == ["second"]
