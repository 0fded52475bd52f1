"""One unit of work per request, job run and command, and the side effects that wait for it.

The caller that opened the transaction (a view, the job runner, a command) commits once on success;
anything else only flushes. Side effects that must not happen for a change that is rolled back —
mail, index pushes, payment-provider calls, file clean-up — are registered with ``on_commit`` (and
their undo with ``on_rollback``), the way Django's ``transaction.on_commit`` works:

- a callback registered inside a savepoint (``begin_nested``) belongs to that savepoint: rolling the
  savepoint back drops it, releasing the savepoint hands it to the enclosing transaction;
- callbacks run once the outermost transaction has committed (or rolled back), in the order they
  were registered; one that fails is logged and does not stop the others, and never turns a saved
  change into an error page.

``separate_session`` is for work that must not share the caller's transaction (the index push after
a request, job leases): it opens its own session, commits it or rolls it back, and closes it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from flask import Flask, current_app, g, request
from sqlalchemy import event, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from marketplace.core.database import SQLITE_BUSY_TIMEOUT_MS, write_intent
from marketplace.extensions import db

_COMMIT = "on_commit_callbacks"
_ROLLBACK = "on_rollback_callbacks"


def on_commit(callback: Callable[[], object], session: Session | None = None) -> None:
    """Run ``callback`` after the current transaction commits; never if it rolls back."""
    _register(_COMMIT, callback, session)


def on_rollback(callback: Callable[[], object], session: Session | None = None) -> None:
    """Run ``callback`` if the current transaction (or the savepoint it was registered in) rolls back."""
    _register(_ROLLBACK, callback, session)


def _register(key: str, callback: Callable[[], object], session: Session | None) -> None:
    session = session if session is not None else db.session()
    if not session.in_transaction():
        # Nothing to wait for (as Django does): an effect runs now, an undo has nothing to undo.
        if key == _COMMIT:
            _run([(None, callback)])
        return
    session.info.setdefault(key, []).append((session.get_nested_transaction(), callback))


def _enclosing_savepoint(savepoint):
    parent = savepoint.parent
    while parent is not None and not parent.nested:
        parent = parent.parent
    return parent


def _run(callbacks) -> None:
    for _owner, callback in callbacks:
        try:
            callback()
        except Exception:  # a side effect failing must not undo, or hide, the committed change
            current_app.logger.exception("after-transaction callback %r failed", callback)


# SQLAlchemy fires after_commit / after_rollback for savepoints too; get_nested_transaction() then
# names the savepoint being released or rolled back.
@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    savepoint = session.get_nested_transaction()
    if savepoint is None:
        session.info.pop(_ROLLBACK, None)
        _run(session.info.pop(_COMMIT, []))
        return
    # Releasing a savepoint is not a commit: its callbacks now belong to the enclosing transaction.
    enclosing = _enclosing_savepoint(savepoint)
    for key in (_COMMIT, _ROLLBACK):
        session.info[key] = [
            (enclosing if owner is savepoint else owner, callback) for owner, callback in session.info.get(key, [])
        ]


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    savepoint = session.get_nested_transaction()
    if savepoint is None:
        session.info.pop(_COMMIT, None)
        _run(session.info.pop(_ROLLBACK, []))
        return
    _run([entry for entry in session.info.get(_ROLLBACK, []) if entry[0] is savepoint])
    for key in (_COMMIT, _ROLLBACK):
        session.info[key] = [entry for entry in session.info.get(key, []) if entry[0] is not savepoint]


@contextmanager
def separate_session() -> Iterator[Session]:
    """A session of its own, on its own connection: committed on success, rolled back on error."""
    session = db.session.session_factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def end_transaction() -> None:
    """Roll back whatever the request left uncommitted, and end its read transaction.

    A view that commits has nothing left to roll back; one that handled an error without committing
    (or forgot to) leaves nothing half-saved. Ending the transaction also ends SQLite's read
    snapshot, which a long-lived process (the worker) would otherwise keep forever.
    """
    db.session.rollback()


def commit_best_effort(action: Callable[[], object], what: str, lock_timeout_ms: int = 1000) -> bool:
    """For the caller that owns the session (a view, like ``perform``): run a write that is not worth
    a failed page — a view counter — in a short transaction of its own, and commit it.

    The caller's transaction must hold nothing uncommitted: it is ended first. Counted inside a
    page's read transaction, SQLite refuses the upgrade to a writer at once ("database is locked",
    no busy wait) when another writer committed since the read began. The write waits at most
    ``lock_timeout_ms`` for the row (PostgreSQL) or the write lock (SQLite); on a lock timeout it is
    dropped and logged. The same session is used, never a second connection: a request holding one
    pooled connection while it waits for another can exhaust the pool under load.

    Returns whether ``action`` ran, returned truthy and committed."""
    db.session.commit()
    dialect = db.session.get_bind().dialect.name
    try:
        if dialect == "postgresql":
            db.session.execute(text(f"SET LOCAL lock_timeout = {int(lock_timeout_ms)}"))
        elif dialect == "sqlite":
            db.session.execute(text(f"PRAGMA busy_timeout = {int(lock_timeout_ms)}"))
        done = bool(action())
        db.session.commit()
    except OperationalError as error:
        db.session.rollback()
        current_app.logger.warning("%s not saved: %s", what, error.orig)
        return False
    finally:
        if dialect == "sqlite":  # a setting of the pooled connection: give it back as it was
            db.session.execute(text(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}"))
            db.session.commit()
    return done


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def init_app(app: Flask) -> None:
    @app.before_request
    def _declare_write_intent() -> None:
        g.write_intent_token = write_intent.set(request.method not in SAFE_METHODS)

    @app.teardown_request
    def _end_request_transaction(exc: BaseException | None) -> None:
        end_transaction()
        token = g.pop("write_intent_token", None)
        if token is not None:
            write_intent.reset(token)
