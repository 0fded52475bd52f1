"""The search index follows listings through the outbox, survives backend outages, and serves browse pages."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from marketplace.discovery import outbox
from marketplace.discovery import services as discovery
from marketplace.discovery.models import ListingVector, SearchOutbox
from marketplace.extensions import db
from marketplace.listings import services as listing_services
from marketplace.listings.models import Listing
from search.backends import BackendUnavailable
from search.query import Filters, SearchQuery
from tests.factories import login, make_listing, make_user


class BrokenBackend:
    """Stands in for a search server that is down."""

    name = "broken"

    def __getattr__(self, name):
        def unavailable(*args, **kwargs):
            raise BackendUnavailable("connection refused")

        return unavailable


@pytest.fixture
def search_down(app):
    working = discovery.backend()
    app.extensions["search_backend"] = BrokenBackend()
    yield lambda: app.extensions.__setitem__("search_backend", working)
    app.extensions["search_backend"] = working


def backlog_ids() -> list[int]:
    db.session.commit()  # end this session's read snapshot: drains commit in a session of their own
    return sorted(db.session.scalars(select(SearchOutbox.listing_id)))


def indexed_titles(text: str = "", kind: str = "achievement") -> list[str]:
    result = discovery.backend().search(SearchQuery(text=text, filters=Filters(kind=kind)))
    return [hit.document["title"] for hit in result.hits]


def test_listing_change_writes_outbox_row_in_the_same_transaction(app):
    listing = make_listing(title="海水淡化反渗透膜")
    assert backlog_ids() == [listing.id]
    listing.title = "海水淡化正渗透膜"
    db.session.rollback()  # an abandoned change leaves no outbox row behind
    assert backlog_ids() == [listing.id]


def test_drain_indexes_current_state_and_empties_outbox(app):
    listing = make_listing(title="海水淡化反渗透膜")
    listing.title = "海水淡化正渗透膜"
    db.session.commit()
    report = outbox.drain(discovery.backend())
    assert (report.indexed, report.failed, report.awaiting_vectors) == (1, 0, 1)
    assert indexed_titles("正渗透") == ["海水淡化正渗透膜"]  # searchable at once …
    assert db.session.scalar(select(SearchOutbox.needs_vector)) is True  # … the vector is the worker's job
    assert outbox.drain(discovery.backend()).indexed == 0  # request-path drains skip it

    report = outbox.drain(discovery.backend(), encoder=discovery.encoder())
    assert (report.indexed, report.awaiting_vectors) == (1, 0)
    assert backlog_ids() == []
    stored = db.session.get(ListingVector, listing.id)
    assert stored.encoder == discovery.encoder().name and len(stored.vector) == 4 * discovery.encoder().dim


def test_requests_look_for_rows_they_can_send_not_for_the_workers(app, search_down):
    make_listing(title="海水淡化反渗透膜")
    db.session.commit()
    assert outbox.has_due() and outbox.has_due(with_encoder=True)
    assert outbox.drain(discovery.backend()).failed == 1  # search is down: the row backs off
    db.session.commit()  # the drain wrote in a session of its own: read afresh
    assert not outbox.has_due(with_encoder=True) and outbox.backlog() == 1
    assert discovery.catch_up() is None  # a search does not retry a row that is backing off

    row = db.session.scalar(select(SearchOutbox))
    row.next_attempt_at, row.needs_vector = None, True  # indexed for text; only the worker may finish it
    db.session.commit()
    assert not outbox.has_due() and outbox.has_due(with_encoder=True)
    assert discovery.catch_up() is None


def test_reindex_reuses_stored_vectors_and_changed_text_reembeds(app, runner):
    listing = make_listing(title="海水淡化反渗透膜")
    outbox.drain(discovery.backend(), encoder=discovery.encoder())
    first = db.session.get(ListingVector, listing.id).vector
    result = runner.invoke(args=["search", "reindex"])
    assert "no current vector" not in result.output
    listing = db.session.get(Listing, listing.id)  # the command cleared the session as it went
    listing.status = "archived"  # not part of the encoded text: the vector stays
    db.session.commit()
    outbox.drain(discovery.backend(), encoder=discovery.encoder())
    assert db.session.get(ListingVector, listing.id).vector == first
    listing.title = "船舶压载水处理系统"
    db.session.commit()
    outbox.drain(discovery.backend(), encoder=discovery.encoder())
    assert db.session.get(ListingVector, listing.id).vector != first


def test_reindex_queues_stale_vectors_for_the_worker(app, runner):
    listing = make_listing(title="海水淡化反渗透膜")
    outbox.drain(discovery.backend(), encoder=discovery.encoder())
    stored = db.session.get(ListingVector, listing.id)
    stored.text_hash = "encoded-by-an-older-release"
    db.session.commit()
    result = runner.invoke(args=["search", "reindex"])
    assert result.exit_code == 0 and "1 listings have no current vector yet: queued for the worker" in result.output
    assert outbox.drain(discovery.backend()).indexed == 0  # requests leave the encoding to the worker
    assert outbox.backlog() == 1
    runner.invoke(args=["search", "sync"])
    assert outbox.backlog() == 0
    db.session.rollback()  # the sync wrote in a session of its own: read it afresh
    assert db.session.get(ListingVector, listing.id).text_hash != "encoded-by-an-older-release"


def test_deleted_listing_is_removed_from_index(app):
    researcher = make_user("researcher")
    listing = make_listing(owner=researcher, status="draft", title="可删除的草稿成果")
    outbox.drain(discovery.backend())
    listing_services.delete_draft(researcher, listing)
    db.session.commit()
    assert outbox.drain(discovery.backend()).deleted == 1
    assert discovery.backend().count() == 0


def test_save_succeeds_while_search_is_down_and_outbox_catches_up_later(client, search_down):
    researcher = make_user("researcher")
    login(client, researcher)
    response = client.post(
        "/listings/new/achievement",
        data={
            "title": "深远海养殖工船水质调控",
            "summary": "溶解氧在线调控",
            "industry": "modern_fishery",
            "action": "draft",
        },
        follow_redirects=True,
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "草稿已保存" in page
    assert "搜索服务暂时不可用" in page
    listing_id = backlog_ids()[0]
    row = db.session.scalar(select(SearchOutbox))
    assert row.attempts == 1 and "connection refused" in row.last_error

    search_down()  # the backend comes back
    outbox.retry_now()
    db.session.commit()
    assert outbox.drain(discovery.backend(), encoder=discovery.encoder()).indexed == 1
    assert backlog_ids() == []
    wide = SearchQuery(text="养殖工船", filters=Filters(statuses=("draft",)), viewer=discovery.viewer_for(researcher))
    assert [hit.id for hit in discovery.backend().search(wide).hits] == [str(listing_id)]


def test_browse_falls_back_to_database_when_search_is_down(client, search_down):
    make_listing(title="海藻酸盐医用敷料")
    page = client.get("/achievements").get_data(as_text=True)
    assert "海藻酸盐医用敷料" in page
    assert "搜索服务暂时不可用" in page


def test_backed_off_rows_wait_until_due(app, search_down):
    make_listing(title="船舶压载水处理")
    assert outbox.drain(discovery.backend()).failed == 1
    search_down()
    assert outbox.drain(discovery.backend()).indexed == 0  # not due yet: back-off
    outbox.retry_now()
    db.session.commit()
    assert outbox.drain(discovery.backend()).indexed == 1


def test_browse_search_ranks_and_highlights(client):
    make_listing(title="冷链运输车厢高效隔热材料", summary="气凝胶复合板", keywords=["隔热"])
    make_listing(title="医用敷料", summary="止血")
    page = client.get("/achievements?q=车厢保温").get_data(as_text=True)
    assert "<mark>车厢</mark>" in page  # highlighted; 保温 found 隔热 through the synonym table
    assert "医用敷料" not in page
    assert "共 1 条" in page


def test_browse_shows_facet_counts(client):
    make_listing(title="成果甲", industry="new_materials")
    make_listing(title="成果乙", industry="new_materials")
    make_listing(title="成果丙", industry="aerospace")
    page = client.get("/achievements?industry=aerospace").get_data(as_text=True)
    assert "化工新材料 (2)" in page and "航空航天 (1)" in page


def test_healthz_reports_search_and_outbox_backlog(client, search_down):
    make_listing()
    body = client.get("/healthz")
    assert body.status_code == 503  # the site still serves without search, but monitoring must hear of it
    assert body.json["status"] == "degraded"
    assert body.json["checks"]["search"]["status"] == "error"
    assert body.json["checks"]["search"]["outbox_backlog"] == 1


def test_suggest_returns_published_titles(client):
    make_listing(title="海藻酸盐医用敷料")
    make_listing(title="海藻养殖机械", status="draft")
    outbox.drain(discovery.backend())
    assert client.get("/search/suggest?q=海藻").json["suggestions"] == ["海藻酸盐医用敷料"]


def test_cli_sync_reindex_and_query(runner):
    make_listing(title="海水淡化反渗透膜", external_id="A-1")
    make_listing(title="冷链车厢隔热材料", external_id="A-2")
    result = runner.invoke(args=["search", "sync"])
    assert result.exit_code == 0 and "indexed 2" in result.output and "backlog: 0" in result.output
    discovery.backend().clear()
    result = runner.invoke(args=["search", "reindex"])
    assert result.exit_code == 0 and "reindexed 2 listings" in result.output
    result = runner.invoke(args=["search", "query", "隔热", "--kind", "achievement"])
    lines = [json.loads(line) for line in result.output.strip().splitlines()]
    assert [line["external_id"] for line in lines] == ["A-2"]


def test_cli_query_file_prints_one_line_per_query(runner, tmp_path):
    make_listing(title="海水淡化反渗透膜", external_id="A-1")
    make_listing(title="冷链车厢隔热材料", external_id="A-2")
    queries = tmp_path / "queries.jsonl"
    queries.write_text('{"id": "q1", "text": "海水淡化"}\n{"id": "q2", "text": "隔热"}\n', encoding="utf-8")
    result = runner.invoke(args=["search", "query", "--queries", str(queries)])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.strip().splitlines()]
    assert [(line["query_id"], [hit["external_id"] for hit in line["hits"]]) for line in lines] == [
        ("q1", ["A-1"]),
        ("q2", ["A-2"]),
    ]


def test_outbox_rows_count_matches_changes_in_bulk_import(app):
    from marketplace.listings.interchange import import_lines

    records = [
        json.dumps(
            {
                "kind": "demand",
                "external_id": f"D-{n}",
                "title": f"需求{n}",
                "description": "说明",
                "industry": "new_materials",
            },
            ensure_ascii=False,
        )
        for n in range(3)
    ]
    import_lines(records)
    assert db.session.scalar(select(func.count(func.distinct(SearchOutbox.listing_id)))) == 3


class RefusesOneDocument:
    """A working backend that refuses any document whose title holds 坏 (as Elasticsearch refuses a
    document its mapping rejects)."""

    def __init__(self, backend):
        self.backend = backend

    def index(self, documents):
        from search.documents import DocumentError

        if any("坏" in document["title"] for document in documents):
            raise DocumentError("mapper_parsing_exception: 坏")
        return self.backend.index(documents)

    def __getattr__(self, name):
        return getattr(self.backend, name)


def test_one_refused_listing_backs_off_alone_and_the_others_are_indexed(app):
    good = make_listing(title="海水淡化反渗透膜")
    bad = make_listing(title="坏文档")
    db.session.commit()
    report = outbox.drain(RefusesOneDocument(discovery.backend()))
    assert (report.indexed, report.failed) == (1, 1)
    assert indexed_titles("反渗透") == [good.title]
    db.session.commit()
    rows = {row.listing_id: row for row in db.session.scalars(select(SearchOutbox))}
    assert (rows[bad.id].attempts, rows[bad.id].last_error) == (1, "mapper_parsing_exception: 坏")
    assert (rows[good.id].last_error, rows[good.id].needs_vector) == (None, True)  # only its vector waits
