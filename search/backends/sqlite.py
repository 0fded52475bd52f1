"""The embedded backend: SQLite FTS5 in its own file, BM25 with field weights.

Text arrives segmented by ``search.analysis`` (words separated by spaces), so FTS5's unicode61
tokenizer sees exactly the tokens jieba produced. Filters, facets and sorting use ordinary
columns of a narrow side table joined on rowid (schema in ``sqlite_schema``). Safe with several
gunicorn workers: WAL journal, a busy timeout, one connection per thread and process.

A full rebuild (``reindexing``) fills a new file beside the live one and swaps it in atomically
(``sqlite_files``); connections notice the swap by the file's identity and reopen.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from search import analysis
from search import filters as spec
from search.backends import sqlite_files
from search.backends.base import BackendUnavailable, Scored, SearchBackend
from search.backends.sqlite_schema import SCHEMA_VERSION, ensure_schema, next_generation, prune_tombstones, read_state
from search.backends.sqlite_terms import (
    DocumentFrequencies,
    common_frequency,
    informative_groups,
    match_all,
    match_any,
    quote,
    term_groups,
)
from search.backends.sqlite_vectors import VectorCache
from search.documents import TEXT_FIELDS, check_document, stored_view
from search.highlight import document_highlights
from search.query import Hit, SearchQuery, SearchResult

__all__ = ["SCHEMA_VERSION", "SqliteBackend"]

# bm25 weights in TEXT_FIELDS order, then the bigram recall column: a term in the title says far
# more than one in the long text; a bigram-only match is a weak signal that rescues recall.
FIELD_WEIGHTS = (10.0, 6.0, 3.0, 1.0, 2.0, 0.5)
BM25 = "bm25(docs_fts, {})".format(", ".join(str(weight) for weight in FIELD_WEIGHTS))
# lexical() over a whole demand (hundreds of characters, 50+ distinct words) leaves out its most
# common words once their posting lists add up to more than this: BM25 time grows with the matching
# documents times the words, and the common words are those BM25 weighs least.
LEXICAL_MAX_POSTINGS = 10_000
# Per connection: the narrow docs table and the FTS index's hot pages stay in memory.
CACHE_KIB = 16 * 1024
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
# Facet -> the filter its counts leave out (trl and min_trl share the TRL range filter).
_FACETS = {
    "industry": "industry",
    "district": "district",
    "ip_type": "ip_type",
    "trl": "trl",
    "min_trl": "trl",
    "challenge": "challenge",
    "cooperation_modes": "cooperation_modes",
    "org_name": "org_name",
}
# d.kind: without a kind, kind-dependent filters test each row by its kind's rule (search/filters.py).
_FACET_COLUMNS = "d.kind, d.industry, d.district, d.ip_type, d.trl, d.min_trl, d.challenge, d.modes, d.org_name"
# Organisations are many at scale: a facet lists the busiest, as a filter panel can show them.
ORG_FACET_SIZE = 30
# What a text search keeps of each matching row: facet, filter and sort columns.
_MATERIALISED = f"{_FACET_COLUMNS}, d.published_at, d.price_cents, d.budget_max_cents, d.deadline"


class SqliteBackend(SearchBackend):
    name = "sqlite"

    def __init__(self, path: str | os.PathLike, may_create: Callable[[], bool] | None = None):
        """``may_create`` says whether a missing index file may be created empty (asked only when
        it is missing; None: always). An application passes "only when there is nothing to index":
        a lost file silently replaced by an empty one would show every search empty and healthy.
        ``create`` and ``reindexing`` always create it."""
        self.path = Path(path)
        self._may_create = may_create or (lambda: True)
        self._local = threading.local()
        self._vectors = VectorCache()
        self._frequencies = DocumentFrequencies()

    # ---- connection ---------------------------------------------------------------------------

    def _connection(self, create: bool = False) -> sqlite3.Connection:
        """This thread's connection to the live file; reopened when a rebuild swapped the file,
        or when it was closed or broken (an index file restored after a fault)."""
        connection = getattr(self._local, "connection", None)
        if connection is not None and self._local.pid == os.getpid():
            if sqlite_files.identity(self.path) == self._local.identity and _is_open(connection):
                return connection
            self._forget_connection()
        identity = sqlite_files.identity(self.path)
        if identity is None and not (create or self._may_create()):
            raise BackendUnavailable(
                f"sqlite search index {self.path} is missing: `flask search reindex` rebuilds it from the database"
            )
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            connection = _open(sqlite_files.live_file(self.path), create=identity is None)
            identity = sqlite_files.identity(self.path)
        except (sqlite3.Error, OSError) as error:
            raise BackendUnavailable(f"sqlite search index {self.path}: {error}") from error
        self._local.connection, self._local.pid, self._local.identity = connection, os.getpid(), identity
        return connection

    def _forget_connection(self) -> None:
        """Close this thread's connection (if any) and forget it, so the next call opens afresh."""
        connection = getattr(self._local, "connection", None)
        self._local.connection = None
        if connection is not None:
            try:
                connection.close()
            except sqlite3.Error:
                pass

    def _unavailable(self, error: sqlite3.Error) -> BackendUnavailable:
        """The error to raise for ``error``; a connection left unusable by it is dropped first
        (a file that is not, or no longer, a database: the next call reopens whatever is there now)."""
        if not isinstance(error, sqlite3.OperationalError) or "no such table" in str(error):
            self._forget_connection()
        return BackendUnavailable(f"sqlite search index: {error}")

    def _execute(self, sql: str, params: Any = ()) -> sqlite3.Cursor:
        try:
            return self._connection().execute(sql, params)
        except sqlite3.Error as error:
            raise self._unavailable(error) from error

    def create(self) -> None:
        """Create the (empty) index file if there is none: first-time setup, or before a rebuild."""
        self._connection(create=True)

    def close(self) -> None:
        self._forget_connection()

    # ---- writing --------------------------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[tuple[sqlite3.Connection, int]]:
        """One write transaction on the live file, with its generation number.

        The write lock is taken first, then the file checked: a rebuild swaps files while holding
        that lock, so a writer that got it on a file no longer live reopens and writes to the new one."""
        for _attempt in range(3):
            connection = self._connection()
            try:
                connection.execute("BEGIN IMMEDIATE")
                if sqlite_files.identity(self.path) != self._local.identity:
                    connection.execute("ROLLBACK")
                    continue
                generation = next_generation(connection)
                yield connection, generation
                prune_tombstones(connection, generation)
                connection.execute("COMMIT")
                return
            except BaseException as error:
                try:
                    if connection.in_transaction:
                        connection.execute("ROLLBACK")
                except sqlite3.Error:
                    self._forget_connection()
                if isinstance(error, sqlite3.Error):
                    raise self._unavailable(error) from error
                raise
        raise BackendUnavailable(f"sqlite search index {self.path}: swapped repeatedly while writing")

    def index(self, documents: Iterable[dict[str, Any]]) -> int:
        documents = [check_document(doc) for doc in documents]
        with self._write() as (connection, generation):
            _write_documents(connection, documents, generation)
            if _rebuilding(connection):
                connection.executemany(
                    "INSERT INTO rebuild_log (op, doc_id, doc) VALUES ('index', ?, ?)",
                    [(str(doc["id"]), _journal_json(doc)) for doc in documents],
                )
        return len(documents)

    def delete(self, ids: Iterable[str]) -> None:
        ids = [str(doc_id) for doc_id in ids]
        with self._write() as (connection, generation):
            _delete_documents(connection, ids, generation)
            if _rebuilding(connection):
                connection.executemany(
                    "INSERT INTO rebuild_log (op, doc_id) VALUES ('delete', ?)", [(doc_id,) for doc_id in ids]
                )

    def clear(self) -> None:
        with self._write() as (connection, generation):
            for table in ("docs_fts", "docs", "stored", "vectors", "tombstones"):
                connection.execute(f"DELETE FROM {table}")
            # Every cached vector matrix predates this: they reload in full.
            connection.execute(
                "INSERT INTO meta VALUES ('tombstone_floor', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (str(generation),),
            )

    @contextmanager
    def reindexing(self) -> Iterator[Callable[[Iterable[dict[str, Any]]], int]]:
        """``with backend.reindexing() as write: write(batch)…`` fills a new file beside the live
        one; searches keep answering from the live file until it is swapped in at the end.

        Writes from any process meanwhile go to the live file and, while the rebuild marker is
        set, into its ``rebuild_log``; the log is replayed into the new file under the live
        file's write lock, right before the swap, so no change is lost or applied out of order.
        If the block raises, the new file is dropped and nothing changes."""
        from search.backends.sqlite_rebuild import Rebuild  # the rare path, kept out of the common one

        self.create()  # an explicit rebuild may start from no index at all
        rebuild = Rebuild(self)
        try:
            yield rebuild.write
        except BaseException:
            rebuild.abort()
            raise
        rebuild.finish()

    # ---- reading --------------------------------------------------------------------------------

    def count(self) -> int:
        return self._execute("SELECT count(*) FROM docs").fetchone()[0]

    def health(self) -> dict[str, Any]:
        try:
            documents = self.count()
        except BackendUnavailable as error:
            return {"status": "error", "backend": self.name, "error": str(error)[:200]}
        return {"status": "ok", "backend": self.name, "documents": documents}

    def knn(self, vector: Sequence[float], kind: str, k: int = 100) -> list[Scored]:
        try:
            nearest = self._vectors.nearest(self._connection(), kind, vector, k)
        except sqlite3.Error as error:
            raise self._unavailable(error) from error
        documents = self._documents([rowid for rowid, _ in nearest])
        return [(documents[rowid][0], score, documents[rowid][1]) for rowid, score in nearest if rowid in documents]

    def lexical(
        self, text: str, kind: str, k: int = 100, max_postings: int | None = LEXICAL_MAX_POSTINGS
    ) -> list[Scored]:
        """BM25 against any word of ``text`` but the most common ones, rarest first within a budget
        of ``max_postings`` (None: no budget; see ``sqlite_terms.informative_groups``)."""
        groups = self._informative(term_groups(text), max_postings)
        if not groups:
            return []
        rows = self._execute(
            f"SELECT d.rowid, {BM25} AS rank FROM {_MATCHED} WHERE docs_fts MATCH :match AND d.kind = :kind "
            "AND d.status = 'published' ORDER BY rank LIMIT :limit",
            {"match": match_any(groups), "kind": kind, "limit": k},
        ).fetchall()
        documents = self._documents([rowid for rowid, _ in rows])
        return [(documents[rowid][0], -float(rank), documents[rowid][1]) for rowid, rank in rows if rowid in documents]

    def _informative(self, groups: list[list[str]], max_postings: int | None) -> list[list[str]]:
        if len(groups) <= 1:
            return groups
        connection = self._connection()
        try:
            index_id = read_state(connection)[0]
            documents = self._frequencies.documents(connection, index_id)
            frequencies = self._frequencies.lookup(
                connection, index_id, [term for group in groups for term in group], cap=common_frequency(documents) + 1
            )
        except sqlite3.Error as error:
            raise self._unavailable(error) from error
        return informative_groups(groups, frequencies, documents, max_postings)

    def _documents(self, rowids: list[int]) -> dict[int, tuple[str, dict[str, Any]]]:
        """{rowid: (doc_id, stored document)} for the rows a result shows."""
        if not rowids:
            return {}
        marks = ", ".join("?" * len(rowids))
        rows = self._execute(
            "SELECT d.rowid, d.doc_id, s.doc FROM docs d JOIN stored s ON s.rowid = d.rowid "
            f"WHERE d.rowid IN ({marks})",
            rowids,
        ).fetchall()
        return {rowid: (doc_id, json.loads(doc)) for rowid, doc_id, doc in rows}

    def search(self, query: SearchQuery) -> SearchResult:
        groups = term_groups(query.text)
        if not groups:
            return self._run(query, groups, None)
        if query.match_any:
            return self._run(query, groups, match_any(self._informative(groups, None)))
        result = self._run(query, groups, match_all(groups), relaxable=len(groups) > 1)
        if result is None:  # nothing has every word: rank by any of the informative ones
            result = self._run(query, groups, match_any(self._informative(groups, None)))
            result.relaxed = True
        return result

    def _run(
        self, query: SearchQuery, groups: list[list[str]], match: str | None, relaxable: bool = False
    ) -> SearchResult | None:
        """One search; None when ``relaxable`` and nothing matched (the caller relaxes)."""
        base, facet_filters, params = _conditions(query)
        source = "docs d"
        rank = "0.0"
        if match is not None:
            source = _MATCHED
            base.insert(0, "docs_fts MATCH :match")
            params["match"] = match
            rank = BM25
        order = _ORDER.get(query.sort) or ("rank" if match is not None else _ORDER["newest"])
        page = {"limit": query.per_page, "offset": query.offset}
        facets: dict[str, dict[str, int]] = {}
        if query.facets and match is not None:
            # The full-text match runs once: its rows (rank and the columns facets, filters and
            # sorts read) go to a temporary table, and the counts and the page come from there.
            self._materialise(source, base, rank, params)
            source, base, rank, params = "temp.matched d", ["1"], "d.rank", {**params}
        total: int | None = None
        if query.facets:
            total, facets = self._facets(source, base, facet_filters, params)
        elif not query.match_any:
            where = " AND ".join(base + list(facet_filters.values()))
            total = self._execute(f"SELECT count(*) FROM {source} WHERE {where}", params).fetchone()[0]
        if total == 0 and relaxable:
            return None
        where = " AND ".join(base + list(facet_filters.values()))
        rows = (
            []
            if total == 0
            else self._execute(
                f"SELECT d.rowid, {rank} AS rank FROM {source} WHERE {where} "
                f"ORDER BY {order} LIMIT :limit OFFSET :offset",
                {**params, **page},
            ).fetchall()
        )
        if total is None:
            total = len(rows)  # more-like-this callers want the best candidates, not how many matched
        documents = self._documents([rowid for rowid, _ in rows])
        marked_terms = [term for group in groups for term in group]
        hits = []
        for rowid, score in rows:
            if rowid in documents:
                doc_id, document = documents[rowid]
                hits.append(
                    Hit(
                        id=doc_id,
                        score=-float(score),
                        document=document,
                        highlights=document_highlights(document, marked_terms),
                    )
                )
        return SearchResult(hits=hits, total=total, facets=facets, query_terms=[group[0] for group in groups])

    def _materialise(self, source: str, base: list[str], rank: str, params: dict[str, Any]) -> None:
        """Fill this connection's temp.matched with the rows the match and the base conditions keep."""
        connection = self._connection()
        try:
            connection.execute(
                f"CREATE TEMP TABLE IF NOT EXISTS matched (rowid INTEGER PRIMARY KEY, rank REAL, "
                f"{_MATERIALISED.replace('d.', '')})"
            )
            connection.execute("DELETE FROM temp.matched")
            connection.execute(
                f"INSERT INTO temp.matched SELECT d.rowid, {rank}, {_MATERIALISED} "
                f"FROM {source} WHERE {' AND '.join(base)}",
                params,
            )
        except sqlite3.Error as error:
            raise self._unavailable(error) from error

    def _facets(
        self, source: str, base: list[str], facet_filters: dict[str, str], params: dict[str, Any]
    ) -> tuple[int, dict[str, dict[str, int]]]:
        """(total, counts per facet value), each facet counted without its own filter (multi-select),
        in one statement: the matching rows' facet columns are materialised once and every count
        reads them, instead of running the full-text match once per facet."""

        def where(skip: str | None) -> str:
            conditions = [sql for name, sql in facet_filters.items() if name != skip]
            return " AND ".join(conditions) or "1"

        arms = [f"SELECT NULL, NULL, count(*) FROM m d WHERE {where(None)}"]
        for facet, skip in _FACETS.items():
            if facet == "cooperation_modes":
                arms.append(
                    f"SELECT '{facet}', j.value, count(*) FROM m d, json_each(d.modes) j WHERE {where(skip)} GROUP BY 2"
                )
            elif facet == "org_name":
                arms.append(
                    f"SELECT * FROM (SELECT '{facet}', d.org_name, count(*) AS n FROM m d "
                    f"WHERE d.org_name IS NOT NULL AND {where(skip)} GROUP BY 2 "
                    f"ORDER BY n DESC, 2 LIMIT {ORG_FACET_SIZE})"
                )
            else:
                arms.append(
                    f"SELECT '{facet}', d.{facet}, count(*) FROM m d WHERE d.{facet} IS NOT NULL "
                    f"AND {where(skip)} GROUP BY 2"
                )
        sql = (
            f"WITH m AS MATERIALIZED (SELECT {_FACET_COLUMNS} FROM {source} WHERE {' AND '.join(base)}) "
            + " UNION ALL ".join(arms)
        )
        facets: dict[str, dict[str, int]] = {facet: {} for facet in _FACETS}
        total = 0
        for facet, value, count in self._execute(sql, params).fetchall():
            if facet is None:
                total = count
            else:
                facets[facet][str(value)] = count
        return total, facets

    def suggest(self, prefix: str, kind: str | None = None, limit: int = 8) -> list[str]:
        tokens = analysis.tokenize(prefix)
        if not tokens:
            return []
        match = " AND ".join(quote(token) for token in tokens[:-1])
        last = "{title keywords}: " + quote(tokens[-1]) + "*"
        match = f"{match} AND {last}" if match else last
        sql = (
            f"SELECT DISTINCT json_extract(s.doc, '$.title') FROM {_MATCHED} JOIN stored s ON s.rowid = d.rowid "
            "WHERE docs_fts MATCH ? AND d.status = 'published'"
        )
        params: list[Any] = [match]
        if kind:
            sql += " AND d.kind = ?"
            params.append(kind)
        sql += f" ORDER BY {BM25} LIMIT ?"
        params.append(limit)
        return [title for (title,) in self._execute(sql, params).fetchall()]


# ---- helpers ----------------------------------------------------------------------------------------

_UPSERT = """
INSERT INTO docs (doc_id, kind, status, owner_id, organisation_id, industry, district, trl, min_trl, ip_type,
                  modes, org_name, price_cents, budget_min_cents, budget_max_cents, challenge, published_at,
                  deadline, seq)
VALUES (:id, :kind, :status, :owner_id, :organisation_id, :industry, :district, :trl, :min_trl, :ip_type,
        :modes, :org_name, :price_cents, :budget_min_cents, :budget_max_cents, :challenge, :published_at,
        :deadline, :seq)
ON CONFLICT (doc_id) DO UPDATE SET
    kind = excluded.kind, status = excluded.status, owner_id = excluded.owner_id,
    organisation_id = excluded.organisation_id, industry = excluded.industry, district = excluded.district,
    trl = excluded.trl, min_trl = excluded.min_trl, ip_type = excluded.ip_type, modes = excluded.modes,
    org_name = excluded.org_name, price_cents = excluded.price_cents,
    budget_min_cents = excluded.budget_min_cents, budget_max_cents = excluded.budget_max_cents,
    challenge = excluded.challenge, published_at = excluded.published_at, deadline = excluded.deadline,
    seq = excluded.seq
RETURNING rowid
"""


def _is_open(connection: sqlite3.Connection) -> bool:
    try:
        connection.total_changes  # noqa: B018  (raises on a closed connection)
    except sqlite3.ProgrammingError:
        return False
    return True


def _open(file: Path, create: bool = False) -> sqlite3.Connection:
    """A connection to ``file``; unless ``create``, one that fails when the file is gone rather
    than creating it (it may vanish between the caller's check and this open)."""
    target = file if create else f"{file.as_uri()}?mode=rw"
    connection = sqlite3.connect(target, timeout=5.0, isolation_level=None, check_same_thread=False, uri=not create)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.execute("PRAGMA busy_timeout=5000")
        connection.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
        connection.execute("PRAGMA temp_store=MEMORY")  # facet counts materialise the matching rows
        ensure_schema(connection)
    except sqlite3.Error:
        connection.close()  # e.g. a file that is not a database
        raise
    return connection


def _write_documents(connection: sqlite3.Connection, documents: list[dict[str, Any]], generation: int) -> None:
    for doc in documents:
        rowid = connection.execute(_UPSERT, _row(doc, generation)).fetchone()[0]
        connection.execute(
            "INSERT OR REPLACE INTO stored (rowid, doc) VALUES (?, ?)",
            (rowid, json.dumps(stored_view(doc), ensure_ascii=False)),
        )
        vector = doc.get("vector")
        if vector is not None:
            connection.execute(
                "INSERT OR REPLACE INTO vectors (rowid, vector, model) VALUES (?, ?, ?)",
                (rowid, _vector_bytes(vector), doc.get("vector_model")),
            )
        else:
            connection.execute("DELETE FROM vectors WHERE rowid = ?", (rowid,))
        connection.execute("DELETE FROM docs_fts WHERE rowid = ?", (rowid,))
        connection.execute(
            "INSERT INTO docs_fts (rowid, title, keywords, summary, description, org_name, grams) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (rowid, *(_segmented_field(doc, name) for name in TEXT_FIELDS), _grams(doc)),
        )


def _delete_documents(connection: sqlite3.Connection, ids: list[str], generation: int) -> None:
    for doc_id in ids:
        row = connection.execute("SELECT rowid FROM docs WHERE doc_id = ?", (doc_id,)).fetchone()
        if row is not None:
            for table in ("docs_fts", "docs", "stored", "vectors"):
                connection.execute(f"DELETE FROM {table} WHERE rowid = ?", row)
            connection.execute("INSERT INTO tombstones (rowid, seq) VALUES (?, ?)", (row[0], generation))


def _rebuilding(connection: sqlite3.Connection) -> bool:
    """Whether a rebuild is under way, so writes must be logged for it. A marker left by a rebuild
    that was killed is ignored: nothing would ever replay (or clear) what is logged for it."""
    marker = connection.execute("SELECT value FROM meta WHERE key = 'rebuild'").fetchone()
    return marker is not None and sqlite_files.builder_alive(marker[0])


def _journal_json(doc: dict[str, Any]) -> str:
    vector = doc.get("vector")
    if vector is not None:
        doc = {**doc, "vector": np.asarray(vector, dtype=np.float32).tolist()}
    return json.dumps(doc, ensure_ascii=False)


def _row(doc: dict[str, Any], generation: int) -> dict[str, Any]:
    return {
        "id": str(doc["id"]),
        "kind": doc["kind"],
        "status": doc["status"],
        "owner_id": doc.get("owner_id"),
        "organisation_id": doc.get("organisation_id"),
        "industry": doc.get("industry"),
        "district": doc.get("district"),
        "trl": doc.get("trl"),
        "min_trl": doc.get("min_trl"),
        "ip_type": doc.get("ip_type"),
        "modes": json.dumps(doc.get("cooperation_modes") or []),
        "org_name": doc.get("org_name"),
        "price_cents": doc.get("price_cents"),
        "budget_min_cents": doc.get("budget_min_cents"),
        "budget_max_cents": doc.get("budget_max_cents"),
        "challenge": 1 if doc.get("challenge") else 0,
        "published_at": doc.get("published_at"),
        "deadline": doc.get("deadline"),
        "seq": generation,
    }


def _vector_bytes(vector) -> bytes:
    return np.asarray(vector, dtype=np.float32).tobytes()


def _grams(doc: dict[str, Any]) -> str:
    texts = [doc.get(name) for name in TEXT_FIELDS]
    return " ".join(
        " ".join(analysis.bigrams(" ".join(text) if isinstance(text, list) else text or "")) for text in texts
    )


def _segmented_field(doc: dict[str, Any], name: str) -> str:
    value = doc.get(name)
    if isinstance(value, list):
        value = " ".join(value)
    return analysis.segmented(value or "")


# Document fields whose docs column has another name (the rest are d.<field>).
_COLUMNS = {"cooperation_modes": "d.modes"}


class _Sql:
    """Compiles ``search.filters`` conditions to SQL over the docs table, binding values into ``params``."""

    def __init__(self, params: dict[str, Any]):
        self.params = params

    def _bind(self, value: Any) -> str:
        name = f"f{len(self.params)}"
        self.params[name] = value
        return f":{name}"

    def __call__(self, condition: spec.Condition) -> list[str]:
        if isinstance(condition, spec.AllOf):
            return [sql for part in condition.parts for sql in self(part)]
        if isinstance(condition, spec.AnyOf):
            return ["(" + " OR ".join(_all(self(part)) for part in condition.parts) + ")"]
        column = _COLUMNS.get(condition.field, f"d.{condition.field}")
        if condition.op == spec.EQUALS:
            return [f"{column} = {self._bind(condition.value)}"]
        if condition.op == spec.ANY_OF:
            return [f"{column} IN ({', '.join(self._bind(value) for value in condition.values)})"]
        if condition.op == spec.CONTAINS:
            return [f"EXISTS (SELECT 1 FROM json_each({column}) WHERE value = {self._bind(condition.value)})"]
        if condition.op not in (spec.RANGE, spec.OVERLAP):
            raise ValueError(f"unknown filter op {condition.op!r}")
        # range: low <= field <= high. overlap: [field, field_high] meets [low, high], that is
        # field_high >= low and field <= high.
        above = (
            column if condition.op == spec.RANGE else _COLUMNS.get(condition.field_high, f"d.{condition.field_high}")
        )
        sql = []
        if condition.low is not None:
            sql.append(f"{above} >= {self._bind(condition.low)}")
        if condition.high is not None:
            sql.append(f"{column} <= {self._bind(condition.high)}")
        return sql


def _all(sql: list[str]) -> str:
    return sql[0] if len(sql) == 1 else "(" + " AND ".join(sql) + ")"


def _conditions(query: SearchQuery) -> tuple[list[str], dict[str, str], dict[str, Any]]:
    """SQL for the query's filters and visibility (search/filters.py): (conditions every count
    applies, {facet: the condition of its own filter, which that facet's counts leave out}, parameters)."""
    params: dict[str, Any] = {}
    base, facets = spec.compiled(query.filters, query.viewer, _Sql(params))
    return base, {facet: _all(sql) for facet, sql in facets.items()}, params
