"""Engine creation shared by DbConnection, AlembicEnvBase and the platform.

Two things differ from a plain ``create_engine``:

* ``postgresql://`` (and ``postgres://``) URLs are mapped to the psycopg 3 driver
  (``postgresql+psycopg://``); URLs naming a driver are kept.
* SQLite has no schemas, so each schema is an attached database file beside the main file:
  schema ``pl_tutorial`` of ``/home/peek.sqlite`` is ``/home/peek.pl_tutorial.sqlite``,
  attached on every new connection. Database files are created 0600. SQLite's driver
  is also switched to explicit transactions (``BEGIN`` is sent when SQLAlchemy begins)
  so DDL is transactional and a failed migration rolls back, as it does on PostgreSQL.
"""

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Optional

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url

from peek_plugin_base.private_files import ensure_private_file
from peek_plugin_base.storage.StorageErrors import SchemaNameError

#: Schema names are SQL identifiers we quote ourselves, so keep them plain.
SCHEMA_NAME_PATTERN = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

#: Connection execution option choosing SQLite's BEGIN mode ("IMMEDIATE", "EXCLUSIVE").
SQLITE_BEGIN_OPTION = "peek_sqlite_begin"


def normalise_url(url: str | URL) -> URL:
    """The URL with bare PostgreSQL URLs pointed at the psycopg 3 driver."""
    parsed = make_url(url) if isinstance(url, str) else url
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def is_sqlite(url: str | URL) -> bool:
    """Whether the URL is an SQLite database."""
    return normalise_url(url).get_backend_name() == "sqlite"


def check_schema_name(schema: str) -> str:
    """The name, if it is a plain lower-case identifier; else SchemaNameError."""
    if not SCHEMA_NAME_PATTERN.match(schema):
        raise SchemaNameError(
            schema, "a schema name must be lower case letters, digits and underscores"
        )
    return schema


def sqlite_schema_file(url: str | URL, schema: str) -> str:
    """The file holding ``schema`` for an SQLite URL (``:memory:`` for in-memory ones)."""
    database = normalise_url(url).database
    if not database or database == ":memory:":
        return ":memory:"
    main = Path(database)
    return str(main.with_name(f"{main.stem}.{schema}{main.suffix or '.sqlite'}"))


def make_engine(
    url: str | URL,
    schemas: Iterable[str] = (),
    engine_args: Optional[dict[str, Any]] = None,
    enable_foreign_keys: bool = False,
) -> Engine:
    """An engine for ``url``; on SQLite ``schemas`` are attached on every connection."""
    parsed = normalise_url(url)
    args = dict(engine_args or {})
    if parsed.get_backend_name() != "sqlite":
        return create_engine(parsed, **args)

    attached = [(check_schema_name(s), sqlite_schema_file(parsed, s)) for s in schemas]
    for _schema, path in attached:
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            ensure_private_file(path)
    if parsed.database and parsed.database != ":memory:" and not parsed.query.get("uri"):
        # Created by us, not by SQLite, so the database (and its journals) is 0600.
        ensure_private_file(parsed.database)
    connect_args = dict(args.pop("connect_args", {}))
    # Threads share the pool; SQLAlchemy serialises use of each connection.
    connect_args.setdefault("check_same_thread", False)
    engine = create_engine(parsed, connect_args=connect_args, **args)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # None stops the driver from opening transactions on its own (it would commit
        # DDL immediately); the "begin" listener below opens them instead.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            for schema, path in attached:
                cursor.execute(f'ATTACH DATABASE ? AS "{schema}"', (path,))
            if enable_foreign_keys:
                cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # IMMEDIATE takes the write lock up front, so read-then-write transactions wait
        # for each other instead of failing with "database is locked".
        mode = connection.get_execution_options().get(SQLITE_BEGIN_OPTION, "")
        connection.exec_driver_sql(f"BEGIN {mode}".strip())

    return engine
