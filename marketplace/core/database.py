"""Engine settings that make SQLite behave like the PostgreSQL we run in production."""

from __future__ import annotations

import sqlite3
from contextvars import ContextVar

from sqlalchemy import event
from sqlalchemy.engine import Engine

# How long a SQLite writer waits for the write lock before "database is locked".
SQLITE_BUSY_TIMEOUT_MS = 5000


@event.listens_for(Engine, "connect")
def _sqlite_on_connect(dbapi_connection, connection_record) -> None:
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    # pysqlite's own transaction handling breaks SAVEPOINT (per-line import rollback) and would
    # let a RELEASE commit early; hand transaction control to SQLAlchemy (SQLAlchemy docs recipe).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    # Several gunicorn workers share the file: WAL lets readers proceed during a write, and the
    # busy timeout makes a writer wait for the lock instead of failing at once.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()


# Set for the duration of a request that means to write (POST and the like). In WAL mode a
# transaction that began by reading cannot become a writer once another connection has committed
# since its read began: SQLite answers "database is locked" at once, without waiting the busy
# timeout. A request that will write therefore takes the write lock at BEGIN (IMMEDIATE) and waits
# its turn; reading pages keep deferred transactions, which never block anyone.
write_intent: ContextVar[bool] = ContextVar("sqlite_write_intent", default=False)


@event.listens_for(Engine, "begin")
def _sqlite_on_begin(connection) -> None:
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write_intent.get() else "BEGIN")
