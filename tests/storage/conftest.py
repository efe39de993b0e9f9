"""Fixtures: a fresh database per test on SQLite and on PostgreSQL, and throw-away plugins."""

import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import make_url

from tests.storage.plugin_factory import PluginFactory

#: The PostgreSQL server the tests use; each test creates (and drops) its own database.
POSTGRES_URL_ENV_VAR = "PEEK_TEST_POSTGRES_URL"
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"


def postgres_server_url() -> str:
    """The configured PostgreSQL URL."""
    return os.environ.get(POSTGRES_URL_ENV_VAR, DEFAULT_POSTGRES_URL)


def _admin_conninfo() -> str:
    url = make_url(postgres_server_url()).set(drivername="postgresql", database="postgres")
    return url.render_as_string(hide_password=False)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A new, empty PostgreSQL database for this test, dropped afterwards."""
    name = f"peek_storage_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(_admin_conninfo(), autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as e:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"PostgreSQL not reachable at {postgres_server_url()}: {e}")
    with admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        try:
            yield (
                make_url(postgres_server_url())
                .set(database=name)
                .render_as_string(hide_password=False)
            )
        finally:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A new SQLite database file (its schemas are attached files beside it)."""
    return f"sqlite:///{tmp_path / 'db' / 'peek.sqlite'}"


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest) -> str:
    """Each test using this runs once on SQLite and once on PostgreSQL."""
    return request.getfixturevalue(f"{request.param}_url")


@pytest.fixture
def plugins(tmp_path: Path) -> Iterator[PluginFactory]:
    """Writes plugin packages under a temporary sys.path entry; forgets them afterwards."""
    root = tmp_path / "plugins"
    root.mkdir()
    factory = PluginFactory(root)
    sys.path.insert(0, str(root))
    try:
        yield factory
    finally:
        sys.path.remove(str(root))
        factory.forget_modules()
