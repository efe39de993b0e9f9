"""The worker service's database for tasks: one engine per process, tied to Celery's pool.

:class:`WorkerDb` serves ``peek_plugin_base.worker.CeleryDbConn`` (``getDbEngine``,
``getDbSession``, ``prefetchDeclarativeIds``) once the worker service has called its
``serve()``. Every process that runs tasks gets its own engine, created on first use *in
that process*: an engine (its pooled sockets and file handles) is never shared across
``fork``. A process forked from one that already had an engine drops the inherited one
without closing it (closing would end the parent's connections) and builds its own. The
worker service connects Celery's signals to :meth:`WorkerDb.on_worker_process_init`,
:meth:`WorkerDb.on_task_postrun` and :meth:`WorkerDb.on_worker_process_shutdown`: a pool
process's engine is disposed when it exits, and the task thread's session is closed after
each task.

The worker never migrates (the server service does). On SQLite every schema file in the
database's folder is attached when a connection is checked out, including schemas the
server migrated after the worker started, up to SQLite's limit of attached databases
(beyond it a schema is skipped with a warning). The worker's SQLite connections are set up
like the server's (WAL, immediate transactions, busy timeout), so worker processes and the
server wait for each other's writes instead of failing.
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
from peek_plugin_base.worker.CeleryDbConn import WorkerDbABC
from peek_plugin_base.worker.errors import WorkerDbError, WorkerDbMissingError

logger = logging.getLogger(__name__)

#: Engines inherited across fork: kept referenced so they are never closed in the child.
_inherited: list[Engine] = []
_lock = threading.Lock()

#: SQLite's usual compile-time limit of attached databases per connection.
_DEFAULT_ATTACH_LIMIT = 10
_warned_attach_limit: set[str] = set()


def sqlite_schema_files(database: Path) -> dict[str, Path]:
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


def _attach_limit(dbapi_connection: Any) -> int:
    getlimit = getattr(dbapi_connection, "getlimit", None)
    if getlimit is None:
        return _DEFAULT_ATTACH_LIMIT
    return int(getlimit(sqlite3.SQLITE_LIMIT_ATTACHED))


def _warn_attach_limit(limit: int, schema: str) -> None:
    if schema not in _warned_attach_limit:
        _warned_attach_limit.add(schema)
        logger.warning(
            "SQLite attaches at most %d schemas per connection; schema %s is not attached, "
            "so worker tasks cannot use it (use PostgreSQL with this many storage plugins)",
            limit, schema,
        )


def make_worker_engine(url: URL, engine_args: dict[str, Any]) -> Engine:
    """An engine on ``url`` that never creates anything (database file or schema)."""
    if url.get_backend_name() != "sqlite":
        return make_engine(url, (), engine_args)
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
    engine = make_engine(url, (), engine_args)

    @event.listens_for(engine, "checkout")
    def _attach_schemas(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
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
        limit = _attach_limit(dbapi_connection)
        cursor = dbapi_connection.cursor()
        try:
            for schema, path in sorted(sqlite_schema_files(main).items()):
                if schema in attached:
                    continue
                if len(attached) >= limit:
                    _warn_attach_limit(limit, schema)
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

    def __init__(self, url: URL, engine_args: dict[str, Any]) -> None:
        super().__init__(url.render_as_string(hide_password=False), MetaData(), ".",
                         dbEngineArgs=engine_args)
        self._url = url
        self.pid = os.getpid()

    @property
    def dbEngine(self) -> Engine:
        with self._lock:
            if self._engine is None:
                self._engine = make_worker_engine(self._url, self._dbEngineArgs)
                logger.info("Worker process %d: database engine created", self.pid)
            return self._engine

    def migrate(self) -> Any:
        raise WorkerDbError(None, "the worker never migrates; the server service migrates "
                            "every plugin's schema when it starts")

    def close_task_session(self) -> None:
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


def worker_db_url(db_connect_string: str) -> URL:
    """The URL of ``db_connect_string`` as the worker uses it: a relative SQLite path
    (``{home}/../peek-server.home/peek.sqlite``) made absolute and normalised, so schema
    files are found beside the same file the server uses."""
    url = normalise_url(db_connect_string)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        url = url.set(database=os.path.normpath(Path(url.database).expanduser().absolute()))
    return url


class WorkerDb(WorkerDbABC):
    """The database every process of one worker service uses for its tasks."""

    def __init__(self, db_connect_string: str,
                 db_engine_args: Optional[dict[str, Any]] = None) -> None:
        self.url = worker_db_url(db_connect_string)
        self._engine_args = dict(db_engine_args or {})
        #: This process's connection (a forked child finds its parent's, with another pid).
        self._current: Optional[_ProcessDbConnection] = None

    # ---- what CeleryDbConn's functions call

    def getDbEngine(self) -> Engine:
        return self._connection().dbEngine

    def getDbSession(self) -> Session:
        return self._connection().ormSessionCreator()

    def prefetchDeclarativeIds(self, Declarative: Any, count: int) -> Optional[Iterable[int]]:
        return self._connection().prefetchDeclarativeIds(Declarative, count)

    def _connection(self) -> _ProcessDbConnection:
        pid = os.getpid()
        with _lock:
            current = self._current
            if current is not None and current.pid == pid:
                return current
            if current is not None:
                current.abandon()
            self._current = _ProcessDbConnection(self.url, self._engine_args)
            return self._current

    # ---- the lifecycle: Celery's signals (and the service's exit) call these

    def on_worker_process_init(self, **_: Any) -> None:
        """Celery ``worker_process_init``: drop any engine inherited from the parent."""
        with _lock:
            current, self._current = self._current, None
        if current is not None and current.pid != os.getpid():
            current.abandon()

    def on_task_postrun(self, **_: Any) -> None:
        """Celery ``task_postrun``: close the session of the thread that ran the task."""
        current = self._current
        if current is not None and current.pid == os.getpid():
            current.close_task_session()

    def on_worker_process_shutdown(self, **_: Any) -> None:
        """Celery ``worker_process_shutdown`` (and the service's exit): dispose of this
        process's engine."""
        with _lock:
            current = self._current
            if current is None or current.pid != os.getpid():
                return
            self._current = None
        created = current._engine is not None
        current.closeAllSessions()
        if created:
            logger.info("Worker process %d: database engine disposed", current.pid)


def _after_fork_in_child() -> None:
    # A fork while another thread held the lock would leave it locked in the child forever.
    global _lock
    _lock = threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)
