"""Search index faults as the site shows them: browse falls back, /healthz says degraded (503)
with reasons and no file paths, and only an explicit reindex makes a new index file."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from marketplace.core.models import utcnow
from marketplace.discovery import outbox
from marketplace.discovery import services as discovery
from marketplace.discovery.models import SearchOutbox
from marketplace.extensions import db
from tests.factories import make_listing

DEGRADED_NOTICE = "搜索服务暂时不可用"


def index_everything():
    while outbox.backlog():
        outbox.drain(discovery.backend(), encoder=discovery.encoder())


@pytest.fixture
def indexed(app):
    listings = [make_listing(title="海水淡化反渗透膜"), make_listing(title="冷链车厢隔热材料")]
    index_everything()
    return listings


def index_path(app) -> Path:
    return Path(app.config["SEARCH_INDEX_PATH"])


def remove_index(app) -> None:
    live = Path(os.path.realpath(index_path(app)))
    for file in (index_path(app), live):
        for suffix in ("", "-wal", "-shm"):
            Path(f"{file}{suffix}").unlink(missing_ok=True)


def assert_no_paths(body: str, app) -> None:
    assert str(Path(app.instance_path)) not in body
    assert "search-index" not in body and "/tmp" not in body


def test_healthz_everything_indexed_ok_200(client, indexed):
    response = client.get("/healthz")

    assert response.status_code == 200, response.json
    assert response.json["status"] == "ok" and response.json["reasons"] == []
    assert response.json["checks"]["search"]["documents"] == 2


def test_browse_index_file_missing_falls_back_and_is_not_recreated(client, app, indexed):
    remove_index(app)

    page = client.get("/achievements").get_data(as_text=True)

    assert DEGRADED_NOTICE in page and "海水淡化反渗透膜" in page  # from the database
    assert not index_path(app).exists()
    make_listing(title="索引缺失时发布的成果")  # a write meanwhile must not start an empty index
    client.get("/demands")
    assert not index_path(app).exists()


def test_healthz_index_file_missing_degraded_503_without_paths(client, app, indexed):
    remove_index(app)

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json["status"] == "degraded"
    assert any("search index unavailable" in reason for reason in response.json["reasons"])
    assert_no_paths(response.get_data(as_text=True), app)


def test_reindex_after_index_file_missing_restores_service(client, app, runner, indexed):
    remove_index(app)
    assert client.get("/healthz").status_code == 503

    result = runner.invoke(args=["search", "reindex"])

    assert result.exit_code == 0, result.output
    assert "reindexed 2 listings" in result.output
    response = client.get("/healthz")
    assert response.status_code == 200, response.json
    assert DEGRADED_NOTICE not in client.get("/achievements").get_data(as_text=True)


def test_browse_broken_index_file_restored_serves_from_index_again(client, app, indexed, tmp_path):
    discovery.backend()._execute("PRAGMA wal_checkpoint(TRUNCATE)")
    path = Path(os.path.realpath(index_path(app)))
    kept = tmp_path / "kept-index"
    os.replace(path, kept)
    path.write_bytes(b"not an index" * 400)
    assert DEGRADED_NOTICE in client.get("/achievements").get_data(as_text=True)

    os.replace(kept, path)

    response = client.get("/achievements")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert DEGRADED_NOTICE not in page and "海水淡化反渗透膜" in page
    assert client.get("/healthz").status_code == 200


def test_healthz_outbox_row_older_than_limit_degraded_503(client, app, indexed):
    app.config["HEALTH_OUTBOX_MAX_AGE_SECONDS"] = 300
    make_listing(title="还没进索引的成果")
    db.session.execute(update(SearchOutbox).values(created_at=utcnow() - timedelta(minutes=10)))
    db.session.commit()

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json["status"] == "degraded"
    assert any("outbox stalled" in reason for reason in response.json["reasons"])
    assert response.json["checks"]["search"]["outbox_oldest_age_seconds"] >= 600


def test_healthz_recent_outbox_row_still_ok(client, app, indexed):
    make_listing(title="刚发布的成果")  # waiting a moment to be indexed is normal

    response = client.get("/healthz")

    assert response.status_code == 200, response.json


def test_healthz_index_count_differs_from_database_degraded_503(client, app, indexed):
    discovery.backend().delete([str(indexed[0].id)])

    response = client.get("/healthz")

    assert response.status_code == 503
    assert any("1 documents" in reason and "2 listings" in reason for reason in response.json["reasons"])


def test_public_error_scrubs_paths_and_urls():
    message = discovery.public_error(
        "sqlite search index /srv/app/instance/search-index.sqlite: unable to open; "
        "http://elastic:secret@10.0.0.5:9200/_bulk failed; C:\\data\\index.sqlite"
    )

    assert "/srv" not in message and "secret" not in message and "C:" not in message
    assert "<path>" in message and "<url>" in message
