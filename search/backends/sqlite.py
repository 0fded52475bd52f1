"""The embedded backend: SQLite FTS5 in its own file, BM25 with field weights.

Text arrives segmented by ``search.analysis`` (words separated by spaces), so FTS5's unicode61
tokenizer sees exactly the tokens jieba produced. Filters, facets and sorting use ordinary
columns of a side table joined on rowid. Safe with several gunicorn workers: WAL journal, a busy
timeout, one connection per thread and process.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from search import analysis
from search.backends.base import BackendUnavailable, SearchBackend
from search.documents import TEXT_FIELDS, check_document, stored_view
from search.highlight import document_highlights
from search.query import Hit, SearchQuery, SearchResult

SCHEMA_VERSION = "2"
# bm25 weights in TEXT_FIELDS order, then the bigram recall column: a term in the title says far
# more than one in the long text; a bigram-only match is a weak signal that rescues recall.
FIELD_WEIGHTS = (10.0, 6.0, 3.0, 1.0, 2.0, 0.5)
WORD_COLUMNS = "{" + " ".join(TEXT_FIELDS) + "}"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS docs (
    rowid INTEGER PRIMARY KEY,
    doc_id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    owner_id INTEGER,
    organisation_id INTEGER,
    industry TEXT,
    district TEXT,
    trl INTEGER,
    min_trl INTEGER,
    ip_type TEXT,
    modes TEXT NOT NULL DEFAULT '[]',
    org_name TEXT,
    price_cents INTEGER,
    budget_min_cents INTEGER,
    budget_max_cents INTEGER,
    challenge INTEGER NOT NULL DEFAULT 0,
    published_at TEXT,
    deadline TEXT,
    stored TEXT NOT NULL,
    vector BLOB,
    vector_model TEXT
);
CREATE INDEX IF NOT EXISTS ix_docs_kind_status_published ON docs (kind, status, published_at);
CREATE VIRTUAL TABLE IF NOT EXISTS docs_fts USING fts5(
    title, keywords, summary, description, org_name, grams, tokenize = 'unicode61 remove_diacritics 2'
);
"""

_UPSERT = """
INSERT INTO docs (doc_id, kind, status, owner_id, organisation_id, industry, district, trl, min_trl, ip_type,
                  modes, org_name, price_cents, budget_min_cents, budget_max_cents, challenge, published_at,
                  deadline, stored, vector, vector_model)
VALUES (:id, :kind, :status, :owner_id, :organisation_id, :industry, :district, :trl, :min_trl, :ip_type,
        :modes, :org_name, :price_cents, :budget_min_cents, :budget_max_cents, :challenge, :published_at,
        :deadline, :stored, :vector, :vector_model)
ON CONFLICT (doc_id) DO UPDATE SET
    kind = excluded.kind, status = excluded.status, owner_id = excluded.owner_id,
    organisation_id = excluded.organisation_id, industry = excluded.industry, district = excluded.district,
    trl = excluded.trl, min_trl = excluded.min_trl, ip_type = excluded.ip_type, modes = excluded.modes,
    org_name = excluded.org_name, price_cents = excluded.price_cents,
    budget_min_cents = excluded.budget_min_cents, budget_max_cents = excluded.budget_max_cents,
    challenge = excluded.challenge, published_at = excluded.published_at, deadline = excluded.deadline,
    stored = excluded.stored, vector = excluded.vector, vector_model = excluded.vector_model
RETURNING rowid
"""

_ORDER = {
    "newest": "d.published_at IS NULL, d.published_at DESC, d.rowid DESC",
    "price_asc": "d.price_cents IS NULL, d.price_cents ASC, d.rowid DESC",
    "price_desc": "d.price_cents IS NULL, d.price_cents DESC, d.rowid DESC",
    "budget_desc": "d.budget_max_cents IS NULL, d.budget_max_cents DESC, d.rowid DESC",
    "deadline": "d.deadline IS NULL, d.deadline ASC, d.rowid DESC",
}
# CROSS JOIN fixes SQLite's join order: full-text match first, then look each hit up. With a plain
# JOIN the planner may scan every document of the kind and run the match per row (seconds at 100k).
_MATCHED = "docs_fts f CROSS JOIN docs d ON d.rowid = f.rowid"
_FACET_COLUMNS = {"industry": "d.industry", "district": "d.district", "ip_type": "d.ip_type",
                  "trl": "d.trl", "min_trl": "d.min_trl", "challenge": "d.challenge"}


class SqliteBackend(SearchBackend):
    name = "sqlite"

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._local = threading.local()

    # ---- connection ---------------------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        connection = getattr(self._local, "connection", None)
        if connection is not None and self._local.pid == os.getpid():
            return connection
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(self.path, timeout=5.0, isolation_level=None, check_same_thread=False)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.execute("PRAGMA busy_timeout=5000")
            _ensure_schema(connection)
        except (sqlite3.Error, OSError) as error:
            raise BackendUnavailable(f"sqlite search index {self.path}: {error}") from error
        self._local.connection, self._local.pid = connection, os.getpid()
        return connection

    def _execute(self, sql: str, params: Any = ()) -> sqlite3.Cursor:
        try:
            return self._connection().execute(sql, params)
        except sqlite3.Error as error:
            raise BackendUnavailable(f"sqlite search index: {error}") from error

    def close(self) -> None:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None

    # ---- writing --------------------------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; it bumps the generation so other processes reload their vectors."""
        connection = self._connection()
        try:
            connection.execute("BEGIN IMMEDIATE")
            yield connection
            _bump_generation(connection)
            connection.execute("COMMIT")
        except BaseException as error:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            if isinstance(error, sqlite3.Error):
                raise BackendUnavailable(f"sqlite search index: {error}") from error
            raise

    def index(self, documents: Iterable[dict[str, Any]]) -> int:
        written = 0
        with self._write() as connection:
            for doc in documents:
                check_document(doc)
                rowid = connection.execute(_UPSERT, _row(doc)).fetchone()[0]
                connection.execute("DELETE FROM docs_fts WHERE rowid = ?", (rowid,))
                connection.execute(
                    "INSERT INTO docs_fts (rowid, title, keywords, summary, description, org_name, grams) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (rowid, *(_segmented_field(doc, name) for name in TEXT_FIELDS), _grams(doc)),
                )
                written += 1
        return written

    def delete(self, ids: Iterable[str]) -> None:
        with self._write() as connection:
            for doc_id in ids:
                row = connection.execute("SELECT rowid FROM docs WHERE doc_id = ?", (str(doc_id),)).fetchone()
                if row is not None:
                    connection.execute("DELETE FROM docs_fts WHERE rowid = ?", row)
                    connection.execute("DELETE FROM docs WHERE rowid = ?", row)

    def clear(self) -> None:
        with self._write() as connection:
            connection.execute("DELETE FROM docs_fts")
            connection.execute("DELETE FROM docs")

    def knn(self, vector, kind: str, k: int = 100) -> list[tuple[str, float, dict[str, Any]]]:
        ids, matrix, documents = self._vectors(kind)
        if not ids:
            return []
        query = np.asarray(vector, dtype=np.float32)
        query = query / (np.linalg.norm(query) or 1.0)
        scores = matrix @ query
        k = min(k, len(ids))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top])]
        return [(ids[i], float(scores[i]), documents[i]) for i in top]

    def _vectors(self, kind: str):
        """Published vectors of one kind as a normalised matrix, cached until the index changes."""
        generation = self._execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
        generation = generation[0] if generation else "0"
        cached = self._local.__dict__.setdefault("vectors", {}).get(kind)
        if cached is not None and cached[0] == generation:
            return cached[1:]
        rows = self._execute(
            "SELECT doc_id, vector, stored FROM docs WHERE kind = ? AND status = 'published' AND vector IS NOT NULL",
            (kind,),
        ).fetchall()
        ids = [row[0] for row in rows]
        matrix = np.vstack([np.frombuffer(row[1], dtype=np.float32) for row in rows]) if rows else None
        if matrix is not None:
            matrix = matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
        documents = [json.loads(row[2]) for row in rows]
        self._local.vectors[kind] = (generation, ids, matrix, documents)
        return ids, matrix, documents

    # ---- reading --------------------------------------------------------------------------------

    def count(self) -> int:
        return self._execute("SELECT count(*) FROM docs").fetchone()[0]

    def health(self) -> dict[str, Any]:
        try:
            documents = self.count()
        except BackendUnavailable as error:
            return {"status": "error", "backend": self.name, "error": str(error)[:200]}
        return {"status": "ok", "backend": self.name, "documents": documents}

    def search(self, query: SearchQuery) -> SearchResult:
        groups = _term_groups(query.text)
        if not groups:
            return self._run(query, groups, None)
        if query.match_any:
            return self._run(query, groups, _match_any(groups))
        result = self._run(query, groups, _match_all(groups))
        if result.total == 0 and len(groups) > 1:
            relaxed = self._run(query, groups, _match_any(groups))
            relaxed.relaxed = True
            return relaxed
        return result

    def _run(self, query: SearchQuery, groups: list[list[str]], match: str | None) -> SearchResult:
        where, params = _conditions(query, skip=None)
        source = "docs d"
        rank = "0.0"
        if match is not None:
            source = _MATCHED
            where.insert(0, "docs_fts MATCH :match")
            params["match"] = match
            rank = "bm25(docs_fts, {})".format(", ".join(str(weight) for weight in FIELD_WEIGHTS))
        order = _ORDER.get(query.sort) or ("rank" if match is not None else _ORDER["newest"])
        where_sql = " AND ".join(where) or "1"
        rows = self._execute(
            f"SELECT d.doc_id, d.stored, {rank} AS rank FROM {source} WHERE {where_sql} "
            f"ORDER BY {order} LIMIT :limit OFFSET :offset",
            {**params, "limit": query.per_page, "offset": query.offset},
        ).fetchall()
        if query.match_any and not query.facets:
            total = len(rows)  # more-like-this callers want the best candidates, not how many matched
        else:
            total = self._execute(f"SELECT count(*) FROM {source} WHERE {where_sql}", params).fetchone()[0]
        marked_terms = [term for group in groups for term in group]
        hits = []
        for doc_id, stored, score in rows:
            document = json.loads(stored)
            hits.append(Hit(id=doc_id, score=-float(score), document=document,
                            highlights=document_highlights(document, marked_terms)))
        facets = self._facets(query, match) if query.facets else {}
        return SearchResult(hits=hits, total=total, facets=facets, query_terms=[group[0] for group in groups])

    def _facets(self, query: SearchQuery, match: str | None) -> dict[str, dict[str, int]]:
        """Counts per value, each computed without that facet's own filter (multi-select facets)."""
        facets: dict[str, dict[str, int]] = {}
        for name in (*_FACET_COLUMNS, "cooperation_modes"):
            where, params = _conditions(query, skip=name)
            source = "docs d"
            if match is not None:
                source = _MATCHED
                where.insert(0, "docs_fts MATCH :match")
                params["match"] = match
            where_sql = " AND ".join(where) or "1"
            if name == "cooperation_modes":
                sql = (f"SELECT j.value, count(*) FROM {source}, json_each(d.modes) j WHERE {where_sql} "
                       "GROUP BY j.value")
            else:
                column = _FACET_COLUMNS[name]
                sql = f"SELECT {column}, count(*) FROM {source} WHERE {where_sql} AND {column} IS NOT NULL GROUP BY 1"
            facets[name] = {str(value): count for value, count in self._execute(sql, params).fetchall()}
        return facets

    def suggest(self, prefix: str, kind: str | None = None, limit: int = 8) -> list[str]:
        tokens = analysis.tokenize(prefix)
        if not tokens:
            return []
        match = " AND ".join(_quote(token) for token in tokens[:-1])
        last = "{title keywords}: " + _quote(tokens[-1]) + "*"
        match = f"{match} AND {last}" if match else last
        sql = ("SELECT DISTINCT json_extract(d.stored, '$.title') FROM " + _MATCHED + " "
               "WHERE docs_fts MATCH ? AND d.status = 'published'")
        params: list[Any] = [match]
        if kind:
            sql += " AND d.kind = ?"
            params.append(kind)
        sql += " ORDER BY bm25(docs_fts, {}) LIMIT ?".format(", ".join(str(w) for w in FIELD_WEIGHTS))
        params.append(limit)
        return [title for (title,) in self._execute(sql, params).fetchall()]


# ---- helpers ----------------------------------------------------------------------------------------

def _row(doc: dict[str, Any]) -> dict[str, Any]:
    vector = doc.get("vector")
    return {
        "id": str(doc["id"]), "kind": doc["kind"], "status": doc["status"],
        "owner_id": doc.get("owner_id"), "organisation_id": doc.get("organisation_id"),
        "industry": doc.get("industry"), "district": doc.get("district"), "trl": doc.get("trl"),
        "min_trl": doc.get("min_trl"), "ip_type": doc.get("ip_type"),
        "modes": json.dumps(doc.get("cooperation_modes") or []), "org_name": doc.get("org_name"),
        "price_cents": doc.get("price_cents"), "budget_min_cents": doc.get("budget_min_cents"),
        "budget_max_cents": doc.get("budget_max_cents"), "challenge": 1 if doc.get("challenge") else 0,
        "published_at": doc.get("published_at"), "deadline": doc.get("deadline"),
        "stored": json.dumps(stored_view(doc), ensure_ascii=False),
        "vector": _vector_bytes(vector) if vector is not None else None,
        "vector_model": doc.get("vector_model"),
    }


def _vector_bytes(vector) -> bytes:
    return np.asarray(vector, dtype=np.float32).tobytes()


def _ensure_schema(connection: sqlite3.Connection) -> None:
    """Create the index; an index written by another schema version is derived data, so it is
    dropped and rebuilt empty (`flask search reindex` refills it)."""
    connection.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
    row = connection.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    if row is not None and row[0] != SCHEMA_VERSION:
        connection.executescript("DROP TABLE IF EXISTS docs_fts; DROP TABLE IF EXISTS docs; DELETE FROM meta;")
    connection.executescript(_SCHEMA)
    connection.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (SCHEMA_VERSION,))


def _bump_generation(connection: sqlite3.Connection) -> None:
    """Every write changes the generation, so per-process vector caches know to reload."""
    connection.execute(
        "INSERT INTO meta VALUES ('generation', '1') "
        "ON CONFLICT (key) DO UPDATE SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT)"
    )


def _grams(doc: dict[str, Any]) -> str:
    texts = [doc.get(name) for name in TEXT_FIELDS]
    return " ".join(" ".join(analysis.bigrams(" ".join(text) if isinstance(text, list) else text or ""))
                    for text in texts)


def _segmented_field(doc: dict[str, Any], name: str) -> str:
    value = doc.get(name)
    if isinstance(value, list):
        value = " ".join(value)
    return analysis.segmented(value or "")


def _quote(token: str) -> str:
    return '"' + token.replace('"', '""') + '"'


def _term_groups(text: str) -> list[list[str]]:
    """One group per distinct query word: the word and its synonyms (any of them may match)."""
    groups: list[list[str]] = []
    seen: set[str] = set()
    for token in analysis.tokenize(text or ""):
        if token in seen:
            continue
        seen.add(token)
        groups.append(analysis.expand_synonyms([token]))
    return groups


def _group_expression(group: list[str]) -> str:
    """Any of the words, as a whole token in the text columns or as a run of bigrams anywhere."""
    clauses = []
    for term in group:
        clauses.append(f"{WORD_COLUMNS} : {_quote(term)}")
        grams = analysis.bigrams(term)
        if len(term) >= 2 and any(len(gram) == 2 for gram in grams):  # CJK words only
            clauses.append(f"grams : {_quote(' '.join(grams))}")
    return "(" + " OR ".join(clauses) + ")"


def _match_all(groups: list[list[str]]) -> str:
    return " AND ".join(_group_expression(group) for group in groups)


def _match_any(groups: list[list[str]]) -> str:
    return " OR ".join(_group_expression(group) for group in groups)


def _bound(where: list[str], params: dict[str, Any], column: str, operator: str, name: str, value) -> None:
    if value is not None:
        where.append(f"{column} {operator} :{name}")
        params[name] = value


def _conditions(query: SearchQuery, skip: str | None) -> tuple[list[str], dict[str, Any]]:
    """SQL conditions for the query's filters and visibility; ``skip`` leaves one facet's filter out."""
    filters, viewer = query.filters, query.viewer
    where: list[str] = []
    params: dict[str, Any] = {}
    statuses = tuple(filters.statuses) or ("published",)
    placeholders = ", ".join(f":status{i}" for i in range(len(statuses)))
    where.append(f"d.status IN ({placeholders})")
    params.update({f"status{i}": status for i, status in enumerate(statuses)})
    if not viewer.is_admin:
        visibility = ["d.status = 'published'"]
        if viewer.user_id is not None:
            visibility.append("d.owner_id = :viewer_id")
            params["viewer_id"] = viewer.user_id
        if viewer.admin_of_organisation_id is not None:
            visibility.append("d.organisation_id = :viewer_org")
            params["viewer_org"] = viewer.admin_of_organisation_id
        where.append("(" + " OR ".join(visibility) + ")")
    if filters.kind:
        where.append("d.kind = :kind")
        params["kind"] = filters.kind
    for name in ("industry", "district", "ip_type"):
        value = getattr(filters, name)
        if value and skip != name:
            where.append(f"d.{name} = :{name}")
            params[name] = value
    if filters.cooperation_mode and skip != "cooperation_modes":
        where.append("EXISTS (SELECT 1 FROM json_each(d.modes) WHERE value = :mode)")
        params["mode"] = filters.cooperation_mode
    trl_column = "d.min_trl" if filters.kind == "demand" else "d.trl"
    if skip not in ("trl", "min_trl"):
        _bound(where, params, trl_column, ">=", "trl_min", filters.trl_min)
        _bound(where, params, trl_column, "<=", "trl_max", filters.trl_max)
    # A demand fits an amount range when its budget range overlaps it; an achievement when its price is inside.
    low_column, high_column = (
        ("d.budget_max_cents", "d.budget_min_cents") if filters.kind == "demand" else ("d.price_cents", "d.price_cents")
    )
    _bound(where, params, low_column, ">=", "amount_min", filters.amount_min_cents)
    _bound(where, params, high_column, "<=", "amount_max", filters.amount_max_cents)
    if filters.org_name:
        where.append("d.org_name = :org_name")
        params["org_name"] = filters.org_name
    if filters.challenge_only and skip != "challenge":
        where.append("d.challenge = 1")
    return where, params
