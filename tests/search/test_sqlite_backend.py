"""What only the sqlite backend does: its vector matrix, its any-word pruning, its file migrations."""

from __future__ import annotations

import json
import sqlite3

import pytest

from search.backends.sqlite import SqliteBackend
from search.backends.sqlite_schema import SCHEMA_VERSION
from search.backends.sqlite_terms import COMMON_MIN_DOCUMENTS, informative_groups
from search.query import SearchQuery
from tests.search.docs import doc


@pytest.fixture
def backend(tmp_path):
    engine = SqliteBackend(tmp_path / "index.sqlite")
    yield engine
    engine.close()


def nearest(engine, vector, kind="achievement", k=10):
    return [(doc_id, round(score, 4)) for doc_id, score, _ in engine.knn(vector, kind, k)]


def test_knn_ranks_by_cosine_and_returns_the_stored_documents(backend):
    backend.index(
        [
            doc(1, "甲", [1.0, 0.0]),
            doc(2, "乙", [0.6, 0.8]),
            doc(3, "丙", [0.0, 2.0]),
            doc(4, "丁", [1.0, 0.0], kind="demand"),
            doc(5, "戊", [1.0, 0.0], status="draft"),
            doc(6, "无向量"),
        ]
    )
    assert nearest(backend, [3.0, 0.0]) == [("1", 1.0), ("2", 0.6), ("3", 0.0)]
    assert nearest(backend, [3.0, 0.0], k=2) == [("1", 1.0), ("2", 0.6)]
    assert backend.knn([1.0, 0.0], "achievement", 1)[0][2]["title"] == "甲"
    assert nearest(backend, [1.0, 0.0], kind="demand") == [("4", 1.0)]


def test_knn_follows_writes_made_after_its_matrix_was_built(backend, tmp_path):
    backend.index([doc(i, vector=[1.0, i / 10]) for i in range(1, 6)])
    other_worker = SqliteBackend(tmp_path / "index.sqlite")
    assert len(nearest(other_worker, [1.0, 0.0])) == 5  # its matrix is built now
    backend.delete(["1"])
    backend.index(
        [doc(2, vector=[-1.0, 0.0]), doc(3, vector=[1.0, 0.0], status="archived"), doc(7, vector=[1.0, 0.0]), doc(4)]
    )  # moved away, unpublished, new, vector dropped
    assert [doc_id for doc_id, _ in nearest(other_worker, [1.0, 0.0])] == ["7", "5", "2"]
    assert nearest(other_worker, [1.0, 0.0])[-1] == ("2", -1.0)
    backend.clear()
    assert nearest(other_worker, [1.0, 0.0]) == []


def test_knn_catches_up_on_a_rowid_freed_and_taken_again(backend, tmp_path):
    backend.index([doc(1, vector=[1.0, 0.0]), doc(2, vector=[0.0, 1.0])])
    other_worker = SqliteBackend(tmp_path / "index.sqlite")
    assert [doc_id for doc_id, _ in nearest(other_worker, [0.0, 1.0])][0] == "2"
    backend.delete(["2"])  # rowid 2 is free again …
    backend.index([doc(3, vector=[0.0, -1.0])])  # … and SQLite hands it to the next document
    assert nearest(other_worker, [0.0, 1.0]) == [("1", 0.0), ("3", -1.0)]


def test_informative_groups_drop_common_words_and_keep_the_rarest():
    groups = [["研究"], ["压载水"], ["方法"], ["紫外"], ["d-2"]]
    frequencies = {"研究": 60_000, "压载水": 40, "方法": 30_000, "紫外": 900}
    assert informative_groups(groups, frequencies, 100_000, None) == [["压载水"], ["紫外"], ["d-2"]]
    # max_terms keeps the rarest known words; a word the vocabulary does not know is kept
    assert informative_groups(groups, frequencies, 100_000, 1) == [["压载水"], ["d-2"]]
    # only common words: the rarest still asks, so the query finds something
    assert informative_groups([["研究"], ["方法"]], frequencies, 100_000, None) == [["方法"]]
    # a small index has no common words: its posting lists are short anyway
    small = {"研究": COMMON_MIN_DOCUMENTS - 1, "压载水": 1}
    assert informative_groups([["研究"], ["压载水"]], small, COMMON_MIN_DOCUMENTS, None) == [["研究"], ["压载水"]]


def test_lexical_returns_ids_scores_and_documents_best_first(backend):
    backend.index(
        [
            doc(1, "船舶压载水处理系统"),
            doc(2, "压载水在线监测"),
            doc(3, "海藻酸盐敷料"),
            doc(4, "压载水处理", kind="demand"),
        ]
    )
    ranked = backend.lexical("压载水 紫外 处理系统 需求", "achievement", 10)
    assert [doc_id for doc_id, _, _ in ranked] == ["1", "2"]
    assert ranked[0][1] > ranked[1][1] > 0 and ranked[0][2]["title"] == "船舶压载水处理系统"


def test_relaxed_search_reports_what_it_ranked_by(backend):
    backend.index([doc(1, "船舶压载水处理系统"), doc(2, "海藻酸盐敷料")])
    result = backend.search(SearchQuery(text="压载水 区块链"))
    assert result.relaxed and [hit.id for hit in result.hits] == ["1"] and result.total == 1
    assert result.facets["industry"] == {"new_materials": 1}


VERSION_2 = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE docs (rowid INTEGER PRIMARY KEY, doc_id TEXT NOT NULL UNIQUE, kind TEXT NOT NULL, status TEXT NOT NULL,
    owner_id INTEGER, organisation_id INTEGER, industry TEXT, district TEXT, trl INTEGER, min_trl INTEGER,
    ip_type TEXT, modes TEXT NOT NULL DEFAULT '[]', org_name TEXT, price_cents INTEGER, budget_min_cents INTEGER,
    budget_max_cents INTEGER, challenge INTEGER NOT NULL DEFAULT 0, published_at TEXT, deadline TEXT,
    stored TEXT NOT NULL, vector BLOB, vector_model TEXT);
CREATE INDEX ix_docs_kind_status_published ON docs (kind, status, published_at);
CREATE VIRTUAL TABLE docs_fts USING fts5(title, keywords, summary, description, org_name, grams,
    tokenize = 'unicode61 remove_diacritics 2');
INSERT INTO meta VALUES ('schema_version', '2'), ('generation', '7');
INSERT INTO docs (doc_id, kind, status, industry, stored, vector, vector_model)
    VALUES ('42', 'achievement', 'published', 'new_materials', '{"id": "42", "title": "压载水处理"}',
            X'0000803F00000000', 'test');
INSERT INTO docs_fts (rowid, title, keywords, summary, description, org_name, grams)
    VALUES (1, '压载水 处理', '', '', '', '', '压载 载水 水处 处理');
"""


def test_a_version_2_file_is_migrated_in_place_with_its_documents(tmp_path):
    path = tmp_path / "index.sqlite"
    with sqlite3.connect(path) as connection:
        connection.executescript(VERSION_2)
    engine = SqliteBackend(path)
    assert [hit.id for hit in engine.search(SearchQuery(text="压载水")).hits] == ["42"]
    assert engine.search(SearchQuery(text="压载水")).hits[0].document == {"id": "42", "title": "压载水处理"}
    assert nearest(engine, [1.0, 0.0]) == [("42", 1.0)]
    version = engine._execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0]
    assert version == SCHEMA_VERSION
    columns = [row[1] for row in engine._execute("PRAGMA table_info(docs)").fetchall()]
    assert "stored" not in columns and "vector" not in columns  # the wide columns moved out


def test_a_file_of_an_unknown_version_is_emptied(tmp_path):
    path = tmp_path / "index.sqlite"
    with sqlite3.connect(path) as connection:
        connection.executescript(
            "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);"
            "INSERT INTO meta VALUES ('schema_version', '1');"
            "CREATE TABLE docs (rowid INTEGER PRIMARY KEY, whatever TEXT);"
        )
    engine = SqliteBackend(path)
    assert engine.count() == 0
    engine.index([doc(1, "压载水处理")])
    assert json.loads(engine._execute("SELECT doc FROM stored").fetchone()[0])["title"] == "压载水处理"
