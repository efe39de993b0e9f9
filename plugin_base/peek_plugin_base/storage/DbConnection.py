"""A plugin's database: migration, engine, thread-scoped ORM sessions and id prefetch."""

import logging
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Optional

from sqlalchemy import Engine, MetaData, Table, func, inspect, select
from sqlalchemy.orm import scoped_session

from peek_plugin_base.storage.engine_factory import SQLITE_BEGIN_OPTION, make_engine
from peek_plugin_base.storage.schema_migration import MigrationResult, migrate_schema
from peek_plugin_base.storage.session_factory import make_session_creator
from peek_plugin_base.storage.StorageErrors import StorageError

logger = logging.getLogger(__name__)


class DbConnection:
    """The database of one schema-qualified MetaData.

    :param dbConnectString: the SQLAlchemy URL; ``postgresql://`` uses psycopg 3, and on
        SQLite the metadata's schema is a file attached beside the main file.
    :param metadata: the plugin's ``MetaData(schema="pl_<name>")``.
    :param alembicDir: the directory holding ``env.py`` and ``versions/``.
    :param dbEngineArgs: keyword arguments for ``create_engine`` (pool sizes, ...).
    :param enableForeignKeys: check that foreign keys have indexes after migrating (and
        enforce foreign keys on SQLite).
    :param enableCreateAll: an empty schema may be built with ``create_all`` and stamped at
        head instead of running every revision.

    The engine is created on first use. Use sessions in threads, never on the reactor.
    """

    def __init__(
        self,
        dbConnectString: str,
        metadata: MetaData,
        alembicDir: str,
        dbEngineArgs: Optional[dict[str, Any]] = None,
        enableForeignKeys: bool = False,
        enableCreateAll: bool = True,
    ) -> None:
        self._dbConnectString = dbConnectString
        self._metadata = metadata
        self._alembicDir = Path(alembicDir)
        self._dbEngineArgs = dict(dbEngineArgs or {})
        self._enableForeignKeys = enableForeignKeys
        self._enableCreateAll = enableCreateAll
        self._engine: Optional[Engine] = None
        self._sessionCreator: Optional[scoped_session[Any]] = None
        self._lock = threading.Lock()
        #: Per (table) the highest id handed out by prefetch on SQLite tables without a
        #: sequence, so two prefetches in this process never overlap.
        self._sqliteIdHighWater: dict[str, int] = {}

    @property
    def schema(self) -> Optional[str]:
        """The schema this connection migrates and queries."""
        return self._metadata.schema

    @property
    def dbEngine(self) -> Engine:
        """The engine (created on first use); prefer sessions for statements."""
        with self._lock:
            if self._engine is None:
                schemas = [self.schema] if self.schema else []
                self._engine = make_engine(
                    self._dbConnectString,
                    schemas,
                    self._dbEngineArgs,
                    enable_foreign_keys=self._enableForeignKeys,
                )
            return self._engine

    @property
    def ormSessionCreator(self) -> scoped_session[Any]:
        """A factory of thread-scoped ORM sessions (one session per calling thread)."""
        engine = self.dbEngine
        with self._lock:
            if self._sessionCreator is None:
                self._sessionCreator = make_session_creator(engine)
            return self._sessionCreator

    def migrate(self) -> MigrationResult:
        """Bring the schema to the latest revision; blocking, so call it in a thread."""
        result = migrate_schema(
            self.dbEngine, self._alembicDir, self.schema, self._enableCreateAll
        )
        if self._enableForeignKeys:
            self.checkForeignKeys(self.dbEngine)
        return result

    def closeAllSessions(self) -> None:
        """Close every session and dispose of the engine's pooled connections."""
        with self._lock:
            creator, self._sessionCreator = self._sessionCreator, None
            engine, self._engine = self._engine, None
        if creator is not None:
            creator.remove()
        if engine is not None:
            engine.dispose()

    def checkForeignKeys(self, engine: Engine) -> list[str]:
        """Log (and return) each foreign key of the schema whose columns have no index.

        Without an index, deleting a referenced row scans the whole referencing table.
        """
        inspector = inspect(engine)
        problems: list[str] = []
        for table in inspector.get_table_names(schema=self.schema):
            indexed: list[list[str]] = [
                list(index["column_names"])
                for index in inspector.get_indexes(table, schema=self.schema)
            ]
            primary = inspector.get_pk_constraint(table, schema=self.schema)
            indexed.append(list(primary.get("constrained_columns") or []))
            for unique in inspector.get_unique_constraints(table, schema=self.schema):
                indexed.append(list(unique["column_names"]))
            for foreign_key in inspector.get_foreign_keys(table, schema=self.schema):
                columns = list(foreign_key["constrained_columns"])
                if any(index[: len(columns)] == columns for index in indexed):
                    continue
                problem = (
                    f"{self.schema}.{table}({', '.join(columns)}) references "
                    f"{foreign_key['referred_table']} but has no index"
                )
                problems.append(problem)
                logger.warning("Foreign key without an index: %s", problem)
        return problems

    def prefetchDeclarativeIds(self, Declarative: Any, count: int) -> Iterable[int]:
        """Reserve ``count`` ids for ``Declarative`` rows before inserting them; blocking.

        PostgreSQL draws them from the id column's sequence (safe across processes).
        SQLite tables declared with ``sqlite_autoincrement`` reserve them in
        ``sqlite_sequence`` (also safe across processes); other SQLite tables start
        above the highest id in the table and in this connection's earlier reservations.
        """
        if count <= 0:
            return iter(())
        table: Table = Declarative.__table__
        primary = list(table.primary_key.columns)
        if len(primary) != 1:
            raise StorageError(self.schema, f"{table.fullname} needs a single-column id")
        column = primary[0]
        engine = self.dbEngine
        if engine.dialect.name == "postgresql":
            return self._prefetchPostgres(engine, table, column.name, count)
        if engine.dialect.name == "sqlite":
            return self._prefetchSqlite(engine, table, column, count)
        raise StorageError(self.schema, f"prefetch is not supported on {engine.dialect.name}")

    def _prefetchPostgres(
        self, engine: Engine, table: Table, columnName: str, count: int
    ) -> Iterable[int]:
        column = table.c[columnName]
        sequence = getattr(column.default, "name", None) if column.default is not None else None
        with engine.begin() as connection:
            if sequence is None or not hasattr(column.default, "next_value"):
                quoted = connection.dialect.identifier_preparer.format_table(table)
                sequence = connection.execute(
                    select(func.pg_get_serial_sequence(quoted, columnName))
                ).scalar_one()
                if sequence is None:
                    raise StorageError(
                        self.schema, f"{table.fullname}.{columnName} has no sequence"
                    )
            elif table.schema and "." not in sequence:
                sequence = f'"{table.schema}"."{sequence}"'
            # One nextval per id: concurrent reservations interleave but never overlap.
            ids = connection.execute(
                select(func.nextval(sequence)).select_from(
                    func.generate_series(1, count)
                )
            ).scalars().all()
        return iter(ids)

    def _prefetchSqlite(
        self, engine: Engine, table: Table, column: Any, count: int
    ) -> Iterable[int]:
        autoincrement = bool(table.dialect_options["sqlite"].get("autoincrement"))
        schema = f'"{table.schema}".' if table.schema else ""
        with (
            engine.connect().execution_options(**{SQLITE_BEGIN_OPTION: "IMMEDIATE"}) as connection,
            connection.begin(),
        ):
            highest = connection.execute(select(func.max(column))).scalar() or 0
            if autoincrement:
                updated = connection.exec_driver_sql(
                    f"UPDATE {schema}sqlite_sequence SET seq = max(seq, ?) + ? WHERE name = ?",
                    (highest, count, table.name),
                ).rowcount
                if not updated:
                    connection.exec_driver_sql(
                        f"INSERT INTO {schema}sqlite_sequence (name, seq) VALUES (?, ?)",
                        (table.name, highest + count),
                    )
                last = connection.exec_driver_sql(
                    f"SELECT seq FROM {schema}sqlite_sequence WHERE name = ?", (table.name,)
                ).scalar_one()
            else:
                with self._lock:
                    start = max(highest, self._sqliteIdHighWater.get(table.fullname, 0))
                    last = start + count
                    self._sqliteIdHighWater[table.fullname] = last
        return iter(range(last - count + 1, last + 1))

