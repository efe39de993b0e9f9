"""Database access for worker tasks: one engine and session factory per worker process.

::

    from peek_plugin_base.worker import CeleryDbConn

    @peekTask
    def totalRows() -> int:
        session = CeleryDbConn.getDbSession()
        try:
            return session.scalar(select(func.count()).select_from(MyTable)) or 0
        finally:
            session.close()

The database is the worker's ``sqlalchemy.connectUrl`` (with ``sqlalchemy.engineArgs``), by
default the server's SQLite file. Every process that runs tasks gets its own engine,
created on first use *in that process*: an engine (its pooled sockets and file handles)
is never shared across ``fork``. A process forked from one that already had an engine
drops the inherited one without closing it (closing would end the parent's connections)
and builds its own. When a pool process exits its engine is disposed; after each task the
task thread's session is closed, so a task always starts with a fresh session.

The worker never migrates: the server service creates and migrates every plugin's schema
at its start. A schema the server has not migrated is an error in the task that uses it
(``no such table`` / ``relation does not exist``), never created here; a missing SQLite
database file raises :class:`~peek_plugin_base.worker.errors.WorkerDbMissingError`.

On SQLite each schema is a file beside the main one (``peek.pl_tutorial.sqlite`` beside
``peek.sqlite``, see :mod:`peek_plugin_base.storage.engine_factory`), attached to the
connection, so plugin tables are queried with the same schema-qualified metadata as on
PostgreSQL. Every schema file in the folder is attached when a connection is checked out,
including schemas the server migrated after the worker started. SQLite attaches at most
10 databases per connection (its usual build limit); schemas beyond it are skipped with a
warning, so use PostgreSQL with more storage plugins than that. The worker's SQLite
connections are set up like the server's (WAL, immediate transactions, busy timeout), so
worker processes and the server wait for each other's writes instead of failing.
"""

import logging
import os
import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Optional

from sqlalchemy import Engine, MetaData, event
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

from peek_plugin_base.storage.DbConnection import DbConnection
from peek_plugin_base.storage.engine_factory import (
    SCHEMA_NAME_PATTERN,
    configure_sqlite_database,
    make_engine,
    normalise_url,
)
from peek_plugin_base.worker.errors import (
    WorkerDbError,
    WorkerDbMissingError,
    WorkerDbNotConfiguredError,
)

logger = logging.getLogger(__name__)

#: (URL, engine args) set by the worker service before its pool starts.
_settings: Optional[tuple[URL, dict[str, Any]]] = None
#: This process's connection (a forked child finds its parent's here, with another pid).
_current: Optional["_ProcessDbConnection"] = None
#: Engines inherited across fork: kept referenced so they are never closed in the child.
_inherited: list[Engine] = []
_lock = threading.Lock()


def sqliteSchemaFiles(database: Path) -> dict[str, Path]:
    """The schema files beside an SQLite main file, by schema name."""
    suffix = database.suffix or ".sqlite"
    prefix = f"{database.stem}."
    found: dict[str, Path] = {}
    if not database.parent.is_dir():
        return found
    for path in database.parent.iterdir():
        name = path.name
        if not (name.startswith(prefix) and name.endswith(suffix)):
            continue
        schema = name[len(prefix):-len(suffix)]
        if SCHEMA_NAME_PATTERN.match(schema):
            found[schema] = path
    return found


#: SQLite's usual compile-time limit of attached databases per connection.
_DEFAULT_ATTACH_LIMIT = 10
_warnedAttachLimit: set[str] = set()


def _attachLimit(dbapiConnection: Any) -> int:
    getlimit = getattr(dbapiConnection, "getlimit", None)
    if getlimit is None:
        return _DEFAULT_ATTACH_LIMIT
    return int(getlimit(sqlite3.SQLITE_LIMIT_ATTACHED))


def _warnAttachLimit(limit: int, schema: str) -> None:
    if schema not in _warnedAttachLimit:
        _warnedAttachLimit.add(schema)
        logger.warning(
            "SQLite attaches at most %d schemas per connection; schema %s is not attached, "
            "so worker tasks cannot use it (use PostgreSQL with this many storage plugins)",
            limit, schema,
        )


def _makeWorkerEngine(url: URL, engineArgs: dict[str, Any]) -> Engine:
    """An engine on ``url`` that never creates anything (database file or schema)."""
    if url.get_backend_name() != "sqlite":
        return make_engine(url, (), engineArgs)
    database = url.database
    if not database or database == ":memory:":
        raise WorkerDbError(None, "the worker cannot use an in-memory SQLite database: "
                            "it must share the server's database file")
    main = Path(database)
    if not main.is_file():
        raise WorkerDbMissingError(
            None, f"the database file {main} does not exist; the server service creates "
            "and migrates it (start the server first), the worker never does - or point "
            "sqlalchemy.connectUrl in the worker's config.json at the server's database",
        )
    engine = make_engine(url, (), engineArgs)

    @event.listens_for(engine, "checkout")
    def _attachSchemas(dbapiConnection: Any, record: Any, _proxy: Any) -> None:
        # Checked at every checkout (one stat of the folder while nothing changed), so a
        # schema the server migrates while this worker runs is usable without a restart.
        # No transaction is open here (the factory's driver setting), so ATTACH may run.
        try:
            changed = main.parent.stat().st_mtime_ns
        except OSError:
            return
        if record.info.get("peek_schemas_seen") == changed:
            return
        attached: set[str] = record.info.setdefault("peek_schemas", set())
        limit = _attachLimit(dbapiConnection)
        cursor = dbapiConnection.cursor()
        try:
            for schema, path in sorted(sqliteSchemaFiles(main).items()):
                if schema in attached:
                    continue
                if len(attached) >= limit:
                    _warnAttachLimit(limit, schema)
                    continue
                cursor.execute(f'ATTACH DATABASE ? AS "{schema}"', (str(path),))
                configure_sqlite_database(cursor, schema)
                attached.add(schema)
        finally:
            cursor.close()
        record.info["peek_schemas_seen"] = changed

    return engine


class _ProcessDbConnection(DbConnection):
    """The database as one worker process sees it: every schema, never migrated."""

    def __init__(self, url: URL, engineArgs: dict[str, Any]) -> None:
        super().__init__(url.render_as_string(hide_password=False), MetaData(), ".",
                         dbEngineArgs=engineArgs)
        self._url = url
        self.pid = os.getpid()

    @property
    def dbEngine(self) -> Engine:
        with self._lock:
            if self._engine is None:
                self._engine = _makeWorkerEngine(self._url, self._dbEngineArgs)
                logger.info("Worker process %d: database engine created", self.pid)
            return self._engine

    def migrate(self) -> Any:
        raise WorkerDbError(None, "the worker never migrates; the server service migrates "
                            "every plugin's schema when it starts")

    def closeTaskSession(self) -> None:
        """Close the calling thread's session, if it has one."""
        with self._lock:
            creator = self._sessionCreator
        if creator is not None:
            creator.remove()

    def abandon(self) -> None:
        """Forget an engine inherited across fork, without touching its connections."""
        with self._lock:
            engine, self._engine, self._sessionCreator = self._engine, None, None
        if engine is not None:
            engine.dispose(close=False)
            _inherited.append(engine)


def _connection() -> _ProcessDbConnection:
    global _current
    pid = os.getpid()
    with _lock:
        current = _current
        if current is not None and current.pid == pid:
            return current
        if _settings is None:
            raise WorkerDbNotConfiguredError(
                None, "CeleryDbConn is available in tasks run by the worker service "
                "(run_peek_worker) only")
        if current is not None:
            current.abandon()
        _current = _ProcessDbConnection(*_settings)
        return _current


def getDbEngine() -> Engine:
    """This worker process's engine (created on first use in the process)."""
    return _connection().dbEngine


def getDbSession() -> Session:
    """The calling thread's ORM session in this process; closed after each task.

    Commit what the task changes; use it in the task's own thread only.
    """
    return _connection().ormSessionCreator()


def prefetchDeclarativeIds(Declarative: Any, count: int) -> Optional[Iterable[int]]:
    """Reserve ``count`` ids for new ``Declarative`` rows; an iterator dispensing them.

    On PostgreSQL the ids come from the id column's sequence, so worker processes (and the
    server) never get the same id. On SQLite the reservation is shared between processes
    only for tables declared with ``sqlite_autoincrement=True``; for other tables it is
    unique within this worker process only.
    """
    return _connection().prefetchDeclarativeIds(Declarative, count)


# Platform use: the worker service wires these to Celery's signals.


def configureWorkerDb(dbConnectString: str, dbEngineArgs: Optional[dict[str, Any]]) -> URL:
    """Set the database every worker process of this service uses; returns its URL.

    A relative SQLite path (``{home}/../peek-server.home/peek.sqlite``) is normalised, so
    schema files are found beside the same file the server uses.
    """
    global _settings
    url = normalise_url(dbConnectString)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        url = url.set(database=os.path.normpath(Path(url.database).expanduser().absolute()))
    with _lock:
        _settings = (url, dict(dbEngineArgs or {}))
    return url


def onWorkerProcessInit(**_: Any) -> None:
    """Celery ``worker_process_init``: drop any engine inherited from the parent."""
    global _current
    with _lock:
        current, _current = _current, None
    if current is not None and current.pid != os.getpid():
        current.abandon()


def onTaskPostrun(**_: Any) -> None:
    """Celery ``task_postrun``: close the session of the thread that ran the task."""
    current = _current
    if current is not None and current.pid == os.getpid():
        current.closeTaskSession()


def onWorkerProcessShutdown(**_: Any) -> None:
    """Celery ``worker_process_shutdown`` (and the service's exit): dispose of the engine."""
    global _current
    with _lock:
        current = _current
        if current is None or current.pid != os.getpid():
            return
        _current = None
    created = current._engine is not None
    current.closeAllSessions()
    if created:
        logger.info("Worker process %d: database engine disposed", current.pid)


def _afterForkInChild() -> None:
    # A fork while another thread held the lock would leave it locked in the child forever.
    global _lock
    _lock = threading.Lock()


os.register_at_fork(after_in_child=_afterForkInChild)
