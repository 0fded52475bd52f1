"""Test fixtures: an app and client per test, an isolated database per test.

The schema is created once per run (``create_all`` is fine in tests; the migration test checks it
matches the Alembic history) and every table is emptied after each test, which isolates tests on
SQLite and PostgreSQL alike. Set TEST_DATABASE_URL to run the suite on PostgreSQL.
"""

from __future__ import annotations

import os

import pytest
from flask import g
from flask.testing import FlaskClient
from sqlalchemy import text

from marketplace import create_app
from marketplace.discovery import services as discovery
from marketplace.extensions import db, limiter

TEST_DATABASE_URLS = ["sqlite"] + (["postgresql"] if os.environ.get("TEST_DATABASE_URL") else [])


@pytest.fixture(scope="session", params=TEST_DATABASE_URLS)
def database_url(request, tmp_path_factory):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    return os.environ["TEST_DATABASE_URL"].replace("postgresql://", "postgresql+psycopg://", 1)


@pytest.fixture(scope="session")
def _schema(database_url, tmp_path_factory):
    app = create_app(_test_config(database_url, tmp_path_factory.mktemp("instance")))
    with app.app_context():
        db.drop_all()
        db.create_all()
    yield
    with app.app_context():
        db.drop_all()
        db.engine.dispose()


def _test_config(database_url: str, instance_path) -> dict:
    return {
        "ENV": "testing",
        "DATABASE_URL": database_url,
        "INSTANCE_PATH": str(instance_path),
        "UPLOAD_DIR": str(instance_path / "uploads"),
        "MAIL_BACKEND": "memory",
        "WTF_CSRF_ENABLED": False,
        "SERVER_NAME": "localhost",
        "PUBLIC_URL": "http://localhost",
    }


class FreshRequestClient(FlaskClient):
    """Each request starts with an empty ``g``, as in production.

    The test's app context stays pushed (so tests can call services and read models), and Flask
    reuses it for client requests; without this, Flask-Login's and Flask-Babel's per-request
    caches in ``g`` would leak from one request into the next.
    """

    def open(self, *args, **kwargs):
        vars(g).clear()
        return super().open(*args, **kwargs)


@pytest.fixture
def app(_schema, database_url, tmp_path):
    app = create_app(_test_config(database_url, tmp_path))
    app.test_client_class = FreshRequestClient
    app.config["WTF_CSRF_ENABLED"] = False
    limiter.reset()
    with app.app_context():
        discovery.ensure_index()  # each test is a fresh platform: its empty index is first-time setup
        yield app
        db.session.remove()
        _empty_all_tables()
        db.engine.dispose()


def _empty_all_tables() -> None:
    tables = list(reversed(db.metadata.sorted_tables))
    with db.engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            names = ", ".join(f'"{table.name}"' for table in tables)
            connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                connection.execute(table.delete())


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def mail_outbox(app):
    return app.extensions.setdefault("mail_outbox", [])
