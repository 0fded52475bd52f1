"""The SQLite index file's schema, its migrations, and the write generation counter.

Layout (version 3): ``docs`` holds only what filters, facets and sorts read, so scanning
thousands of matches touches few pages; what a hit shows (``stored``) and the vectors knn reads
(``vectors``) live in tables of their own, read for the rows actually returned. Every write
transaction takes a new generation number and stamps the rows it wrote with it (``docs.seq``;
deletions leave a ``tombstones`` row), so a process's vector matrix can catch up on just the
changes since it last looked instead of reloading everything.
"""

from __future__ import annotations

import sqlite3
import uuid

SCHEMA_VERSION = "3"
# rebuild_log: changes made while a rebuild fills a new file beside this one, replayed into it
# before the swap (see sqlite_rebuild).
# Tombstones older than this many generations are pruned; a reader that last looked before the
# pruned range reloads its vectors in full (meta 'tombstone_floor').
TOMBSTONE_GENERATIONS = 20_000

_TABLES = """
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
    seq INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS ix_docs_kind_status_published ON docs (kind, status, published_at);
CREATE INDEX IF NOT EXISTS ix_docs_seq ON docs (seq);
CREATE TABLE IF NOT EXISTS stored (rowid INTEGER PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS vectors (rowid INTEGER PRIMARY KEY, vector BLOB NOT NULL, model TEXT);
CREATE TABLE IF NOT EXISTS tombstones (rowid INTEGER NOT NULL, seq INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS ix_tombstones_seq ON tombstones (seq);
CREATE VIRTUAL TABLE IF NOT EXISTS docs_fts USING fts5(
    title, keywords, summary, description, org_name, grams, tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TABLE IF NOT EXISTS rebuild_log (seq INTEGER PRIMARY KEY AUTOINCREMENT, op TEXT NOT NULL, doc_id TEXT NOT NULL,
                                        doc TEXT);
"""

# Version 2 kept the stored JSON and the vector inline in docs: move them out, keep every document.
_FROM_VERSION_2 = """
CREATE TABLE stored (rowid INTEGER PRIMARY KEY, doc TEXT NOT NULL);
INSERT INTO stored (rowid, doc) SELECT rowid, stored FROM docs;
CREATE TABLE vectors (rowid INTEGER PRIMARY KEY, vector BLOB NOT NULL, model TEXT);
INSERT INTO vectors (rowid, vector, model) SELECT rowid, vector, vector_model FROM docs WHERE vector IS NOT NULL;
ALTER TABLE docs DROP COLUMN stored;
ALTER TABLE docs DROP COLUMN vector;
ALTER TABLE docs DROP COLUMN vector_model;
ALTER TABLE docs ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
"""


def ensure_schema(connection: sqlite3.Connection) -> None:
    """Create the tables, or bring an older file up to date.

    Version 2 is migrated in place (same documents, new layout). A file of any other version is
    derived data of unknown shape: it is emptied and `flask search reindex` refills it.
    """
    try:  # the common case, an up-to-date file, without taking the write lock
        current = connection.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    except sqlite3.OperationalError:  # no meta table: a new file
        current = None
    if current is not None and current[0] == SCHEMA_VERSION:
        return
    connection.execute("BEGIN IMMEDIATE")
    try:
        connection.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
        row = connection.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if row is not None and row[0] == "2":
            for statement in _FROM_VERSION_2.strip().split(";\n"):
                connection.execute(statement)
            connection.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (SCHEMA_VERSION,))
        elif row is not None and row[0] != SCHEMA_VERSION:
            for table in ("docs_fts", "docs", "stored", "vectors", "tombstones", "rebuild_log"):
                connection.execute(f"DROP TABLE IF EXISTS {table}")
            connection.execute("DELETE FROM meta")
        for statement in _TABLES.strip().split(";\n"):
            connection.execute(statement)
        connection.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (SCHEMA_VERSION,))
        # Identifies this file's contents: a vector cache built from another file is never reused.
        connection.execute("INSERT OR IGNORE INTO meta VALUES ('index_id', ?)", (uuid.uuid4().hex,))
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise


def next_generation(connection: sqlite3.Connection) -> int:
    """Take the next generation number (inside the caller's write transaction)."""
    return int(
        connection.execute(
            "INSERT INTO meta VALUES ('generation', '1') "
            "ON CONFLICT (key) DO UPDATE SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT) RETURNING value"
        ).fetchone()[0]
    )


def read_state(connection: sqlite3.Connection) -> tuple[str, int, int]:
    """(index_id, generation, tombstone_floor) as last committed."""
    values = dict(
        connection.execute(
            "SELECT key, value FROM meta WHERE key IN ('index_id', 'generation', 'tombstone_floor')"
        ).fetchall()
    )
    return values.get("index_id", ""), int(values.get("generation") or 0), int(values.get("tombstone_floor") or 0)


def prune_tombstones(connection: sqlite3.Connection, generation: int) -> None:
    floor = generation - TOMBSTONE_GENERATIONS
    if floor > 0 and generation % 1000 == 0:  # now and then is enough
        connection.execute("DELETE FROM tombstones WHERE seq < ?", (floor,))
        connection.execute(
            "INSERT INTO meta VALUES ('tombstone_floor', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (str(floor),),
        )
