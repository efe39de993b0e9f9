"""The server's storage child service: migrates the platform schema, then each plugin's.

The service starts before the plugin host. It migrates the platform's schema
(``peek_platform``) and fails the server start if that cannot be done. Then, through the
host's ``before_load`` hook, it migrates each enabled storage plugin's schema just before
the plugin is constructed; a plugin whose migration fails is marked failed with the reason
and the others carry on. Every migration runs in a thread, never on the reactor.

A plugin has storage when ``plugin_package.json`` holds ``"storage": {"alembicDir": ...}``;
its server entry hook must then subclass PluginServerStorageEntryHookABC, and its schema is
``pl_<name>`` for ``peek_plugin_<name>``.

Database work runs on a thread pool of its own (``peek-db``, as Buildbot's ``DBThreadPool``),
not on the reactor's, so RPC handlers and other threaded work cannot starve it and it cannot
starve them. The pool starts with the service and stops after the engines are disposed; the
services that use the database require ``storage``, so they stop before it does.
"""

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Optional

from twisted.application.service import Service
from twisted.internet.defer import Deferred
from twisted.python.threadpool import ThreadPool

from peek_platform.config import ServiceConfig
from peek_platform.errors import (
    PluginStorageError,
    SchemaMigrationError,
    StorageServiceNotRunningError,
)
from peek_platform.plugin.host import PluginRecord
from peek_platform.storage.schema_names import PLATFORM_SCHEMA, plugin_schema_name
from peek_platform.storage.tables import SchemaMigrationLog, metadata
from peek_plugin_base.server.PluginServerStorageEntryHookABC import (
    PluginServerStorageEntryHookABC,
)
from peek_plugin_base.storage.DbConnection import DbConnection
from peek_plugin_base.storage.engine_factory import make_engine
from peek_plugin_base.storage.schema_migration import (
    MigrationAction,
    MigrationResult,
    migrate_schema,
)
from peek_plugin_base.storage.StorageErrors import StorageError

logger = logging.getLogger(__name__)

PLATFORM_MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

#: Runs a blocking function off the reactor thread; returns a Deferred of its result.
ThreadRunner = Callable[..., "Deferred[Any]"]


#: SQLAlchemy's QueuePool defaults, when ``sqlalchemy.engineArgs`` does not set them.
DEFAULT_POOL_SIZE = 5
DEFAULT_MAX_OVERFLOW = 10


def db_threads(engine_args: dict[str, Any]) -> int:
    """How many database threads: as many as one engine may hold connections (its
    ``pool_size`` plus ``max_overflow``), so a thread never waits for a connection while
    another waits for a thread; at least one."""
    size = int(engine_args.get("pool_size", DEFAULT_POOL_SIZE))
    overflow = int(engine_args.get("max_overflow", DEFAULT_MAX_OVERFLOW))
    return max(1, size + max(0, overflow))


class StorageService(Service):
    """Owns the server's database connections: the platform's and one per storage plugin."""

    name = "storage"

    def __init__(self, config: ServiceConfig, run_in_thread: Optional[ThreadRunner] = None) -> None:
        self._url = str(config["sqlalchemy.connectUrl"])
        self._engine_args: dict[str, Any] = dict(config["sqlalchemy.engineArgs"])
        self._given_runner = run_in_thread
        self._pool: Optional[ThreadPool] = None
        self.platform_db: Optional[DbConnection] = None
        self._plugin_dbs: dict[str, DbConnection] = {}

    # ---------------------------------------------------------------- queries

    def run_in_thread(self, func: Callable[..., Any], *args: Any) -> "Deferred[Any]":
        """Run blocking database work on the database threads; a Deferred of its result."""
        return self._run_in_thread(func, *args)

    def _run_in_thread(self, func: Callable[..., Any], *args: Any) -> "Deferred[Any]":
        if self._given_runner is not None:
            return self._given_runner(func, *args)
        from twisted.internet import reactor, threads

        if self._pool is None:
            raise StorageServiceNotRunningError(
                PLATFORM_SCHEMA, f"database work ({getattr(func, '__name__', func)!r}) "
                "asked for while the storage service is not running")
        return threads.deferToThreadPool(reactor, self._pool, func, *args)

    def connection_for(self, plugin_name: str) -> Optional[DbConnection]:
        """The plugin's migrated connection, or None when it has no storage."""
        return self._plugin_dbs.get(plugin_name)

    def open_platform_blocking(self) -> DbConnection:
        """Migrate and open the platform schema without the reactor (one-shot commands such
        as ``run_peek_server --admin-password``); ``close_blocking`` afterwards."""
        self._migrate_platform()
        assert self.platform_db is not None
        return self.platform_db

    def close_blocking(self) -> None:
        """Dispose every engine (after ``open_platform_blocking``)."""
        self._dispose_all()

    # ---------------------------------------------------------------- lifecycle

    def startService(self) -> "Deferred[None]":  # noqa: N802 - twisted API
        super().startService()
        if self._given_runner is None:
            count = db_threads(self._engine_args)
            self._pool = ThreadPool(minthreads=1, maxthreads=count, name="peek-db")
            self._pool.start()
            logger.debug("Database threads: up to %d", count)
        return self._run_in_thread(self._migrate_platform)

    def stopService(self) -> "Deferred[None]":  # noqa: N802 - twisted API
        super().stopService()
        if self._pool is None and self._given_runner is None:
            return Deferred.fromCoroutine(_nothing())
        d = self._run_in_thread(self._dispose_all)
        d.addBoth(self._stop_pool)
        return d

    def _stop_pool(self, result: Any) -> Any:
        """After the engines are disposed: join the (now idle) database threads."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.stop()
        return result

    async def before_load(self, record: PluginRecord) -> None:
        """The plugin host's hook: migrate the plugin's schema before it is constructed."""
        await self._run_in_thread(self._migrate_plugin, record)

    # ------------------------------------------------------ blocking (threads)

    def _migrate_platform(self) -> None:
        connection = DbConnection(
            self._url, metadata, str(PLATFORM_MIGRATIONS_DIR), self._engine_args
        )
        try:
            result = connection.migrate()
        except StorageError as e:
            connection.closeAllSessions()
            raise SchemaMigrationError(PLATFORM_SCHEMA, e.reason) from e
        self.platform_db = connection
        self._log(PLATFORM_SCHEMA, PLATFORM_SCHEMA, result)

    def _migrate_plugin(self, record: PluginRecord) -> None:
        alembic_dir = self._alembic_dir(record)
        if alembic_dir is None:
            return
        schema = plugin_schema_name(record.name)
        engine = make_engine(self._url, [schema], self._engine_args)
        try:
            result = migrate_schema(engine, alembic_dir, schema, allow_create_all=True)
        except StorageError as e:
            self._log(record.name, schema, None, e.reason)
            raise SchemaMigrationError(schema, e.reason) from e
        finally:
            engine.dispose()
        connection = DbConnection(
            self._url, result.metadata, str(alembic_dir), self._engine_args
        )
        previous = self._plugin_dbs.pop(record.name, None)
        if previous is not None:
            previous.closeAllSessions()
        self._plugin_dbs[record.name] = connection
        self._log(record.name, schema, result)

    def _alembic_dir(self, record: PluginRecord) -> Optional[Path]:
        """The plugin's migrations directory; None when it declares no storage."""
        storage = record.package_cfg.get("storage")
        declared = isinstance(storage, dict) and "alembicDir" in storage
        hook_class = record.hook_class
        is_storage_hook = isinstance(hook_class, type) and issubclass(
            hook_class, PluginServerStorageEntryHookABC
        )
        if not declared and not is_storage_hook:
            return None
        if not declared:
            raise PluginStorageError(
                record.name,
                "its server entry hook subclasses PluginServerStorageEntryHookABC but "
                'plugin_package.json has no "storage": {"alembicDir": ...}',
            )
        if not is_storage_hook:
            raise PluginStorageError(
                record.name,
                'plugin_package.json declares "storage.alembicDir" but the server entry '
                "hook does not subclass PluginServerStorageEntryHookABC",
            )
        assert isinstance(storage, dict) and record.root_dir is not None
        alembic_dir = Path(record.root_dir) / str(storage["alembicDir"])
        if not (alembic_dir / "env.py").is_file():
            raise PluginStorageError(
                record.name, f"storage.alembicDir {alembic_dir} has no env.py"
            )
        return alembic_dir

    def _log(
        self,
        owner: str,
        schema: str,
        result: Optional[MigrationResult],
        failure: Optional[str] = None,
    ) -> None:
        """Record a migration that changed something, or failed, in the platform schema."""
        if result is not None and result.action is MigrationAction.UNCHANGED:
            return
        if self.platform_db is None:
            return
        row = SchemaMigrationLog(
            owner=owner,
            schemaName=schema,
            outcome=result.action.value if result is not None else "failed",
            fromRevisions=", ".join(result.from_revisions) if result else "",
            toRevisions=", ".join(result.to_revisions) if result else "",
            reason=failure,
            at=datetime.now(UTC),
        )
        session = self.platform_db.ormSessionCreator()
        try:
            session.add(row)
            session.commit()
        except Exception:
            session.rollback()
            logger.exception("Could not record the migration of schema %s", schema)
        finally:
            self.platform_db.ormSessionCreator.remove()

    def _dispose_all(self) -> None:
        for connection in list(self._plugin_dbs.values()):
            connection.closeAllSessions()
        self._plugin_dbs.clear()
        if self.platform_db is not None:
            self.platform_db.closeAllSessions()
            self.platform_db = None


async def _nothing() -> None:
    """A stop with nothing to undo (the service never started its database threads)."""
