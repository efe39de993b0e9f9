"""Engine creation shared by DbConnection, AlembicEnvBase, the worker and the platform.

Two things differ from a plain ``create_engine``:

* ``postgresql://`` (and ``postgres://``) URLs are mapped to the psycopg 3 driver
  (``postgresql+psycopg://``); URLs naming a driver are kept.
* SQLite has no schemas, so each schema is an attached database file beside the main file:
  schema ``pl_tutorial`` of ``/home/peek.sqlite`` is ``/home/peek.pl_tutorial.sqlite``,
  attached on every new connection. Database files are created 0600. SQLite's driver
  is also switched to explicit transactions (``BEGIN`` is sent when SQLAlchemy begins)
  so DDL is transactional and a failed migration rolls back, as it does on PostgreSQL.

SQLite under concurrent threads and processes (the server's thread pool, worker processes)
is made to wait rather than fail with "database is locked":

* Every file (main and attached) is in WAL mode: readers never block the writer and the
  writer never blocks readers; ``synchronous`` stays FULL, so a committed transaction
  survives a power cut.
* Transactions begin ``IMMEDIATE``: they take the write lock at ``BEGIN``. A deferred
  transaction that reads and then writes (an ORM read-modify-write) cannot wait for the
  lock - SQLite fails it at once when another writer got there first - while an immediate
  one simply queues. A connection (or session) may choose ``DEFERRED`` for a read-only
  transaction with the execution option :data:`SQLITE_BEGIN_OPTION`.
* Inside one process, the writers of one database file (over every engine on it) queue on a
  lock before ``BEGIN``, so they are served in turn without SQLite's sleep-and-retry
  polling. Other processes (the worker) wait through SQLite's busy timeout.
* Both waits are bounded by the driver's ``timeout`` (seconds; default
  :data:`SQLITE_BUSY_TIMEOUT_SECONDS`, set with ``connect_args`` in the engine arguments).
"""

import os
import re
import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Optional

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import OperationalError

from peek_plugin_base.private_files import ensure_private_file
from peek_plugin_base.storage.StorageErrors import SchemaNameError

#: Schema names are SQL identifiers we quote ourselves, so keep them plain.
SCHEMA_NAME_PATTERN = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

#: Connection execution option choosing SQLite's BEGIN mode ("IMMEDIATE", the default, or
#: "DEFERRED" for a read-only transaction, or "EXCLUSIVE").
SQLITE_BEGIN_OPTION = "peek_sqlite_begin"

#: How long a transaction waits for SQLite's write lock before failing, by default.
SQLITE_BUSY_TIMEOUT_SECONDS = 30.0

_BEGIN_MODES = ("DEFERRED", "IMMEDIATE", "EXCLUSIVE")


class SqliteWriteLockTimeout(sqlite3.OperationalError):
    """Another transaction of this process kept the database's write lock too long."""


class _WriterLock:
    """One database file's writer queue inside this process."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.lock = threading.Lock()
        #: The thread whose transaction holds the lock (for the errors when it is stuck).
        self.holder: Optional[int] = None
        self.holder_name = ""


_writer_locks: dict[str, _WriterLock] = {}
_writer_locks_guard = threading.Lock()


def _writer_lock(path: str) -> _WriterLock:
    with _writer_locks_guard:
        lock = _writer_locks.get(path)
        if lock is None:
            lock = _writer_locks[path] = _WriterLock(path)
        return lock


def _forget_writer_locks_after_fork() -> None:
    # A forked child has none of the parent's threads: a lock they held would never be freed.
    global _writer_locks_guard
    _writer_locks_guard = threading.Lock()
    _writer_locks.clear()


os.register_at_fork(after_in_child=_forget_writer_locks_after_fork)


class PeekSqliteConnection(sqlite3.Connection):
    """The driver connection: frees the process's writer lock when its transaction ends."""

    peek_writer: Optional[_WriterLock] = None

    def take_writer_lock(self, writer: _WriterLock, timeout: float) -> None:
        """Wait (at most ``timeout`` s) for this process's turn to write ``writer``'s file."""
        if self.peek_writer is not None:
            return
        if writer.holder == threading.get_ident():
            # Waiting would only end in the timeout: this thread itself holds the lock.
            raise SqliteWriteLockTimeout(
                f"database is locked: this thread already has a write transaction open on "
                f"{writer.path} through another connection; SQLite has one writer at a "
                "time, so commit or close that session first"
            )
        if not writer.lock.acquire(timeout=timeout):
            raise SqliteWriteLockTimeout(
                f"database is locked: waited {timeout:g} s for the write lock of "
                f"{writer.path}, held by a transaction of thread {writer.holder_name} "
                "(a session left open? commit or close sessions when done)"
            )
        writer.holder = threading.get_ident()
        writer.holder_name = threading.current_thread().name
        self.peek_writer = writer

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            # A failed COMMIT leaves the transaction open until the rollback that follows.
            if not self.in_transaction:
                self.release_writer_lock()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            if not self.in_transaction:
                self.release_writer_lock()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self.release_writer_lock()

    def release_writer_lock(self) -> None:
        """Let the next writer of this process go (the transaction has ended)."""
        writer, self.peek_writer = self.peek_writer, None
        if writer is not None:
            writer.holder = None
            writer.lock.release()


def configure_sqlite_database(cursor: Any, schema: str = "main") -> None:
    """Put one database of an SQLite connection (main or attached) in WAL mode."""
    # Returns the mode now in force: "memory" for in-memory databases, which have no WAL.
    cursor.execute(f'PRAGMA "{schema}".journal_mode = WAL')
    cursor.fetchall()


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
    # The driver's timeout is SQLite's busy timeout: how long to wait for another
    # process's lock before "database is locked".
    connect_args.setdefault("timeout", SQLITE_BUSY_TIMEOUT_SECONDS)
    connect_args.setdefault("factory", PeekSqliteConnection)
    timeout = float(connect_args["timeout"])
    database = parsed.database
    # In-memory databases are private to their connection: nothing to queue for.
    shared_file = bool(database) and database != ":memory:" and not database.startswith("file:")
    writer = _writer_lock(os.path.realpath(database)) if shared_file else None
    engine = create_engine(parsed, connect_args=connect_args, **args)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # None stops the driver from opening transactions on its own (it would commit
        # DDL immediately); the "begin" listener below opens them instead.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            configure_sqlite_database(cursor)
            for schema, path in attached:
                cursor.execute(f'ATTACH DATABASE ? AS "{schema}"', (path,))
                configure_sqlite_database(cursor, schema)
            if enable_foreign_keys:
                cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        mode = str(connection.get_execution_options().get(SQLITE_BEGIN_OPTION, "IMMEDIATE"))
        mode = mode.upper()
        if mode not in _BEGIN_MODES:
            raise ValueError(
                f"execution option {SQLITE_BEGIN_OPTION}={mode!r}: use one of {_BEGIN_MODES}")
        statement = f"BEGIN {mode}"
        dbapi_connection = connection.connection.dbapi_connection
        # A caller's own driver factory has no queue: SQLite's busy timeout only.
        queue = (
            writer
            if mode != "DEFERRED" and isinstance(dbapi_connection, PeekSqliteConnection)
            else None
        )
        if queue is not None:
            try:
                dbapi_connection.take_writer_lock(queue, timeout)
            except SqliteWriteLockTimeout as e:
                raise OperationalError(statement, None, e) from e
        try:
            connection.exec_driver_sql(statement)
        except BaseException:
            if queue is not None:
                dbapi_connection.release_writer_lock()
            raise

    return engine
